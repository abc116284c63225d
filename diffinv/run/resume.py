"""Continuing a killed run in its own directory: ``resume=DIR`` (docs/usage.md §8).

``resume=DIR`` makes ``DIR`` the run directory (``hydra.run.dir``/``hydra.sweep.dir`` default to it, through
the ``diffinv.either`` resolver of :mod:`diffinv.run.resolvers`). The directory's ``config.yaml`` must then
match the new command except for the keys of :data:`MAY_DIFFER` (where the run runs, not what it computes);
training continues from the newest checkpoint, sampling reuses the chunks already written
(:mod:`diffinv.problems.flux.evaluator`), and a run whose ``metrics.json`` exists is complete and is not
repeated.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from diffinv.run.errors import ConfigError
from diffinv.run.files import write_text

log = logging.getLogger(__name__)

MAY_DIFFER = ("resume", "paths", "torch_threads", "trainer.max_epochs", "callbacks.progress", "logger")


def start_run_dir(resume: str | None, out: Path, cfg: DictConfig, trailer: str = "") -> bool:
    """Write the resolved ``cfg`` to ``out/config.yaml``; with ``resume``, first check that ``out`` is
    (inside) the ``resume`` directory and holds a run of the same config. Returns whether resuming."""
    if not resume:
        write_text(out / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True) + trailer)
        return False
    resume_dir, here = Path(resume).resolve(), out.resolve()
    if here != resume_dir and resume_dir not in here.parents:
        raise ConfigError(
            f"resume: {resume} is not this run's directory {out}; leave hydra.run.dir/hydra.sweep.dir "
            "unset when resuming (resume= sets them)"
        )
    previous = out / "config.yaml"
    if previous.is_file():
        changed = differing_keys(OmegaConf.load(previous), cfg)
        if changed:
            raise ConfigError(
                f"resume: {previous} was run with other values of {', '.join(changed)}; resume with the "
                "overrides of the original command"
            )
    write_text(previous, OmegaConf.to_yaml(cfg, resolve=True) + trailer)
    return True


def discard_run_dir(out: Path, resume: str | None) -> None:
    """Remove ``out`` if it holds nothing but what Hydra made when the job started (``.hydra/`` and the
    job's log file): what a call that stopped before writing anything leaves. A directory with anything else
    in it (a folder of the user's) is left as it is, and so is every directory of a resumed run (``resume``)
    or of a multirun (the sweep keeps its jobs' records)."""
    if resume or (HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN):
        return
    made = {".hydra"} | ({f"{HydraConfig.get().job.name}.log"} if HydraConfig.initialized() else set())
    if out.is_dir() and {p.name for p in out.iterdir()} <= made:
        shutil.rmtree(out)


@contextmanager
def discarded_on_failure(out: Path, resume: str | None) -> Iterator[None]:
    """The start-up checks of a run, before it writes to ``out``: if they stop it (bad input, missing data, an
    interruption), no run directory is left behind (:func:`discard_run_dir`)."""
    try:
        yield
    except BaseException:
        discard_run_dir(out, resume)
        raise


def differing_keys(before: DictConfig, now: DictConfig) -> list[str]:
    """Dotted keys whose resolved values differ, outside :data:`MAY_DIFFER`."""
    flat_before, flat_now = _flatten(before), _flatten(now)
    keys = sorted(set(flat_before) | set(flat_now))
    return [
        k
        for k in keys
        if flat_before.get(k) != flat_now.get(k)
        and not any(k == p or k.startswith(p + ".") for p in MAY_DIFFER)
    ]


def completed_metrics(out: Path, name: str = "metrics.json") -> dict | None:
    """The results of a run that already finished in ``out`` (its ``metrics.json``), else None."""
    path = out / name
    if not path.is_file():
        return None
    log.info("resume: %s is complete (%s exists); nothing to do", out, name)
    return json.loads(path.read_text())


def latest_checkpoint(out: Path) -> Path | None:
    """``checkpoints/final.ckpt`` (training finished) or ``checkpoints/last.ckpt`` (the periodic one)."""
    for name in ("final.ckpt", "last.ckpt"):
        path = out / "checkpoints" / name
        if path.is_file():
            log.info("resume: continuing from %s", path)
            return path
    log.warning("resume: no checkpoint in %s/checkpoints yet; training starts from the beginning", out)
    return None


def _flatten(cfg: DictConfig) -> dict:
    container = OmegaConf.to_container(cfg, resolve=True)
    flat: dict = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node

    walk(container, "")
    return flat
