"""The flux posterior on the whitened latent Gaussian, its log-density and gradient (docs/math.md §18.1).

Prior: ``z = m + S w`` with ``w ~ N(0, I)`` and ``S`` the symmetric square root of the GP covariance ``K``
(from its eigendecomposition: ``K`` is numerically singular, so it has no usable inverse or Cholesky factor);
the physical flux is ``q = max(z, 0)`` for the clipped prior and ``q = z`` otherwise. Likelihood: Gaussian,
``σ_n`` per reading, over the switched-on readings only. Up to a constant

    log π(w) = -½ |w|² - ½ |r(w)|²,   r(w) = (G(q(w)) - y)_on / σ_n,

    ∇ log π(w) = -w - (∂r/∂w)ᵀ r,      ∂r/∂w = (∂G/∂q)_on diag(1[z > 0]) S / σ_n   (clip: off → diag(1)).

The chains move ``w``; :meth:`LatentPosterior.physical` maps them to ``q``.
"""

from __future__ import annotations

import numpy as np


class LatentPosterior:
    """The posterior of one test case: readings ``y`` (m,), σ_n, sensor ``mask`` (m,) bool or None (all on).

    ``forward`` is called on (n, d) physical fluxes and returns (n, m) clean readings;
    ``forward.readings_and_jacobian(q)`` returns one flux's readings (m,) and ``∂y/∂q`` (m, d).
    ``solves`` counts the forward evaluations (one per flux).
    """

    def __init__(self, forward, prior_mean, prior_cov, y, noise_std: float, clip: bool, mask=None):
        if not noise_std > 0:
            raise ValueError(f"noise_std={noise_std}: the likelihood needs σ_n > 0")
        self.forward, self.clip, self.noise_std = forward, bool(clip), float(noise_std)
        self.prior_mean = np.asarray(prior_mean, dtype=np.float64)
        eigval, eigvec = np.linalg.eigh(np.asarray(prior_cov, dtype=np.float64))
        self.prior_sqrt = eigvec * np.sqrt(np.clip(eigval, 0.0, None))
        y = np.asarray(y, dtype=np.float64)
        self.on = np.ones(len(y), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        self.y_on = y[self.on]
        self.dim = len(self.prior_mean)
        self.solves = 0

    def latent(self, w: np.ndarray) -> np.ndarray:
        """``z = m + S w`` row-wise."""
        return self.prior_mean + np.asarray(w) @ self.prior_sqrt.T

    def physical(self, w: np.ndarray) -> np.ndarray:
        """The flux ``q``: ``max(z, 0)`` for the clipped prior, ``z`` otherwise."""
        z = self.latent(w)
        return np.maximum(z, 0.0) if self.clip else z

    def residual(self, w: np.ndarray) -> np.ndarray:
        """``r(w)`` row-wise, (n, m_on)."""
        w = np.atleast_2d(w)
        self.solves += len(w)
        return (np.asarray(self.forward(self.physical(w)))[:, self.on] - self.y_on) / self.noise_std

    def log_prob(self, w: np.ndarray) -> np.ndarray:
        """Unnormalised ``log π(w)`` for each row of ``w`` (n, d) -> (n,)."""
        w = np.atleast_2d(w)
        return -0.5 * (np.sum(w**2, axis=1) + np.sum(self.residual(w) ** 2, axis=1))

    def residual_and_jacobian(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``r(w)`` (m_on,) and ``∂r/∂w`` (m_on, d) of one point ``w`` (d,)."""
        z = self.latent(w)
        active = (z > 0).astype(np.float64) if self.clip else np.ones_like(z)
        readings, jac = self.forward.readings_and_jacobian(np.maximum(z, 0.0) if self.clip else z)
        self.solves += 1
        r = (readings[self.on] - self.y_on) / self.noise_std
        return r, (jac[self.on] * active) @ self.prior_sqrt / self.noise_std

    def log_prob_and_grad(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        """``log π(w)`` and ``∇ log π(w)`` of one point ``w`` (d,)."""
        r, dr = self.residual_and_jacobian(w)
        return -0.5 * (w @ w + r @ r), -w - dr.T @ r
