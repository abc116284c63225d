"""End to end through the real entry points: ``diffinv.train`` (Trainer, HDF5 generated on first use, ODE
and SDE samplers, CSV and offline W&B loggers, the summary it ends with), ``diffinv.evaluate`` on its
checkpoint, ``diffinv.report``."""

import json
import math
import shutil

import pytest
import yaml
from omegaconf import OmegaConf

from diffinv.problems.densities.evaluator import DensityEvaluator
from diffinv.report import report
from diffinv.training.checkpoint import read_checkpoint
from tests.helpers.runs import NOT_ABOUT_THIS_RUN, run_module, summary_rows
from tests.helpers.wandb_offline import read_offline_run

# W&B's own warnings that were not about the run (Lightning's stale `anonymous` argument; several figures
# of different sizes under one key)
SPURIOUS_WANDB = ("The anonymous setting has no effect", "Images sizes do not match")


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
        env={"WANDB_SILENT": "false"},  # W&B's console as a user sees it
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
        for key in (
            "sbc/p_min_bonferroni",
            "sbc/p/dim_00",
            "sbc/p/loglik",
            "sbc/passed",
            "tarp/p",
            "tarp/max_dev",
        ):
            assert f"{sampler}/{key}" in metrics, key  # docs/usage.md §16: exact draws of p(x | y*) as truths
    for key in ("sinkhorn_floor/mean", "time/train_s", "sinkhorn_violation/max", "train/steps"):
        assert key in metrics
    assert all(math.isfinite(v) for v in metrics.values())
    assert metrics["sinkhorn_violation/max"] < 1e-6 and metrics["train/steps"] == 4
    # counted while sampling: DPM-Solver++(3M) 20 steps, SDE-DPM-Solver++(2M) at sampler.sde.steps=20, each
    # + 1
    # for the final step to sigma = 0 (docs/math.md §5.4)
    assert (metrics["ode/calls_per_sample"], metrics["sde/calls_per_sample"]) == (21, 21)
    assert {p.name for p in (run / "figures").iterdir()} == {
        "histograms_ode.png",
        "histograms_sde.png",
        "diagnostics_ode.png",
        "diagnostics_sde.png",
        "joint_density.png",
    }
    assert (run / "checkpoints" / "final.ckpt").is_file()
    assert "sigma_max: 12.0" in (run / "config.yaml").read_text()
    # sigma_data: auto, measured: config.yaml, the checkpoint's config and the log hold the number
    assert OmegaConf.load(run / "config.yaml").loss.sigma_data == pytest.approx(1.0, abs=0.05)  # standardised
    config = read_checkpoint(run / "checkpoints" / "final.ckpt")["diffinv"]["config"]
    assert isinstance(config["loss"]["sigma_data"], float)
    assert config["model"]["sigma_data"] == config["loss"]["sigma_data"]
    scale = f"sigma_data (auto): {config['loss']['sigma_data']:.4g}"
    assert 0.1 < config["loss"]["sigma_data"] < 2 and scale in (run / "train.log").read_text()
    assert metrics["data/noise"] == 0 and metrics["data/noise_std"] == 0
    assert "train/loss" in (run / "csv" / "version_0" / "metrics.csv").read_text()


def test_the_console_shows_progress_and_results_and_nothing_else(trained_run):
    """diffinv.run.console: no library advertising, hardware banners or deprecation notices; W&B says
    where its offline run is and how to sync it, without spurious warnings."""
    _, run, result = trained_run
    console = result.stdout + result.stderr
    assert "training: 2/2 epochs, loss" in console and f"results: {run}" in console  # a pipe: plain lines
    assert "generating it with" in console  # the run's own log lines stay
    assert [s for s in NOT_ABOUT_THIS_RUN if s in console] == []
    assert f"wandb sync {run}/wandb/offline-run-" in console
    assert [s for s in SPURIOUS_WANDB if s in console] == []


def test_the_run_is_named_with_its_parameters_in_its_log_and_wandb(trained_run):
    """train.log names the run by its label (formulation and sampler settings, noise in both units), and
    W&B's run name is the same label (conf/logger/wandb.yaml)."""
    _, run, _ = trained_run
    label = "tanh · VE σ_max=12 · DPM-Solver++(3M) 20 steps logsnr + SDE-DPM-Solver++(2M) 20 steps logsnr"
    assert f"run: {label} · noise 0 % (σ_n = 0)" in (run / "train.log").read_text()
    (offline,) = list((run / "wandb").glob("offline-run-*"))
    (log,) = list(offline.glob("run-*.wandb"))
    assert label.encode() in log.read_bytes()
    assert OmegaConf.load(run / "config.yaml").logger.wandb.name == label


def test_the_run_ends_with_its_headline_numbers_on_the_console_and_in_the_log(trained_run):
    """Per sampler the Sinkhorn distance, its floor, the sampling time and the network calls per sample; the
    training numbers; then the run directory, last. The same table is in train.log."""
    _, run, result = trained_run
    metrics = json.loads((run / "metrics.json").read_text())
    rows = summary_rows(result.stdout)
    assert list(rows) == ["ode", "sde"]
    for sampler, row in rows.items():
        assert row == {
            "sinkhorn": f"{metrics[f'{sampler}/sinkhorn/mean']:.4g}",
            "floor": f"{metrics['sinkhorn_floor/mean']:.4g}",
            "SBC p": f"{metrics[f'{sampler}/sbc/p_min_bonferroni']:.4g}",
            "TARP p": f"{metrics[f'{sampler}/tarp/p']:.4g}",
            "sample s": f"{metrics[f'{sampler}/time/sample_s']:.4g}",
            "calls": "21",
        }
    training = (
        f"training: {metrics['time/train_s']:.4g} s, 4 steps, final loss {metrics['train/final_loss']:.4g}"
    )
    assert result.stdout.splitlines()[-2:] == [training, f"results: {run}"]
    assert (
        summary_rows((run / "train.log").read_text()) == rows and training in (run / "train.log").read_text()
    )


def test_wandb_offline_run_has_named_figures_the_resolved_config_and_the_headline_as_summary(trained_run):
    """Real wandb, offline, read back from its transaction log: one image per figure under
    ``figures/<stem>``, the run's config.yaml as the run config, the headline numbers as the summary, the
    training curve as history."""
    _, run, _ = trained_run
    wandb_run = read_offline_run(run)
    stems = sorted(p.stem for p in (run / "figures").glob("*.png"))
    assert stems == [
        "diagnostics_ode",
        "diagnostics_sde",
        "histograms_ode",
        "histograms_sde",
        "joint_density",
    ]
    for stem in stems:
        image = wandb_run.summary[f"figures/{stem}"]
        assert image["_type"] == "image-file" and image["caption"] == stem
        assert image["path"].startswith(f"media/images/figures/{stem}_") and image["path"] in wandb_run.files
        assert (wandb_run.path / "files" / image["path"]).stat().st_size > 10_000
    assert wandb_run.config == yaml.safe_load((run / "config.yaml").read_text())

    metrics = json.loads((run / "metrics.json").read_text())
    headline = DensityEvaluator.headline(metrics)
    expected = {"ode/sinkhorn/mean", "sinkhorn_floor/mean", "sde/time/sample_s", "sde/calls_per_sample"}
    expected |= {"ode/sbc/p_min_bonferroni", "sde/tarp/p"}  # the diagnostics reach W&B (docs/usage.md §16)
    assert expected | {"time/train_s"} <= set(headline)
    assert {key: wandb_run.summary[key] for key in headline} == headline
    assert "ode/sinkhorn/y=0.6" not in wandb_run.summary  # the rest is in metrics.json
    assert wandb_run.summary["train/loss"] == pytest.approx(metrics["train/final_loss"])


def test_evaluate_resamples_the_checkpoint_with_another_sampler(trained_run, tmp_path):
    root, run, _ = trained_run
    out = tmp_path / "eval"
    result = run_module(
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
    assert metrics["sde/calls_per_sample"] == 11  # 10 steps + the final step (docs/math.md §5.4)
    assert all(math.isfinite(v) for v in metrics.values())
    assert summary_rows(result.stdout) == {
        "sde": {
            "sinkhorn": f"{metrics['sde/sinkhorn/mean']:.4g}",
            "floor": f"{metrics['sinkhorn_floor/mean']:.4g}",
            "SBC p": f"{metrics['sde/sbc/p_min_bonferroni']:.4g}",
            "TARP p": f"{metrics['sde/tarp/p']:.4g}",
            "sample s": f"{metrics['sde/time/sample_s']:.4g}",
            "calls": "11",
        }
    }
    assert result.stdout.splitlines()[-2:] == ["training: 4 steps", f"results: {out}"]


def test_report_puts_the_floor_beside_each_cell(trained_run, tmp_path):
    _, run, _ = trained_run
    text = report(run, tmp_path)
    metrics = json.loads((run / "metrics.json").read_text())
    ode, sde = "DPM-Solver++(3M) 20 steps logsnr", "SDE-DPM-Solver++(2M) 20 steps logsnr"
    assert (
        f"| VE σ_max=12 | {ode} | {metrics['ode/sinkhorn/mean']:.4f} "
        f"(floor {metrics['sinkhorn_floor/mean']:.4f}" in text
    )
    assert f"| VE σ_max=12 | {sde} |" in text and "Against the exact reference" in text
    assert (tmp_path / "report.md").is_file() and (tmp_path / "sinkhorn_vs_floor.png").is_file()

    # a run scored without the exact-reference Sinkhorn (experiment=table2): no table of blanks
    no_exact = tmp_path / "no_exact"
    no_exact.mkdir()
    shutil.copy(run / "config.yaml", no_exact)
    kept = {k: v for k, v in metrics.items() if "sinkhorn_exact" not in k}
    (no_exact / "metrics.json").write_text(json.dumps(kept))
    text = report(no_exact, tmp_path / "no_exact_report")
    assert "Against the exact reference" not in text and "not computed" not in text
    assert f"| VE σ_max=12 | {ode} | {metrics['ode/w2/mean']:.4f} |" in text
