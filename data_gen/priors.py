"""Priors of the unknown for problems of one's own (docs/design.md §9): a Gaussian process over coordinates.

A prior is any object with ``sample(rng, n) -> (n, d)``; one that also has ``mean`` (d,) and ``cov`` (d, d)
is Gaussian, which together with a linear forward model gives the exact posterior (docs/math.md §9), and
``coords`` (d, k) and ``shape`` (the grid's, or None) place the unknown for figures. A plain function
``f(rng, n)`` works too (:func:`as_prior`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def rbf_kernel(points: np.ndarray, lengthscale: float, variance: float) -> np.ndarray:
    """``variance · exp(-|a - b|² / (2 ℓ²))`` for all pairs of rows of ``points``."""
    sq = np.sum((points[:, None, :] - points[None, :, :]) ** 2, axis=-1)
    return variance * np.exp(-sq / (2.0 * lengthscale**2))


def grid_points(shape: Sequence[int], bounds: Sequence[Sequence[float]] | None = None) -> np.ndarray:
    """The vertices of a regular grid of ``shape`` points (one entry per axis) spanning ``bounds`` (one
    ``[low, high]`` per axis; the unit cube for None), row-major ("ij") order: (prod(shape), len(shape))."""
    shape = [int(n) for n in shape]
    if not shape or min(shape) < 1:
        raise ValueError(f"prior grid: need at least one point per axis, got shape {shape}")
    bounds = [[0.0, 1.0]] * len(shape) if bounds is None else [list(map(float, b)) for b in bounds]
    if len(bounds) != len(shape) or any(len(b) != 2 for b in bounds):
        raise ValueError(f"prior bounds: need one [low, high] per grid axis ({len(shape)}), got {bounds}")
    axes = [np.linspace(lo, hi, n) for (lo, hi), n in zip(bounds, shape, strict=True)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(shape))


class GaussianProcess:
    """``x ~ N(mean, K)`` at the points of a grid (``grid``: points per axis, ``bounds``) or at given
    ``points`` (d, k), ``K = rbf_kernel + nugget · variance · I`` (the nugget keeps ``K`` invertible where
    the kernel alone is singular to round-off; docs/design.md §9). Samples use the symmetric square root of
    ``K`` from an eigendecomposition (negative round-off eigenvalues set to zero), not a Cholesky factor."""

    def __init__(
        self,
        grid: Sequence[int] | None = None,
        bounds: Sequence[Sequence[float]] | None = None,
        points: Sequence[Sequence[float]] | None = None,
        mean: float = 0.0,
        lengthscale: float = 1.0,
        variance: float = 1.0,
        nugget: float = 0.0,
    ):
        if (grid is None) == (points is None):
            raise ValueError("give either grid (points per axis) or points (one row per unknown)")
        if lengthscale <= 0 or variance <= 0 or nugget < 0:
            raise ValueError(
                f"need lengthscale > 0, variance > 0 and nugget >= 0, got {lengthscale}, {variance}, {nugget}"
            )
        if grid is not None:
            self.shape = tuple(int(n) for n in grid)
            self.coords = grid_points(self.shape, bounds)
        else:
            self.shape = None
            self.coords = np.asarray(points, dtype=np.float64)
            if self.coords.ndim == 1:
                self.coords = self.coords[:, None]
        d = len(self.coords)
        self.mean = np.full(d, float(mean))
        self.cov = rbf_kernel(self.coords, lengthscale, variance) + nugget * variance * np.eye(d)
        eigval, eigvec = np.linalg.eigh(self.cov)
        self._sqrt = eigvec * np.sqrt(np.clip(eigval, 0.0, None))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, d) draws."""
        return self.mean + rng.standard_normal((n, len(self.mean))) @ self._sqrt.T


class _FunctionPrior:
    """A plain ``f(rng, n) -> (n, d)`` as a prior (nothing known but its samples)."""

    def __init__(self, function):
        self.sample = function


def as_prior(prior):
    """``prior`` itself when it has ``sample``, a callable ``f(rng, n)`` wrapped, else a clear error."""
    if hasattr(prior, "sample"):
        return prior
    if callable(prior):
        return _FunctionPrior(prior)
    raise ValueError(f"problem.simulator.prior: {prior!r} has no sample(rng, n) and is not callable")
