"""Posterior samples for your own measurements (README, Your own measurement).

Command line::

    python -m diffinv.infer ckpt=outputs/train/runs/<date>/checkpoints/final.ckpt measurement=readings.csv
        [n_samples=1000] [sampler=sde] [seed=0]        (default sampler: the run's own, first one)

writes ``samples.h5`` (the measurements, their masks, the samples in physical units, posterior mean and std)
and ``figures/posterior.png`` into the run directory. In Python::

    model = load_model("…/final.ckpt")
    x = posterior_samples(model, y, n_samples=1000)     # y (m,) or (n, m), physical units → (n, 1000, d)

A measurement file holds one measurement per row: CSV (comma-separated, ``nan`` allowed), NPY (read without
pickle) or HDF5 (dataset ``measurement_key``, default ``y``). A NaN reading means "this sensor is off": a
many-operator model (trained with masks, docs/math.md §8) conditions on the others; a single-operator model refuses
it. Readings must carry the noise level the model was trained for (``data.noise`` of its run).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from diffinv.data.datamodule import Affine, network_measurements
from diffinv.problems.densities.figures import posterior_histograms
from diffinv.problems.flux.evaluator import CHUNK_DIR, sample_in_batches
from diffinv.problems.flux.figures import plot_flux_cases
from diffinv.run.console import quiet_console
from diffinv.run.errors import exits_on_bad_input
from diffinv.run.files import save_figure, write_atomic, write_json
from diffinv.run.resume import completed_metrics, start_run_dir
from diffinv.run.validation import validate
from diffinv.train import build_module, register_resolvers
from diffinv.training.module import ScoreModule, read_checkpoint

log = logging.getLogger(__name__)
register_resolvers()
N_FIGURE_MEASUREMENTS = 4  # measurements drawn in figures/posterior.png


class MeasurementError(ValueError):
    """A measurement that does not fit the model; the message names the file (or array) and the problem."""


@dataclass
class TrainedModel:
    """A trained ε-network with what maps its inputs and outputs to physical units."""

    module: ScoreModule
    x_norm: Affine
    y_norm: Affine
    config: DictConfig
    source: str
    noise_std: float  # the readings' noise the model was trained for (raw units)

    @property
    def takes_masks(self) -> bool:
        return self.module.network.mask_dim > 0


def load_model(ckpt: str | Path, sampler: DictConfig | None = None) -> TrainedModel:
    """A checkpoint of ``diffinv.train`` (read with ``weights_only=True``); ``sampler`` replaces the run's
    samplers (a ``sampler`` config group node, e.g. ``{ode: {...}}``)."""
    checkpoint = read_checkpoint(ckpt)
    config = OmegaConf.create(checkpoint["diffinv"]["config"])
    if sampler is not None:
        config.sampler = sampler
    validate(config)
    module = build_module(config)
    module.load_state_dict(checkpoint["state_dict"])
    module.eval()
    norm = checkpoint["diffinv"]["normalisation"]
    x_norm, y_norm = Affine.from_state(norm["x"]), Affine.from_state(norm["y"])
    return TrainedModel(module, x_norm, y_norm, config, str(ckpt), float(norm["noise_std"]))


def read_measurement(path: str | Path, key: str = "y") -> np.ndarray:
    """Rows of readings (n, m) from CSV, NPY or HDF5 (dataset ``key``); NaN marks a switched-off sensor."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"measurement: {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            values = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
        elif suffix == ".npy":
            values = np.load(path, allow_pickle=False)
        elif suffix in (".h5", ".hdf5"):
            with h5py.File(path, "r") as f:
                if key not in f:
                    raise MeasurementError(f"measurement: {path} has no dataset {key!r} (has {sorted(f)})")
                values = f[key][()]
        else:
            raise MeasurementError(f"measurement: {path}: unknown format {suffix!r} (use .csv, .npy, .h5)")
    except MeasurementError:
        raise
    except (ValueError, OSError) as exc:
        raise MeasurementError(f"measurement: {path} could not be read as {suffix} ({exc})") from exc
    if not np.issubdtype(np.asarray(values).dtype, np.number):
        raise MeasurementError(f"measurement: {path} holds {np.asarray(values).dtype} values, not numbers")
    return np.atleast_2d(np.asarray(values, dtype=np.float64))


def check_measurement(model: TrainedModel, y: np.ndarray, source: str = "measurement") -> np.ndarray | None:
    """The mask (True = sensor on) that ``y`` implies, once checked against ``model``; None without masks."""
    expected = model.module.network.y_dim
    if y.ndim != 2 or y.shape[1] != expected:
        raise MeasurementError(
            f"{source}: readings of shape {y.shape}, the model ({model.config.problem.name}, {model.source}) "
            f"takes {expected} readings per measurement"
        )
    if np.isinf(y).any():
        row, col = np.argwhere(np.isinf(y))[0]
        raise MeasurementError(f"{source}: reading {col} of measurement {row} is infinite")
    off = np.isnan(y)
    if not off.any():
        return np.ones_like(y, dtype=bool) if model.takes_masks else None
    if not model.takes_masks:
        row = int(np.argwhere(off)[0][0])
        raise MeasurementError(
            f"{source}: measurement {row} has NaN (switched-off) readings at sensors "
            f"{np.flatnonzero(off[row]).tolist()}, but the model ({model.config.problem.name}) was trained "
            "with every sensor on; use a many-operator model (problem=advdiff_multiop) or give every reading"
        )
    return ~off


def posterior_samples(
    model: TrainedModel,
    y,
    n_samples: int = 1000,
    seed: int = 0,
    chunk_size: int = 200_000,
    chunk_dir: str | Path | None = None,
) -> np.ndarray:
    """Posterior samples (n, n_samples, d) in physical units for measurements ``y`` (m,) or (n, m), raw units,
    with the model's first sampler. ``chunk_dir`` keeps finished batches (a rerun reuses them)."""
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    mask = check_measurement(model, y)
    model.module.n_samples = n_samples
    (sampler, *_) = model.module.samplers.values()
    y_in = network_measurements(model.y_norm, np.nan_to_num(y, nan=0.0), mask)
    with tempfile.TemporaryDirectory() as tmp:
        batches = Path(tmp if chunk_dir is None else chunk_dir)
        x, _ = sample_in_batches(model.module, sampler, y_in, mask, seed, batches, chunk_size)
    return model.x_norm.inverse(x)


def infer(cfg: DictConfig) -> dict:
    """The command line: read, sample, write ``samples.h5``, ``figures/posterior.png``, ``summary.json``."""
    torch.set_num_threads(cfg.torch_threads)
    out = Path(cfg.paths.output_dir)
    if start_run_dir(cfg.resume, out, cfg) and (done := completed_metrics(out, "summary.json")) is not None:
        return done
    model = load_model(cfg.ckpt, sampler=OmegaConf.select(cfg, "sampler"))
    y = read_measurement(cfg.measurement, cfg.measurement_key)
    mask = check_measurement(model, y, source=f"measurement: {cfg.measurement}")
    sampler_name = next(iter(model.module.samplers))
    chunks = out / CHUNK_DIR / sampler_name
    x = posterior_samples(model, y, cfg.n_samples, cfg.seed, cfg.chunk_size, chunk_dir=chunks)
    write_samples(out / "samples.h5", y, mask, x, model, sampler_name)
    shown = x[:N_FIGURE_MEASUREMENTS]
    title = f"{model.config.problem.name}: posterior given {Path(cfg.measurement).name} ({sampler_name})"
    if model.module.network.x_dim > 1:
        shown_mask = None if mask is None else mask[:N_FIGURE_MEASUREMENTS]
        plot_flux_cases(None, shown, out / "figures" / "posterior.png", title=title, mask=shown_mask)
    else:
        save_figure(posterior_histograms(shown, title), out / "figures" / "posterior.png")
    summary = {
        "n_measurements": len(y),
        "n_samples": cfg.n_samples,
        "sampler": sampler_name,
        "trained_noise_std": model.noise_std,
    }
    write_json(out / "summary.json", summary)
    shutil.rmtree(out / CHUNK_DIR)  # samples.h5 holds them
    print(f"results: {out.resolve()} (samples.h5, figures/posterior.png)")
    return summary


def write_samples(path: Path, y, mask, x, model: TrainedModel, sampler: str) -> Path:
    def write(tmp: str) -> None:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("measurement", data=y)
            if mask is not None:
                f.create_dataset("mask", data=mask)
            f.create_dataset("samples", data=x.astype(np.float32))
            f.create_dataset("mean", data=x.mean(axis=1))
            f.create_dataset("std", data=x.std(axis=1, ddof=1))
            f.attrs.update(ckpt=model.source, sampler=sampler, problem=model.config.problem.name)
            f.attrs["trained_noise_std"] = model.noise_std

    return write_atomic(path, write)


@hydra.main(version_base="1.3", config_path="../conf", config_name="infer")
@exits_on_bad_input
def main(cfg: DictConfig) -> None:
    quiet_console()
    infer(cfg)


if __name__ == "__main__":
    main()
