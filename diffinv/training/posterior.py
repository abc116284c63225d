"""The one posterior-sampling path (docs/design.md §2): every evaluator and ``diffinv.infer`` draw their
samples here, in batches that a killed run finds again, and write them in the one ``samples.h5`` schema
(docs/design.md §6).

- :func:`sample_in_batches`: ``n_samples`` draws for each of many normalised measurements, in batches of
  at most ``chunk_size`` samples; batch ``i`` is seeded ``seed + i`` and saved to ``chunk_dir`` as it
  finishes, so a resumed run reuses it (same seeds, same values); with the seconds and the network calls
  per sample (:class:`Drawn`);
- :func:`sample_every_sampler`: the same for each of a module's samplers, under ``<out>/sampling_chunks``;
- :func:`posterior_samples`: a :class:`~diffinv.training.checkpoint.TrainedModel` and measurements in
  physical units (NaN = switched-off sensor) to samples in physical units — the library call;
- :func:`posterior_log_prob`: the model's log-density ``log q(x | y)`` of given points, physical units
  (docs/math.md §17);
- :func:`write_samples`: ``samples.h5``.
"""

from __future__ import annotations

import inspect
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np
import torch

from diffinv.core.samplers import end_width_error
from diffinv.data.measurements import MeasurementError, average_repeats
from diffinv.run.console import progress
from diffinv.run.files import write_atomic
from diffinv.run.threads import torch_threads
from diffinv.training.checkpoint import TrainedModel
from diffinv.training.density import DensityOptions, log_abs_det, log_prob_in_batches
from diffinv.training.module import ScoreModule

log = logging.getLogger(__name__)

CHUNK_DIR = "sampling_chunks"  # batches written while sampling; removed once samples.h5 holds them


@dataclass(frozen=True)
class SamplingPlan:
    """How many samples per measurement, how many per batch, and the first batch's seed (``evaluation.*``);
    ``reweight``: importance-weight the samples where the problem knows its prior and likelihood (their ESS,
    and the reweighted posterior; docs/math.md §17.4), with ``log q`` integrated as ``density`` says
    (:class:`~diffinv.training.density.DensityOptions` keywords)."""

    n_samples: int
    chunk_size: int = 10_000
    seed: int = 0
    reweight: bool = False
    density: dict | None = None

    def __post_init__(self):
        if not isinstance(self.reweight, bool):
            raise ValueError(f"evaluation.reweight must be true or false, got {self.reweight!r}")
        self.density_options  # noqa: B018 (checks the options now, with their key in the message)

    @property
    def density_options(self) -> DensityOptions:
        return DensityOptions(**(self.density or {}))


class Drawn(NamedTuple):
    """What :func:`sample_in_batches` draws: ``samples`` (n_cases, n_samples, d) in normalised units, the
    ``seconds`` spent sampling them now, and the network calls per sample, counted
    (:class:`~diffinv.core.samplers.CountingScore`) and averaged over the measurements (an adaptive sampler's
    count varies from batch to batch)."""

    samples: np.ndarray
    seconds: float
    calls_per_sample: float

    def metrics(self, name: str) -> dict[str, float]:
        """Sampler ``name``'s ``<name>/time/sample_s`` and ``<name>/calls_per_sample`` (docs/design.md §7)."""
        return {f"{name}/time/sample_s": self.seconds, f"{name}/calls_per_sample": self.calls_per_sample}


def sample_in_batches(
    module: ScoreModule,
    sampler,
    y_norm: np.ndarray,
    mask: np.ndarray | None,
    plan: SamplingPlan,
    chunk_dir: Path,
) -> Drawn:
    """``plan.n_samples`` samples for each normalised measurement ``y_norm[i]`` (mask ``mask[i]``), in batches
    of ``max(1, chunk_size // n_samples)`` measurements; batch ``i`` is seeded ``seed + i`` and written with
    its network calls to ``chunk_dir/batch_<i>.npz`` (atomically) as it finishes. Batches already there (a
    killed run being resumed in the same directory) are read instead of sampled again.
    """
    per_batch = max(1, plan.chunk_size // plan.n_samples)
    device = module.device
    chunks, calls, seconds = [], [], 0.0
    starts = range(0, len(y_norm), per_batch)
    with torch.inference_mode():
        for i, start in enumerate(progress(starts, desc=f"sampling ({chunk_dir.name})", unit="batches")):
            rows = slice(start, start + per_batch)
            path = chunk_dir / f"batch_{i:05d}.npz"
            expected = (len(y_norm[rows]), plan.n_samples, module.network.x_dim)
            if path.is_file():
                x, n_calls = read_chunk(path, expected)
            else:
                y_batch = torch.as_tensor(y_norm[rows, None, :], dtype=torch.float32, device=device)
                m_batch = (
                    None
                    if mask is None
                    else torch.as_tensor(mask[rows, None, :], dtype=torch.float32, device=device)
                )
                x, elapsed, n_calls = module.sample(
                    sampler, y_batch, plan.n_samples, seed=plan.seed + i, mask=m_batch
                )
                x = x.float().cpu().numpy()
                write_atomic(path, lambda tmp, x=x, n=n_calls: write_chunk(tmp, x, n))
                seconds += elapsed
            chunks.append(x.astype(np.float64))
            calls += [n_calls] * len(x)
    samples = np.concatenate(chunks)
    warn_if_end_widens(samples, module.formulation, sampler, chunk_dir.name)
    return Drawn(samples, seconds, float(np.mean(calls)))


END_WIDTH_TOLERANCE = 0.01  # relative std error the end of sampling may leave unwarned (docs/math.md §5.4)


def warn_if_end_widens(samples: np.ndarray, formulation, sampler, name: str) -> None:
    """A warning where the noise left at ``t_eps`` and the sampler's final step (docs/math.md §5.4) bias the
    narrowest posterior std of ``samples`` (n_cases, n_samples, d; normalised units) by more than
    :data:`END_WIDTH_TOLERANCE`, by :func:`~diffinv.core.samplers.end_width_error` at the samples' own std."""
    final = inspect.signature(sampler).parameters.get("final_step")
    if final is None or samples.shape[1] < 2:  # a sampler of one's own, or one sample: nothing to judge
        return
    final = final.default
    narrowest = float(samples.std(axis=1, ddof=1).min())
    error = float(end_width_error(final, formulation.sigma_end / max(narrowest, 1e-300)))
    if abs(error) > END_WIDTH_TOLERANCE:
        log.warning(
            "sampler %s: its narrowest posterior std, %.3g, is only %.3g times the noise sigma(t_eps) = %.3g "
            "where sampling ends: with final_step=%s the std comes out %+.1f %% off there; lower "
            "formulation.sigma_eps (docs/math.md §5.4)",
            name, narrowest, narrowest / formulation.sigma_end, formulation.sigma_end, final, 100 * error,
        )  # fmt: skip


def sample_every_sampler(
    module: ScoreModule, y_norm: np.ndarray, mask: np.ndarray | None, plan: SamplingPlan, out: Path
) -> dict[str, Drawn]:
    """:func:`sample_in_batches` for each of ``module.samplers``, in its order: name -> :class:`Drawn`."""
    return {
        name: sample_in_batches(module, sampler, y_norm, mask, plan, Path(out) / CHUNK_DIR / name)
        for name, sampler in module.samplers.items()
    }


def write_chunk(path: str, x: np.ndarray, calls: int) -> None:
    """One sampled batch: its samples ``x`` and the network calls that drew them."""
    with open(path, "wb") as f:  # a file object: np.savez would append .npz to the temporary name
        np.savez(f, x=x, calls=np.int64(calls))


def read_chunk(path: Path, shape: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """A sampled batch written by a killed run (``np.load`` without pickle), checked against its shape: the
    samples and the network calls that drew them."""
    with np.load(path, allow_pickle=False) as f:
        x, calls = f["x"], int(f["calls"])
    if x.shape != shape:
        raise ValueError(
            f"{path}: holds samples of shape {x.shape}, this run draws {shape}; delete {path.parent} "
            "to sample again"
        )
    return x, calls


def check_measurement(
    model: TrainedModel, y: np.ndarray, source: str = "measurement"
) -> tuple[np.ndarray, np.ndarray | None]:
    """``y`` as rows (n, m) of the model's m readings, once checked against ``model``, and the mask it
    implies (True = sensor on; None when the model takes no masks and every reading is given). One
    measurement given as one column (m, 1) is read as the row it is (docs/usage.md §6)."""
    expected = model.module.network.y_dim - model.noise_dim  # an amortized model's noise input is not read
    if y.shape == (expected, 1) and expected > 1:
        y = y.T
    if y.ndim != 2 or y.shape[1] != expected:
        shape = "" if expected == 1 else f" of {expected} readings (or a single measurement as one column)"
        raise MeasurementError(
            f"{source}: readings of shape {y.shape}, the model ({model.config.problem.name}, {model.source}) "
            f"takes {expected} readings per measurement; give one measurement per row{shape}"
        )
    if np.isinf(y).any():
        row, col = np.argwhere(np.isinf(y))[0]
        raise MeasurementError(
            f"{source}: reading {col + 1} of measurement {row + 1} is infinite (both counted from 1, as the "
            "file's columns and rows of readings)"
        )
    off = np.isnan(y)
    if not off.any():
        return y, (np.ones_like(y, dtype=bool) if model.takes_masks else None)
    if not model.takes_masks:
        row = int(np.argwhere(off)[0][0])
        raise MeasurementError(
            f"{source}: measurement {row + 1} has NaN (switched-off) readings at sensors "
            f"{(np.flatnonzero(off[row]) + 1).tolist()} (counted from 1, as the file's columns), but the "
            f"model ({model.config.problem.name}) was trained with every sensor on; use a model trained with "
            "sensor masks (problem=advdiff_multiop; problem.simulator.mask_rate for a problem of your own) "
            "or "
            "give every reading"
        )
    return y, ~off


def posterior_samples(
    model: TrainedModel,
    y,
    n_samples: int = 1000,
    seed: int = 0,
    chunk_size: int = SamplingPlan.chunk_size,
    chunk_dir: str | Path | None = None,
    threads: int | None = None,
    noise: float | None = None,
    noise_std: float | None = None,
    repeats: int = 1,
) -> np.ndarray:
    """Posterior samples (n, n_samples, d) in physical units for measurements ``y`` (m,) or (n, m) in physical
    units (NaN = switched-off sensor), with the model's first sampler. ``chunk_dir`` keeps finished batches
    (a rerun reuses them). ``threads``: torch CPU threads for this call (None: the run's ``torch_threads``,
    as the command line uses; the caller's own count is restored afterwards). ``noise`` (``data.noise``
    units) or ``noise_std`` (σ_n): the readings' noise level, which a model trained over a range needs
    (docs/math.md §19; :meth:`~diffinv.training.checkpoint.TrainedModel.readings_noise`). ``repeats`` r > 1:
    every r consecutive rows of ``y`` are independent readings of one state at that level, sampled as
    their mean at the level divided by √r (docs/math.md §19.2), which an amortized model's range must hold;
    the result then has one row per state."""
    level = model.readings_noise(noise, noise_std)
    if repeats != 1:
        y = average_repeats(np.atleast_2d(np.asarray(y, dtype=np.float64)), repeats)
        level = model.readings_noise(level / np.sqrt(repeats))
    y, mask = check_measurement(model, np.atleast_2d(np.asarray(y, dtype=np.float64)))
    (sampler, *_) = model.module.samplers.values()
    y_in = model.network_inputs(y, mask, level)
    plan = SamplingPlan(n_samples=n_samples, chunk_size=chunk_size, seed=seed)
    n_threads = model.config.torch_threads if threads is None else threads
    with tempfile.TemporaryDirectory() as tmp, torch_threads(n_threads):
        batches = Path(tmp) / next(iter(model.module.samplers)) if chunk_dir is None else Path(chunk_dir)
        drawn = sample_in_batches(model.module, sampler, y_in, mask, plan, batches)
    return model.x_norm.inverse(drawn.samples)


def posterior_log_prob(
    model: TrainedModel,
    x,
    y,
    options: DensityOptions | None = None,
    threads: int | None = None,
    noise: float | None = None,
    noise_std: float | None = None,
) -> np.ndarray:
    """``log q(x | y)`` in physical units (docs/math.md §17) of points ``x`` (n, k, d) — e.g. what
    :func:`~diffinv.training.posterior.posterior_samples` returns — for measurements ``y`` (m,) or (n, m) in
    physical units (NaN = switched-off sensor); one measurement and ``x`` (k, d) give (k,), else (n, k).
    ``q`` is the law of the model's probability-flow ODE sampler started from the prior
    ``N(0, prior_std² I)``, at ``t_eps``; ``noise``/``noise_std`` as for :func:`posterior_samples`."""
    level = model.readings_noise(noise, noise_std)
    single = np.ndim(y) == 1
    y, mask = check_measurement(model, np.atleast_2d(np.asarray(y, dtype=np.float64)))
    x = np.asarray(x, dtype=np.float64)
    x3 = x[None] if x.ndim == 2 else x
    if x3.ndim != 3 or x3.shape[0] != len(y) or x3.shape[2] != model.module.network.x_dim:
        raise ValueError(
            f"x: shape {x.shape}, expected ({len(y)}, k, {model.module.network.x_dim}) for {len(y)} "
            f"measurement(s) of a model with {model.module.network.x_dim} unknowns"
        )
    y_in = model.network_inputs(y, mask, level)
    n_threads = model.config.torch_threads if threads is None else threads
    with torch_threads(n_threads):
        out = log_prob_in_batches(
            model.module, model.x_norm.forward(x3), y_in, mask, options or DensityOptions()
        )
    out += log_abs_det(model.x_norm)
    return out[0] if single and x.ndim == 2 else out


def write_samples(
    out: Path,
    y: np.ndarray,
    samples: dict[str, np.ndarray],
    cases: np.ndarray,
    mask: np.ndarray | None = None,
    truth: np.ndarray | None = None,
    attrs: dict | None = None,
    log_q: dict[str, np.ndarray] | None = None,
) -> Path:
    """``out/samples.h5`` in the one schema (docs/design.md §6), then the sampled batches removed.

    Root: ``y`` (n, m) measurements in physical units, ``mask`` (n, m) bool, True where the sensor is on
    (``mask=None``: every sensor), ``truth`` (n, d) when known, ``cases`` (k,) the rows whose samples are
    kept; attributes ``attrs`` (e.g. ``noise_std``). One group per sampler: ``mean`` and ``std`` (n, d) of
    every row, ``samples`` (k, n_samples, d) float32 of the kept rows, and where ``log_q`` has the sampler,
    ``log_q`` (k, n_samples) float64: the model's log-density of each kept sample (docs/math.md §17).
    Everything in physical units.
    """

    def write(tmp: str) -> None:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("y", data=y)
            f.create_dataset("mask", data=np.ones(y.shape, dtype=bool) if mask is None else mask)
            if truth is not None:
                f.create_dataset("truth", data=truth)
            f.create_dataset("cases", data=np.asarray(cases))
            f.attrs.update(attrs or {})
            for name, x in samples.items():
                g = f.create_group(name)
                g.create_dataset("mean", data=x.mean(axis=1))
                g.create_dataset("std", data=x.std(axis=1, ddof=1))
                g.create_dataset("samples", data=x[cases].astype(np.float32))
                if log_q is not None and name in log_q:
                    g.create_dataset("log_q", data=np.asarray(log_q[name], dtype=np.float64)[cases])

    path = write_atomic(Path(out) / "samples.h5", write)
    shutil.rmtree(Path(out) / CHUNK_DIR, ignore_errors=True)
    return path
