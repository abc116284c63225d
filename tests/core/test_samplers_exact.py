"""Samplers driven by exact scores reproduce the data, no training involved (docs/math.md §5, §9).

Judged by the rule of tests/core/test_fast_samplers.py: the largest z-score (|error| / standard error) is
below Z_FAIL = 5 at each of the seeds 0, 1, 2, and every sampler here measured z <= 4 at seeds 0-9 with
sampling ending at σ_ε and the final step (docs/math.md §5.4; ``python -m benchmarks.sampler_budgets``, groups
fixed, conditional and cdf_1d of benchmarks/sampler_budgets.json: largest z 3.6, 3.97 and 3.4).
"""

import math

import pytest
import torch

from diffinv.core.exact import GaussianMixture
from diffinv.core.formulations import VE, VP
from diffinv.core.samplers import sample_heun, sample_ode, sample_sde
from tests.helpers.closed_forms import (
    SEEDS,
    Z_FAIL,
    cdf_z_score,
    gaussian_z_scores,
    mixture_1d,
    mixture_2d,
    mixture_z_scores,
    sample_conditional,
    sample_mixture,
)

torch.set_num_threads(1)

N = 20_000
# run(score, formulation, x_T, generator)
SAMPLERS = {
    "sde_lam1": lambda fn, F, x, g: sample_sde(fn, F, x, steps=500, lam=1.0, generator=g),
    "sde_lam0.5": lambda fn, F, x, g: sample_sde(fn, F, x, steps=500, lam=0.5, generator=g),
    # λ = 0: the explicit Euler ODE (torchdiffeq's euler, measured: 500 steps VE z 5.8, 1000 within the rule)
    "ode_euler": lambda fn, F, x, g: sample_sde(fn, F, x, steps=1000, lam=0.0),
    "ode_heun": lambda fn, F, x, g: sample_heun(fn, F, x, steps=35),  # the mixture budget on karras (z 3.7)
    "ode_rk45": lambda fn, F, x, g: sample_ode(fn, F, x, method="rk45"),
}
SHIPPED = ("sde_lam1", "ode_rk45")  # sampler=euler_maruyama and sampler=rk45 (recipe=paper); the rest: slow


@pytest.mark.parametrize(
    "sampler", [s if s in SHIPPED else pytest.param(s, marks=pytest.mark.slow) for s in SAMPLERS]
)
def test_gaussian_mixture_2d(formulation, sampler):
    """Moments and component weights within Z_FAIL standard errors at every seed (the rule of
    tests/core/test_fast_samplers.py: each of these step counts measured z <= 4 at ten seeds)."""
    mixture = mixture_2d()
    for seed in SEEDS:
        x, _ = sample_mixture(SAMPLERS[sampler], mixture, formulation, N, seed)
        assert torch.isfinite(x).all()
        z = mixture_z_scores(x, mixture)
        assert max(z.values()) < Z_FAIL, (seed, z)


# the 1-D test's samplers: Euler-Maruyama fails the rule for VP κ = 2 at 500 steps (the shipped count; z 5.6)
# and at 1000 (z 4.5)
CDF_SAMPLERS = {
    "sde_lam1_2000": lambda fn, F, x, g: sample_sde(fn, F, x, steps=2000, lam=1.0, generator=g),
    "ode_rk45": SAMPLERS["ode_rk45"],
}


@pytest.mark.parametrize(
    "sampler", [pytest.param(s, marks=pytest.mark.slow) if s.startswith("sde") else s for s in CDF_SAMPLERS]
)  # Euler-Maruyama at 2000 steps: slow (65 s)
def test_gaussian_mixture_1d_distribution(formulation, sampler):
    """The empirical CDF of a 1-D mixture with a narrow component within Z_FAIL binomial standard errors of
    the exact CDF at 9 points, at every seed."""
    mixture = mixture_1d()
    for seed in SEEDS:
        x, _ = sample_mixture(CDF_SAMPLERS[sampler], mixture, formulation, N, seed)
        z = cdf_z_score(x, mixture)
        assert z < Z_FAIL, (seed, z)


@pytest.mark.parametrize("form", [VE(0.01, 50.0), VP(0.1, 20.0)], ids=["VE", "VP"])
def test_conditional_gaussian_batched_over_measurements(form):
    """x | y* for three y* at once, batched as (n_y, N, d): exact conditional means and covariance within
    Z_FAIL standard errors at every seed."""
    for seed in SEEDS:
        x, _, mu, C = sample_conditional(SAMPLERS["sde_lam1"], form, N, seed)
        z = gaussian_z_scores(x, mu, C)
        assert max(z.values()) < Z_FAIL, (seed, z)


def test_tweedie_denoising_recovers_gaussian_mean():
    """At t_eps the Tweedie step (x + s² ŝ)/m is the exact posterior mean E[x0 | x_t] for Gaussian data."""
    form = VP(0.1, 20.0)
    gm = GaussianMixture([1.0], [[1.0, -1.0]], [[[0.5, 0.1], [0.1, 0.4]]])
    gen = torch.Generator().manual_seed(4)
    x_T = form.prior_sample((N, 2), generator=gen, dtype=torch.float64)
    x = sample_ode(lambda x, t: gm.score(x, t, form), form, x_T, final_step="tweedie")
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
