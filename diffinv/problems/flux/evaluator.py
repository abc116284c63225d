"""Posterior sampling and scores for the boundary-flux problems (docs/problems.md §2–4,
paper Figs. 7, 9, 11, 13).

For each of the first ``n_test`` test measurements (noisy with the datamodule's fixed test noise), every
configured sampler draws ``module.n_samples`` posterior samples of the flux; measurements are batched so
that one batch holds at most ``chunk_size`` samples (at least one measurement). Samples are mapped back to
physical units with the training statistics and scored by :mod:`diffinv.problems.flux.metrics`.

Keys (flat, docs/design.md §7): per sampler ``<sampler>/rel_mae/seg_jj``, ``<sampler>/rel_mae/mean``,
``<sampler>/post_std/...``, ``<sampler>/coverage/{1,2}sigma``, ``<sampler>/coverage_curve/p=0.50``, …,
``<sampler>/time/sample_s`` and, for the linear–Gaussian variant (file with ``forward_map`` and
``clip = false``, no masks, noise > 0), ``<sampler>/exact/mean_err_ratio``, ``<sampler>/exact/std_ratio``,
``<sampler>/exact/w1_over_std``; sampler-free ``prior_std/...``, ``exact/mean_err`` (the exact posterior
mean's own error), ``exact/w1_over_std_floor``, ``eval/n_test``, ``time/score_s``.

Files: ``samples.h5`` (truth, noisy measurement, mask; per sampler the posterior mean and std of every
evaluated case and all samples of the figure cases), ``figures/flux_cases_<sampler>.png``,
``figures/calibration.png``; while sampling, ``sampling_chunks/<sampler>/batch_<i>.npy`` (what a resumed
run reuses; removed at the end).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from tqdm import tqdm

from diffinv.problems.flux.figures import plot_calibration, plot_flux_cases
from diffinv.problems.flux.metrics import coverage_curve, exact_comparison, segment_metrics
from diffinv.run.files import write_atomic

CHUNK_DIR = "sampling_chunks"  # batches of samples written while sampling, removed once samples.h5 is written


def is_sampler_free(key: str) -> bool:
    """The truth's spread and the exact posterior's own scores do not depend on the sampler."""
    return key.startswith("prior_std/") or key in ("exact/mean_err", "exact/w1_over_std_floor")


class FluxEvaluation:
    """``problem.evaluator`` of the boundary-flux problems; ``n_test`` and ``chunk_size`` come from
    ``evaluation.*`` (so ``diffinv.evaluate`` can change them), the rest from the problem config."""

    def __init__(
        self,
        n_test: int | None,
        chunk_size: int,
        n_figure_cases: int = 3,
        coverage_levels: tuple[float, ...] = (0.5, 0.9),
    ):
        self.n_test, self.chunk_size = n_test, chunk_size
        self.n_figure_cases = n_figure_cases
        self.levels = np.asarray(coverage_levels, dtype=np.float64)

    def __call__(self, module, datamodule, output_dir, seed: int = 0) -> dict:
        """Sample with every sampler of ``module``; write ``samples.h5`` and figures; return the metrics."""
        out = Path(output_dir)
        truth, y, mask = datamodule.test_measurements(self.n_test)
        exact = self._exact_problem(datamodule, mask)
        cases = np.arange(min(self.n_figure_cases, len(truth)))
        metrics: dict[str, float] = {"eval/n_test": float(len(truth))}
        summaries, curves = {}, {}
        score_seconds = 0.0
        for name, sampler in module.samplers.items():
            samples, metrics[f"{name}/time/sample_s"] = sample_in_batches(
                module,
                sampler,
                datamodule.normalise_y(y, mask),
                mask,
                seed,
                out / CHUNK_DIR / name,
                self.chunk_size,
            )
            samples = datamodule.x_norm.inverse(samples)
            start = time.perf_counter()
            scores = segment_metrics(samples, truth)
            curves[name] = coverage_curve(samples, truth, self.levels)
            scores |= {
                f"coverage_curve/p={p:.2f}": float(c) for p, c in zip(self.levels, curves[name], strict=True)
            }
            if exact is not None:
                scores |= exact_comparison(samples, truth, y, *exact, seed=seed)
            score_seconds += time.perf_counter() - start
            metrics |= {k if is_sampler_free(k) else f"{name}/{k}": v for k, v in scores.items()}
            summaries[name] = (samples.mean(axis=1), samples.std(axis=1, ddof=1), samples[cases])
            plot_flux_cases(
                truth[cases],
                samples[cases],
                out / "figures" / f"flux_cases_{name}.png",
                title=f"{name}: test cases {cases.tolist()}, noise σ_n = {datamodule.noise_std:.3g}",
                mask=None if mask is None else mask[cases],
            )
        metrics["time/score_s"] = score_seconds
        calibration_title = f"{len(truth)} test cases, noise σ_n = {datamodule.noise_std:.3g}"
        plot_calibration(self.levels, curves, out / "figures" / "calibration.png", title=calibration_title)
        write_samples(out / "samples.h5", truth, y, mask, cases, summaries, datamodule.noise_std)
        shutil.rmtree(out / CHUNK_DIR)  # samples.h5 holds what is kept
        return metrics

    @staticmethod
    def _exact_problem(datamodule, mask):
        """``(forward_map, prior_mean, prior_cov, noise_std)`` for the linear–Gaussian variant, else None.

        Not for noise-free readings: the exact posterior is then a point mass up to round-off (A is square
        and invertible in exact arithmetic), so std ratios are undefined.
        """
        attrs = datamodule.dataset.attrs
        linear_gaussian = "forward_map" in attrs and not attrs.get("clip", True)
        if mask is not None or not linear_gaussian or datamodule.noise_std == 0:
            return None
        return attrs["forward_map"], attrs["prior_mean"], attrs["prior_cov"], datamodule.noise_std


def sample_in_batches(
    module, sampler, y_norm: np.ndarray, mask: np.ndarray | None, seed: int, chunk_dir: Path, chunk_size: int
):
    """Samples (n_cases, n_samples, d) in normalised units and the seconds spent sampling them now.

    ``module.n_samples`` samples for each normalised measurement ``y_norm[i]`` (mask ``mask[i]``), in
    batches of ``max(1, chunk_size // n_samples)`` measurements; batch ``i`` is seeded ``seed + i`` and
    written to ``chunk_dir/batch_<i>.npy`` (atomically) as it finishes. Batches already there (a killed
    run being resumed in the same directory) are read instead of sampled again: same seeds, same values.
    """
    per_batch = max(1, chunk_size // module.n_samples)
    device = module.device
    chunks, seconds = [], 0.0
    starts = range(0, len(y_norm), per_batch)
    with torch.inference_mode():
        for i, start in enumerate(tqdm(starts, desc=f"sampling ({chunk_dir.name})", unit="batch")):
            rows = slice(start, start + per_batch)
            path = chunk_dir / f"batch_{i:05d}.npy"
            expected = (len(y_norm[rows]), module.n_samples, module.network.x_dim)
            if path.is_file():
                chunks.append(read_chunk(path, expected))
                continue
            y_batch = torch.as_tensor(y_norm[rows, None, :], dtype=torch.float32, device=device)
            m_batch = (
                None
                if mask is None
                else torch.as_tensor(mask[rows, None, :], dtype=torch.float32, device=device)
            )
            x, elapsed = module.sample(sampler, y_batch, seed=seed + i, mask=m_batch)
            x = x.float().cpu().numpy()
            write_atomic(path, lambda tmp, x=x: np.save(tmp, x))
            chunks.append(x.astype(np.float64))
            seconds += elapsed
    return np.concatenate(chunks), seconds


def read_chunk(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A sampled batch written by a killed run (``np.load`` without pickle), checked against its shape."""
    x = np.load(path, allow_pickle=False)
    if x.shape != shape:
        raise ValueError(
            f"{path}: holds samples of shape {x.shape}, this run draws {shape}; delete {path.parent} "
            "to sample again"
        )
    return x.astype(np.float64)


def write_samples(path, truth, y, mask, cases, summaries: dict, noise_std: float) -> Path:
    """``samples.h5``: evaluated cases (raw units) and, per sampler, posterior mean/std and figure samples."""

    def write(tmp: str) -> None:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("truth", data=truth)
            f.create_dataset("y", data=y)
            if mask is not None:
                f.create_dataset("mask", data=mask)
            f.create_dataset("figure_cases", data=cases)
            f.attrs["noise_std"] = noise_std
            for name, (mean, std, figure_samples) in summaries.items():
                g = f.create_group(name)
                g.create_dataset("mean", data=mean)
                g.create_dataset("std", data=std)
                g.create_dataset("samples", data=figure_samples.astype(np.float32))

    return write_atomic(path, write)
