"""Start-up validation of a composed config: every problem is reported before any data or training,
as a :class:`ConfigError` whose message starts with the offending key (docs/design.md §5).

Objects are validated by the code that owns them: datamodule, formulation and network are instantiated, each
sampler is dry-run on one point with a zero score, and their ``ValueError``/``TypeError`` is re-raised
with the config key in front; plain scalars are checked here.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from diffinv.core.losses import dsm_loss
from diffinv.run.errors import ConfigError

POSITIVE_INTEGERS = (
    "data.batch_size",
    "trainer.max_epochs",
    "evaluation.n_samples",
    "evaluation.chunk_size",
    "torch_threads",
)
POSITIVE_NUMBERS = ("optimizer.lr",)
NON_NEGATIVE_NUMBERS = ("data.noise",)  # or, for data.noise, a range [low, high] (docs/math.md §19)


def validate(cfg: DictConfig) -> None:
    for key in POSITIVE_INTEGERS:
        value = OmegaConf.select(cfg, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key}: must be an integer >= 1, got {value!r}")
    for key in POSITIVE_NUMBERS + NON_NEGATIVE_NUMBERS:
        value = OmegaConf.select(cfg, key)
        if key == "data.noise" and OmegaConf.is_list(value):
            continue  # a range: the datamodule checks it, then _check_noise_levels
        if key == "data.noise" and OmegaConf.select(cfg, "evaluation.noise_levels"):
            raise ConfigError(
                f"evaluation.noise_levels: a model trained at one level (data.noise={value}) is scored at "
                "that level only; train over a range (data.noise=[low,high]) to score several"
            )
        low_ok = (lambda v: v >= 0) if key in NON_NEGATIVE_NUMBERS else (lambda v: v > 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(f"{key}: must be a finite number, got {value!r}")
        if not low_ok(value):
            bound = ">= 0" if key in NON_NEGATIVE_NUMBERS else "> 0"
            raise ConfigError(f"{key}: must be {bound}, got {value!r}")
    _build("data", cfg.data, path=None)  # its constructor checks normalisation etc.; no data is read
    if OmegaConf.is_list(cfg.data.noise):
        _check_noise_levels(cfg)
    evaluator = _build("problem.evaluator", cfg.problem.evaluator)
    _check_clean_measurements(cfg, evaluator)
    _check_schedule(cfg)
    formulation = _build("formulation", cfg.formulation)
    if "loss" in cfg:  # before the model, which reads loss.sigma_data: the error names the key set
        _check_loss(cfg.loss, formulation)
    _check_model(cfg)
    if not cfg.sampler:
        raise ConfigError("sampler: no sampler selected (e.g. sampler=ode or sampler=[ode,sde])")
    selected = [name for name, node in cfg.sampler.items() if "_target_" in node]
    for name, sampler_cfg in cfg.sampler.items():
        if name not in selected:  # values set for a sampler the sampler group did not select
            raise ConfigError(
                f"sampler.{name}: {sorted(sampler_cfg)} set, but {name!r} is not a selected sampler "
                f"(selected: {selected}); select it (sampler=[{name},...]) or drop the values with "
                f"~sampler.{name}"
            )
        sampler = _build(f"sampler.{name}", sampler_cfg)
        _call(f"sampler.{name}", sampler_cfg, sampler, formulation)


def fill_from_data(cfg: DictConfig, dataset) -> None:
    """What the network's size and shape are read from: the data file (docs/design.md §9). ``problem.x_dim``,
    ``y_dim`` and ``mask_dim`` are set from it where the config leaves them out (or null) and checked where it
    gives them, so that a mismatch names the key, the value to set and the file before any training step;
    a field's grid (``problem.grid``, the file's ``x_shape``), its bounds (``problem.bounds``), the
    coordinates of an unknown without a grid (``problem.coords``) and the sensors (``problem.sensors``, the
    file's ``sensor_coords``) are set for a convolutional network and the figures. Then the
    model is built once with them, outside the run's random stream, so that a size it refuses is reported as
    a config error."""
    attrs = dataset.attrs
    noise_dim = int(OmegaConf.is_list(OmegaConf.select(cfg, "data.noise")))  # an amortized model's input
    found = {
        "x_dim": dataset.x_dim,
        "y_dim": dataset.y_dim + noise_dim,
        "mask_dim": dataset.y_dim if dataset.has_mask else 0,
    }
    with open_dict(cfg.problem):
        cfg.problem.noise_dim = noise_dim
        for key, value in found.items():
            given = cfg.problem.get(key)
            if given is None:
                cfg.problem[key] = value
            elif given != value:
                raise ConfigError(
                    f"problem.{key}: {given} given, but the data file {dataset.path} has {value}"
                    + (" (it has sensor masks)" if key == "mask_dim" and value else "")
                    + f": set problem.{key}={value}, or leave it out (read from the file)"
                )
        shape = attrs.get("x_shape")
        cfg.problem.grid = None if shape is None else [int(n) for n in shape]
        coords = attrs.get("x_coords")
        bounds = None if coords is None else np.stack([coords.min(axis=0), coords.max(axis=0)], axis=1)
        cfg.problem.bounds = None if bounds is None else bounds.tolist()
        field = shape is not None and len(shape) == 2  # a field: its grid and bounds place it
        cfg.problem.coords = None if coords is None or field else np.asarray(coords).tolist()
        sensors = attrs.get("sensor_coords")
        cfg.problem.sensors = None if sensors is None else np.asarray(sensors).tolist()
    with torch.random.fork_rng(devices=[]):  # the run's seeded stream is the trained network's, untouched
        _build("model", cfg.model, **_measured_later(cfg.model))


# Sizes the network is built with at start-up where the data file gives them later (fill_from_data): a 32 x 32
# grid with one sensor suits any network (a U-Net of up to 6 levels), so only the model's own values can fail.
STAND_INS = {"x_dim": 1024, "y_dim": 1, "mask_dim": 0, "grid": [32, 32], "sensors": [[0.5, 0.5]]}


def _check_model(cfg: DictConfig) -> None:
    """Build the model before any data is read: with the data file's sizes still unknown, with
    :data:`STAND_INS` in their place (the run builds it again with the file's, :func:`fill_from_data`)."""
    probe = copy.deepcopy(cfg)
    with open_dict(probe.problem):
        for key, value in STAND_INS.items():
            if probe.problem.get(key) is None:
                probe.problem[key] = value
    _build("model", probe.model, **_measured_later(probe.model))


def _check_noise_levels(cfg: DictConfig) -> None:
    """``data.noise=[low, high]`` (an amortized model, docs/math.md §19; the range checked by the
    datamodule): the levels the run scores (``evaluation.noise_levels``, required) inside it."""
    low, high = (float(v) for v in cfg.data.noise)
    levels = OmegaConf.select(cfg, "evaluation.noise_levels")
    if not levels:
        raise ConfigError(
            f"evaluation.noise_levels: a model trained over data.noise=[{low}, {high}] is scored at the "
            "levels listed here (e.g. [0.01,0.05,0.2]); none given"
        )
    outside = [level for level in levels if not low <= level <= high]
    if outside:
        raise ConfigError(f"evaluation.noise_levels: {outside} outside the trained range [{low}, {high}]")


def _check_clean_measurements(cfg: DictConfig, evaluator) -> None:
    """An evaluator that scores against the clean test measurements (the 2-D densities' bands,
    docs/problems.md §1) needs a model trained on clean ones: noisy training y would compare two different
    conditionals."""
    amortized = OmegaConf.is_list(cfg.data.noise)
    if evaluator.needs_clean_measurements and (amortized or cfg.data.noise > 0):
        raise ConfigError(
            f"data.noise: the 2-D density problem {cfg.problem.name!r} is scored against the bands of its "
            f"clean y (docs/problems.md §1), so it is trained on clean y; got data.noise={cfg.data.noise}. "
            "Leave data.noise=0 (its default), or use a boundary-flux problem (problem=advdiff) for noisy "
            "measurements"
        )


def _check_loss(node: DictConfig, formulation) -> None:
    """Dry-run the DSM loss on one pair with a zero network: its own checks of ``loss.*`` run
    (``sigma_data: auto`` is measured on the data later, docs/math.md §15.2)."""
    x = torch.zeros(1, 1)
    options = OmegaConf.to_container(node) | _measured_later(node)
    try:
        dsm_loss(lambda x_t, t, y, mask: torch.zeros_like(x_t), formulation, x, x, **options)
    except (ValueError, TypeError) as exc:
        raise ConfigError(_message("loss", node, exc)) from exc


def _measured_later(node: DictConfig) -> dict:
    """A stand-in for ``sigma_data: auto``, which the run measures on its data (docs/math.md §15.2)."""
    return {"sigma_data": 1.0} if node.get("sigma_data") == "auto" else {}


def _check_schedule(cfg: DictConfig) -> None:
    """Each formulation reads its parameters from the schedule (docs/math.md §2–3): VE needs sigma_*,
    VP beta_*."""
    raw = OmegaConf.to_container(cfg.formulation, resolve=False)
    for key, value in raw.items():
        if isinstance(value, str) and value.startswith("${schedule."):
            needed = value[len("${schedule.") : -1]
            if needed not in cfg.schedule:
                raise ConfigError(
                    f"schedule: formulation.{key} needs schedule.{needed}, which the {cfg.schedule.kind!r} "
                    f"schedule does not define (VE uses schedule=geometric, VP schedule=linear)"
                )


def _build(prefix: str, node: DictConfig, **kwargs):
    try:
        return instantiate(node, **kwargs)
    except Exception as exc:  # Hydra wraps the constructor's error in InstantiationException
        raise ConfigError(_message(prefix, node, exc)) from exc


def _call(prefix: str, node: DictConfig, sampler, formulation) -> None:
    """Dry-run a sampler on one point with a zero score: the sampler's own argument checks run."""
    x_T = torch.zeros(1, 1, dtype=torch.float64)
    try:
        sampler(lambda x, t: torch.zeros_like(x), formulation, x_T)
    except (ValueError, TypeError) as exc:
        raise ConfigError(_message(prefix, node, exc)) from exc


def _message(prefix: str, node: DictConfig, exc: Exception) -> str:
    """``prefix.key: message`` for the first of the node's keys the error names, else ``prefix: message``."""
    cause = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    text = str(cause)
    words = text.replace("=", " ").replace(",", " ").replace("'", " ").replace("(", " ").split()
    named = [w for w in words if w in node and not w.startswith("_")]
    return f"{prefix}.{named[0]}: {text}" if named else f"{prefix}: {text}"
