"""Nothing lost on a kill (issue 7): real ``diffinv.train`` subprocesses killed with SIGKILL mid-training and
mid-sampling, resumed with ``resume=DIR``; and a seed fixes everything (two runs, identical metrics)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers.runs import ROOT, make_data, run_module

TANH = (
    "debug=fast",
    "problem=tanh",
    "trainer.max_epochs=150",
    "callbacks.checkpoint.every_n_epochs=25",
    "problem.evaluator.exact_sinkhorn=false",
)


def kill_when(predicate, module: str, *overrides: str, timeout: float = 300) -> None:
    """Start ``python -m module overrides`` and SIGKILL it as soon as ``predicate()`` holds."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "WANDB_MODE": "offline"}
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *overrides],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, f"{module} ended (exit {proc.returncode}) before it could be killed"
        assert time.monotonic() < deadline, f"{module}: condition not reached in {timeout} s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def results(run) -> dict:
    """``metrics.json`` without the timings (which no seed fixes)."""
    metrics = json.loads((run / "metrics.json").read_text())
    return {k: v for k, v in metrics.items() if "time/" not in k}


def test_same_seed_same_metrics_and_a_killed_training_resumes_to_them(tmp_path):
    common = (*TANH, f"paths.root_dir={tmp_path}")
    run_module("diffinv.train", *common, f"hydra.run.dir={tmp_path / 'a'}")
    run_module("diffinv.train", *common, f"hydra.run.dir={tmp_path / 'b'}")
    reference = results(tmp_path / "a")
    assert reference["train/steps"] == 300  # 150 epochs x 2 batches of the 2,000 pairs of debug=fast
    assert results(tmp_path / "b") == reference  # reproducible: data, training and sampling are seeded

    killed = tmp_path / "killed"
    periodic = killed / "checkpoints" / "last.ckpt"
    kill_when(periodic.is_file, "diffinv.train", *common, f"hydra.run.dir={killed}")
    assert not (killed / "metrics.json").exists()
    assert not (killed / "checkpoints" / "final.ckpt").exists()

    refused = subprocess.run(
        [sys.executable, "-m", "diffinv.train", *common, f"resume={killed}", "formulation=vp"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0
    assert "resume:" in refused.stderr and "formulation._target_" in refused.stderr

    run_module("diffinv.train", *common, f"resume={killed}")
    assert "resume: continuing from" in (killed / "train.log").read_text()
    assert results(killed) == reference  # same step count, and even the same numbers


@pytest.mark.fem
def test_a_run_killed_while_sampling_reuses_the_batches_it_wrote(tmp_path):
    make_data(tmp_path / "data", "problem.n_train=2000", "problem.n_test=40")
    common = (
        "debug=fast",
        "problem=advdiff",
        "data.noise=0.05",
        "problem.evaluator.n_test=40",
        "evaluation.n_samples=100",
        "evaluation.chunk_size=100",  # one measurement per batch: 40 batches
        f"paths.root_dir={tmp_path}",
        f"paths.data_dir={tmp_path / 'data'}",
    )
    run_module("diffinv.train", *common, f"hydra.run.dir={tmp_path / 'whole'}")
    killed = tmp_path / "killed"
    batches = killed / "sampling_chunks" / "ode"
    kill_when(
        lambda: len(list(batches.glob("batch_*.npy"))) >= 10,
        "diffinv.train",
        *common,
        f"hydra.run.dir={killed}",
    )
    assert 10 <= len(list(batches.glob("batch_*.npy"))) < 40

    run_module("diffinv.train", *common, f"resume={killed}")
    assert results(killed) == results(tmp_path / "whole")
    assert not batches.exists()  # removed once samples.h5 is written
    resumed_log = (killed / "train.log").read_text()
    assert "resume: continuing from" in resumed_log and "final.ckpt" in resumed_log


def test_resume_of_a_finished_run_changes_nothing(tmp_path):
    run = tmp_path / "run"
    common = (
        "debug=fast",
        "problem=tanh",
        "problem.evaluator.exact_sinkhorn=false",
        f"paths.root_dir={tmp_path}",
    )
    run_module("diffinv.train", *common, f"hydra.run.dir={run}")
    before = (run / "metrics.json").read_bytes()
    result = run_module("diffinv.train", *common, f"resume={run}")
    assert (run / "metrics.json").read_bytes() == before
    assert "is complete" in result.stderr + (run / "train.log").read_text()


def test_resume_of_another_directory_than_the_run_directory_is_refused(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "diffinv.train",
            "debug=fast",
            "problem=tanh",
            f"resume={tmp_path / 'a'}",
            f"hydra.run.dir={tmp_path / 'b'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "is not this run's directory" in result.stderr
