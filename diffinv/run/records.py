"""Finished runs as rows for reports (docs/design.md §4): every number a report shows comes from a run
directory's ``metrics.json`` and ``config.yaml``."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

FORMULATION_NAMES = {"VE": "VE", "VP": "VP", "VPFamily": "VP-κ"}


def find_runs(directory: Path) -> list[Path]:
    """``directory`` itself if it is a run, else every run below it (a multirun's numbered folders)."""
    if (directory / "metrics.json").is_file():
        return [directory]
    runs = sorted(p.parent for p in directory.rglob("metrics.json") if (p.parent / "config.yaml").is_file())
    if not runs:
        raise FileNotFoundError(f"{directory}: no run directories (metrics.json + config.yaml) found")
    return runs


def collect(runs: list[Path]) -> list[dict]:
    """One row per (run, sampler): problem, formulation, sampler, the metrics of that sampler and the run."""
    rows = []
    for run in runs:
        metrics = json.loads((run / "metrics.json").read_text())
        config = yaml.safe_load((run / "config.yaml").read_text())
        formulation = FORMULATION_NAMES.get(config["formulation"]["_target_"].rsplit(".", 1)[-1], "?")
        for sampler in sorted({k.split("/")[0] for k in metrics if k.endswith("/time/sample_s")}):
            rows.append(
                {
                    "run": run,
                    "problem": config["problem"]["name"],
                    "evaluator": config["problem"]["evaluator"]["_target_"],
                    "formulation": formulation,
                    "sampler": sampler.upper(),
                    "epochs": config["trainer"]["max_epochs"],
                    "n_samples": config["evaluation"]["n_samples"],
                    "noise": config["data"]["noise"],
                    **{k.removeprefix(f"{sampler}/"): v for k, v in metrics.items() if "/" in k},
                }
            )
    return rows
