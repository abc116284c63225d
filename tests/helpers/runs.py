"""Running the real entry points from tests: the repository root, the config tree, ``run_module`` (a
subprocess, as a user runs it), composing the training config, small FEniCSx datasets, short training runs,
the summary table a run ends with."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from unittest.mock import patch

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

ROOT = Path(__file__).resolve().parents[2]
CONF = str(ROOT / "conf")
COARSE = "85x20"  # the mesh of the test datasets: seconds to generate
# Console lines a run must not show (third-party tips, deprecation noise: diffinv.run.console filters them).
NOT_ABOUT_THIS_RUN = (
    "💡 Tip",
    "litlogger",
    "litmodels",
    "GPU available",
    "TPU available",
    "to estimate number of stepping batches",
    "LeafSpec",
    "pkg_resources",
    "DeprecationWarning",
    "FutureWarning",
    "is deprecated",
)


ENV = {"PYTHONPATH": str(ROOT), "WANDB_MODE": "offline", "WANDB_SILENT": "true"}


def run_module(
    module: str, *overrides: str, timeout: float = 300, cwd=ROOT, env: dict | None = None
) -> subprocess.CompletedProcess:
    """``python -m <module> <overrides>`` from the repository root (or ``cwd``), W&B offline and silent
    unless ``env`` says otherwise; asserts it succeeded."""
    result = subprocess.run(
        [sys.executable, "-m", module, *overrides],
        cwd=cwd,
        env=os.environ | ENV | (env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def run_main(main, *argv: str):
    """Call an entry point's Hydra ``main`` in this process as ``python -m`` would, with ``argv`` (no
    interpreter start per call); its config tree is named explicitly (imported, Hydra would look for it as a
    Python package). Its exit status, where it has one, is the ``SystemExit`` it raises."""
    import data_gen.__main__ as data_gen_cli
    from data_gen.config import CONF_DIR

    conf = str(CONF_DIR) if main is data_gen_cli.main else CONF
    with patch.object(sys, "argv", ["prog", f"--config-path={conf}", *argv]):
        try:
            return main()
        finally:
            GlobalHydra.instance().clear()


def signal_when(
    signum: int, predicate, module: str, *overrides: str, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Start ``python -m module overrides``, send it ``signum`` as soon as ``predicate()`` holds, and return
    how it ended (exit status, stdout, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *overrides],
        cwd=ROOT,
        env=os.environ | ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while not predicate():
            assert proc.poll() is None, f"{module} ended (exit {proc.returncode}) before the signal"
            assert time.monotonic() < deadline, f"{module}: condition not reached in {timeout} s"
            time.sleep(0.05)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def readme_section(title: str) -> str:
    """The text of README.md's ``## <title>`` section, up to the next ``## `` heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def compose_config(name: str, *overrides: str, hydra_config: bool = False):
    """The config ``conf/<name>.yaml`` with ``overrides`` as its entry point runs with (Hydra's compose API),
    the resolvers registered as the entry points register them (a test file run alone has not imported
    them)."""
    from diffinv.run.resolvers import register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(name, overrides=list(overrides), return_hydra_config=hydra_config)


def compose_train(*overrides: str, hydra_config: bool = False):
    """The config ``python -m diffinv.train <overrides>`` runs with."""
    return compose_config("train", *overrides, hydra_config=hydra_config)


def make_data(data_dir, *overrides):
    """A coarse-mesh file from the real generator (seconds), as ``python -m data_gen ...`` would write it."""
    from data_gen.config import compose_config
    from data_gen.fem.linear_generate import generate  # here: the non-fem tests run without DOLFINx
    from diffinv.data.schema import read_dataset

    cfg = compose_config(f"problem.mesh={COARSE}", f"paths.data_dir={data_dir}", *overrides)
    generate(cfg)
    return read_dataset(cfg.out)


def train(root, *overrides, timeout: float = 300):
    """``diffinv.train debug=fast`` with data and outputs under ``root``; ``overrides`` come last and win."""
    run = root / "run"
    run_module(
        "diffinv.train",
        "debug=fast",
        f"paths.root_dir={root}",
        f"paths.data_dir={root / 'data'}",
        f"hydra.run.dir={run}",
        *overrides,
        timeout=timeout,
    )
    return run, json.loads((run / "metrics.json").read_text())


def summary_rows(text: str) -> dict[str, dict[str, str]]:
    """The summary table a run ends with (docs/usage.md §2), found in a console or log ``text``:
    sampler -> column -> the number shown."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("sampler  "))
    header = re.split(r"\s{2,}", lines[start].strip())
    rows = {}
    for line in lines[start + 1 :]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) != len(header):
            break
        rows[cells[0]] = dict(zip(header[1:], cells[1:], strict=True))
    return rows
