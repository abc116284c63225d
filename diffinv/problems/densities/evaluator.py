"""Scores and figures for the 2-D conditional density problems (docs/problems.md §1, paper Table 2).

For each y*: the band reference (test pairs with ``|y - y*| < band_halfwidth``), an exact reference of the
same size from :func:`diffinv.problems.densities.definitions.sample_conditional`, and

- ``sinkhorn``: the paper's entropic OT cost between generated samples and the band reference;
- ``sinkhorn_floor``: the same between an independent exact sample of the generated size and the band
  reference — what a perfect model scores (the metric's bias);
- ``sinkhorn_exact``: generated samples against the exact reference (``exact_sinkhorn``, on by default;
  it costs as much as ``sinkhorn``);
- ``w2``: the exact squared 1-D Wasserstein-2 distance between generated samples and the exact reference.

Keys are flat (docs/design.md §7): ``<sampler>/sinkhorn/y=0.6``, ``<sampler>/sinkhorn/mean``, …, and the
sampler-free ``sinkhorn_floor/...``, ``band_size/y=...``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diffinv.problems.densities import definitions as toy
from diffinv.problems.densities import figures
from diffinv.problems.densities.metrics import sinkhorn_cost, wasserstein2_1d
from diffinv.run.files import save_figure


class ToyEvaluation:
    def __init__(
        self,
        problem: str,
        band_halfwidth: float = 0.05,
        sinkhorn_reg: float = 0.01,
        sinkhorn_tol: float = 1e-6,
        exact_sinkhorn: bool = True,
    ):
        self.problem = toy.problem(problem)
        self.band_halfwidth, self.reg, self.tol = band_halfwidth, sinkhorn_reg, sinkhorn_tol
        self.per_sampler = ("sinkhorn", "sinkhorn_exact", "w2") if exact_sinkhorn else ("sinkhorn", "w2")

    def __call__(
        self, samples: dict[str, np.ndarray], test_x, test_y, y_stars, output_dir, seed: int = 0
    ) -> dict:
        """``samples[name]``: generated x (len(y_stars), n, 1), raw units. Writes figures; returns metrics."""
        rng = np.random.default_rng(seed)
        n = next(iter(samples.values())).shape[1]
        metrics: dict[str, float] = {}
        bands, exact_refs, grids = [], [], []
        for y_star in y_stars:
            band = np.asarray(test_x)[np.abs(np.asarray(test_y)[:, 0] - y_star) < self.band_halfwidth, 0]
            if band.size < 10:
                raise ValueError(f"only {band.size} test pairs in the band around y*={y_star}")
            bands.append(band)
            exact_refs.append(toy.sample_conditional(self.problem.name, y_star, band.size, rng))
            grids.append(toy.conditional_grid(self.problem.name, y_star))
            floor = self._sinkhorn(toy.sample_conditional(self.problem.name, y_star, n, rng), band, metrics)
            metrics[f"sinkhorn_floor/y={y_star:g}"] = floor
            metrics[f"band_size/y={y_star:g}"] = float(band.size)
        for name, generated in samples.items():
            for y_star, gen, band, exact in zip(y_stars, generated[..., 0], bands, exact_refs, strict=True):
                metrics[f"{name}/sinkhorn/y={y_star:g}"] = self._sinkhorn(gen, band, metrics)
                if "sinkhorn_exact" in self.per_sampler:
                    metrics[f"{name}/sinkhorn_exact/y={y_star:g}"] = self._sinkhorn(gen, exact, metrics)
                metrics[f"{name}/w2/y={y_star:g}"] = wasserstein2_1d(gen, exact)
            for key in self.per_sampler:
                metrics[f"{name}/{key}/mean"] = float(
                    np.mean([metrics[f"{name}/{key}/y={y:g}"] for y in y_stars])
                )
            fig = figures.conditional_histograms(
                y_stars, generated[..., 0], bands, *zip(*grids, strict=True), f"{self.problem.name}, {name}"
            )
            save_figure(fig, Path(output_dir) / "figures" / f"histograms_{name}.png")
        metrics["sinkhorn_floor/mean"] = float(np.mean([metrics[f"sinkhorn_floor/y={y:g}"] for y in y_stars]))
        save_figure(self._joint_figure(y_stars), Path(output_dir) / "figures" / "joint_density.png")
        return metrics

    def _sinkhorn(self, xs, xr, metrics: dict) -> float:
        result = sinkhorn_cost(xs, xr, reg=self.reg, tol=self.tol)
        key = "sinkhorn_violation/max"
        metrics[key] = max(metrics.get(key, 0.0), result.marginal_violation)
        return result.cost

    def _joint_figure(self, y_stars):
        x_grid = np.linspace(*self.problem.x_range, 300)
        y_grid = np.linspace(min(y_stars) - 1.0, max(y_stars) + 1.0, 200)
        density = np.stack([self.problem.joint_density(x_grid, y) for y in y_grid])
        return figures.joint_density(x_grid, y_grid, density, y_stars, f"{self.problem.name}: p(x, y)")
