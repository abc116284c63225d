"""The ``conf/data_gen`` config tree composed in-process (the resolvers are diffinv's)."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from diffinv.run.resolvers import register_resolvers

CONF_DIR = Path(__file__).resolve().parents[1] / "conf" / "data_gen"


def compose_config(*overrides: str, config_name: str = "config") -> DictConfig:
    """The config ``python -m data_gen <overrides>`` runs with (no run directory, no logging setup)."""
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides))
