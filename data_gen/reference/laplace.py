"""MAP point and Laplace (Gauss–Newton) covariance of a :class:`LatentPosterior` (docs/math.md §18.2).

``-log π(w) = ½ |R(w)|²`` with the stacked residual ``R(w) = (r(w), w)``, so the MAP is a nonlinear least-
squares problem: SciPy's Levenberg–Marquardt (MINPACK, ``least_squares(method="lm")``) with the exact Jacobian
``∂R/∂w = (∂r/∂w, I)``. The Laplace covariance is the Gauss–Newton one,
``Γ = ((∂R/∂w)ᵀ ∂R/∂w)⁻¹ = ((∂r/∂w)ᵀ ∂r/∂w + I)⁻¹`` at the MAP — exact for a linear forward map without
clipping. It only shapes the MCMC proposal; the Metropolis–Hastings correction makes the chains exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from data_gen.reference.posterior import LatentPosterior


@dataclass(frozen=True)
class Laplace:
    """``N(mean, cov)`` in the whitened latent coordinates ``w``; ``solves``: forward solves spent."""

    mean: np.ndarray
    cov: np.ndarray
    solves: int


def laplace(posterior: LatentPosterior, start: np.ndarray | None = None, xtol: float = 1e-10) -> Laplace:
    """The MAP from ``start`` (default the prior mean, ``w = 0``) and the Gauss–Newton covariance there."""
    solves_before = posterior.solves
    cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def evaluate(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = w.tobytes()
        if key not in cache:
            cache.clear()
            r, dr = posterior.residual_and_jacobian(w)
            cache[key] = (np.concatenate([r, w]), np.vstack([dr, np.eye(len(w))]))
        return cache[key]

    w0 = np.zeros(posterior.dim) if start is None else np.asarray(start, dtype=np.float64)
    fit = least_squares(
        lambda w: evaluate(w)[0], w0, jac=lambda w: evaluate(w)[1], method="lm", xtol=xtol, ftol=1e-12
    )
    if not fit.success:
        raise RuntimeError(f"laplace: the MAP search did not converge ({fit.message})")
    jac = evaluate(fit.x)[1]
    cov = np.linalg.inv(jac.T @ jac)
    return Laplace(mean=fit.x, cov=0.5 * (cov + cov.T), solves=posterior.solves - solves_before)
