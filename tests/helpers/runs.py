"""Running the real entry points from tests: the repository root, the config tree, ``run_module`` (a
subprocess, as a user runs it), composing the training config, small FEniCSx datasets, short training runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

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
    "LeafSpec",
    "pkg_resources",
    "DeprecationWarning",
    "FutureWarning",
    "is deprecated",
)


ENV = {"PYTHONPATH": str(ROOT), "WANDB_MODE": "offline", "WANDB_SILENT": "true"}


def run_module(module: str, *overrides: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m <module> <overrides>`` from the repository root, W&B offline; asserts it succeeded."""
    result = subprocess.run(
        [sys.executable, "-m", module, *overrides],
        cwd=ROOT,
        env=os.environ | ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def compose_train(*overrides: str, hydra_config: bool = False):
    """The config ``python -m diffinv.train <overrides>`` runs with (Hydra's compose API)."""
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=hydra_config)


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
