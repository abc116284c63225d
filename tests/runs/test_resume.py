"""Nothing lost on a kill or an interruption (issues 7, 14): real ``diffinv.train`` subprocesses killed with
SIGKILL mid-training and mid-sampling, or stopped by SIGINT, SIGTERM and SIGUSR1, resumed with ``resume=DIR``
(the printed command); and a seed fixes everything (two runs, identical metrics)."""

import csv
import json
import os
import shlex
import signal
import subprocess
import sys

import pytest
import torch

from diffinv.run.interrupts import Interrupted, SignalCatcher
from tests.helpers.runs import ROOT, make_data, run_module, signal_when

TANH = (
    "debug=fast",
    "problem=tanh",
    "trainer.max_epochs=150",
    "callbacks.checkpoint.every_n_epochs=25",
    "problem.evaluator.exact_sinkhorn=false",
)


def results(run) -> dict:
    """``metrics.json`` without the timings (which no seed fixes)."""
    metrics = json.loads((run / "metrics.json").read_text())
    return {k: v for k, v in metrics.items() if "time/" not in k}


def loss_log(run) -> list[tuple[str, str]]:
    """(epoch, train/loss) of every row of the run's CSV log that has a loss, in file order."""
    (log,) = (run / "csv").glob("version_*/metrics.csv")  # one log, never version_1
    with log.open(newline="") as f:
        return [(row["epoch"], row["train/loss"]) for row in csv.DictReader(f) if row["train/loss"]]


def checkpoint_epoch(path) -> int:
    return torch.load(path, map_location="cpu", weights_only=True)["epoch"]


def resume_hint(signame: str, *args: str) -> str:
    """What a run stopped by ``signame`` prints: the command that continues it."""
    command = shlex.join(["python", "-m", "diffinv.train", *args])
    return f"interrupted by {signame}; continue with:\n  {command}\n"


def run_printed(command_line: str) -> subprocess.CompletedProcess:
    """Run a printed ``python -m MODULE ARGS`` as it is."""
    python, flag, module, *args = shlex.split(command_line.strip())
    assert (python, flag) == ("python", "-m")
    return run_module(module, *args)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of TANH: its directory."""
    root = tmp_path_factory.mktemp("reference")
    run_module("diffinv.train", *TANH, f"paths.root_dir={root}", f"hydra.run.dir={root / 'run'}")
    return root / "run"


def test_same_seed_same_metrics_and_a_killed_training_resumes_to_them(tmp_path, reference):
    common = (*TANH, f"paths.root_dir={tmp_path}")
    run_module("diffinv.train", *common, f"hydra.run.dir={tmp_path / 'b'}")
    assert results(reference)["train/steps"] == 300  # 150 epochs x 2 batches of the 2,000 pairs of debug=fast
    assert results(tmp_path / "b") == results(reference)  # reproducible: data, training, sampling are seeded

    # killed once its CSV log (written every epoch) is past epoch 50, its checkpoint at epoch 39
    killed = tmp_path / "killed"
    common = (*common, "callbacks.checkpoint.every_n_epochs=40")
    log = killed / "csv" / "version_0" / "metrics.csv"

    def past_epoch_50() -> bool:
        return log.is_file() and len(log.read_text().splitlines()) > 52

    signal_when(signal.SIGKILL, past_epoch_50, "diffinv.train", *common, f"hydra.run.dir={killed}")
    assert not (killed / "metrics.json").exists()
    assert not (killed / "checkpoints" / "final.ckpt").exists()
    assert int(loss_log(killed)[-1][0]) > checkpoint_epoch(killed / "checkpoints" / "last.ckpt")

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
    assert results(killed) == results(reference)  # same step count, and even the same numbers
    assert loss_log(killed) == loss_log(reference)  # every epoch once: the rows after the checkpoint went


def test_ctrl_c_saves_the_epoch_and_the_printed_command_ends_as_an_uninterrupted_run(tmp_path, reference):
    run = tmp_path / "run"
    common = (*TANH, f"paths.root_dir={tmp_path}")
    periodic = run / "checkpoints" / "last.ckpt"  # epoch 24: then Ctrl-C
    stopped = signal_when(signal.SIGINT, periodic.is_file, "diffinv.train", *common, f"hydra.run.dir={run}")

    assert stopped.returncode == 130
    hint = resume_hint("SIGINT", *common, f"resume={run}")
    assert hint in stopped.stderr and hint in (run / "train.log").read_text()
    epoch = checkpoint_epoch(periodic)
    assert 25 <= epoch < 149  # the epoch the signal came in, saved at its end (overwriting the periodic one)
    assert f"saved {periodic} (epoch {epoch + 1} of 150)" in stopped.stdout
    assert [int(e) for e, _ in loss_log(run)] == list(range(epoch + 1))
    assert not (run / "metrics.json").exists() and not (run / "checkpoints" / "final.ckpt").exists()

    resumed = run_printed(hint.split("\n")[1])
    assert "exists and is not empty" not in resumed.stdout + resumed.stderr  # Lightning's, about checkpoints/
    assert results(run) == results(reference)
    weights = torch.load(run / "checkpoints" / "final.ckpt", map_location="cpu", weights_only=True)
    expected = torch.load(reference / "checkpoints" / "final.ckpt", map_location="cpu", weights_only=True)
    assert weights["state_dict"].keys() == expected["state_dict"].keys()
    assert all(torch.equal(weights["state_dict"][k], v) for k, v in expected["state_dict"].items())
    assert loss_log(run) == loss_log(reference)


def test_sigterm_while_sampling_stops_a_sweep_keeping_its_model_and_batches(tmp_path):
    """Sampling is interrupted at once (finished batches are on disk); the sweep stops, the hint names it,
    and the printed command finishes the interrupted job and runs the next."""
    sweep = tmp_path / "sweep"
    common = (
        "-m",
        "debug=fast",
        "problem=tanh",
        "problem.evaluator.exact_sinkhorn=false",
        "sampler=[ode,sde]",
        "sampler.sde.steps=2000",
        "evaluation.chunk_size=400",  # 200 samples of two y* per batch: 2 batches per sampler
        f"paths.root_dir={tmp_path}",
        "seed=0,1",
    )
    run, batches = sweep / "0", sweep / "0" / "sampling_chunks" / "sde"
    first = batches / "batch_00000.npz"
    stopped = signal_when(signal.SIGTERM, first.is_file, "diffinv.train", *common, f"hydra.sweep.dir={sweep}")

    assert stopped.returncode == 143
    hint = resume_hint("SIGTERM", *common, f"resume={sweep}")
    assert hint in stopped.stderr and hint in (run / "train.log").read_text()
    assert (run / "checkpoints" / "final.ckpt").is_file() and not (run / "metrics.json").exists()
    assert [p.name for p in batches.glob("batch_*.npz")] == ["batch_00000.npz"]

    assert not (sweep / "1").exists()  # the sweep stopped

    run_printed(hint.split("\n")[1])
    assert f"continuing from {run / 'checkpoints' / 'final.ckpt'}" in (run / "train.log").read_text()
    for job in (run, sweep / "1"):  # the stopped job finished, the next one ran (its log: train.log too)
        assert {"ode/sinkhorn/mean", "sde/sinkhorn/mean"} <= results(job).keys()
        assert "summary (every number: metrics.json)" in (job / "train.log").read_text()


def test_the_signals_of_a_scheduler_are_caught_and_end_with_their_status():
    """In-process, real signals: SIGINT, SIGTERM and SIGUSR1 raise Interrupted (exit status 128 + number).
    While training defers them, the first is recorded; a second Ctrl-C raises, a repeated SIGTERM or
    SIGUSR1 (Slurm's pre-emption sends SIGTERM twice) does not."""
    for signum, status in ((signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGUSR1, 138)):
        before = signal.getsignal(signum)
        catcher = SignalCatcher()
        catcher.install()
        try:
            with pytest.raises(Interrupted) as raised:
                os.kill(os.getpid(), signum)
            assert raised.value.status == status
            catcher.deferring = True
            os.kill(os.getpid(), signum)
            assert catcher.received == signum
            if signum == signal.SIGINT:
                with pytest.raises(Interrupted):
                    os.kill(os.getpid(), signum)
            else:
                os.kill(os.getpid(), signum)
                with pytest.raises(Interrupted):
                    os.kill(os.getpid(), signal.SIGINT)
        finally:
            catcher.restore()
        assert signal.getsignal(signum) == before  # the handlers found are back


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
    signal_when(
        signal.SIGKILL,
        lambda: len(list(batches.glob("batch_*.npz"))) >= 10,
        "diffinv.train",
        *common,
        f"hydra.run.dir={killed}",
    )
    assert 10 <= len(list(batches.glob("batch_*.npz"))) < 40

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
