"""Logs fit for files and terminals, run records where the paths say (issue 14): a run whose output is a pipe
writes plain progress lines (no carriage returns, no Lightning logging-interval warning, a few hundred bytes
per phase), one on a terminal (a real pseudo-terminal) gets the progress bars; ``python -m data_gen`` keeps
its run record under ``paths.log_dir`` in the trainer's layout and nothing in the working directory."""

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

from tests.helpers.runs import ENV, ROOT, run_module

TINY = ("debug=fast", "problem=tanh", "problem.evaluator.exact_sinkhorn=false")


def test_a_piped_run_logs_plain_progress_lines_and_no_logging_interval_warning(tmp_path):
    result = run_module(
        "diffinv.train",
        *TINY,
        "trainer.max_epochs=20",
        "trainer.log_every_n_steps=50",  # more than the 2 batches per epoch: a maximum, not a warning
        "callbacks.progress.refresh_rate=10",  # the default (debug=fast turns progress off)
        f"paths.root_dir={tmp_path}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    console = result.stdout + result.stderr
    assert "\r" not in console
    assert "logging interval" not in console
    assert "training: 1/20 epochs, loss " in result.stdout  # the first epoch, then every 10 s, then the last
    assert "training: 20/20 epochs, loss " in result.stdout
    assert "sampling (ode): 1/1 batches (" in result.stdout
    assert "training: 20/20 epochs" in (tmp_path / "run" / "train.log").read_text()
    assert len(console.encode()) < 2000, console


def test_a_terminal_gets_progress_bars(tmp_path):
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # 24 rows, 120 columns
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "diffinv.train",
            *TINY,
            "callbacks.progress.refresh_rate=1",
            f"paths.root_dir={tmp_path}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        cwd=ROOT,
        env=os.environ | ENV,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the run ended
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert proc.wait(timeout=300) == 0, output.decode()[-3000:]
    console = output.decode()
    assert "Epoch 1: 100%" in console and "sampling (ode): 100%" in console and "\r" in console
    assert re.search(r"training: \d+/\d+ epochs", console) is None  # no plain lines where the bars are


def test_data_gen_keeps_its_run_records_under_the_configured_paths(tmp_path):
    work, root = tmp_path / "work", tmp_path / "root"
    work.mkdir()
    small = ("problem=tanh", "problem.n_train=100", "problem.n_test=100", f"paths.root_dir={root}")
    result = run_module("data_gen", *small, cwd=work)
    dataset = root / "data" / "tanh.h5"
    assert f"results: {dataset}" in result.stdout and dataset.is_file()
    (record,) = (root / "outputs" / "data_gen" / "runs").iterdir()
    assert "problem.n_train=100" in (record / ".hydra" / "overrides.yaml").read_text()
    assert f"dataset written: {dataset}" in (record / "data_gen.log").read_text()

    run_module("data_gen", "-m", *small, "seed=0,1", cwd=work)
    (sweep,) = (root / "outputs" / "data_gen" / "multiruns").iterdir()
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    assert all((sweep / job / "data_gen.log").is_file() for job in ("0", "1"))
    assert list(work.iterdir()) == []  # no ./outputs/<date>/<time>, no ./multirun
