"""Where a run's dataset comes from (docs/design.md §2): ``problem.data_file``, or a file generated on first
use by the problem's generator (``problem.generate``, a data_gen function named by its ``_target_``) under
``paths.data_dir``, named by a hash of the recipe so that a changed recipe never reuses a stale file."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def dataset_path(cfg: DictConfig) -> Path:
    """``problem.data_file``, or ``<data_dir>/<name>-<hash of problem.generate>.h5`` for generated data."""
    if cfg.problem.data_file:
        return Path(cfg.problem.data_file)
    recipe = json.dumps(OmegaConf.to_container(cfg.problem.generate, resolve=True), sort_keys=True)
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:10]
    return Path(cfg.paths.data_dir) / f"{cfg.problem.name}-{digest}.h5"


def ensure_dataset(cfg: DictConfig) -> Path:
    path = dataset_path(cfg)
    if cfg.problem.data_file and not path.is_file():
        make = OmegaConf.select(cfg, "problem.make_data")
        hint = f"; make it with: {make}" if make else ""
        raise FileNotFoundError(f"problem.data_file: {path} does not exist{hint}")
    if not path.exists() and not cfg.problem.data_file:
        log.info("dataset %s missing: generating it with %s", path, cfg.problem.generate._target_)
        start = time.perf_counter()
        instantiate(cfg.problem.generate, path=str(path))
        log.info("generated %s in %.1f s", path, time.perf_counter() - start)
    return path
