"""The one checkpoint loader (docs/design.md §6): a checkpoint of ``diffinv.train`` to a
:class:`TrainedModel` — the module with its weights, the maps between normalised and physical units, and the
run's config — used by ``diffinv.evaluate``, ``diffinv.infer`` and library users alike.

Checkpoints are read with ``torch.load(weights_only=True)``: tensors and plain containers only, never
arbitrary pickled objects. The run's resolved config and the training data's normalisation travel inside
(``checkpoint["diffinv"]``).
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from diffinv.data.datamodule import Affine, PairedDataModule
from diffinv.run.errors import ConfigError
from diffinv.run.labels import noise_label, run_label
from diffinv.run.validation import validate
from diffinv.training.module import ScoreModule, build_module


@dataclass
class TrainedModel:
    """A trained ε-network with what maps its inputs and outputs to physical units."""

    module: ScoreModule
    x_norm: Affine
    y_norm: Affine
    config: DictConfig
    source: str
    noise_std: float  # the readings' noise the model was trained for (raw units)
    global_step: int

    @property
    def label(self) -> str:
        """The run's name: problem, formulation with its parameters, samplers with their settings."""
        return run_label(self.config.problem.name, self.module.formulation, self.module.samplers.values())

    @property
    def noise_label(self) -> str:
        """The noise of the readings the model was trained for, ``data.noise`` and σ_n: ``noise 5 % (σ_n =
        5.88)``."""
        return noise_label(self.config.data.noise, self.noise_std)

    @property
    def takes_masks(self) -> bool:
        return self.module.network.mask_dim > 0

    def check_data(self, datamodule: PairedDataModule) -> None:
        """Refuse data the network cannot take (other dimensions) or was not trained on (other statistics)."""
        data, net = datamodule.dataset, self.module.network
        for key, data_dim, net_dim in (("x", data.x_dim, net.x_dim), ("y", data.y_dim, net.y_dim)):
            if data_dim != net_dim:
                raise ConfigError(
                    f"data: {data.path} has {key} of dimension {data_dim}; the network of {self.source} "
                    f"takes {net_dim}"
                )
        for key, trained_on in (("x", self.x_norm), ("y", self.y_norm)):
            now, before = getattr(datamodule, f"{key}_norm").state(), trained_on.state()
            if not all(np.allclose(now[k], before[k]) for k in now):
                raise ConfigError(
                    f"data: the dataset's {key} statistics differ from those the model was trained on"
                )


def load_model(
    ckpt: str | Path, sampler: DictConfig | dict | None = None, overrides: dict | None = None
) -> TrainedModel:
    """A checkpoint of ``diffinv.train``, ready to sample (eval mode).

    ``sampler`` replaces the run's samplers (a ``sampler`` config node, e.g. ``{"sde": {...}}``; None keeps
    the run's); ``overrides`` is merged into the run's config (e.g. ``{"evaluation": {"n_samples": 10}}``).
    The result is validated as a training config is (docs/usage.md §10).
    """
    checkpoint = read_checkpoint(ckpt)
    config = OmegaConf.create(checkpoint["diffinv"]["config"])
    if sampler is not None:
        config.sampler = sampler
    if overrides:
        config = OmegaConf.merge(config, overrides)
    validate(config)
    module = build_module(config)
    module.load_state_dict(checkpoint["state_dict"])
    module.eval()
    norm = checkpoint["diffinv"]["normalisation"]
    return TrainedModel(
        module=module,
        x_norm=Affine.from_state(norm["x"]),
        y_norm=Affine.from_state(norm["y"]),
        config=config,
        source=str(ckpt),
        noise_std=float(norm["noise_std"]),
        global_step=int(checkpoint["global_step"]),
    )


def read_checkpoint(path) -> dict:
    """A checkpoint written by ``diffinv.train``, read with ``torch.load(weights_only=True)``. Errors name
    the file and what was refused."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt: {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated files, pickles of arbitrary objects, other formats
        unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if unsafe:
            why = f"it holds a {unsafe[1]} object; only tensors and plain containers are loaded"
        elif isinstance(exc, pickle.UnpicklingError):
            why = "not a torch checkpoint file"
        else:
            why = str(exc).splitlines()[0][:200]
        raise ConfigError(f"ckpt: {path} is not a readable diffinv checkpoint ({why})") from exc
    if not isinstance(checkpoint, dict) or "diffinv" not in checkpoint:
        raise ConfigError(f"ckpt: {path} was not written by diffinv.train (no 'diffinv' entry)")
    return checkpoint
