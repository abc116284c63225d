"""Posterior sampling and scores for the boundary-flux problems (docs/problems.md §2–4, paper Figs. 7, 9, 11,
13): :class:`~diffinv.problems.posterior.evaluator.PosteriorEvaluator` (its keys, files and diagnostics)
with the paper's own error measure and figures.

Keys in place of the general error measures: per sampler ``<sampler>/rel_mae/seg_jj``,
``<sampler>/rel_mae/mean`` (|posterior mean - truth| over the mean flux), ``<sampler>/post_std/seg_jj`` and
``/mean``, and the sampler-free ``prior_std/seg_jj``; ``exact/mean_err`` and ``reference/mean_err`` are
relative to the mean flux too. The cases' figure is ``figures/flux_cases_<sampler>.png`` (two walls), the
report the noise sweep's (:mod:`diffinv.problems.flux.report`).
"""

from __future__ import annotations

import numpy as np

from diffinv.problems.flux import report as sweep_report
from diffinv.problems.flux.figures import plot_flux_cases
from diffinv.problems.flux.metrics import segment_metrics
from diffinv.problems.posterior.evaluator import PosteriorEvaluator


class FluxEvaluator(PosteriorEvaluator):
    """``problem.evaluator`` of the boundary-flux problems: :class:`PosteriorEvaluator` with the paper's
    per-segment relative error (the flux is positive, so its mean is a scale), its flux figures (two walls)
    and its noise-sweep report."""

    report = staticmethod(sweep_report.report)
    cases_figure = "flux_cases"
    headline_columns = {"rel. error": "{sampler}/rel_mae/mean"} | {
        label: key
        for label, key in PosteriorEvaluator.headline_columns.items()
        if label != "error (prior std)"
    }

    def errors(self, samples: np.ndarray, truth: np.ndarray) -> dict[str, float]:
        """Per-segment relative error, spread and calibration (paper Figs. 9, 11)."""
        return segment_metrics(samples, truth)

    def error_scale(self, truth: np.ndarray) -> None:
        """None: ``exact/mean_err`` relative to the mean flux, as ``rel_mae``."""
        return None

    def plot_cases(self, truth, samples, path, title="", mask=None, reference=None):
        """Flux mean ± std per wall (paper Figs. 7, 13, 16)."""
        return plot_flux_cases(truth, samples, path, title=title, mask=mask, reference=reference)
