"""Paired datasets of the three 2-D densities (docs/problems.md §1). Their recipes are
``data_gen/conf/problem/{tanh,bimodal,spiral}.yaml``, whose ``problem.generate`` names
:func:`generate_from_config`: ``python -m data_gen problem=tanh`` calls it on request, ``python -m
diffinv.train problem=tanh`` on first use (through :class:`data_gen.build.Recipe`). The densities themselves
live in :mod:`diffinv.problems.densities.definitions`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from diffinv.data.schema import Split, write_dataset
from diffinv.problems.densities.definitions import problem


def generate(
    name: str, path: str | Path, n_train: int = 10_000, n_test: int = 100_000, seed: int = 0
) -> Path:
    """Write the paired dataset of docs/problems.md §1 (train and test splits, x and y as (N, 1)) to
    ``path``."""
    toy = problem(name)
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x, y = toy.sample_joint(n, rng)
        splits[split] = Split(x=x[:, None], y_clean=y[:, None])
    config = {"name": name, "n_train": n_train, "n_test": n_test, "seed": seed}
    attrs = {"problem": name, "seed": seed, "generator_config": json.dumps(config)}
    return write_dataset(path, splits, attrs)


def generate_from_config(cfg: DictConfig) -> Path:
    """Write ``cfg.out`` from the data_gen config (``problem.name``, ``problem.n_train``, ``problem.n_test``,
    ``seed``): the ``problem.generate`` target of the toy recipes."""
    for split in ("train", "test"):
        n = cfg.problem[f"n_{split}"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"problem.n_{split}={n}: need at least one sample")
    return generate(cfg.problem.name, cfg.out, cfg.problem.n_train, cfg.problem.n_test, int(cfg.seed))
