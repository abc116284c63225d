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


def information_gains(samples: np.ndarray, whitening: np.ndarray) -> np.ndarray:
    """The Gaussian estimate of ``KL(posterior ‖ prior)``'s entropy part per measurement, ``½ log det Σ_prior
    − ½ log det Σ_post`` in the whitened prior directions, from posterior ``samples`` (n, N, d): (n,),
    unbiased for Gaussian posteriors (math §20.2)."""
    z = np.asarray(samples, dtype=np.float64) @ whitening.T
    z = z - z.mean(axis=1, keepdims=True)
    n, r = z.shape[1], z.shape[2]
    cov = np.einsum("bni,bnj->bij", z, z) / (n - 1)
    sign, log_det = np.linalg.slogdet(cov)
    if (sign <= 0).any():
        raise ValueError("a posterior's sample covariance is singular in the prior's directions")
    return -0.5 * (log_det - log_det_bias(r, n))


def variance_reductions(samples: np.ndarray, prior_cov: np.ndarray) -> np.ndarray:
    """``1 − tr Σ_post / tr Σ_prior`` per measurement from posterior ``samples`` (n, N, d): the fraction
    of the prior's variance the readings remove (math §20.3)."""
    post = np.asarray(samples, dtype=np.float64).var(axis=1, ddof=1).sum(axis=-1)
    return 1.0 - post / np.trace(prior_cov)


def estimated_gains(samples: np.ndarray, criterion: str, prior_cov: np.ndarray, whitening: np.ndarray):
    """Per-measurement gains of ``criterion`` ("information" or "variance") from posterior samples."""
    if criterion == "information":
        return information_gains(samples, whitening)
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
    error, and the runner-up's margin over it in standard errors (small: the pick is within the noise)."""

    sensor: int
    gain: float
    error: float
    margin: float


LayoutScore = Callable[[list[tuple[int, ...]]], tuple[np.ndarray, np.ndarray]]


def greedy(
    score: LayoutScore,
    candidates: Sequence[int],
    k: int,
    fixed: Sequence[int] = (),
    done: Sequence[Step] = (),
    on_step: Callable[[Step], None] | None = None,
) -> list[Step]:
    """Add ``k`` of ``candidates`` to the ``fixed`` sensors one at a time, each time the one whose layout
    ``score`` rates highest; ``score(layouts)`` returns (gains, standard errors) of a list of layouts (sensor
    tuples), all of one step at once so that they share their random numbers (math §20.4). ``done``: steps
    of an interrupted run, kept; ``on_step`` is called with each new step."""
    pool = [int(c) for c in candidates if c not in set(fixed)]
    if not 1 <= k <= len(pool):
        raise ValueError(f"k={k}: choose between 1 and the {len(pool)} candidate sensors")
    chosen, steps = tuple(int(f) for f in fixed), list(done)
    for step in steps:
        chosen += (step.sensor,)
        pool.remove(step.sensor)
    while len(steps) < k:
        layouts = [tuple(sorted(chosen + (c,))) for c in pool]
        gains, errors = score(layouts)
        order = np.argsort(gains)[::-1]
        best = int(order[0])
        margin = np.inf
        if len(order) > 1:  # in combined standard errors (conservative: the layouts share random numbers)
            second = int(order[1])
            margin = (gains[best] - gains[second]) / max(np.hypot(errors[best], errors[second]), 1e-300)
        steps.append(Step(pool[best], float(gains[best]), float(errors[best]), float(margin)))
        chosen += (pool.pop(best),)
        if on_step is not None:
            on_step(steps[-1])
    return steps
