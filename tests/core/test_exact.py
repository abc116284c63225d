"""The closed forms themselves, against first principles (docs/math.md §9.3)."""

import pytest
import torch

from diffinv.core.exact import ConditionalGaussianEps
from diffinv.core.formulations import VE, VP
from tests.helpers.closed_forms import joint_gaussian


@pytest.mark.parametrize("form", [VE(0.01, 50.0), VP(0.1, 20.0)], ids=["VE", "VP"])
def test_conditional_eps_is_minus_s_times_the_autograd_score_of_the_noised_posterior(form):
    """ε(x_t, t, y) = -s ∇ log N(x_t; m μ(y), m² C + s² I), the gradient by autograd, per (x_t, t, y) row."""
    mean, cov = joint_gaussian()
    exact = ConditionalGaussianEps(mean, cov, 2, form)
    gen = torch.Generator().manual_seed(0)
    n = 64
    x = 3 * torch.randn(n, 2, generator=gen, dtype=torch.float64)
    y = 2 * torch.randn(n, 1, generator=gen, dtype=torch.float64)
    t = form.t_eps + (form.T - form.t_eps) * torch.rand(n, generator=gen, dtype=torch.float64)
    mu, C = exact.posterior(y)
    m, s = form.m(t)[:, None], form.s(t)[:, None]
    noised = torch.distributions.MultivariateNormal(
        m * mu, m[..., None] ** 2 * C + s[..., None] ** 2 * torch.eye(2, dtype=torch.float64)
    )
    x.requires_grad_(True)
    (score,) = torch.autograd.grad(noised.log_prob(x).sum(), x)
    eps = exact(x.detach(), t, y)
    torch.testing.assert_close(eps, -s * score, rtol=1e-10, atol=1e-12)
    # the sign and size are not trivially right: ε points away from the noised mean, of order 1
    assert ((eps * (x.detach() - m * mu)).sum(-1) > 0).all() and 0.1 < eps.norm(dim=-1).median() < 10
