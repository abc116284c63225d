"""Samplers driven by exact scores reproduce the data, no training involved (docs/math.md §5, §9).

Tolerances are multiples of the Monte Carlo standard error for the sample size used, plus the
discretisation error of the step counts (which the rk45 column shows to be below sampling error).
"""

import math

import pytest
import torch
from scipy.stats import wasserstein_distance

from diffinv.core.exact import ConditionalGaussianEps, GaussianMixture
from diffinv.core.formulations import VE, VP
from diffinv.core.samplers import conditional_score, sample_heun, sample_ode, sample_sde
from tests.helpers.closed_forms import assert_gaussian_samples, joint_gaussian

N = 20_000
SAMPLERS = {
    "sde_lam1": lambda fn, F, x, g: sample_sde(fn, F, x, steps=500, lam=1.0, generator=g),
    "sde_lam0.5": lambda fn, F, x, g: sample_sde(fn, F, x, steps=500, lam=0.5, generator=g),
    "ode_euler": lambda fn, F, x, g: sample_sde(fn, F, x, steps=500, lam=0.0),  # λ = 0: explicit Euler ODE
    "ode_heun": lambda fn, F, x, g: sample_heun(fn, F, x, steps=50),
    "ode_rk45": lambda fn, F, x, g: sample_ode(fn, F, x, method="rk45"),
}


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_gaussian_mixture_2d(formulation, sampler, mixture_2d):
    gen = torch.Generator().manual_seed(1)
    x_T = formulation.prior_sample((N, 2), generator=gen, dtype=torch.float64)
    x = SAMPLERS[sampler](lambda x, t: mixture_2d.score(x, t, formulation), formulation, x_T, gen)
    assert torch.isfinite(x).all()
    mean, cov = mixture_2d.mean_and_covariance()
    # standard error of a mean is sqrt(var/N) (<= 0.013 here): allow 5 of them.
    se_mean = torch.sqrt(torch.diagonal(cov) / N)
    assert torch.all((x.mean(0) - mean).abs() < 5 * se_mean), (x.mean(0), mean)
    # a covariance entry of this mixture has standard error <= 0.03 at N = 20,000: allow 0.12.
    assert torch.allclose(torch.cov(x.T), cov, atol=0.12), (torch.cov(x.T), cov)
    # component weights (nearest component at t_eps) within 5 binomial standard errors
    labels = mixture_2d.responsibilities(x, formulation.t_eps, formulation).argmax(-1)
    freq = torch.bincount(labels, minlength=3).double() / N
    se_w = torch.sqrt(mixture_2d.weights * (1 - mixture_2d.weights) / N)
    assert torch.all((freq - mixture_2d.weights).abs() < 5 * se_w), (freq, mixture_2d.weights)


@pytest.mark.parametrize("sampler", ["sde_lam1", "ode_rk45"])
def test_gaussian_mixture_1d_wasserstein(formulation, sampler):
    """Exact 1-D W1 to a large exact sample is within 3x the floor (an independent exact sample of size N)."""
    gm = GaussianMixture([0.6, 0.4], [[-1.5], [1.0]], [[[0.2]], [[0.05]]])
    gen = torch.Generator().manual_seed(2)
    reference = gm.sample(400_000, gen)[0].squeeze(-1).numpy()
    floor = wasserstein_distance(gm.sample(N, gen)[0].squeeze(-1).numpy(), reference)
    x_T = formulation.prior_sample((N, 1), generator=gen, dtype=torch.float64)
    x = SAMPLERS[sampler](lambda x, t: gm.score(x, t, formulation), formulation, x_T, gen)
    w1 = wasserstein_distance(x.squeeze(-1).numpy(), reference)
    assert w1 < 3 * floor + 0.005, (w1, floor)


@pytest.mark.parametrize("form", [VE(0.01, 50.0), VP(0.1, 20.0)], ids=["VE", "VP"])
def test_conditional_gaussian_batched_over_measurements(form):
    """x | y* for three y* at once, batched as (n_y, N, d): exact conditional mean and covariance."""
    mean, cov = joint_gaussian()  # x in R^2, y in R^1
    eps = ConditionalGaussianEps(mean, cov, 2, form)
    y_star = torch.tensor([[0.0], [2.0], [4.0]], dtype=torch.float64)
    gen = torch.Generator().manual_seed(3)
    x_T = form.prior_sample((3, N, 2), generator=gen, dtype=torch.float64)
    x = sample_sde(conditional_score(eps, form, y_star[:, None, :]), form, x_T, steps=500, generator=gen)
    mu, C = eps.posterior(y_star)
    assert_gaussian_samples(x, mu, C)


def test_tweedie_denoising_recovers_gaussian_mean():
    """At t_eps the Tweedie step (x + s² ŝ)/m is the exact posterior mean E[x0 | x_t] for Gaussian data."""
    form = VP(0.1, 20.0)
    gm = GaussianMixture([1.0], [[1.0, -1.0]], [[[0.5, 0.1], [0.1, 0.4]]])
    gen = torch.Generator().manual_seed(4)
    x_T = form.prior_sample((N, 2), generator=gen, dtype=torch.float64)
    x = sample_ode(lambda x, t: gm.score(x, t, form), form, x_T, denoise=True)
    assert torch.all((x.mean(0) - gm.means[0]).abs() < 5 * math.sqrt(0.5 / N))


def test_bad_input_is_named():
    form = VP(0.1, 20.0)
    fn = lambda x, t: -x  # noqa: E731
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="unknown ODE method 'rk4'"):
        sample_ode(fn, form, x, method="rk4")
    with pytest.raises(ValueError, match="unknown ODE method 'heun'.*sample_heun"):
        sample_ode(fn, form, x, method="heun")
    with pytest.raises(ValueError, match="steps"):
        sample_sde(fn, form, x, steps=0)
    with pytest.raises(ValueError, match="lam"):
        sample_sde(fn, form, x, steps=10, lam=-1.0)
    with pytest.raises(ValueError, match="rtol"):
        sample_ode(fn, form, x, rtol=0.0)
    with pytest.raises(ValueError, match="x_T"):
        sample_sde(fn, form, torch.zeros(4, dtype=torch.long), steps=10)
