"""End to end through the real entry points: ``diffinv.train`` (Trainer, HDF5 generated on first use, ODE
and SDE samplers, CSV and offline W&B loggers), ``diffinv.evaluate`` on its checkpoint, ``diffinv.report``."""

import json
import math
import shutil

import pytest

from diffinv.report import report
from tests.helpers.runs import NOT_ABOUT_THIS_RUN, run_module


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    run = root / "run"
    result = run_module(
        "diffinv.train",
        "debug=fast",
        "problem=tanh",
        "callbacks.progress.refresh_rate=1",  # the console as a user sees it (debug=fast turns it off)
        "sampler=[ode,sde]",
        "sampler.sde.steps=20",
        "logger=[csv,wandb]",
        f"paths.root_dir={root}",
        f"hydra.run.dir={run}",
    )
    return root, run, result


def test_train_writes_finite_metrics_figures_config_and_checkpoint(trained_run):
    root, run, result = trained_run
    assert f"results: {run}" in result.stdout
    assert "generating it with data_gen.toy.generate" in (run / "train.log").read_text()
    assert len(list((root / "data").glob("tanh-*.h5"))) == 1
    metrics = json.loads((run / "metrics.json").read_text())
    for sampler in ("ode", "sde"):
        for key in ("sinkhorn", "sinkhorn_exact", "w2"):
            assert f"{sampler}/{key}/mean" in metrics
            assert all(f"{sampler}/{key}/y={y:g}" in metrics for y in (-0.6, 0.0, 0.6, 1.2))
        assert f"{sampler}/time/sample_s" in metrics
    for key in ("sinkhorn_floor/mean", "time/train_s", "sinkhorn_violation/max", "train/steps"):
        assert key in metrics
    assert all(math.isfinite(v) for v in metrics.values())
    assert metrics["sinkhorn_violation/max"] < 1e-6 and metrics["train/steps"] == 4
    assert {p.name for p in (run / "figures").iterdir()} == {
        "histograms_ode.png",
        "histograms_sde.png",
        "joint_density.png",
    }
    assert (run / "checkpoints" / "final.ckpt").is_file()
    assert "sigma_max: 12.0" in (run / "config.yaml").read_text()
    assert "train/loss" in (run / "csv" / "version_0" / "metrics.csv").read_text()


def test_the_console_shows_progress_and_results_and_nothing_else(trained_run):
    """diffinv.run.console: no library advertising, hardware banners or deprecation notices."""
    _, run, result = trained_run
    console = result.stdout + result.stderr
    assert "training: 2/2 epochs, loss" in console and f"results: {run}" in console  # a pipe: plain lines
    assert "generating it with" in console  # the run's own log lines stay
    assert [s for s in NOT_ABOUT_THIS_RUN if s in console] == []


def test_wandb_offline_run_directory_has_config_metrics_and_figures(trained_run):
    """Real wandb, offline: the run's transaction log holds the config and the metrics, media the figures."""
    _, run, _ = trained_run
    (offline,) = list((run / "wandb").glob("offline-run-*"))
    (log,) = list(offline.glob("run-*.wandb"))
    records = log.read_bytes()  # protobuf records: keys are stored as UTF-8 strings
    for key in (b"sigma_max", b"train/loss", b"ode/sinkhorn/mean", b"sinkhorn_floor/mean"):
        assert key in records, key
    assert len(list((offline / "files" / "media" / "images").glob("figures_*.png"))) == 3


def test_evaluate_resamples_the_checkpoint_with_another_sampler(trained_run, tmp_path):
    root, run, _ = trained_run
    out = tmp_path / "eval"
    run_module(
        "diffinv.evaluate",
        f"ckpt={run / 'checkpoints' / 'final.ckpt'}",
        "sampler=sde",
        "sampler.sde.steps=10",
        "evaluation.n_samples=100",
        f"paths.root_dir={root}",
        f"hydra.run.dir={out}",
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert "sde/sinkhorn/mean" in metrics and "ode/sinkhorn/mean" not in metrics
    assert all(math.isfinite(v) for v in metrics.values())


def test_report_puts_the_floor_beside_each_cell(trained_run, tmp_path):
    _, run, _ = trained_run
    text = report(run, tmp_path)
    metrics = json.loads((run / "metrics.json").read_text())
    assert (
        f"| VE | ODE | {metrics['ode/sinkhorn/mean']:.4f} (floor {metrics['sinkhorn_floor/mean']:.4f}" in text
    )
    assert "| VE | SDE |" in text and "Against the exact reference" in text
    assert (tmp_path / "report.md").is_file() and (tmp_path / "sinkhorn_vs_floor.png").is_file()

    # a run scored without the exact-reference Sinkhorn (experiment=table2): no table of blanks
    no_exact = tmp_path / "no_exact"
    no_exact.mkdir()
    shutil.copy(run / "config.yaml", no_exact)
    kept = {k: v for k, v in metrics.items() if "sinkhorn_exact" not in k}
    (no_exact / "metrics.json").write_text(json.dumps(kept))
    text = report(no_exact, tmp_path / "no_exact_report")
    assert "Against the exact reference" not in text and "not computed" not in text
    assert f"| VE | ODE | {metrics['ode/w2/mean']:.4f} |" in text
