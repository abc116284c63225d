"""Compose the ``conf/data_gen`` tree in-process for the FEniCSx tests (no subprocess, no Hydra run dir)."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir

from data_gen.config import register_resolvers

CONF_DIR = Path(__file__).resolve().parents[1] / "conf" / "data_gen"


def data_gen_config(*overrides: str, config_name: str = "config"):
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides))
