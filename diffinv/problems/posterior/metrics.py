"""Measures of posterior samples of any unknown (docs/design.md §7–8): error, spread and calibration against
the truth, and the comparison with the exact (linear–Gaussian, docs/math.md §9) or a sampled reference
posterior (MCMC, docs/math.md §18.4).

All functions take physical units (but :func:`normalised_joint`, which gives the network's). ``samples`` has
shape (n_test, n_samples, d), ``truth`` (n_test, d).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import wasserstein_distance

from diffinv.core.exact import linear_gaussian_joint, linear_gaussian_posterior


def coverage_curve(samples: np.ndarray, truth: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Empirical coverage of central credible intervals at each nominal level (a calibration curve).

    For level p the interval is the [(1-p)/2, (1+p)/2] quantile range of each case's samples, per
    segment; the coverage is the fraction of (case, segment) pairs whose truth lies inside. A calibrated
    posterior gives coverage = p.
    """
    samples, truth = np.asarray(samples, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    levels = np.asarray(levels, dtype=np.float64)
    lo = np.quantile(samples, (1 - levels) / 2, axis=1)  # (n_levels, n_test, d)
    hi = np.quantile(samples, (1 + levels) / 2, axis=1)
    return ((lo <= truth) & (truth <= hi)).mean(axis=(1, 2))


def exact_comparison(
    samples: np.ndarray,
    truth: np.ndarray,
    y: np.ndarray,
    forward_map: np.ndarray,
    prior_mean: np.ndarray,
    prior_cov: np.ndarray,
    noise_std: float,
    n_distance_cases: int = 5,
    seed: int = 0,
    mask: np.ndarray | None = None,
    error_scale: float | None = None,
) -> dict[str, float]:
    """Diffusion posterior against the exact linear–Gaussian posterior (docs/math.md §9), docs/problems.md §2
    "exact check"; with a sensor ``mask`` (n_test, m) the exact posterior of each case conditions on its
    switched-on readings only (the rows of the forward map where the mask is 1, docs/problems.md §3).

    ``exact/mean_err_ratio``: mean |diffusion mean - truth| over mean |exact mean - truth| (1 is perfect);
    ``exact/std_ratio``: mean over segments of (mean diffusion std) / (mean exact std), means over cases;
    ``exact/w1_over_std``: for the first ``n_distance_cases`` cases, the per-segment 1-D Wasserstein-1
    distance between diffusion samples and as many exact samples, in exact-std units, averaged;
    ``exact/w1_over_std_floor``: the same between two independent exact sample sets (what a perfect
    sampler scores at this sample size).
    """
    samples = np.asarray(samples, dtype=np.float64)
    n_samples, d = samples.shape[1:]
    mu_post, cov_post = exact_posteriors(y, forward_map, prior_mean, prior_cov, noise_std, mask)
    exact_std = np.sqrt(np.clip(np.diagonal(cov_post, axis1=1, axis2=2), 0, None))
    rng = np.random.default_rng(seed)

    def two_exact_draws(i: int) -> tuple[np.ndarray, np.ndarray]:
        # a square root that also holds for a (numerically) singular posterior covariance, e.g. noise-free
        # readings of an ill-conditioned forward map, where Cholesky fails on round-off negative eigenvalues
        eigvals, eigvecs = np.linalg.eigh(cov_post[i])
        root = eigvecs * np.sqrt(np.clip(eigvals, 0, None))
        return tuple(mu_post[i] + rng.standard_normal((n_samples, d)) @ root.T for _ in range(2))

    scores = compare_posteriors(
        samples, truth, mu_post, exact_std, two_exact_draws, n_distance_cases, error_scale
    )
    return {f"exact/{key}": value for key, value in scores.items()}


def reference_comparison(
    samples: np.ndarray,
    truth: np.ndarray,
    reference: np.ndarray,
    seed: int = 0,
    error_scale: float | None = None,
) -> dict[str, float]:
    """Diffusion posterior against a sampled reference posterior of the same cases, e.g. MCMC on the forward
    model (``reference`` (n, k, d), physical units; docs/math.md §18.4): the measures of
    :func:`exact_comparison` with the reference's sample mean and std in place of the exact ones, for every
    case, prefixed ``reference/``, plus ``reference/coverage/{1,2}sigma`` of the truth by the diffusion
    posterior and ``reference/ref_coverage/{1,2}sigma`` by the reference. W1 compares the diffusion samples
    with ``m = min(n_samples, k // 2)`` reference samples and the floor two disjoint sets of ``m`` (drawn
    without replacement, seeded), so both sit at the same sample size."""
    samples, reference = np.asarray(samples, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if (
        reference.ndim != 3
        or reference.shape[0] != samples.shape[0]
        or reference.shape[2] != samples.shape[2]
    ):
        raise ValueError(
            f"reference samples must be (n_cases, k, d) for samples {samples.shape}, got {reference.shape}"
        )
    m = min(samples.shape[1], reference.shape[1] // 2)
    rng = np.random.default_rng(seed)

    def two_reference_draws(i: int) -> tuple[np.ndarray, np.ndarray]:
        rows = rng.permutation(reference.shape[1])
        return reference[i, rows[:m]], reference[i, rows[m : 2 * m]]

    ref_mean, ref_std = reference.mean(axis=1), reference.std(axis=1, ddof=1)
    scores = compare_posteriors(
        samples, truth, ref_mean, ref_std, two_reference_draws, len(samples), error_scale
    )
    scores |= coverage(samples.mean(axis=1), samples.std(axis=1, ddof=1), truth)
    scores |= {f"ref_{key}": value for key, value in coverage(ref_mean, ref_std, truth).items()}
    return {f"reference/{key}": value for key, value in scores.items()}


def compare_posteriors(
    samples, truth, ref_mean, ref_std, two_draws, n_distance_cases, error_scale=None
) -> dict[str, float]:
    """The measures shared by the exact and the sampled reference (docs/problems.md §2.7): ``mean_err_ratio``,
    ``std_ratio``, ``mean_err`` (the reference mean's own error over ``error_scale``, by default the truth's
    mean, the flux problems' relative error), ``w1_over_std`` for the first
    ``n_distance_cases`` cases: the first ``m`` diffusion samples against the first of ``two_draws(i)`` (two
    independent reference samples of case ``i``, ``m`` each), ``w1_over_std_floor`` between the two."""
    n_test, _, d = samples.shape
    diff_mean, diff_std = samples.mean(axis=1), samples.std(axis=1, ddof=1)
    scale = truth.mean() if error_scale is None else error_scale
    out = {
        "mean_err_ratio": float(np.abs(diff_mean - truth).mean() / np.abs(ref_mean - truth).mean()),
        "std_ratio": float((diff_std.mean(axis=0) / ref_std.mean(axis=0)).mean()),
        "mean_err": float(np.abs(ref_mean - truth).mean() / scale),
    }
    dist, floor = [], []
    for i in range(min(n_distance_cases, n_test)):
        draw_a, draw_b = two_draws(i)
        for j in range(d):
            dist.append(wasserstein_distance(samples[i, : len(draw_a), j], draw_a[:, j]) / ref_std[i, j])
            floor.append(wasserstein_distance(draw_b[:, j], draw_a[:, j]) / ref_std[i, j])
    out["w1_over_std"] = float(np.mean(dist))
    out["w1_over_std_floor"] = float(np.mean(floor))
    return out


def error_metrics(samples: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Error, spread and calibration of the posteriors of any unknown (docs/design.md §9), in units that
    mean something whatever its mean: ``err/mean``, the mean |posterior mean - truth| in units of the
    truth's spread over the test set (the prior std, near enough: 0 is perfect, about 0.8 a posterior no
    better than the prior mean; ``err/max`` its largest component); ``rmse``, the root mean square error in
    physical units; ``post_std/mean`` and ``prior_std/mean``, mean posterior and test-set std;
    ``shrinkage/mean``, 1 - post std / prior std averaged over components (0: nothing learned, 1: the
    unknown pinned down); ``coverage/{1,2}sigma`` as :func:`coverage`."""
    samples, truth = checked_samples(samples, truth)
    mean, std = samples.mean(axis=1), samples.std(axis=1, ddof=1)
    prior_std = truth.std(axis=0, ddof=1)
    err = np.abs(mean - truth).mean(axis=0) / np.maximum(prior_std, np.finfo(float).tiny)
    post_std = std.mean(axis=0)
    return {
        "err/mean": float(err.mean()),
        "err/max": float(err.max()),
        "rmse": float(np.sqrt(((mean - truth) ** 2).mean())),
        "post_std/mean": float(post_std.mean()),
        "prior_std/mean": float(prior_std.mean()),
        "shrinkage/mean": float((1 - post_std / np.maximum(prior_std, np.finfo(float).tiny)).mean()),
    } | coverage(mean, std, truth)


def checked_samples(samples, truth) -> tuple[np.ndarray, np.ndarray]:
    samples, truth = np.asarray(samples, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if samples.ndim != 3 or truth.shape != (samples.shape[0], samples.shape[2]):
        raise ValueError(
            f"samples must be (n_test, n_samples, d) and truth (n_test, d), "
            f"got {samples.shape}, {truth.shape}"
        )
    return samples, truth


def coverage(mean: np.ndarray, std: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """``coverage/{1,2}sigma``: the fraction of (case, segment) pairs whose truth lies within ±1 / ±2
    posterior stds (``std``, (n, d)) of the posterior ``mean`` (n, d)."""
    z = np.abs(mean - truth) / np.maximum(std, np.finfo(float).tiny)
    return {"coverage/1sigma": float((z <= 1).mean()), "coverage/2sigma": float((z <= 2).mean())}


def exact_posteriors(y, forward_map, prior_mean, prior_cov, noise_std, mask=None):
    """Means (n, d) and covariances (n, d, d) of the exact posteriors of the measurements ``y`` (n, m), each
    conditioned on the readings its ``mask`` row switches on (all when ``mask`` is None), docs/math.md §9."""
    y = np.asarray(y, dtype=np.float64)
    on = np.ones(y.shape, dtype=bool) if mask is None else np.asarray(mask) > 0
    means, covs = np.empty((len(y), len(prior_mean))), np.empty((len(y), len(prior_mean), len(prior_mean)))
    for rows in np.unique(on, axis=0):  # one solve per distinct sensor set
        cases = (on == rows).all(axis=1)
        a = forward_map[rows]
        mean, cov = linear_gaussian_posterior(
            prior_mean, prior_cov, a, noise_std**2 * np.eye(len(a)), y[cases][:, rows]
        )
        means[cases], covs[cases] = mean.numpy(), cov.numpy()
    return means, covs


def normalised_joint(
    forward_map: np.ndarray,
    prior_mean: np.ndarray,
    prior_cov: np.ndarray,
    noise_std: float,
    x_norm,
    y_norm,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of the network's inputs ``(x_n, y_n)`` for the linear–Gaussian variant: ``(x,
    A x + e)`` mapped by the training normalisation ``x_norm``, ``y_norm`` (each with per-component
    ``shift`` and ``scale``, e.g. :class:`diffinv.data.datamodule.Affine`).
    :class:`diffinv.core.exact.ConditionalGaussianEps` on it is the exact conditional ε the network learns
    (docs/math.md §9.4)."""
    sigma_e = noise_std**2 * np.eye(forward_map.shape[0])
    shift, scale = (np.concatenate([getattr(x_norm, k), getattr(y_norm, k)]) for k in ("shift", "scale"))
    return linear_gaussian_joint(prior_mean, prior_cov, forward_map, sigma_e, shift, scale)
