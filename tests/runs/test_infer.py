"""Your own measurement (``diffinv.infer``): the three file formats, a header row, one measurement as one
column, physical units, NaN readings as switched-off sensors of a many-operator model — checked against the
evaluator's posterior for the same measurements, seeds and batches — and the files it writes against their
documentation (docs/design.md §6, docs/usage.md §6); the README's library snippets, run as written."""

import json
import re

import h5py
import numpy as np
import pytest
import torch

from diffinv import load_model, posterior_log_prob, posterior_samples, read_measurement
from diffinv.data.measurements import MeasurementError
from diffinv.training.posterior import check_measurement
from tests.helpers.runs import ROOT, make_data, readme_section, run_module, train

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


def test_a_header_row_is_skipped_and_nothing_else(tmp_path):
    """A first row with names is a header (also after a spreadsheet's byte-order mark); a first row with a
    missing reading is data."""
    (tmp_path / "named.csv").write_text("s1,s2,s3\n0.5,nan,-1.25\n\n2,3,4\n")
    (tmp_path / "excel.csv").write_text("\ufeffs1,s2,s3\r\n0.5,nan,-1.25\r\n2,3,4\r\n", encoding="utf-8")
    (tmp_path / "bom.csv").write_text("\ufeff0.5,nan,-1.25\n2,3,4\n", encoding="utf-8")
    (tmp_path / "gap.csv").write_text("0.5,,-1.25\n2,3,4\n")
    for name in ("named.csv", "excel.csv", "bom.csv", "gap.csv"):
        np.testing.assert_array_equal(read_measurement(tmp_path / name), [[0.5, np.nan, -1.25], [2, 3, 4]])


@pytest.mark.parametrize(
    "text",
    [
        "s1;s2;s3\n0,5;NA;-1,25\n2;3;4\n",  # semicolons, decimal commas (a European spreadsheet)
        "0.5\tN/A\t-1.25\n2\t3\t4\n",  # tabs
        "0.5  null -1.25\n2 3 4\n",  # spaces
        "0.5,-,-1.25\n2,3,4\n",
        "0.5;;-1.25\n2;3;4\n",
    ],
)
def test_the_usual_csv_dialects_are_read_with_missing_readings_as_nan(tmp_path, text):
    (tmp_path / "m.csv").write_text(text)
    np.testing.assert_array_equal(read_measurement(tmp_path / "m.csv"), [[0.5, np.nan, -1.25], [2, 3, 4]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("s1,s2\n", r"holds only a header row \(line 1: 's1,s2'\)"),
        ("\n \n", "holds no readings"),
        ("1,2\n\n1,x\n", r"line 3, column 2: 'x' is not a number \(a switched-off sensor may be empty, NA"),
        ("1,2\n1,2,3\n", r"line 2: 3 cells, the first row of readings \(line 1\) has 2"),
    ],
)
def test_a_csv_that_cannot_be_read_says_what_was_found(tmp_path, text, message):
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(MeasurementError, match=message):
        read_measurement(tmp_path / "m.csv")


def documented_names(page: str, caption: str) -> set[str]:
    """The names in the first column of the markdown table that follows ``caption`` on ``docs/<page>``."""
    lines = (ROOT / "docs" / page).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if caption in line)
    table = next(i for i in range(start, len(lines)) if lines[i].startswith("|"))
    names = set()
    for line in lines[table + 2 :]:  # after the header and the |---| line
        if not line.startswith("|"):
            break
        names |= set(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return names


def written_names(path) -> set[str]:
    with h5py.File(path) as f:
        names = set()
        f.visit(names.add)
    return names


@pytest.fixture(scope="module")
def tanh_run(tmp_path_factory):
    run, _ = train(tmp_path_factory.mktemp("tanh"), "problem=tanh", "evaluation.n_samples=50")
    return run


def readme_library_snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", readme_section("The library"), re.S)


def test_the_readme_library_snippets_run_as_written(tanh_run, tmp_path, monkeypatch):
    """The README's two code blocks, unchanged, in a directory holding what they name (a run under
    outputs/train/runs, a readings.csv): the core samples are finite and carry no autograd graph; the trained
    run's posterior comes back in physical units with the run's thread count, and the caller's is restored."""
    core, trained = readme_library_snippets()
    (tmp_path / "outputs" / "train" / "runs").mkdir(parents=True)
    (tmp_path / "outputs" / "train" / "runs" / "2026-12-04_00-00-00").symlink_to(tanh_run)
    (tmp_path / "readings.csv").write_text("-0.6\n0.6\n")
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    try:
        exec(compile(core, "README.md (core)", "exec"), scope := {})
    finally:
        torch.set_num_threads(threads)
    assert scope["x"].shape == (2, 1000, 30) and torch.isfinite(scope["x"]).all()
    assert scope["x"].grad_fn is None
    torch.set_num_threads(2)
    exec(compile(trained, "README.md (trained run)", "exec"), scope := {})
    assert torch.get_num_threads() == 2
    x = scope["x"]
    assert x.shape == (2, 1000, 1) and np.isfinite(x).all()
    assert x[0].mean() < x[1].mean()  # tanh: the posterior follows the reading


def test_infer_writes_the_documented_samples_and_summary(tanh_run, tmp_path):
    """Readings with a header row through the real command; ``samples.h5`` holds the names of
    docs/design.md §6 (no ``truth``: a user's readings), ``summary.json`` the keys of docs/usage.md §6."""
    (tmp_path / "readings.csv").write_text("y\n-0.6\n0.6\n1.2\n")
    out = tmp_path / "infer"
    ckpt = tanh_run / "checkpoints" / "final.ckpt"
    result = run_module(
        "diffinv.infer", f"ckpt={ckpt}", f"measurement={tmp_path / 'readings.csv'}", "n_samples=30",
        "log_prob=true", f"hydra.run.dir={out}",
    )  # fmt: skip
    assert (
        result.stdout.splitlines()[-1] == f"results: {out} (samples.h5, figures/posterior.png, summary.json)"
    )
    samples_schema = {n.replace("<sampler>", "ode") for n in documented_names("design.md", "(`samples.h5`)")}
    assert "truth" in samples_schema and "mask" in samples_schema
    assert written_names(out / "samples.h5") == samples_schema - {"truth"} | {"ode"}  # the group itself
    evaluators = samples_schema - {"truth", "ode/log_q"} | {"ode"}  # log_q: only with log_prob=true
    assert written_names(tanh_run / "samples.h5") == evaluators
    with h5py.File(out / "samples.h5") as f:
        np.testing.assert_array_equal(f["y"][()], [[-0.6], [0.6], [1.2]])
        assert f["mask"][()].all() and f["mask"].shape == (3, 1) and f["ode/samples"].shape == (3, 30, 1)
        assert f["ode/log_q"].shape == (3, 30) and np.isfinite(f["ode/log_q"][()]).all()
        assert set(f.attrs) == {"ckpt", "problem", "noise", "noise_std"}
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == documented_names("usage.md", "JSON object with these keys")
    assert summary == {
        "ckpt": str(ckpt),
        "problem": "tanh",
        "measurement": str(tmp_path / "readings.csv"),
        "n_measurements": 3,
        "n_samples": 30,
        "sampler": "ode",
        "trained_noise": 0.0,
        "trained_noise_std": 0.0,
        "readings_noise": 0.0,
        "repeats": 1,
        "log_prob": True,
    }


def test_posterior_log_prob_of_a_trained_model_is_a_density(tanh_run):
    """exp(log q) of the trained 1-D tanh model, on a grid wide enough to hold its posterior, integrates to 1
    (trapezoid rule; the prior-start flow of math §17.1 conserves mass whatever the network)."""
    model = load_model(tanh_run / "checkpoints" / "final.ckpt")
    x = posterior_samples(model, [0.6], n_samples=200, seed=1)[0]
    lo, hi = x.min() - 1.0, x.max() + 1.0
    grid = np.linspace(lo, hi, 600)[:, None]
    log_q = posterior_log_prob(model, grid, [0.6])
    assert log_q.shape == (600,)
    assert abs(np.trapezoid(np.exp(log_q), grid[:, 0]) - 1) < 0.02


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
    schema = {n.replace("<sampler>", "ode") for n in documented_names("design.md", "(`samples.h5`)")}
    schema -= {"ode/log_q"}  # only infer log_prob=true writes it (docs/design.md §6)
    assert written_names(run / "samples.h5") == schema | {"ode"}  # the flux evaluator's: truth included
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

    header = ",".join(f"s{j}" for j in range(30))  # a header row of sensor names, as a spreadsheet writes it
    np.savetxt(tmp_path / "readings.csv", readings, delimiter=",", header=header, comments="")  # NaN: "nan"
    np.savetxt(tmp_path / "column.csv", readings[0])  # one measurement as one column of 30 readings
    column, mask_0 = check_measurement(model, read_measurement(tmp_path / "column.csv"))
    np.testing.assert_array_equal(column, readings[:1])
    np.testing.assert_array_equal(mask_0, mask[:1])
    with pytest.raises(MeasurementError, match=r"shape \(30, 2\).*takes 30 readings.*per row of 30 readings"):
        check_measurement(model, readings[:2].T)  # two measurements as columns: ambiguous, refused
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
    assert f"model: advdiff_multiop · VE σ_max=5 · DPM-Solver++(3M) 20 steps logsnr, {trained_for}" in console
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trained_noise"] == 0.02 and summary["trained_noise_std"] == model.noise_std
    assert not (out / "sampling_chunks").exists()
