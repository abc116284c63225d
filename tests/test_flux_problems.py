"""Boundary-flux problems (PROBLEMS §2–3) through the real entry point ``diffinv.train``: tiny coarse-mesh
files made by the FEniCSx generator, training, chunked posterior sampling, metrics, ``samples.h5``, figures;
and (slow) the linear–Gaussian variant against its exact posterior (MATH §9)."""

import json
import math

import h5py
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from test_config import CONF
from test_train_e2e import run_module

from data_gen.config import compose_config
from diffinv.h5data import read_dataset
from diffinv.train import ensure_dataset

COARSE = "85x20"
PER_SAMPLER = (
    "rel_mae/mean",
    "rel_mae/seg_00",
    "rel_mae/seg_29",
    "post_std/mean",
    "post_std/seg_29",
    "coverage/1sigma",
    "coverage/2sigma",
    "coverage_curve/p=0.50",
    "coverage_curve/p=0.95",
    "time/sample_s",
)
EXACT = ("exact/mean_err_ratio", "exact/std_ratio", "exact/w1_over_std")


def compose_train(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("train", overrides=list(overrides))


def make_data(data_dir, *overrides):
    """A coarse-mesh file from the real generator (seconds), as ``python -m data_gen ...`` would write it."""
    from data_gen.fem.linear_generate import generate

    cfg = compose_config(f"problem.mesh={COARSE}", f"paths.data_dir={data_dir}", *overrides)
    generate(cfg)
    return read_dataset(cfg.out)


def train(root, *overrides):
    run = root / "run"
    run_module(
        "diffinv.train",
        "debug=fast",
        f"paths.root_dir={root}",
        f"paths.data_dir={root / 'data'}",
        f"hydra.run.dir={run}",
        *overrides,
    )
    return run, json.loads((run / "metrics.json").read_text())


def test_flux_problems_have_the_paper_settings():
    cfg = compose_train("problem=advdiff", "formulation=vp", "data.noise=0.1", "paths.data_dir=/d")
    assert cfg.problem.data_file == "/d/advdiff.h5" and cfg.data.normalisation == "minmax"
    assert (cfg.model.x_dim, cfg.model.y_dim, cfg.model.mask_dim, cfg.model.depth) == (30, 30, 0, 4)
    assert (cfg.schedule.beta_min, cfg.schedule.beta_max) == (0.001, 15.0)
    ve = compose_train("problem=adr", "formulation=ve", "paths.data_dir=/d")
    assert (ve.schedule.sigma_min, ve.schedule.sigma_max) == (
        0.001,
        5.0,
    ) and ve.problem.data_file == "/d/adr.h5"
    noclip = compose_train("problem=advdiff", "problem.clip=false", "paths.data_dir=/d")
    assert noclip.problem.data_file == "/d/advdiff_noclip.h5"
    multiop = compose_train("problem=advdiff_multiop", "paths.data_dir=/d")
    assert multiop.model.mask_dim == 30 and multiop.problem.data_file == "/d/advdiff_multiop.h5"


def test_missing_data_file_says_how_to_make_it(tmp_path):
    cfg = compose_train("problem=advdiff", "problem.clip=false", f"paths.data_dir={tmp_path}")
    with pytest.raises(FileNotFoundError) as info:
        ensure_dataset(cfg)
    assert str(info.value) == (
        f"problem.data_file: {tmp_path}/advdiff_noclip.h5 does not exist; make it with: "
        f"python -m data_gen problem=advdiff problem.clip=False paths.data_dir={tmp_path}"
    )


@pytest.mark.fem
def test_linear_gaussian_advdiff_end_to_end(tmp_path):
    dataset = make_data(tmp_path / "data", "problem.clip=false", "problem.n_train=1000", "problem.n_test=20")
    run, metrics = train(
        tmp_path,
        "problem=advdiff",
        "problem.clip=false",
        "data.noise=0.05",
        "sampler=[ode,sde]",
        "sampler.sde.steps=20",
        "evaluation.n_test=5",
        "evaluation.n_samples=50",
        "evaluation.chunk_size=120",  # 2 measurements per batch: 3 batches
    )
    for sampler in ("ode", "sde"):
        for key in PER_SAMPLER + EXACT:
            assert f"{sampler}/{key}" in metrics, f"{sampler}/{key}"
    for key in ("prior_std/seg_00", "exact/mean_err", "exact/w1_over_std_floor", "time/train_s"):
        assert key in metrics, key
    assert all(math.isfinite(v) for v in metrics.values())
    assert metrics["eval/n_test"] == 5 and metrics["train/steps"] == 2
    with h5py.File(run / "samples.h5") as f:
        truth, mean = f["truth"][()], f["ode/mean"][()]
        assert f["sde/samples"].shape == (3, 50, 30) and f["sde/std"].shape == (5, 30)
        assert "mask" not in f
    np.testing.assert_array_equal(truth, dataset.test.x[:5])
    rel_mae = np.abs(mean - truth).mean(axis=0) / truth.mean()  # samples.h5 and metrics tell one story
    assert metrics["ode/rel_mae/mean"] == pytest.approx(rel_mae.mean(), rel=1e-12)
    figures = {p.name for p in (run / "figures").iterdir()}
    assert figures == {"flux_cases_ode.png", "flux_cases_sde.png", "calibration.png"}


@pytest.mark.fem
def test_multiop_runs_with_masks_as_network_input(tmp_path):
    dataset = make_data(
        tmp_path / "data", "problem=advdiff_multiop", "problem.n_train=1000", "problem.n_test=20"
    )
    run, metrics = train(tmp_path, "problem=advdiff_multiop", "data.noise=0.02", "evaluation.n_test=4")
    assert all(f"ode/{key}" in metrics for key in PER_SAMPLER)
    assert not any("exact/" in key for key in metrics)  # clipped prior: no closed form
    assert all(math.isfinite(v) for v in metrics.values())
    with h5py.File(run / "samples.h5") as f:
        np.testing.assert_array_equal(f["mask"][()], dataset.test.mask[:4])
    assert "mask_dim: 30" in (run / "config.yaml").read_text()
