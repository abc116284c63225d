"""Scores and figures for the 2-D conditional density problems (docs/problems.md §1, paper Table 2).

Every sampler of the module draws ``plan.n_samples`` samples of x for each y* through the one sampling path
(:mod:`diffinv.training.posterior`, all y* in one batch). For each y*: the band reference (test pairs with
``|y - y*| < band_halfwidth``), an exact reference of the same size from
:func:`diffinv.problems.densities.definitions.sample_conditional`, and

- ``sinkhorn``: the paper's entropic OT cost between generated samples and the band reference;
- ``sinkhorn_floor``: the same between an independent exact sample of the generated size and the band
  reference — what a perfect model scores (the metric's bias);
- ``sinkhorn_exact``: generated samples against the exact reference (``exact_sinkhorn``, on by default;
  it costs as much as ``sinkhorn``);
- ``w2``: the exact squared 1-D Wasserstein-2 distance between generated samples and the exact reference.

The calibration diagnostics SBC and TARP (docs/math.md §16, docs/usage.md §16) take exact draws of p(x | y*)
as truths, each with its own group of ``sbc_samples`` generated samples: ``<sampler>/sbc/…``,
``<sampler>/tarp/…``.

Keys are flat (docs/design.md §7): ``<sampler>/sinkhorn/y=0.6``, ``<sampler>/sinkhorn/mean``, …, and the
sampler-free ``sinkhorn_floor/...``, ``band_size/y=...``; ``<sampler>/time/sample_s``,
``<sampler>/calls_per_sample``, ``time/score_s``.
Files: ``samples.h5`` (docs/design.md §6; y* as the measurements, every sample kept),
``figures/histograms_<sampler>.png``, ``figures/diagnostics_<sampler>.png``, ``figures/joint_density.png``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from diffinv.problems import diagnostics
from diffinv.problems.densities import definitions as toy
from diffinv.problems.densities import figures
from diffinv.problems.densities import report as table2_report
from diffinv.problems.densities.metrics import sinkhorn_cost, wasserstein2_1d
from diffinv.problems.diagnostic_figures import plot_diagnostics
from diffinv.problems.diagnostics import Diagnostic
from diffinv.problems.evaluator import Evaluator
from diffinv.run.files import save_figure
from diffinv.run.labels import run_label
from diffinv.training.posterior import SamplingPlan, sample_every_sampler, write_samples


class DensityEvaluator(Evaluator):
    """``problem.evaluator`` of the 2-D density problems: the conditioning values ``y_stars``, the band
    half-width of the reference, the Sinkhorn settings, and whether to also score against the exact
    reference (docs/problems.md §1), and the samples per truth of SBC and TARP (docs/math.md §16)."""

    report = staticmethod(table2_report.report)
    needs_clean_measurements = True  # the bands are of clean test y (docs/problems.md §1)
    headline_columns = {
        "sinkhorn": "{sampler}/sinkhorn/mean",
        "floor": "sinkhorn_floor/mean",
        "SBC p": "{sampler}/sbc/p_min_bonferroni",
        "TARP p": "{sampler}/tarp/p",
        "sample s": "{sampler}/time/sample_s",
        "calls": "{sampler}/calls_per_sample",
    }

    def __init__(
        self,
        problem: str,
        y_stars: list[float],
        band_halfwidth: float = 0.05,
        sinkhorn_reg: float = 0.01,
        sinkhorn_tol: float = 1e-6,
        exact_sinkhorn: bool = True,
        sbc_samples: int = 9,
    ):
        if isinstance(sbc_samples, bool) or not isinstance(sbc_samples, int) or sbc_samples < 1:
            raise ValueError(f"sbc_samples must be an integer >= 1, got {sbc_samples!r}")
        self.sbc_samples = sbc_samples
        positive = {
            "band_halfwidth": band_halfwidth,
            "sinkhorn_reg": sinkhorn_reg,
            "sinkhorn_tol": sinkhorn_tol,
        }
        for key, value in positive.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{key} must be a number > 0, got {value!r}")
        self.problem = toy.problem(problem)
        self.y_stars = [float(y) for y in y_stars]
        self.band_halfwidth, self.reg, self.tol = band_halfwidth, sinkhorn_reg, sinkhorn_tol
        self.per_sampler = ("sinkhorn", "sinkhorn_exact", "w2") if exact_sinkhorn else ("sinkhorn", "w2")

    def __call__(self, module, datamodule, out: Path, plan: SamplingPlan) -> dict[str, float]:
        y = np.asarray(self.y_stars, dtype=np.float64).reshape(-1, datamodule.dataset.y_dim)
        drawn = sample_every_sampler(module, datamodule.normalise_y(y), None, plan, out)
        samples = {name: datamodule.x_norm.inverse(batches.samples) for name, batches in drawn.items()}
        titles = {
            name: run_label(self.problem.name, module.formulation, [sampler])
            for name, sampler in module.samplers.items()
        }
        start = time.perf_counter()
        test = datamodule.dataset.test
        metrics = self.score(samples, test.x, test.y_clean, out, titles, seed=plan.seed)
        metrics["time/score_s"] = time.perf_counter() - start
        for name, batches in drawn.items():
            metrics |= batches.metrics(name)
        write_samples(out, y, samples, np.arange(len(y)))
        return metrics

    def posterior_figure(self, samples, path, title, mask=None):
        """One histogram of the posterior samples of the scalar x per measurement."""
        return save_figure(figures.posterior_histograms(samples, title), path)

    def score(
        self,
        samples: dict[str, np.ndarray],
        test_x,
        test_y,
        output_dir,
        titles: dict[str, str],
        seed: int = 0,
    ) -> dict:
        """``samples[name]``: generated x (len(y_stars), n, 1), raw units. Writes figures (``titles[name]``:
        the run's label with that sampler); returns metrics."""
        y_stars = self.y_stars
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
                y_stars,
                generated[..., 0],
                bands,
                *zip(*grids, strict=True),
                titles[name],
            )
            save_figure(fig, Path(output_dir) / "figures" / f"histograms_{name}.png")
        metrics["sinkhorn_floor/mean"] = float(np.mean([metrics[f"sinkhorn_floor/y={y:g}"] for y in y_stars]))
        truths = self._truths(n, np.random.default_rng([seed, 4]))
        references = self._references(len(truths[0]))
        for name, generated in samples.items():
            sbc, tarp = self._diagnostics(generated, truths, references, seed)
            plot_diagnostics(
                sbc, tarp, None, Path(output_dir) / "figures" / f"diagnostics_{name}.png", titles[name]
            )
            found = {"sbc": sbc, "tarp": tarp}
            metrics |= {f"{name}/{k}/{key}": v for k, r in found.items() for key, v in r.metrics.items()}
        save_figure(self._joint_figure(y_stars), Path(output_dir) / "figures" / "joint_density.png")
        return metrics

    def _truths(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        """Per y*, the exact draws of p(x | y*) that SBC and TARP take as truths: one per group of
        ``sbc_samples`` of the ``n`` generated samples (docs/usage.md §16)."""
        groups = n // self.sbc_samples
        if groups < 1:
            raise ValueError(f"sbc_samples={self.sbc_samples} is more than the {n} samples per y*")
        return [toy.sample_conditional(self.problem.name, y_star, groups, rng) for y_star in self.y_stars]

    def _references(self, groups: int) -> np.ndarray:
        """TARP's reference points (len(y_stars) * groups, 1): per case E[x | y*] on the exact
        conditional's grid, a reference that depends on y* only (docs/math.md §16.2, docs/usage.md §16)."""
        means = []
        for y_star in self.y_stars:
            edges, prob = toy.conditional_grid(self.problem.name, y_star)
            means.append(np.sum(0.5 * (edges[1:] + edges[:-1]) * prob))
        return np.repeat(means, groups)[:, None]

    def _diagnostics(self, generated, truths, references, seed) -> tuple[Diagnostic, Diagnostic]:
        """SBC (x and log p(x, y*)) and TARP (``references`` per case) of ``generated`` (len(y_stars), n,
        1): truth k of y* against its own group of samples, so every (truth, group) is an independent case
        (docs/math.md §16)."""
        groups, size = len(truths[0]), self.sbc_samples
        cases = generated[:, : groups * size, 0].reshape(len(self.y_stars), groups, size)
        with np.errstate(divide="ignore"):  # generated samples where p(x, y*) = 0 get log p = -inf
            loglik_truth = [
                np.log(self.problem.joint_density(t, y)) for t, y in zip(truths, self.y_stars, strict=True)
            ]
            loglik = [
                np.log(self.problem.joint_density(c.ravel(), y))
                for c, y in zip(cases, self.y_stars, strict=True)
            ]
        samples, truth = cases.reshape(-1, size, 1), np.concatenate(truths)[:, None]
        sbc = diagnostics.sbc(
            samples, truth, np.concatenate(loglik_truth), np.concatenate(loglik).reshape(-1, size), seed=seed
        )
        return sbc, diagnostics.tarp(samples, truth, references, seed=seed)

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
