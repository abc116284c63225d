"""Gaussian-process prior on the 30 segment fluxes (docs/problems.md §2).

``q = max(mean + f, 0)`` with ``f ~ N(0, K)``, ``K_ij = variance · exp(-|a_i - a_j|² / (2 ℓ²))`` over the
2-D segment centres ``a_i = (x_c, y_wall)`` (so the two walls correlate through their 2-unit distance):
:class:`data_gen.priors.GaussianProcess` at those points, no nugget. ``clip=False`` gives the
linear–Gaussian variant whose posterior is closed-form (docs/math.md §9). ``K`` is numerically singular
(30 points, ℓ = 2 ≫ spacing 7/15), which the process's eigendecomposition square root allows.
"""

from __future__ import annotations

import numpy as np

from data_gen.priors import GaussianProcess
from diffinv.problems.flux import geometry


class GPFluxPrior(GaussianProcess):
    """The seeded flux prior; ``mean``/``cov`` describe the Gaussian before clipping."""

    def __init__(self, mean: float = 2.0, lengthscale: float = 2.0, variance: float = 1.0, clip: bool = True):
        if lengthscale <= 0 or variance <= 0:
            raise ValueError(
                f"problem.prior: lengthscale and variance must be > 0, got {lengthscale}, {variance}"
            )
        super().__init__(
            points=geometry.segment_centres(), mean=mean, lengthscale=lengthscale, variance=variance
        )
        self.clip = bool(clip)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, 30) fluxes; negatives clipped to 0 unless ``clip=False``."""
        q = super().sample(rng, n)
        return np.maximum(q, 0.0) if self.clip else q
