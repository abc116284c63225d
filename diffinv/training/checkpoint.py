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

from diffinv.data.datamodule import Affine, PairedDataModule, network_measurements, with_noise_input
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
    noise_range: tuple[float, float] | None = None  # an amortized model's data.noise range (docs/math.md §19)
    noise_unit: float | None = None  # σ_n of the level 1 (data.noise units to raw units)

    @property
    def noise_dim(self) -> int:
        """1 for an amortized model, whose last network input is the readings' noise level."""
        return int(self.noise_range is not None)

    def readings_noise(self, noise: float | None = None, noise_std: float | None = None) -> float:
        """The level (``data.noise`` units) of readings with ``noise`` (a fraction) or ``noise_std`` (σ_n,
        raw units): required by an amortized model, inside its range; a one-level model takes its own level
        only (None: that one)."""
        if noise is not None and noise_std is not None:
            raise ValueError("noise, noise_std: give the readings' noise level one way, not both")
        if noise_std is not None:
            unit = self.noise_unit if self.noise_unit else self.noise_std / float(self.config.data.noise or 1)
            noise = float(noise_std) / unit
        if self.noise_range is None:
            trained = float(self.config.data.noise)
            if noise is not None and not np.isclose(noise, trained, rtol=1e-6):
                raise ValueError(
                    f"noise: readings at level {noise:.4g}, but the model ({self.source}) was trained at "
                    f"data.noise={trained} only; train over a range (data.noise=[low,high]) for other levels"
                )
            return trained
        low, high = self.noise_range
        if noise is None:
            raise ValueError(
                f"noise: the model ({self.source}) was trained over data.noise=[{low}, {high}]; give the "
                "readings' level (noise=<fraction> or noise_std=<sigma_n>)"
            )
        if not low <= noise <= high:
            raise ValueError(
                f"noise: readings at level {noise:.4g} lie outside the range the model was trained on, "
                f"[{low}, {high}] (data.noise units)"
            )
        return float(noise)

    def network_inputs(self, y: np.ndarray, mask: np.ndarray | None, noise: float) -> np.ndarray:
        """Readings (physical units, NaN off) as the network takes them, with an amortized model's noise
        input for ``noise`` (:meth:`readings_noise`; docs/math.md §19.1)."""
        y_in = network_measurements(self.y_norm, np.nan_to_num(y, nan=0.0), mask)
        return with_noise_input(y_in, noise, self.noise_range)

    @property
    def label(self) -> str:
        """The run's name: problem, formulation with its parameters, samplers with their settings."""
        return run_label(self.config.problem.name, self.module.formulation, self.module.samplers.values())

    @property
    def noise_label(self) -> str:
        """The noise of the readings the model was trained for, ``data.noise`` and σ_n: ``noise 5 % (σ_n =
        5.88)``."""
        return noise_label(self.noise_range or self.config.data.noise, self.noise_std)

    @property
    def takes_masks(self) -> bool:
        return self.module.network.mask_dim > 0

    def check_data(self, datamodule: PairedDataModule) -> None:
        """Refuse data the network cannot take (other dimensions) or was not trained on (other statistics)."""
        data, net = datamodule.dataset, self.module.network
        readings = net.y_dim - self.noise_dim
        for key, data_dim, net_dim in (("x", data.x_dim, net.x_dim), ("y", data.y_dim, readings)):
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
        noise_range=tuple(norm["noise_range"]) if "noise_range" in norm else None,
        noise_unit=norm.get("noise_unit"),
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
