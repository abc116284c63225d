"""The data-generation config tree ``data_gen/conf`` composed in-process (the resolvers are diffinv's).

The tree ships inside the package (package data, pyproject.toml), apart from the training configs in
``conf/``: ``python -m data_gen``, :mod:`data_gen.fem.convergence` and :mod:`data_gen.fem.figures` read it
through ``config_path``, and :func:`compose_config` composes it from Python, also from inside a running
Hydra application (``diffinv.train`` making a dataset on first use, :mod:`data_gen.build`).
"""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.singleton import Singleton
from hydra.core.utils import JobRuntime
from omegaconf import DictConfig

from diffinv.run.resolvers import register_resolvers

CONF_DIR = Path(__file__).resolve().parent / "conf"


def compose_config(*overrides: str, config_name: str = "config") -> DictConfig:
    """The config ``python -m data_gen <overrides>`` runs with (no run directory, no logging setup)."""
    register_resolvers()
    # Hydra's compose API needs the global Hydra instance to itself: set aside the running application's
    # (diffinv.train's, when it makes its dataset) and put it back afterwards, with its job name (which
    # names the next multirun job's log file: train.log, not compose's app.log).
    running = Singleton._instances.pop(GlobalHydra, None)
    job_name = JobRuntime.instance().get("name")
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name=config_name, overrides=list(overrides))
    finally:
        JobRuntime.instance().set("name", job_name)
        if running is not None:
            Singleton._instances[GlobalHydra] = running
