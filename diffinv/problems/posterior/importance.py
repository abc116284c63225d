"""Self-certifying samples for the linear–Gaussian flux problem (docs/math.md §17.4): importance weights
``prior × likelihood ÷ q`` of each sampler's posterior samples, their effective sample size, and the
reweighted posterior.

Only where the target density is known: the GP prior ``N(prior_mean, prior_cov)`` of the data file (at the
samples' noise level σ(t_eps), :func:`smoothed_prior_cov`) and the
Gaussian readings ``y = A x + e``, ``e ~ N(0, σ_n² I)`` of its ``forward_map`` (the linear–Gaussian variant,
``clip = false``: a clipped flux, as in every ADR file, has no prior density; docs/math.md §17.4).
The network samples (and :func:`~diffinv.training.density.log_prob_in_batches` scores) normalised ``x``; the
prior and the likelihood are in physical units. The normalisation's Jacobian is one constant for every sample,
which self-normalisation cancels (it is added anyway, so ``log w`` is a ratio of densities in one unit).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from scipy.stats import multivariate_normal, norm

from diffinv.core.importance import LOW_ESS_FRACTION, ess_fraction, resample
from diffinv.training.density import log_abs_det, log_prob_in_batches
from diffinv.training.posterior import Drawn, SamplingPlan

log = logging.getLogger(__name__)
REWEIGHTED = "{name}_is"  # the reweighted posterior of sampler ``name``, scored as a sampler of its own


def smoothed_prior_cov(prior_cov, sigma: float, scale) -> np.ndarray:
    """``K + σ² S²``: the GP prior's covariance at noise level ``σ`` of the network's units (``S`` = diag of
    the normalisation's ``scale``), the prior of samples that stop at ``σ(t_eps)`` (docs/math.md §17.4). The
    data files' ``K`` is singular to round-off (a smooth kernel, no nugget): it has no density of its own."""
    scale = np.asarray(scale, dtype=np.float64)
    return np.asarray(prior_cov, dtype=np.float64) + np.diag((sigma * scale) ** 2)


def log_target(samples, y, forward_map, prior_mean, prior_cov, noise_std, mask=None) -> np.ndarray:
    """``log N(x; prior_mean, prior_cov) + Σ_{on} log N(y_j; (A x)_j, σ_n²)`` (n, k) for physical ``samples``
    (n, k, d) and measurements ``y`` (n, m): the likelihood over each case's switched-on readings only."""
    samples, y = np.asarray(samples, dtype=np.float64), np.asarray(y, dtype=np.float64)
    on = np.ones(y.shape, dtype=bool) if mask is None else np.asarray(mask) > 0
    log_prior = multivariate_normal(prior_mean, prior_cov).logpdf(samples).reshape(samples.shape[:2])
    predicted = samples @ np.asarray(forward_map, dtype=np.float64).T  # (n, k, m)
    log_lik = norm.logpdf(y[:, None, :], loc=predicted, scale=noise_std)
    return log_prior + np.where(on[:, None, :], log_lik, 0.0).sum(-1)


def importance_step(
    drawn: dict[str, Drawn],
    labels: dict[str, str],
    module,
    datamodule,
    y: np.ndarray,
    mask: np.ndarray | None,
    exact,
    plan: SamplingPlan,
) -> dict[str, float]:
    """With ``plan.reweight``: for each sampler in ``drawn``, ``log w = log target - log q`` of its samples
    (``exact``: the evaluator's ``(forward_map, prior_mean, prior_cov, noise_std)``), the metrics
    ``<sampler>/is/ess_frac/mean`` and ``/min`` over cases (a warning below :data:`LOW_ESS_FRACTION`), and the
    reweighted posterior added to ``drawn`` and ``labels`` as sampler ``<sampler>_is`` (resampled, seeded
    ``plan.seed``). Without a known target density (``exact`` None) a note, and nothing else."""
    if not plan.reweight:
        return {}
    if exact is None:
        log.warning(
            "evaluation.reweight: skipped, the importance weights need the prior density and the likelihood: "
            "the linear-Gaussian variant (problem.clip=false, data.noise > 0) only (docs/math.md §17.4)"
        )
        return {}
    forward_map, prior_mean, prior_cov, noise_std = exact
    form = module.formulation
    sigma_eps = float(form.sigma(torch.tensor(form.t_eps, dtype=torch.float64)))
    prior_cov = smoothed_prior_cov(prior_cov, sigma_eps, datamodule.x_norm.scale)
    y_norm, rng, metrics = datamodule.normalise_y(y, mask), np.random.default_rng(plan.seed), {}
    for name in list(drawn):
        normalised = drawn[name].samples
        physical = datamodule.x_norm.inverse(normalised)
        log_q = log_prob_in_batches(module, normalised, y_norm, mask, plan.density_options)
        log_p = log_target(physical, y, forward_map, prior_mean, prior_cov, noise_std, mask)
        log_w = log_p - (log_q + log_abs_det(datamodule.x_norm))
        ess = ess_fraction(log_w)
        metrics[f"{name}/is/ess_frac/mean"], metrics[f"{name}/is/ess_frac/min"] = ess.mean(), ess.min()
        if ess.min() < LOW_ESS_FRACTION:
            log.warning(
                "%s: importance weights degenerate, ESS/N = %.3g (min over cases; mean %.3g) < %g: the "
                "reweighted posterior rests on a few samples (docs/math.md §17.4)",
                name, ess.min(), ess.mean(), LOW_ESS_FRACTION,
            )  # fmt: skip
        reweighted = REWEIGHTED.format(name=name)
        drawn[reweighted] = drawn[name]._replace(samples=resample(normalised, log_w, rng))
        labels[reweighted] = f"{labels[name]} reweighted"
    return metrics
