"""Closed forms used to test formulations and samplers and to check posteriors exactly (docs/math.md §9)."""

from __future__ import annotations

import math

import torch

from diffinv.core.formulations import Formulation


class GaussianMixture:
    """``p_0 = Σ_k w_k N(μ_k, Σ_k)``; any formulation keeps it one: ``p_t = Σ_k w_k N(m μ_k, m² Σ_k + s² I)``.

    (docs/math.md §9.)

    Computations are in float64. ``score(x, t, formulation)`` is the exact ``∇_x log p_t`` for ``x`` of
    shape (..., d) and ``t`` of shape (...) or scalar.
    """

    def __init__(self, weights, means, covs):
        self.weights = torch.as_tensor(weights, dtype=torch.float64)
        self.means = torch.as_tensor(means, dtype=torch.float64)
        self.covs = torch.as_tensor(covs, dtype=torch.float64)
        k, d = self.means.shape
        if self.weights.shape != (k,) or self.covs.shape != (k, d, d):
            raise ValueError(
                f"mixture shapes disagree: weights {tuple(self.weights.shape)}, means {(k, d)}, "
                f"covs {tuple(self.covs.shape)} (need (K,), (K, d), (K, d, d))"
            )
        if (self.weights <= 0).any() or abs(float(self.weights.sum()) - 1) > 1e-12:
            raise ValueError(f"mixture weights must be > 0 and sum to 1, got {self.weights.tolist()}")
        self.dim = d
        self._eigvals, self._eigvecs = torch.linalg.eigh(self.covs)

    def sample(self, n: int, generator: torch.Generator | None = None):
        """``n`` samples and their component labels."""
        labels = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        chol = torch.linalg.cholesky(self.covs)
        return self.means[labels] + (chol[labels] @ z.unsqueeze(-1)).squeeze(-1), labels

    def mean_and_covariance(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The mixture's exact mean ``Σ w_k μ_k`` and covariance ``Σ w_k (Σ_k + μ_k μ_kᵀ) - μ μᵀ``."""
        mean = (self.weights[:, None] * self.means).sum(0)
        outer = self.means[:, :, None] * self.means[:, None, :]
        second = (self.weights[:, None, None] * (self.covs + outer)).sum(0)
        return mean, second - torch.outer(mean, mean)

    def responsibilities(
        self, x: torch.Tensor, t=None, formulation: Formulation | None = None
    ) -> torch.Tensor:
        """Posterior component probabilities under ``p_t`` (under ``p_0`` without ``t``), shape (..., K)."""
        if formulation is None:
            ones = torch.ones(x.shape[:-1], dtype=torch.float64, device=x.device)
            return torch.softmax(self._log_terms_ms(x, ones, 0 * ones)[0], dim=-1)
        return torch.softmax(self._log_terms(x, t, formulation)[0], dim=-1)

    def log_prob(self, x: torch.Tensor, t, formulation: Formulation) -> torch.Tensor:
        """Exact ``log p_t(x) = log Σ_k w_k N(x; m μ_k, m² Σ_k + s² I)`` (float64, shape ``x.shape[:-1]``)."""
        log_terms, _ = self._log_terms(x, t, formulation)
        return torch.logsumexp(log_terms, dim=-1) - 0.5 * self.dim * math.log(2 * math.pi)

    def score(self, x: torch.Tensor, t, formulation: Formulation) -> torch.Tensor:
        """Exact ``∇_x log p_t(x)``: ``Σ_k r_k(x) C_k⁻¹ (m μ_k - x)``."""
        log_terms, prec_diff = self._log_terms(x, t, formulation)
        resp = torch.softmax(log_terms, dim=-1)
        return -(resp.unsqueeze(-1) * prec_diff).sum(dim=-2).to(x.dtype)

    def denoiser(self, x_hat: torch.Tensor, sigma) -> torch.Tensor:
        """Exact ``D(x̂; σ) = E[x0 | x0 + σ z = x̂] = x̂ + σ² ∇ log (p_0 * N(0, σ² I))(x̂)`` (math §12.1)."""
        sigma = torch.as_tensor(sigma, dtype=torch.float64, device=x_hat.device).expand(x_hat.shape[:-1])
        log_terms, prec_diff = self._log_terms_ms(x_hat, torch.ones_like(sigma), sigma)
        resp = torch.softmax(log_terms, dim=-1)
        score = -(resp.unsqueeze(-1) * prec_diff).sum(dim=-2)
        return (x_hat.to(torch.float64) + sigma[..., None] ** 2 * score).to(x_hat.dtype)

    def _log_terms(self, x, t, formulation):
        t = torch.as_tensor(t, dtype=torch.float64, device=x.device).expand(x.shape[:-1])
        return self._log_terms_ms(x, formulation.m(t), formulation.s(t))

    def _log_terms_ms(self, x, m, s):
        """Per-component log-weights ``log w_k N(x; m μ_k, m² Σ_k + s² I)`` and ``C_k⁻¹ (x - m μ_k)``.

        With ``Σ_k = U_k diag(λ_k) U_kᵀ`` (computed once), ``C_k = U_k diag(m² λ_k + s²) U_kᵀ``, so no
        matrix is factorised per sample.
        """
        x64 = x.to(torch.float64)
        m = m[..., None, None]  # (..., 1, 1)
        s2 = s[..., None, None] ** 2
        var = m**2 * self._eigvals + s2  # (..., K, d): eigenvalues of C_k
        diff = x64.unsqueeze(-2) - m * self.means  # (..., K, d)
        rot = torch.einsum("kij,...ki->...kj", self._eigvecs, diff)  # U_kᵀ diff
        sol = torch.einsum("kij,...kj->...ki", self._eigvecs, rot / var)  # C_k⁻¹ diff
        log_terms = torch.log(self.weights) - 0.5 * ((rot**2 / var).sum(-1) + torch.log(var).sum(-1))
        return log_terms, sol


class ConditionalGaussianEps:
    """Exact ε-model of jointly Gaussian (x, y) with ``x`` the first ``x_dim`` components
    (docs/math.md §6, §9).

    ``ε(x, t, y) = -s ∇_x log N(x; m μ(y), m² C + s² I) = s (m² C + s² I)⁻¹ (x - m μ(y))`` with
    ``N(μ(y), C) = p_0(x | y)``; same call signature as :class:`diffinv.core.networks.ScoreMLP`, so losses
    and samplers can run on it. ``C`` does not depend on ``y``: it is diagonalised once, ``C = V diag(c) Vᵀ``,
    so no matrix is factorised per call or per sample.
    """

    def __init__(self, mean, cov, x_dim, formulation):
        self.mean, self.cov, self.d, self.form = mean, cov, x_dim, formulation
        _, post_cov = self.posterior(torch.as_tensor(mean)[x_dim:])
        self._post_var, self._post_vecs = torch.linalg.eigh(post_cov)

    def posterior(self, y):
        d = self.d
        m, c = self.mean, self.cov
        return gaussian_condition(m[:d], m[d:], c[:d, :d], c[:d, d:], c[d:, d:], y)

    def __call__(self, x, t, y, mask=None):
        mu, _ = self.posterior(y)
        m, s = self.form.m(t)[..., None], self.form.s(t)[..., None]
        rot = (x - m * mu) @ self._post_vecs  # Vᵀ (x - m μ), row-wise
        return s * (rot / (m**2 * self._post_var + s**2)) @ self._post_vecs.T


def gaussian_condition(mean_x, mean_y, cov_xx, cov_xy, cov_yy, y):
    """``p(x | y)`` of jointly Gaussian (x, y): ``G = Σ_xy Σ_yy⁻¹``, mean ``μ_x + G (y - μ_y)``,
    covariance ``Σ_xx - G Σ_yx`` (docs/math.md §9). ``y`` may be (m,) or batched (n, m). Uses a
    pseudo-inverse so a singular ``Σ_yy`` (noise-free, rank-deficient operator) is allowed.
    """
    mean_x, mean_y, cov_xx, cov_xy, cov_yy, y = (
        torch.as_tensor(a, dtype=torch.float64) for a in (mean_x, mean_y, cov_xx, cov_xy, cov_yy, y)
    )
    gain = cov_xy @ torch.linalg.pinv(cov_yy, hermitian=True)
    mean = mean_x + (y - mean_y) @ gain.T
    cov = cov_xx - gain @ cov_xy.T
    return mean, 0.5 * (cov + cov.T)


def linear_gaussian_joint(mu, K, A, Sigma_e, shift=0.0, scale=1.0):
    """Mean and covariance of ``(x, y)`` for ``x ~ N(μ, K)``, ``y = A x + e``, ``e ~ N(0, Σ_e)``
    (docs/math.md §9.4), in the units ``((x, y) - shift) / scale`` per component of the concatenation (a
    network's normalised units, §7.3). :class:`ConditionalGaussianEps` on it is the exact ε-model of the
    network trained on such pairs; its posterior is :func:`linear_gaussian_posterior` mapped the same way.
    """
    mu, K, A, Sigma_e, shift, scale = (
        torch.as_tensor(a, dtype=torch.float64) for a in (mu, K, A, Sigma_e, shift, scale)
    )
    d = len(mu)
    lin = torch.cat([torch.eye(d, dtype=torch.float64), A])  # (x, y) = lin x + (0, e)
    cov = lin @ K @ lin.T
    cov[d:, d:] += Sigma_e
    scale = scale.expand(len(lin))
    return (lin @ mu - shift) / scale, cov / torch.outer(scale, scale)


def linear_gaussian_posterior(mu, K, A, Sigma_e, y):
    """Posterior of ``x ~ N(μ, K)``, ``y = A x + e``, ``e ~ N(0, Σ_e)`` (docs/math.md §9),
    valid for ``Σ_e = 0``."""
    mu, K, A, Sigma_e = (torch.as_tensor(a, dtype=torch.float64) for a in (mu, K, A, Sigma_e))
    return gaussian_condition(mu, A @ mu, K, K @ A.T, A @ K @ A.T + Sigma_e, y)
