"""Closed-form test distributions shared by the core tests (docs/math.md §9), and the seeded runs and z-scores
by which the exact-score sampler tests judge a sampler (tests/core/test_fast_samplers.py states the rule)."""

import math

import torch

from diffinv.core.exact import ConditionalGaussianEps, GaussianMixture
from diffinv.core.samplers import CountingScore, conditional_score

SEEDS = (0, 1, 2)  # the sampler tests' seeds: the first three of the ten their budgets were measured at
Z_FAIL = 5  # a sampler test fails at z >= 5; budgets are chosen at z <= 4 over ten seeds


def joint_gaussian():
    """Mean and covariance of a jointly Gaussian (x, y) in R^3: x the first two components, y the last."""
    a = torch.tensor([[1.0, 0.3, 0.5], [0.0, 0.8, -0.4], [0.2, 0.0, 0.6]], dtype=torch.float64)
    return torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64), a @ a.T + 0.05 * torch.eye(
        3, dtype=torch.float64
    )


def joint_gaussian_pairs(n: int = 50_000, seed: int = 0):
    """``n`` pairs (x0 (n, 2), y (n, 1)) drawn from :func:`joint_gaussian` with a seeded generator."""
    mean, cov = joint_gaussian()
    gen = torch.Generator().manual_seed(seed)
    joint = mean + torch.randn(n, 3, generator=gen, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    return joint[:, :2], joint[:, 2:]


def mixture_2d() -> GaussianMixture:
    """Three components, unequal weights, correlated covariances."""
    return GaussianMixture(
        weights=[0.5, 0.3, 0.2],
        means=[[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]],
        covs=[[[0.3, 0.0], [0.0, 0.3]], [[0.5, 0.2], [0.2, 0.3]], [[0.1, 0.0], [0.0, 0.1]]],
    )


def mixture_1d() -> GaussianMixture:
    """Two components in 1-D, one of them narrow."""
    return GaussianMixture([0.6, 0.4], [[-1.5], [1.0]], [[[0.2]], [[0.05]]])


Y_STAR = torch.tensor([[0.0], [2.0], [4.0]], dtype=torch.float64)  # the conditional tests' three measurements


def sample_mixture(run, mixture, formulation, n: int, seed: int):
    """``n`` samples by ``run(score, formulation, x_T, generator)`` on the mixture's exact score, x_T from the
    prior and any noise of the sampler from one generator seeded ``seed``; returns them and the calls."""
    gen = torch.Generator().manual_seed(seed)
    x_T = formulation.prior_sample((n, mixture.dim), generator=gen, dtype=torch.float64)
    score = CountingScore(lambda x, t: mixture.score(x, t, formulation))
    return run(score, formulation, x_T, gen), score.calls


def sample_conditional(run, formulation, n: int, seed: int, exact_start: bool = False):
    """x | y* of :func:`joint_gaussian` (x in R², y in R¹) for the three :data:`Y_STAR` at once, batched as
    (3, n, 2), by ``run(score, formulation, x_T, generator)`` on the exact conditional score; x_T from the
    prior, or with ``exact_start`` from the exact p_T(x | y*) = N(m μ(y*), m² C + s² I), and any noise of the
    sampler from one generator seeded ``seed``. Returns the samples, the score's calls and the exact posterior
    (μ (3, 2), C (2, 2))."""
    mean, cov = joint_gaussian()
    eps = ConditionalGaussianEps(mean, cov, 2, formulation)
    mu, C = eps.posterior(Y_STAR)
    gen = torch.Generator().manual_seed(seed)
    if exact_start:
        mu_T, C_T = law_at(mu, C, formulation, formulation.T)
        z = torch.randn(len(Y_STAR), n, 2, generator=gen, dtype=torch.float64)
        x_T = mu_T[:, None, :] + z @ torch.linalg.cholesky(C_T).T
    else:
        x_T = formulation.prior_sample((len(Y_STAR), n, 2), generator=gen, dtype=torch.float64)
    score = CountingScore(conditional_score(eps, formulation, Y_STAR[:, None, :]))
    return run(score, formulation, x_T, gen), score.calls, mu, C


def law_at(mean, cov, formulation, t: float):
    """Mean m μ and covariance m² Σ + s² I at time t of data with mean μ (..., d) and covariance Σ (d, d)."""
    t = torch.tensor(t, dtype=torch.float64)
    m, s = formulation.m(t), formulation.s(t)
    return m * mean, m**2 * cov + s**2 * torch.eye(cov.shape[-1], dtype=torch.float64)


def moment_z_scores(x, mean, cov) -> dict[str, float]:
    """Largest |error| / standard error of the means and the covariance entries of samples ``x`` (..., n, d)
    of laws with mean ``mean`` (..., d) and covariance ``cov`` (d, d).

    Standard errors are those of an exact sample of the same size: sqrt(var/n) for a mean, the sample std of
    (x_i - x̄_i)(x_j - x̄_j) over sqrt(n) for a covariance entry.
    """
    n = x.shape[-2]
    z_mean = ((x.mean(-2) - mean) / torch.sqrt(torch.diagonal(cov) / n)).abs().max()
    d = x - x.mean(-2, keepdim=True)
    products = d[..., :, None] * d[..., None, :]  # (..., n, d, d)
    sample_cov = products.sum(-3) / (n - 1)
    z_cov = ((sample_cov - cov) / (products.std(-3) / math.sqrt(n))).abs().max()
    return {"mean": z_mean.item(), "cov": z_cov.item()}


def gaussian_z_scores(x, mu, C) -> dict[str, float]:
    """:func:`moment_z_scores` of samples ``x`` (n_y, n, d) of the posteriors N(μ_i, C), the law the samplers
    return: their final step takes them from t_eps to σ = 0 (docs/math.md §5.4) with a width error of order
    (σ(t_eps)²/C)², far below these tests' resolution."""
    return moment_z_scores(x, mu, C)


def mixture_z_scores(x, mixture) -> dict[str, float]:
    """:func:`moment_z_scores` of a sample ``x`` (n, d) of the mixture, the law the samplers return (as in
    :func:`gaussian_z_scores`), and the largest |error| / standard error of the component weights.

    A weight's estimate is the mean responsibility (exactly w_k in expectation, where the nearest component's
    frequency is not); its standard error is at most the binomial sqrt(w (1 - w)/n), which is used.
    """
    z = moment_z_scores(x, *mixture.mean_and_covariance())
    freq = mixture.responsibilities(x).mean(0)
    se_w = torch.sqrt(mixture.weights * (1 - mixture.weights) / x.shape[0])
    return z | {"weights": ((freq - mixture.weights) / se_w).abs().max().item()}


CDF_POINTS = torch.linspace(-2.5, 1.5, 9, dtype=torch.float64)  # across both components of mixture_1d


def cdf_z_score(x, mixture) -> float:
    """Largest |F_n(q) - F(q)| / sqrt(F(q) (1 - F(q)) / n) over the :data:`CDF_POINTS` q: the empirical CDF of
    a 1-D sample ``x`` (n, 1) against the exact CDF of the 1-D mixture, Σ w_k Φ((q - μ_k)/σ_k), in binomial
    standard errors."""
    points = CDF_POINTS
    std = torch.sqrt(mixture.covs[:, 0, 0])
    cdf = (mixture.weights * torch.special.ndtr((points[:, None] - mixture.means[:, 0]) / std)).sum(-1)
    empirical = (x[:, 0, None] <= points).double().mean(0)
    return ((empirical - cdf) / torch.sqrt(cdf * (1 - cdf) / len(x))).abs().max().item()
