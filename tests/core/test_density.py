"""log_prob through the probability-flow ODE against closed forms (docs/math.md §17): with the exact score
the flow carries p_T to p_{t_eps}, and the prior N(0, prior_std² I) to a law in closed form for Gaussians."""

import math

import pytest
import torch

from diffinv.core.density import log_prob
from diffinv.core.exact import ConditionalGaussianEps, GaussianMixture, linear_gaussian_joint
from diffinv.core.formulations import VE, VP
from diffinv.core.samplers import CountingScore, conditional_score
from tests.helpers.closed_forms import SEEDS, Y_STAR, joint_gaussian, law_at

TOL = 0.01  # nats: the exact divergence (docs/math.md §17.2) at the default rtol = atol = 1e-6


def mixture_score(mixture, formulation):
    return lambda x, t: mixture.score(x, t, formulation)


def test_exact_divergence_reproduces_the_mixture_density(formulation, mixture_2d):
    """p_{t_eps} of a three-component mixture (docs/math.md §9.2) from its exact score and exact p_T, at 12
    points drawn with each seed."""
    x = torch.cat([mixture_2d.sample(12, torch.Generator().manual_seed(seed))[0] for seed in SEEDS])
    got = log_prob(
        mixture_score(mixture_2d, formulation),
        formulation,
        x,
        divergence="exact",
        terminal_log_prob=lambda z: mixture_2d.log_prob(z, formulation.T, formulation),
    )
    want = mixture_2d.log_prob(x, formulation.t_eps, formulation)
    assert (got - want).abs().max() < TOL


def test_exact_divergence_reproduces_the_conditional_gaussian_density(formulation):
    """p_{t_eps}(x | y*) = N(m μ(y*), m² C + s² I) for the three measurements at once, batched (3, n, 2),
    through the ε-model the samplers call (conditional_score)."""
    mean, cov = joint_gaussian()
    eps = ConditionalGaussianEps(mean, cov, 2, formulation)
    mu, C = eps.posterior(Y_STAR)
    mu_e, C_e = law_at(mu, C, formulation, formulation.t_eps)
    mu_T, C_T = law_at(mu, C, formulation, formulation.T)
    gen = torch.Generator().manual_seed(0)
    x = mu_e[:, None, :] + torch.randn(3, 30, 2, dtype=torch.float64, generator=gen)
    score = conditional_score(eps, formulation, Y_STAR[:, None, :])
    terminal = torch.distributions.MultivariateNormal(mu_T[:, None, :], C_T)
    got = log_prob(score, formulation, x, terminal_log_prob=terminal.log_prob)
    want = torch.distributions.MultivariateNormal(mu_e[:, None, :], C_e).log_prob(x)
    assert got.shape == (3, 30)
    assert (got - want).abs().max() < TOL


def pushed_prior(mu, C, formulation):
    """The law of the ODE sampler's output from the prior N(0, σ_T² I) with the exact score of N(μ, C): the
    flow is the affine map x_T -> m_e μ + M (x_T - m_T μ), M = Σ_e^{1/2} Σ_T^{-1/2}, Σ_t = m_t² C + s_t² I
    (both diagonal in C's eigenbasis; docs/math.md §17.1), so q = N(m_e μ - M m_T μ, σ_T² M Mᵀ)."""
    vals, vecs = torch.linalg.eigh(C)
    t_e, t_T = (torch.tensor(t, dtype=torch.float64) for t in (formulation.t_eps, formulation.T))
    m_e, s_e, m_T, s_T = formulation.m(t_e), formulation.s(t_e), formulation.m(t_T), formulation.s(t_T)
    ratio = torch.sqrt((m_e**2 * vals + s_e**2) / (m_T**2 * vals + s_T**2))
    M = vecs @ torch.diag(ratio) @ vecs.T
    return m_e * mu - m_T * mu @ M.T, formulation.prior_std**2 * M @ M.T


def test_default_start_gives_the_density_of_the_samplers_output(formulation):
    """Without ``terminal_log_prob`` the result is log q of what the ODE sampler draws from N(0, σ_T² I)
    (closed form for a Gaussian), which differs from log p_{t_eps} where p_T is not exactly the prior."""
    mu = torch.tensor([1.5, -2.0], dtype=torch.float64)
    C = torch.tensor([[0.3, 0.1], [0.1, 0.2]], dtype=torch.float64)
    gauss = GaussianMixture([1.0], [mu.tolist()], [C.tolist()])
    q_mean, q_cov = pushed_prior(mu, C, formulation)
    x = q_mean + torch.randn(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) @ (
        torch.linalg.cholesky(q_cov).T
    )
    got = log_prob(mixture_score(gauss, formulation), formulation, x)
    want = torch.distributions.MultivariateNormal(q_mean, q_cov).log_prob(x)
    assert (got - want).abs().max() < TOL


def flux_like_problem(d: int = 30, m: int = 30, noise: float = 0.05):
    """A linear–Gaussian problem of the flux problems' size in normalised units (docs/math.md §9.4): a GP
    prior on d segments, m sensors of a smoothing forward map, noise ``noise`` times the mean |y|."""
    pts = torch.linspace(0, 1, d, dtype=torch.float64)
    K = 0.04 * torch.exp(-((pts[:, None] - pts[None]) ** 2) / (2 * 0.1**2)) + 1e-4 * torch.eye(d)
    sensors = torch.linspace(0, 1, m, dtype=torch.float64)
    A = torch.exp(-((sensors[:, None] - pts[None]) ** 2) / (2 * 0.05**2)) / d
    mu = torch.full((d,), 0.5, dtype=torch.float64)
    sigma_n = noise * float((A @ mu).abs().mean())
    return linear_gaussian_joint(mu, K, A, sigma_n**2 * torch.eye(m)), d


@pytest.mark.parametrize("divergence", ["auto", "hutchinson"])
def test_thirty_dimensions_linear_gaussian(divergence):
    """30 unknowns (the flux problems' size): ``auto`` is the exact divergence (within 0.01 nats); Hutchinson
    with 8 Rademacher probes is unbiased — its mean error over 24 points within 4 standard errors — with a
    per-point spread stated in docs/math.md §17.3 (about 2 nats here)."""
    form = VE(sigma_min=0.001, sigma_max=5.0)
    (mean, cov), d = flux_like_problem()
    eps = ConditionalGaussianEps(mean, cov, d, form)
    y = mean[d:] + 0.1
    mu, C = eps.posterior(y)
    mu_e, C_e = law_at(mu, C, form, form.t_eps)
    mu_T, C_T = law_at(mu, C, form, form.T)
    exact_e = torch.distributions.MultivariateNormal(mu_e, C_e)
    z = torch.randn(24, d, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x = mu_e + z @ torch.linalg.cholesky(C_e).T
    score = CountingScore(conditional_score(eps, form, y))
    terminal = torch.distributions.MultivariateNormal(mu_T, C_T).log_prob
    gen = torch.Generator().manual_seed(3)
    options = {"divergence": divergence, "n_probes": 8, "generator": gen}
    got = log_prob(score, form, x, terminal_log_prob=terminal, **options)
    err = got - exact_e.log_prob(x)
    if divergence == "auto":
        assert err.abs().max() < TOL
    else:
        assert err.mean().abs() < 4 * err.std() / math.sqrt(len(err)) + TOL
        assert 0 < err.std() < 3.0


@pytest.mark.slow
def test_hutchinson_is_unbiased_and_its_spread_shrinks_with_probes(mixture_2d):
    """Mean error over 64 points within 4 standard errors of 0 for each probe kind; the spread with 16
    probes about a quarter of that with 1 (1/sqrt(K), within sampling error)."""
    form = VP(beta_min=0.1, beta_max=20.0)
    x, _ = mixture_2d.sample(64, torch.Generator().manual_seed(5))
    want = mixture_2d.log_prob(x, form.t_eps, form)
    terminal = lambda z: mixture_2d.log_prob(z, form.T, form)  # noqa: E731
    spread = {}
    for probe, n_probes in (("rademacher", 1), ("rademacher", 16), ("gaussian", 4)):
        gen = torch.Generator().manual_seed(n_probes)
        got = log_prob(
            mixture_score(mixture_2d, form), form, x, divergence="hutchinson", n_probes=n_probes,
            probe=probe, generator=gen, terminal_log_prob=terminal,
        )  # fmt: skip
        err = got - want
        assert err.mean().abs() < 4 * err.std() / 8 + TOL, (probe, n_probes)
        spread[probe, n_probes] = err.std().item()
    assert 0.15 < spread["rademacher", 16] / spread["rademacher", 1] < 0.4


def test_the_score_is_called_inside_the_time_span_in_the_score_dtype(mixture_2d):
    form = VE(sigma_min=0.01, sigma_max=50.0)
    seen = []

    def score(x, t):
        seen.append((x.dtype, t.dtype, float(t.min()), float(t.max())))
        return mixture_2d.score(x, t, form).to(x.dtype)

    out = log_prob(score, form, mixture_2d.sample(5)[0].float())
    assert out.dtype == torch.float64 and out.shape == (5,)
    assert all(xd == td == torch.float32 for xd, td, *_ in seen)
    assert min(lo for *_, lo, _ in seen) >= form.t_eps * (1 - 1e-6)
    assert max(hi for *_, hi in seen) <= form.T * (1 + 1e-6)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"divergence": "trace"}, "divergence must be one of"),
        ({"probe": "uniform"}, "probe must be one of"),
        ({"n_probes": 0}, "n_probes must be an integer >= 1"),
        ({"rtol": 0.0}, "rtol and atol must be > 0"),
    ],
)
def test_bad_options_are_refused_by_name(options, message):
    form = VE(sigma_min=0.01, sigma_max=50.0)
    with pytest.raises(ValueError, match=message):
        log_prob(lambda x, t: -x, form, torch.zeros(3, 2), **options)


def test_inference_mode_is_refused():
    form = VE(sigma_min=0.01, sigma_max=50.0)
    with torch.inference_mode(), pytest.raises(RuntimeError, match="outside torch.inference_mode"):
        log_prob(lambda x, t: -x, form, torch.zeros(3, 2))
