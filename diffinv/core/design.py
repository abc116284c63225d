"""Where to put the sensors (docs/math.md §20): the expected information gain (or variance reduction) of a
sensor layout estimated from posterior samples, its closed form on a linear–Gaussian problem, and the greedy
choice of sensors one at a time.

NumPy only; the posterior samples come from any sampler (a trained model, or exact samples in the tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import digamma

CRITERIA = ("information", "variance")


def prior_whitening(prior_cov: np.ndarray, rank_tol: float) -> np.ndarray:
    """``W`` (r, d) with ``W Σ Wᵀ = I`` on the prior's eigen-directions of variance ≥ ``rank_tol`` × the
    largest (math §20.2: the rest carry no measurable information and only round-off)."""
    evals, evecs = np.linalg.eigh(np.asarray(prior_cov, dtype=np.float64))
    keep = evals >= rank_tol * evals.max()
    return (evecs[:, keep] / np.sqrt(evals[keep])).T


def log_det_bias(r: int, n: int) -> float:
    """``E log det S − log det Σ`` for the sample covariance ``S`` (divisor n − 1) of ``n`` Gaussian draws in
    ``r`` dimensions: ``Σ_{i=1..r} ψ((n − i)/2) + log 2 − log(n − 1)`` (math §20.2; Wishart)."""
    if n <= r:
        raise ValueError(f"n_samples={n}: need more posterior samples than the {r} directions estimated")
    i = np.arange(1, r + 1)
    return float(np.sum(digamma((n - i) / 2) + np.log(2.0) - np.log(n - 1)))


def informed_directions(z: np.ndarray, y: np.ndarray, noise_std: float, tol: float):
    """The whitened directions a layout's readings inform (math §20.2): from prior-predictive pairs of
    whitened unknowns ``z`` (n, r) and clean readings ``y`` (n, |S|), the linearised information matrix
    ``F = Bᵀ B / σ²`` with ``B = Cov(y, z)``; returns the orthonormal eigenvectors ``U`` (r, k) of ``F`` with
    eigenvalue ≥ ``tol`` and ``½ Σ log(1 + μ)`` over the others (the linearised information left out)."""
    z = z - z.mean(axis=0)
    b = (y - y.mean(axis=0)).T @ z / (len(z) - 1)
    mu, vectors = np.linalg.eigh(b.T @ b / noise_std**2)
    keep = mu >= tol
    return vectors[:, keep], 0.5 * float(np.log1p(np.clip(mu[~keep], 0, None)).sum())


def half_log_dets(samples: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``½ log det`` of each posterior's covariance in the coordinates ``x @ basis`` (d, k), from its
    ``samples`` (n, N, d), with the Wishart bias removed: (n,), unbiased for Gaussian posteriors
    (math §20.2)."""
    z = np.asarray(samples, dtype=np.float64) @ basis
    z = z - z.mean(axis=1, keepdims=True)
    n, k = z.shape[1], z.shape[2]
    if k == 0:
        return np.zeros(len(z))
    cov = np.einsum("bni,bnj->bij", z, z) / (n - 1)
    sign, log_det = np.linalg.slogdet(cov)
    if (sign <= 0).any():
        raise ValueError("a posterior's sample covariance is singular in the prior's directions")
    return 0.5 * (log_det - log_det_bias(k, n))


def information_gains(samples: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """The Gaussian estimate of the entropy drop per measurement, ``−½ log det`` of the posterior covariance
    in whitened prior coordinates ``x @ basis`` (where the prior's is I), from posterior ``samples``
    (n, N, d): (n,) (math §20.2)."""
    return -half_log_dets(samples, basis)


def variance_reductions(samples: np.ndarray, prior_cov: np.ndarray) -> np.ndarray:
    """``1 − tr Σ_post / tr Σ_prior`` per measurement from posterior ``samples`` (n, N, d): the fraction
    of the prior's variance the readings remove (math §20.3)."""
    post = np.asarray(samples, dtype=np.float64).var(axis=1, ddof=1).sum(axis=-1)
    return 1.0 - post / np.trace(prior_cov)


def estimated_gains(samples: np.ndarray, criterion: str, prior_cov: np.ndarray, basis: np.ndarray | None):
    """Per-measurement gains of ``criterion`` ("information" or "variance") from posterior samples
    (``basis``: :func:`information_gains`, needed by "information" only)."""
    if criterion == "information":
        return information_gains(samples, basis)
    if criterion == "variance":
        return variance_reductions(samples, prior_cov)
    raise ValueError(f"criterion={criterion!r}: one of {list(CRITERIA)}")


def exact_gain(
    criterion: str, forward_map: np.ndarray, prior_cov: np.ndarray, noise_std: float, on: Sequence[int]
) -> float:
    """The closed form on ``y = A x + e``, ``x ~ N(μ, Σ)``, ``e ~ N(0, σ² I)`` for the sensors ``on``
    (0-based): ``½ log det(I + A_S Σ A_Sᵀ / σ²)`` nats, or ``tr(Σ A_Sᵀ (A_S Σ A_Sᵀ + σ² I)⁻¹ A_S Σ) / tr Σ``
    (math §20.1, §20.3)."""
    rows = np.asarray(on, dtype=int)
    if rows.size == 0:
        return 0.0
    a = np.asarray(forward_map, dtype=np.float64)[rows]
    cov_y = a @ prior_cov @ a.T
    if criterion == "information":
        return 0.5 * float(np.linalg.slogdet(np.eye(len(rows)) + cov_y / noise_std**2)[1])
    if criterion == "variance":
        k_at = prior_cov @ a.T
        removed = np.trace(k_at @ np.linalg.solve(cov_y + noise_std**2 * np.eye(len(rows)), k_at.T))
        return float(removed / np.trace(prior_cov))
    raise ValueError(f"criterion={criterion!r}: one of {list(CRITERIA)}")


@dataclass(frozen=True)
class Step:
    """One greedy step: the sensor added (0-based), the layout's estimated gain and its Monte-Carlo standard
    error, and its margin over the runner-up in standard errors of their paired difference (below ~2: the
    two are a toss-up at this Monte-Carlo size; infinite for exact gains)."""

    sensor: int
    gain: float
    error: float
    margin: float


LayoutScore = Callable[[list[tuple[int, ...]]], np.ndarray]


def mean_and_error(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means and Monte-Carlo standard errors over the last axis of per-draw gains (zero for one draw)."""
    draws = np.asarray(draws, dtype=np.float64)
    if draws.shape[-1] < 2:
        return draws.mean(axis=-1), np.zeros(draws.shape[:-1])
    return draws.mean(axis=-1), draws.std(axis=-1, ddof=1) / np.sqrt(draws.shape[-1])


def greedy(
    score: LayoutScore,
    candidates: Sequence[int],
    k: int,
    fixed: Sequence[int] = (),
    done: Sequence[Step] = (),
    on_step: Callable[[Step], None] | None = None,
) -> list[Step]:
    """Add ``k`` of ``candidates`` to the ``fixed`` sensors one at a time, each time the one whose layout
    ``score`` rates highest; ``score(layouts)`` returns the gains (n_layouts, n_draws) of a list of layouts
    (sensor tuples) per prior-predictive draw, the same draws for every layout of a step (common random
    numbers, math §20.4; one column for exact gains). ``done``: steps of an interrupted run, kept;
    ``on_step`` is called with each new step."""
    pool = [int(c) for c in candidates if c not in set(fixed)]
    if not 1 <= k <= len(pool):
        raise ValueError(f"k={k}: choose between 1 and the {len(pool)} candidate sensors")
    chosen, steps = tuple(int(f) for f in fixed), list(done)
    for step in steps:
        chosen += (step.sensor,)
        pool.remove(step.sensor)
    while len(steps) < k:
        layouts = [tuple(sorted(chosen + (c,))) for c in pool]
        draws = np.asarray(score(layouts), dtype=np.float64).reshape(len(layouts), -1)
        gains, errors = mean_and_error(draws)
        order = np.argsort(gains)[::-1]
        best = int(order[0])
        margin = np.inf
        if len(order) > 1:  # the paired difference: the draws are shared
            difference, error = mean_and_error(draws[best] - draws[int(order[1])])
            margin = float(difference / error) if error > 0 else np.inf
        steps.append(Step(pool[best], float(gains[best]), float(errors[best]), float(margin)))
        chosen += (pool.pop(best),)
        if on_step is not None:
            on_step(steps[-1])
    return steps
