"""Where a run's dataset comes from (docs/design.md §2): ``problem.data_file``, or a file generated on first
use from the problem's recipe (``problem.dataset``, a :class:`data_gen.build.Recipe` named by its
``_target_``: diffinv never imports data_gen) under ``paths.data_dir``, named by a hash of the recipe so that
a changed recipe never reuses a stale file."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def dataset_path(cfg: DictConfig, recipe=None) -> Path:
    """``problem.data_file``, or ``<data_dir>/<recipe name>-<sha256 of the recipe, 10 hex>.h5`` for data made
    on first use; ``recipe`` is the instantiated ``problem.dataset`` (:class:`data_gen.build.Recipe`)."""
    if cfg.problem.data_file:
        return Path(cfg.problem.data_file)
    if recipe is None:
        recipe = instantiate(OmegaConf.to_container(cfg.problem.dataset, resolve=True))
    digest = hashlib.sha256(json.dumps(recipe.spec, sort_keys=True).encode()).hexdigest()[:10]
    return Path(cfg.paths.data_dir) / f"{recipe.name}-{digest}.h5"


def ensure_dataset(cfg: DictConfig) -> Path:
    """The run's dataset file: ``problem.data_file`` (which must exist), or the file of the recipe
    ``problem.dataset``, generated here (in this process, by data_gen) when it is missing."""
    if cfg.problem.data_file:
        path = Path(cfg.problem.data_file)
        if not path.is_file():
            make = OmegaConf.select(cfg, "problem.make_data")
            hint = f"; make it with: {make}" if make else ""
            raise FileNotFoundError(f"problem.data_file: {path} does not exist{hint}")
        return path
    # the node names its _target_ (data_gen.build.Recipe): diffinv never imports data_gen
    recipe = instantiate(OmegaConf.to_container(cfg.problem.dataset, resolve=True))
    path = dataset_path(cfg, recipe)
    if not path.exists():
        log.info("dataset %s missing: generating it with %s", path, recipe.target)
        start = time.perf_counter()
        recipe.write(path)
        log.info("generated %s in %.1f s", path, time.perf_counter() - start)
    return path
