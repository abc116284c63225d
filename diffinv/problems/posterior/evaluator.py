"""Posterior sampling and scores for any unknown (docs/design.md §9): a vector of any length, a field on a
grid or at scattered coordinates, from a forward model of the user's own or the paper's.

For each of the first ``n_test`` test measurements (noisy with the datamodule's fixed test noise), every
sampler of the module draws ``plan.n_samples`` posterior samples through the one sampling path
(:mod:`diffinv.training.posterior`), mapped back to physical units with the training statistics and scored by
:mod:`diffinv.problems.posterior.metrics`.

Keys (flat, docs/design.md §7): per sampler ``<sampler>/err/mean`` and ``/max`` (error in units of the
truth's spread), ``<sampler>/rmse``, ``<sampler>/post_std/mean``, ``<sampler>/shrinkage/mean``,
``<sampler>/coverage/{1,2}sigma``, ``<sampler>/coverage_curve/p=0.50``, …, ``<sampler>/time/sample_s``,
``<sampler>/calls_per_sample`` and, where the file holds a forward map, a Gaussian prior's moments and no
clipping (a linear–Gaussian problem; with masks too), ``<sampler>/exact/mean_err_ratio``,
``<sampler>/exact/std_ratio``, ``<sampler>/exact/w1_over_std``; sampler-free ``prior_std/mean``,
``exact/mean_err`` (the exact posterior mean's own error in the units of ``err/mean``),
``exact/w1_over_std_floor``, ``eval/n_test``, ``time/score_s``; with a ``reference`` file (MCMC,
docs/math.md §18.4), ``<sampler>/reference/…`` on its cases and the sampler-free ``reference/mean_err``,
``reference/w1_over_std_floor``, ``reference/ref_coverage/…`` and the file's convergence
``reference/n_cases``, ``/converged``, ``/max_rhat``, ``/min_ess``. The calibration diagnostics that need no
closed form (docs/math.md §16) add per sampler ``<sampler>/sbc/...``, ``<sampler>/tarp/...`` and, with a
forward model (the file's ``forward_map``, else ``forward_model``) and noisy readings, ``<sampler>/ppc/...``;
their time is ``time/diagnostics_s``. With ``evaluation.reweight`` (linear–Gaussian):
``<sampler>/is/ess_frac/mean`` and ``/min``, and the reweighted posterior scored as sampler ``<sampler>_is``
(:mod:`diffinv.problems.posterior.importance`, docs/math.md §17.4).

Files: ``samples.h5`` (docs/design.md §6: truth, noisy measurement, mask; per sampler the posterior mean and
std of every evaluated case and all samples of the figure cases), ``figures/cases_<sampler>.png`` (images of
a field, profiles of a vector: :mod:`diffinv.problems.posterior.figures`), ``figures/calibration.png``,
``figures/diagnostics_<sampler>.png`` and, with a reference file, ``figures/reference_<sampler>.png``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from diffinv.data.reference import check_reference, read_reference
from diffinv.problems import diagnostics
from diffinv.problems.diagnostic_figures import plot_diagnostics
from diffinv.problems.evaluator import Evaluator
from diffinv.problems.posterior import report as posterior_report
from diffinv.problems.posterior.figures import Layout, plot_calibration, plot_cases
from diffinv.problems.posterior.importance import importance_step
from diffinv.problems.posterior.metrics import (
    coverage_curve,
    error_metrics,
    exact_comparison,
    reference_comparison,
)
from diffinv.run.labels import join_labels, noise_label, sampler_label
from diffinv.training.posterior import SamplingPlan, sample_every_sampler, write_samples

log = logging.getLogger(__name__)


def is_sampler_free(key: str) -> bool:
    """The truth's spread and the exact or reference posterior's own scores do not depend on the sampler."""
    own = ("exact/mean_err", "exact/w1_over_std_floor", "reference/mean_err", "reference/w1_over_std_floor")
    return key.startswith(("prior_std/", "reference/ref_coverage/")) or key in own


class PosteriorEvaluator(Evaluator):
    """``problem.evaluator`` of a problem of one's own (and, through :class:`FluxEvaluator`'s hooks, of the
    paper's flux problems): the first ``n_test`` test measurements (all for
    None), ``n_figure_cases`` of them drawn and kept in ``samples.h5``, calibration at ``coverage_levels``;
    the predictive check through ``forward_model`` (a callable: x (n, d) -> clean readings (n, m), physical
    units; None: the file's ``forward_map``, else no check) at the first ``ppc_samples`` samples of each of
    the first ``ppc_cases`` cases (0 samples: no check; None cases: all; fewer than all leaves out SBC's
    log-likelihood rank, which needs every case); ``reference``: an MCMC reference file of the first test
    cases (None: none). Figures: ``labels`` (``unknown``: its name, ``coordinates``: axis names), ``grid``,
    ``bounds``, ``coords`` and ``sensors`` as :class:`~diffinv.problems.posterior.figures.Layout`'s (the
    run fills them from the data file)."""

    report = staticmethod(posterior_report.report)
    cases_figure = "cases"  # figures/<cases_figure>_<sampler>.png
    headline_columns = {
        "error (prior std)": "{sampler}/err/mean",
        "post std": "{sampler}/post_std/mean",
        "prior std": "prior_std/mean",
        "cov ±1σ": "{sampler}/coverage/1sigma",
        "cov ±2σ": "{sampler}/coverage/2sigma",
        "std ratio": "{sampler}/exact/std_ratio",
        "mean-err ratio": "{sampler}/exact/mean_err_ratio",
        "ref std ratio": "{sampler}/reference/std_ratio",
        "ref mean-err ratio": "{sampler}/reference/mean_err_ratio",
        "SBC p": "{sampler}/sbc/p_min_bonferroni",
        "TARP p": "{sampler}/tarp/p",
        "PPC p": "{sampler}/ppc/p",
        "sample s": "{sampler}/time/sample_s",
        "calls": "{sampler}/calls_per_sample",
    }

    def __init__(
        self,
        n_test: int | None = None,
        n_figure_cases: int = 3,
        coverage_levels: tuple[float, ...] = (0.5, 0.9),
        ppc_samples: int = 100,
        forward_model: Callable[[np.ndarray], np.ndarray] | None = None,
        ppc_cases: int | None = None,
        reference: str | None = None,
        labels: dict | None = None,
        grid: list[int] | None = None,
        bounds: list | None = None,
        coords: list | None = None,
        sensors: list | None = None,
    ):
        if isinstance(ppc_samples, bool) or not isinstance(ppc_samples, int) or ppc_samples < 0:
            raise ValueError(f"ppc_samples must be an integer >= 0, got {ppc_samples!r}")
        if ppc_cases is not None and (
            isinstance(ppc_cases, bool) or not isinstance(ppc_cases, int) or ppc_cases < 1
        ):
            raise ValueError(f"ppc_cases must be an integer >= 1 or null (all), got {ppc_cases!r}")
        if forward_model is not None and not callable(forward_model):
            raise ValueError(
                f"forward_model must be callable (x -> clean readings) or null, got {forward_model!r}"
            )
        if n_test is not None and (isinstance(n_test, bool) or not isinstance(n_test, int) or n_test < 1):
            raise ValueError(f"n_test must be an integer >= 1 or null (all), got {n_test!r}")
        self.n_test = n_test
        self.n_figure_cases = n_figure_cases
        self.levels = np.asarray(coverage_levels, dtype=np.float64)
        self.ppc_samples, self.forward_model, self.ppc_cases = ppc_samples, forward_model, ppc_cases
        self.reference = None if reference is None else str(reference)
        self.layout = Layout(
            grid=None if grid is None else tuple(grid),
            bounds=None if bounds is None else [list(b) for b in bounds],
            coords=None if coords is None else np.atleast_2d(np.asarray(coords, dtype=np.float64).T).T,
            sensors=None if sensors is None else np.asarray(sensors, dtype=np.float64),
            labels=dict(labels or {}),
        )

    def __call__(self, module, datamodule, out: Path, plan: SamplingPlan) -> dict[str, float]:
        truth, y, mask = datamodule.test_measurements(self.n_test)
        exact = self._exact_problem(datamodule)
        reference, metrics = self._reference_posterior(datamodule, truth, y)
        cases = np.arange(min(self.n_figure_cases, len(truth)))
        metrics["eval/n_test"] = float(len(truth))
        drawn = sample_every_sampler(module, datamodule.normalise_y(y, mask), mask, plan, out)
        physical, curves = {}, {}
        score_seconds = diagnostic_seconds = 0.0
        checks = self._diagnostic_inputs(datamodule, truth, y, mask, plan.seed)
        noise = noise_label(datamodule.noise, datamodule.noise_std)
        labels = {name: sampler_label(sampler) for name, sampler in module.samplers.items()}
        metrics |= importance_step(drawn, labels, module, datamodule, y, mask, exact, plan)
        for name in list(drawn):
            batches = drawn.pop(name)
            metrics |= batches.metrics(name)
            samples = physical[name] = datamodule.x_norm.inverse(batches.samples)
            start = time.perf_counter()
            scores = self.errors(samples, truth)
            curve = curves[labels[name]] = coverage_curve(samples, truth, self.levels)
            scores |= {f"coverage_curve/p={p:.2f}": float(c) for p, c in zip(self.levels, curve, strict=True)}
            if exact is not None:
                scores |= exact_comparison(
                    samples, truth, y, *exact, seed=plan.seed, mask=mask, error_scale=self.error_scale(truth)
                )
            if reference is not None:
                rows, reference_samples = reference
                scores |= reference_comparison(
                    samples[rows], truth[rows], reference_samples, seed=plan.seed,
                    error_scale=self.error_scale(truth),
                )  # fmt: skip
            score_seconds += time.perf_counter() - start
            metrics |= {k if is_sampler_free(k) else f"{name}/{k}": v for k, v in scores.items()}
            start = time.perf_counter()
            title = (
                join_labels(module.formulation.label, labels[name]) + f"\n{len(truth)} test cases, {noise}"
            )
            path = out / "figures" / f"diagnostics_{name}.png"
            metrics |= {f"{name}/{k}": v for k, v in self._diagnostics(samples, checks, path, title).items()}
            diagnostic_seconds += time.perf_counter() - start
            self.plot_cases(
                truth[cases],
                samples[cases],
                out / "figures" / f"{self.cases_figure}_{name}.png",
                title=join_labels(module.formulation.label, labels[name])
                + f"\ntest cases {cases.tolist()}, {noise}",
                mask=None if mask is None else mask[cases],
            )
            if reference is not None:
                shown = rows[: self.n_figure_cases]
                self.plot_cases(
                    truth[shown], samples[shown], out / "figures" / f"reference_{name}.png",
                    title=join_labels(module.formulation.label, labels[name])
                    + f"\nagainst the MCMC reference, test cases {shown.tolist()}, {noise}",
                    reference=reference_samples[: len(shown)],
                )  # fmt: skip
        metrics["time/score_s"] = score_seconds
        metrics["time/diagnostics_s"] = diagnostic_seconds
        calibration_title = f"{module.formulation.label}\n{len(truth)} test cases, {noise}"
        plot_calibration(self.levels, curves, out / "figures" / "calibration.png", title=calibration_title)
        attrs = {"noise": datamodule.noise, "noise_std": datamodule.noise_std}
        write_samples(out, y, physical, cases, mask, truth, attrs=attrs)
        return metrics

    def posterior_figure(self, samples, path, title, mask=None):
        """The posterior of each measurement without a truth (``diffinv.infer``): as the cases' figure."""
        return self.plot_cases(None, samples, path, title=title, mask=mask)

    def errors(self, samples: np.ndarray, truth: np.ndarray) -> dict[str, float]:
        """The error, spread and calibration scores of one sampler's samples (physical units)."""
        return error_metrics(samples, truth)

    def error_scale(self, truth: np.ndarray) -> float | None:
        """What the exact or reference posterior mean's own error (``exact/mean_err``) is divided by: the
        truth's spread, the units of ``err/mean``."""
        return float(truth.std(axis=0, ddof=1).mean())

    def plot_cases(self, truth, samples, path, title="", mask=None, reference=None) -> Path:
        """The figure of a few cases' posteriors (:func:`diffinv.problems.posterior.figures.plot_cases`)."""
        return plot_cases(truth, samples, path, self.layout, title=title, mask=mask, reference=reference)

    def _diagnostic_inputs(self, datamodule, truth, y, mask, seed: int) -> dict:
        """What the diagnostics of every sampler share (docs/math.md §16): the truth, TARP's references
        (regression of x on the network's view of y, fitted on the training pairs with fresh noise) and
        scale (the training normalisation's), and for the predictive check the forward model, the observed
        and clean readings, the mask and σ_n (``forward`` None: no check, with a note in the log)."""
        train = datamodule.dataset.train
        y_train = datamodule.noisy(train.y_clean, np.random.default_rng([seed, 3]))
        references = diagnostics.regression_references(
            train.x, datamodule.normalise_y(y_train, train.mask), datamodule.normalise_y(y, mask)
        )
        forward = self.forward_model
        if "forward_map" in datamodule.dataset.attrs:  # exact and fast where the model is linear
            forward = diagnostics.linear_forward_model(datamodule.dataset.attrs["forward_map"])
        reason = (
            "ppc_samples = 0" if self.ppc_samples == 0
            else "no forward model (problem.forward_model is null and the file has no forward_map)"
            if forward is None
            else "noise-free readings" if datamodule.noise_std == 0 else None
        )  # fmt: skip
        if reason is not None:
            log.info("posterior predictive check and the log-likelihood SBC quantity skipped: %s", reason)
        elif self.ppc_cases is not None and self.ppc_cases < len(truth):
            log.info(
                "posterior predictive check on the first %d of %d cases (ppc_cases); the log-likelihood SBC "
                "quantity, which needs every case, skipped", self.ppc_cases, len(truth),
            )  # fmt: skip
        return {
            "truth": truth,
            "references": references,
            "scale": datamodule.x_norm.scale,
            "forward": None if reason else forward,
            "y": y,
            "truth_clean": datamodule.dataset.test.y_clean[: len(truth)],
            "mask": mask,
            "noise_std": datamodule.noise_std,
            "seed": seed,
        }

    def _diagnostics(self, samples: np.ndarray, checks: dict, path: Path, title: str) -> dict[str, float]:
        """SBC, TARP and, with a forward model, the posterior predictive check of one sampler's samples
        (physical units, docs/math.md §16) with their figure; flat keys ``sbc/…``, ``tarp/…``, ``ppc/…``."""
        truth, seed, forward = checks["truth"], checks["seed"], checks["forward"]
        loglik, ppc = (None, None), None
        if forward is not None:
            n, d = len(truth), truth.shape[1]
            cases = n if self.ppc_cases is None else min(self.ppc_cases, n)
            subset = samples[:cases, : self.ppc_samples].reshape(-1, d)
            y, noise_std = checks["y"][:cases], checks["noise_std"]
            mask = None if checks["mask"] is None else checks["mask"][:cases]
            try:
                predicted = np.asarray(forward(subset), dtype=np.float64).reshape(cases, -1, y.shape[1])
            except Exception as exc:  # a diagnostic must not cost the run its samples and scores
                log.warning("posterior predictive check skipped: the forward model failed (%s)", exc)
            else:
                truth_clean = checks["truth_clean"][:cases]
                if cases == n:  # SBC's log-likelihood rank needs every case
                    at_truth = diagnostics.gaussian_loglik(truth_clean[:, None], y, noise_std, mask)[:, 0]
                    loglik = (at_truth, diagnostics.gaussian_loglik(predicted, y, noise_std, mask))
                ppc = diagnostics.ppc(predicted, y, truth_clean, noise_std, mask, seed=seed)
        sbc = diagnostics.sbc(samples, truth, *loglik, seed=seed)
        tarp = diagnostics.tarp(samples, truth, checks["references"], checks["scale"], seed=seed)
        plot_diagnostics(sbc, tarp, ppc, path, title)
        found = {"sbc": sbc, "tarp": tarp} | ({"ppc": ppc} if ppc is not None else {})
        return {
            f"{kind}/{key}": value for kind, result in found.items() for key, value in result.metrics.items()
        }

    def _reference_posterior(self, datamodule, truth, y) -> tuple[tuple | None, dict[str, float]]:
        """``((rows, samples), metrics)`` of the configured reference file (docs/math.md §18.4): the test rows
        it covers and its samples, after checking that it was made for this data file, noise and seed and
        conditions on exactly these truths and readings; the metrics describe its convergence
        (``reference/n_cases``, ``/converged``, ``/max_rhat``, ``/min_ess``). ``(None, {})`` without one."""
        if self.reference is None:
            return None, {}
        ref = read_reference(self.reference)
        check_reference(ref, datamodule.path, datamodule.noise, datamodule.seed)
        rows = ref.case_index
        if rows.max() >= len(truth):
            raise ValueError(
                f"reference {ref.path} covers test cases up to {rows.max()}, but problem.evaluator.n_test = "
                f"{len(truth)}: raise n_test to at least {rows.max() + 1}"
            )
        for name, ours in (("truth", truth[rows]), ("y", y[rows])):
            if not np.allclose(ref.arrays[name], ours, rtol=1e-9, atol=0.0):
                raise ValueError(f"reference {ref.path}: '{name}' differs from this run's test cases {rows}")
        converged = ref.arrays["converged"]
        if not converged.all():
            log.warning(
                "reference %s: cases %s did not converge (docs/math.md §18.3); their scores are less certain",
                ref.path, rows[~converged].tolist(),
            )  # fmt: skip
        return (rows, ref.samples), {
            "reference/n_cases": float(len(rows)),
            "reference/converged": float(converged.mean()),
            "reference/max_rhat": float(np.nanmax(ref.arrays["rhat_physical"])),
            "reference/min_ess": float(np.nanmin(ref.arrays["ess_bulk_physical"])),
        }

    @staticmethod
    def _exact_problem(datamodule):
        """``(forward_map, prior_mean, prior_cov, noise_std)`` for the linear–Gaussian variant (with or
        without sensor masks: the exact posterior then uses each case's switched-on readings), else None.

        Not for noise-free readings: the exact posterior is then a point mass up to round-off (A is square
        and invertible in exact arithmetic), so std ratios are undefined.
        """
        attrs = datamodule.dataset.attrs
        linear_gaussian = {"forward_map", "prior_mean", "prior_cov"} <= set(attrs) and not attrs.get(
            "clip", True
        )
        if not linear_gaussian or datamodule.noise_std == 0:
            return None
        return attrs["forward_map"], attrs["prior_mean"], attrs["prior_cov"], datamodule.noise_std
