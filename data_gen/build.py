"""A dataset recipe as the training side sees it: what ``diffinv.train`` makes its data from on first use.

``data_gen/conf/problem/<generator>.yaml`` is the one definition of each dataset (toy and FEniCSx alike). A
training problem refers to it by name, with the values it changes::

    problem:
      dataset:
        _target_: data_gen.build.Recipe
        generator: advdiff
        overrides: {problem: {mesh: 170x40, n_train: 4000}}

``diffinv`` never imports ``data_gen``; ``diffinv.data.source.ensure_dataset`` instantiates this node, names
the file by a hash of :attr:`Recipe.spec` (so a changed recipe never reuses a stale file) and calls
:meth:`Recipe.write` when the file is missing. ``write`` runs the generator exactly as ``python -m data_gen
problem=<generator> <overrides>`` would, in this process.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

import h5py
import hydra
import numpy as np
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from data_gen.config import compose_config

# Keys of the data_gen config that say where and in how many pieces a dataset is written (and where its run
# record goes), not what it holds.
NOT_IN_RECIPE = ("paths", "task_name", "out", "workers", "shard", "num_shards", "chunk_size")


class Recipe:
    """The data_gen config of ``problem=<generator>``, ``overrides`` (nested like that config) merged in."""

    def __init__(self, generator: str, overrides: Mapping | None = None):
        try:
            cfg = compose_config(f"problem={generator}")
        except HydraException as exc:
            raise ValueError(f"problem.dataset.generator: {exc}") from exc
        if overrides:
            try:
                cfg = OmegaConf.merge(cfg, OmegaConf.create(dict(overrides)))
            except OmegaConfBaseException as exc:
                raise ValueError(f"problem.dataset.overrides: {exc}") from exc
        self.generator = generator
        self.config: DictConfig = cfg

    @property
    def name(self) -> str:
        """The dataset's name as ``python -m data_gen`` names its file (``advdiff_noclip`` for clip=false)."""
        return Path(self.config.out).stem

    @property
    def spec(self) -> dict:
        """Everything that decides the file's contents: the resolved config without :data:`NOT_IN_RECIPE`."""
        spec = OmegaConf.to_container(self.config, resolve=True)
        return {key: value for key, value in spec.items() if key not in NOT_IN_RECIPE}

    @property
    def target(self) -> str:
        """The generator function (``problem.generate._target_``)."""
        return self.config.problem.generate._target_

    def write(self, path: str | Path) -> Path:
        """Generate the dataset into ``path`` (atomically, as every generator writes)."""
        cfg = copy.deepcopy(self.config)
        cfg.out = str(path)
        hydra.utils.call(cfg.problem.generate, cfg)
        return Path(path)


class FileSolver:
    """The forward model that made a data file, as a callable ``x (n, d) -> clean readings (n, m)`` (physical
    units): the file's own generator config (its ``config`` attribute, ``problem.solver``) instantiated, so
    the mesh and every physical parameter are the file's (the predictive check of a nonlinear problem,
    docs/math.md §16.3). For a file made with ``problem.clip`` the generator's clip ``q = max(z, 0)`` comes
    first, as for every prior draw it solved: a posterior sample a little outside the prior's support (a
    slightly negative flux, which the Newton solver of ADR need not survive) gets the readings of its clipped
    flux. Built on the first call, so configuring it costs nothing until readings are needed.
    """

    def __init__(self, data_file: str | Path):
        self.data_file = Path(data_file)
        self._solver, self._clip = None, False

    def __call__(self, x):
        if self._solver is None:
            self._solver, self._clip = self._build()
        return self._solver(np.maximum(x, 0.0) if self._clip else x)

    def _build(self):
        with h5py.File(self.data_file, "r") as f:
            config = f.attrs.get("config")
        problem = None if config is None else OmegaConf.create(str(config)).problem
        if problem is None or problem.get("solver") is None:
            raise ValueError(f"{self.data_file}: its generator config has no problem.solver to build")
        return hydra.utils.instantiate(problem.solver), bool(problem.get("clip", False))
