"""Finished runs as rows for reports (docs/design.md §4): every number a report shows comes from a run
directory's ``metrics.json`` and ``config.yaml``.

A row names its run by labels (:mod:`diffinv.run.labels`): the formulation with its parameters, the sampler
with its settings, the noise in both units, and ``settings``: the other config values in which the runs of
one problem differ (``optimizer.lr=0.0001``, ``seed=1``; docs/usage.md §3). Runs that differ in nothing
else are told apart by their directory names, so a report never has two runs for one row."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import yaml
from hydra.errors import HydraException

from diffinv.run.labels import config_labels, noise_label

# Config keys (and the subtrees under them) that are no setting of the run: where it writes, how it logs,
# how many threads; and those the labels or the report's axes already show.
NOT_SETTINGS = (
    "paths",
    "trainer.default_root_dir",
    "callbacks.checkpoint.dirpath",
    "hydra",
    "resume",
    "task_name",
    "tags",
    "logger",
    "torch_threads",
    "callbacks.progress",
    "problem.name",
    "formulation",
    "model.formulation",  # model=edm holds a copy of the formulation
    "schedule",
    "sampler",
    "data.noise",
)


def find_runs(directory: Path) -> list[Path]:
    """``directory`` itself if it is a run, else every run below it (a multirun's numbered folders); a run of
    a model trained over a range of noise levels is its levels' folders (``levels/noise_<level>``, each a run
    of one level: docs/math.md §19)."""
    if (directory / "metrics.json").is_file() and not (directory / "levels").is_dir():
        return [directory]
    runs = sorted(
        p.parent
        for p in directory.rglob("metrics.json")
        if (p.parent / "config.yaml").is_file() and not (p.parent / "levels").is_dir()
    )
    if not runs:
        raise FileNotFoundError(f"{directory}: no run directories (metrics.json + config.yaml) found")
    return runs


def collect(runs: list[Path]) -> list[dict]:
    """One row per (run, sampler): problem, formulation, sampler, settings, noise, the metrics of that
    sampler and the run."""
    records = [read_run(run) for run in runs]
    settings = varied_settings([record.pop("config") for record in records])
    rows = []
    for record, differs in zip(records, settings, strict=True):
        metrics, samplers = record.pop("metrics"), record.pop("samplers")
        noise = noise_label(record["noise"], metrics.get("data/noise_std"))
        for sampler in sorted({k.split("/")[0] for k in metrics if k.endswith("/time/sample_s")}):
            rows.append(
                record
                | {"sampler": samplers[sampler], "settings": differs, "noise_label": noise}
                | {k.removeprefix(f"{sampler}/"): v for k, v in metrics.items() if "/" in k}
            )
    return name_twins(rows)


def read_run(run: Path) -> dict:
    """A run directory's config, metrics, labels and the config values every report shows; files that are
    not a run's record are named in a one-line error."""
    try:
        metrics = json.loads((run / "metrics.json").read_text())
        config = yaml.safe_load((run / "config.yaml").read_text())
        formulation, samplers = config_labels(config)
        return {
            "run": run,
            "config": config,
            "metrics": metrics,
            "problem": config["problem"]["name"],
            "evaluator": config["problem"]["evaluator"]["_target_"],
            "formulation": formulation,
            "samplers": samplers,
            "epochs": config["trainer"]["max_epochs"],
            "n_samples": config["evaluation"]["n_samples"],
            "noise": config["data"]["noise"],
        }
    except (ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError, HydraException) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else ""
        raise ValueError(f"{run}: not a diffinv run record ({type(exc).__name__}: {reason})") from exc


def varied_settings(configs: list[dict]) -> list[str]:
    """Per config, ``key=value, …`` of the settings (every key but :data:`NOT_SETTINGS`) whose values differ
    among the configs of the same problem; ``–`` where a config lacks the key."""
    flat = [dict(_leaves(config)) for config in configs]
    problems = [config["problem"]["name"] for config in configs]
    varied = {}
    for problem in set(problems):
        mine = [leaves for name, leaves in zip(problems, flat, strict=True) if name == problem]
        keys = set().union(*mine)
        varied[problem] = sorted(k for k in keys if len({repr(leaves.get(k)) for leaves in mine}) > 1)
    return [
        ", ".join(f"{k}={_shown(leaves.get(k, '–'))}" for k in varied[problem])
        for problem, leaves in zip(problems, flat, strict=True)
    ]


def _shown(value) -> str:
    """A setting as a report shows it: a long list (sensor coordinates from the data file) by its length."""
    return f"[{len(value)} values]" if isinstance(value, list) and len(value) > 4 else str(value)


def _leaves(node: dict, prefix: str = ""):
    """``(dotted key, value)`` of every setting in a config dict; lists are values."""
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if any(dotted == skip or dotted.startswith(f"{skip}.") for skip in NOT_SETTINGS):
            continue
        if isinstance(value, dict):
            yield from _leaves(value, f"{dotted}.")
        elif key == "_target_":  # the class, by its name: model.net=ScoreUNet
            yield prefix.rstrip("."), str(value).rsplit(".", 1)[-1]
        elif not str(key).startswith("_"):  # _partial_ and the like: named by the settings beside them
            yield dotted, value


def name_twins(rows: list[dict]) -> list[dict]:
    """Rows that no label tells apart (runs of the same settings) get their run directory, relative to the
    folder that holds all runs (``run 3``, or ``run <date>/3`` for two sweeps reported together)."""

    def cell(row: dict) -> tuple:
        return row["problem"], row["formulation"], row["sampler"], row["settings"], row["noise"]

    counts = Counter(cell(r) for r in rows)
    twins = [r for r in rows if counts[cell(r)] > 1]
    if twins:
        parent = Path(os.path.commonpath([r["run"] for r in rows]))
        for r in twins:
            r["settings"] = ", ".join(filter(None, [r["settings"], f"run {r['run'].relative_to(parent)}"]))
    return rows
