"""Gaussian-process prior on the 30 segment fluxes (docs/problems.md §2).

``q = max(mean + f, 0)`` with ``f ~ N(0, K)``, ``K_ij = variance · exp(-|a_i - a_j|² / (2 ℓ²))`` over the
2-D segment centres ``a_i = (x_c, y_wall)`` (so the two walls correlate through their 2-unit distance).
``clip=False`` gives the linear–Gaussian variant whose posterior is closed-form (docs/math.md §9). ``K`` is
numerically singular (30 points, ℓ = 2 ≫ spacing 7/15), so samples use its symmetric square root from an
eigendecomposition with negative round-off eigenvalues set to zero, not a Cholesky factor.
"""

from __future__ import annotations

import numpy as np

from diffinv.problems.flux import geometry


def rbf_kernel(points: np.ndarray, lengthscale: float, variance: float) -> np.ndarray:
    """``variance · exp(-|a - b|² / (2 ℓ²))`` for all pairs of rows of ``points``."""
    sq = np.sum((points[:, None, :] - points[None, :, :]) ** 2, axis=-1)
    return variance * np.exp(-sq / (2.0 * lengthscale**2))


class GPFluxPrior:
    """The seeded flux prior; ``mean``/``cov`` describe the Gaussian before clipping."""

    def __init__(self, mean: float = 2.0, lengthscale: float = 2.0, variance: float = 1.0, clip: bool = True):
        if lengthscale <= 0 or variance <= 0:
            raise ValueError(
                f"problem.prior: lengthscale and variance must be > 0, got {lengthscale}, {variance}"
            )
        self.clip = bool(clip)
        self.mean = np.full(geometry.NUM_SEGMENTS, float(mean))
        self.cov = rbf_kernel(geometry.segment_centres(), lengthscale, variance)
        eigval, eigvec = np.linalg.eigh(self.cov)
        self._sqrt = eigvec * np.sqrt(np.clip(eigval, 0.0, None))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, 30) fluxes; negatives clipped to 0 unless ``clip=False``."""
        q = self.mean + rng.standard_normal((n, geometry.NUM_SEGMENTS)) @ self._sqrt.T
        return np.maximum(q, 0.0) if self.clip else q
