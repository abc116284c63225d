"""Calibration diagnostics that need no closed-form posterior (docs/math.md §16, docs/usage.md §16).

Problem-independent numerics (numpy and scipy.stats) on posterior samples of many test cases whose truth is
known: simulation-based calibration (:func:`sbc`), TARP expected coverage (:func:`tarp`) and posterior
predictive checks (:func:`ppc`). Each returns flat metrics (docs/design.md §7, without the sampler prefix)
with a ``passed`` flag from its decision rule (docs/math.md §16.4) and the arrays its figure draws.

Shapes: ``samples`` (n_cases, n_samples, d), ``truth`` (n_cases, d), readings (n_cases, m).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

SIGNIFICANCE = 0.01  # every decision rule rejects at this family-wise level (docs/math.md §16.4)
PPC_LEVELS = (0.68, 0.95)  # central predictive intervals whose coverage the PPC reports
CASES_PER_BLOCK = 64  # TARP's distances are computed this many test cases at a time


@dataclass
class Diagnostic:
    """Flat metrics (``passed`` among them, 1.0 or 0.0) and the arrays the diagnostic's figure draws."""

    metrics: dict[str, float]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def ranks(samples: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per case and dimension, the number of samples below the truth: integers in 0..n_samples
    (docs/math.md §16.1)."""
    samples, truth = _checked(samples, truth)
    return (samples < truth[:, None, :]).sum(axis=1)


def randomised_pit(rank: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Ranks in 0..n_samples to exactly uniform values on (0, 1) under calibration: (rank + V) / (n_samples
    + 1) with V ~ U(0, 1) (docs/math.md §16.1), so that continuous uniformity tests apply at any n_samples."""
    return (np.asarray(rank, dtype=np.float64) + rng.random(np.shape(rank))) / (n_samples + 1)


def uniformity_pvalues(u: np.ndarray) -> np.ndarray:
    """Kolmogorov–Smirnov p-value against U(0, 1) of each column of ``u`` (n_cases, k)."""
    return np.array([stats.kstest(column, "uniform").pvalue for column in np.asarray(u).T])


def sbc(
    samples: np.ndarray,
    truth: np.ndarray,
    loglik_truth: np.ndarray | None = None,
    loglik_samples: np.ndarray | None = None,
    seed: int = 0,
) -> Diagnostic:
    """Simulation-based calibration (Talts et al. 2018; docs/math.md §16.1): the rank of the truth among
    the samples in every dimension and, when the log-likelihood of the truth (n_cases,) and of samples
    (n_cases, n_like) are given, of the data-dependent test quantity log p(y | x) (Modrák et al. 2023) —
    without it a posterior that ignores the data (the prior) passes.

    Metrics: ``p/dim_jj`` and ``p/loglik`` (KS p-values of the randomised ranks), ``p_min_bonferroni``
    (the smallest times the number of quantities, capped at 1), ``frac_rejected`` (quantities with p <
    0.01), ``passed`` (``p_min_bonferroni >= 0.01``). Arrays: ``pit`` (n_cases, k) for the rank
    histograms, ``p`` (k,).
    """
    samples, truth = _checked(samples, truth)
    rng = np.random.default_rng(seed)
    pit = randomised_pit(ranks(samples, truth), samples.shape[1], rng)
    names = [f"dim_{j:02d}" for j in range(truth.shape[1])]
    if loglik_truth is not None:
        like_rank = (np.asarray(loglik_samples) < np.asarray(loglik_truth)[:, None]).sum(axis=1)
        pit = np.column_stack([pit, randomised_pit(like_rank, np.shape(loglik_samples)[1], rng)])
        names.append("loglik")
    p = uniformity_pvalues(pit)
    p_min = float(min(1.0, p.min() * len(p)))
    metrics = {f"p/{name}": float(v) for name, v in zip(names, p, strict=True)}
    metrics |= {
        "p_min_bonferroni": p_min,
        "frac_rejected": float((p < SIGNIFICANCE).mean()),
        "passed": float(p_min >= SIGNIFICANCE),
    }
    return Diagnostic(metrics, {"pit": pit, "p": p})


def regression_references(x_train: np.ndarray, y_train: np.ndarray, y: np.ndarray) -> np.ndarray:
    """TARP reference points that depend on the data (docs/math.md §16.2): the least-squares affine
    predictor of x from y fitted on training pairs (``x_train`` (n, d), noisy ``y_train`` (n, m)),
    evaluated at the test readings ``y`` (n_cases, m)."""
    design = np.column_stack([np.asarray(y_train, dtype=np.float64), np.ones(len(y_train))])
    coef, *_ = np.linalg.lstsq(design, np.asarray(x_train, dtype=np.float64), rcond=None)
    return np.column_stack([np.asarray(y, dtype=np.float64), np.ones(len(y))]) @ coef


def tarp(
    samples: np.ndarray,
    truth: np.ndarray,
    references: np.ndarray,
    scale: np.ndarray | float = 1.0,
    n_levels: int = 101,
    seed: int = 0,
) -> Diagnostic:
    """TARP expected coverage (Lemos et al. 2023; docs/math.md §16.2) with one reference point per case
    (n_cases, d), distances in units of ``scale`` (per dimension).

    Per case the credibility f of the ball around the reference that reaches the truth: the number of
    samples nearer the reference than the truth, randomised as in :func:`randomised_pit` so that f is
    exactly U(0, 1) under calibration at any sample size; ECP(α) = fraction of cases with f < α. Metrics:
    ``max_dev`` (max over α of |ECP(α) - α|, the Kolmogorov–Smirnov statistic of f), ``area`` (mean |ECP -
    α| over the α grid), ``p`` (KS p-value of f against U(0, 1)), ``passed`` (``p >= 0.01``). Arrays:
    ``alpha``, ``ecp`` (the curve), ``f``.
    """
    samples, truth = _checked(samples, truth)
    references = np.asarray(references, dtype=np.float64)
    if references.shape != truth.shape:
        raise ValueError(f"references must have the truth's shape {truth.shape}, got {references.shape}")
    scale = np.asarray(scale, dtype=np.float64)
    sample_dist = np.empty(samples.shape[:2])
    for start in range(0, len(truth), CASES_PER_BLOCK):  # blocks of cases: no copy of every sample at once
        block = slice(start, start + CASES_PER_BLOCK)
        sample_dist[block] = np.linalg.norm((samples[block] - references[block, None, :]) / scale, axis=2)
    truth_dist = np.linalg.norm((truth - references) / scale, axis=1)
    nearer = (sample_dist < truth_dist[:, None]).sum(axis=1)
    f = randomised_pit(nearer, samples.shape[1], np.random.default_rng(seed))
    alpha = np.linspace(0.0, 1.0, n_levels)
    ecp = (f[None, :] < alpha[:, None]).mean(axis=1)
    ks = stats.kstest(f, "uniform")
    metrics = {
        "max_dev": float(ks.statistic),
        "area": float(np.abs(ecp - alpha).mean()),
        "p": float(ks.pvalue),
        "passed": float(ks.pvalue >= SIGNIFICANCE),
    }
    return Diagnostic(metrics, {"alpha": alpha, "ecp": ecp, "f": f})


def linear_forward_model(forward_map: np.ndarray):
    """The clean readings of the linear flux problems, y = A x (``x`` (n, d) -> (n, m), physical units, as
    ``data_gen/fem/linear_generate.py`` writes them with ``forward_map`` = A)."""
    forward_map = np.asarray(forward_map, dtype=np.float64)
    return lambda x: np.asarray(x, dtype=np.float64) @ forward_map.T


def gaussian_loglik(clean: np.ndarray, y: np.ndarray, noise_std: float, mask=None) -> np.ndarray:
    """log p(y | x) + const (n_cases, k) of readings ``y`` (n_cases, m) with Gaussian noise of std
    ``noise_std`` at the clean readings ``clean`` (n_cases, k, m) of k values of x per case; switched-off
    readings (``mask`` (n_cases, m) 0) do not count."""
    on = 1.0 if mask is None else (np.asarray(mask) > 0)[:, None, :]
    residual = np.asarray(y, dtype=np.float64)[:, None, :] - np.asarray(clean, dtype=np.float64)
    return -0.5 * np.sum(on * residual**2, axis=-1) / noise_std**2


def ppc(
    predicted_clean: np.ndarray,
    y_obs: np.ndarray,
    truth_clean: np.ndarray,
    noise_std: float,
    mask: np.ndarray | None = None,
    seed: int = 0,
) -> Diagnostic:
    """Posterior predictive checks (docs/math.md §16.3). ``predicted_clean`` (n_cases, S, m): the forward
    model at S posterior samples per case; ``truth_clean`` (n_cases, m): at the truth; fresh noise of std
    ``noise_std`` gives the predictive draws and a replicate reading of the truth, y_rep.

    Metrics, means over cases (switched-off readings left out): ``coverage/68``, ``coverage/95`` (fraction
    of observed readings inside the central predictive intervals; above nominal for an exact posterior,
    which was conditioned on them), ``z_rms`` (RMS of (y_obs - predictive mean) / predictive std per case),
    ``rep_coverage/68``, ``rep_coverage/95``, ``rep_z_rms`` (the same for y_rep: nominal and ≈ 1 when
    calibrated), ``p`` (KS p-value of the randomised rank of |y_rep - y_obs| among |ỹ_s - y_obs|, uniform
    exactly under calibration), ``passed`` (``p >= 0.01``). Arrays: per case ``coverage_68``, ``z_rms``,
    ``rep_coverage_68``, ``rep_z_rms``, and ``pit``.
    """
    predicted_clean = np.asarray(predicted_clean, dtype=np.float64)
    n_cases, n_draws, m = predicted_clean.shape
    rng = np.random.default_rng(seed)
    predictive = predicted_clean + noise_std * rng.standard_normal(predicted_clean.shape)
    y_rep = np.asarray(truth_clean, dtype=np.float64) + noise_std * rng.standard_normal((n_cases, m))
    on = np.ones((n_cases, m), dtype=bool) if mask is None else np.asarray(mask) > 0
    metrics: dict[str, float] = {}
    arrays: dict[str, np.ndarray] = {}
    for prefix, y in (("", np.asarray(y_obs, dtype=np.float64)), ("rep_", y_rep)):
        rank = (predictive < y[:, None, :]).sum(axis=1)
        for level in PPC_LEVELS:
            inside = _central(rank, n_draws, level)
            per_case = _per_case_mean(inside, on)
            metrics[f"{prefix}coverage/{round(100 * level)}"] = float(per_case.mean())
            arrays[f"{prefix}coverage_{round(100 * level)}"] = per_case
        z = (y - predictive.mean(axis=1)) / predictive.std(axis=1, ddof=1)
        arrays[f"{prefix}z_rms"] = np.sqrt(_per_case_mean(z**2, on))
        metrics[f"{prefix}z_rms"] = float(arrays[f"{prefix}z_rms"].mean())
    distance = np.sqrt(np.sum(on[:, None, :] * (predictive - np.asarray(y_obs)[:, None, :]) ** 2, axis=2))
    rep_distance = np.sqrt(np.sum(on * (y_rep - y_obs) ** 2, axis=1))
    arrays["pit"] = randomised_pit((distance < rep_distance[:, None]).sum(axis=1), n_draws, rng)
    p = float(stats.kstest(arrays["pit"], "uniform").pvalue)
    metrics |= {"p": p, "passed": float(p >= SIGNIFICANCE)}
    return Diagnostic(metrics, arrays)


def _central(rank: np.ndarray, n_draws: int, level: float) -> np.ndarray:
    """Inside the central interval of ``level`` between order statistics: rank in [k, n_draws - k], k =
    round((1 - level) (n_draws + 1) / 2), so that the nominal coverage is (n_draws + 1 - 2k) / (n_draws +
    1) ≈ level for any n_draws."""
    k = round((1 - level) * (n_draws + 1) / 2)
    return (rank >= k) & (rank <= n_draws - k)


def central_level(n_draws: int, level: float) -> float:
    """The exact nominal coverage of :func:`_central`'s interval for ``n_draws`` predictive draws."""
    k = round((1 - level) * (n_draws + 1) / 2)
    return (n_draws + 1 - 2 * k) / (n_draws + 1)


def _per_case_mean(values: np.ndarray, on: np.ndarray) -> np.ndarray:
    return (values * on).sum(axis=1) / np.maximum(on.sum(axis=1), 1)


def _checked(samples: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    samples, truth = np.asarray(samples, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if samples.ndim != 3 or truth.shape != (samples.shape[0], samples.shape[2]):
        raise ValueError(
            "samples must be (n_cases, n_samples, d) and truth (n_cases, d), "
            f"got {samples.shape}, {truth.shape}"
        )
    return samples, truth
