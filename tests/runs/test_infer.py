"""Your own measurement (``diffinv.infer``): the three file formats, physical units, and NaN readings as
switched-off sensors of a many-operator model — checked against the evaluator's posterior for the same
measurements, seeds and batches."""

import json

import h5py
import numpy as np
import pytest
import torch

from diffinv import load_model, posterior_samples, read_measurement
from tests.helpers.runs import make_data, run_module, train

N_SAMPLES, SEED = 50, 12345  # the evaluator seeds batch i with evaluation.seed + i (12345 by default)


def test_csv_npy_and_hdf5_measurements_read_alike(tmp_path):
    rows = np.array([[0.5, np.nan, -1.25], [2.0, 3.0, 4.0]])
    (tmp_path / "m.csv").write_text("0.5,nan,-1.25\n2,3,4\n")
    np.save(tmp_path / "m.npy", rows)
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f["readings"] = rows
    for path, key in (("m.csv", "y"), ("m.npy", "y"), ("m.h5", "readings")):
        np.testing.assert_array_equal(read_measurement(tmp_path / path, key), rows)
    np.testing.assert_array_equal(read_measurement(tmp_path / "m.npy")[0], rows[0])
    (tmp_path / "one.csv").write_text("0.5,1.5\n")
    assert read_measurement(tmp_path / "one.csv").shape == (1, 2)


@pytest.mark.fem
def test_sensors_off_as_nan_give_the_evaluators_posterior_in_physical_units(tmp_path):
    make_data(tmp_path / "data", "problem=advdiff_multiop", "problem.n_train=2000", "problem.n_test=20")
    run, _ = train(
        tmp_path,
        "problem=advdiff_multiop",
        "data.noise=0.02",
        "problem.evaluator.n_test=3",
        f"evaluation.n_samples={N_SAMPLES}",
        f"evaluation.chunk_size={N_SAMPLES}",  # one measurement per batch, seeded 12345 + i
    )
    with h5py.File(run / "samples.h5") as f:
        y, mask, evaluated_mean = f["y"][()], f["mask"][()].astype(bool), f["ode/mean"][()]
    assert (~mask).any(), "the test cases should have switched-off sensors"
    readings = np.where(mask, y, np.nan)  # what a user with broken sensors has

    model = load_model(run / "checkpoints" / "final.ckpt")
    torch.set_num_threads(1)  # as the run sampled: the same float summation order, the same adaptive steps
    x = posterior_samples(model, readings, n_samples=N_SAMPLES, seed=SEED, chunk_size=N_SAMPLES)
    assert x.shape == (3, N_SAMPLES, 30)
    np.testing.assert_allclose(x.mean(axis=1), evaluated_mean, rtol=1e-6, atol=1e-9)
    first = posterior_samples(model, readings[0], n_samples=N_SAMPLES, seed=SEED, chunk_size=N_SAMPLES)
    np.testing.assert_allclose(first[0], x[0], rtol=1e-6)  # one measurement as a 1-D array

    np.savetxt(tmp_path / "readings.csv", readings, delimiter=",")  # NaN written as "nan"
    out = tmp_path / "infer"
    result = run_module(
        "diffinv.infer",
        f"ckpt={run / 'checkpoints' / 'final.ckpt'}",
        f"measurement={tmp_path / 'readings.csv'}",
        f"n_samples={N_SAMPLES}",
        f"seed={SEED}",
        f"chunk_size={N_SAMPLES}",
        f"hydra.run.dir={out}",
    )
    with h5py.File(out / "samples.h5") as f:
        np.testing.assert_allclose(f["ode/mean"][()], evaluated_mean, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(f["mask"][()], mask)
        assert f["ode/samples"].shape == (3, N_SAMPLES, 30)
        np.testing.assert_array_equal(f["cases"][()], [0, 1, 2])
    assert (out / "figures" / "posterior.png").stat().st_size > 10_000
    trained_for = f"trained on readings with noise 2 % (σ_n = {model.noise_std:.3g})"  # both units, one line
    console = result.stdout + result.stderr
    assert f"model: advdiff_multiop · VE σ_max=5 · ODE rk45 rtol=0.001 atol=0.001, {trained_for}" in console
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trained_noise"] == 0.02 and summary["trained_noise_std"] == model.noise_std
    assert not (out / "sampling_chunks").exists()
