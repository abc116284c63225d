"""The sampler API (diffinv.core.samplers, docs/math.md §5, §12): samplers keep no autograd history unless
asked, and a solver on a grid of one's own is what the sampler runs on the grid it builds."""

import pytest
import torch

from diffinv.core.formulations import VP, VPFamily
from diffinv.core.samplers import (
    dpmpp,
    euler_maruyama,
    heun,
    karras_times,
    sample_dpmpp_2m_sde,
    sample_dpmpp_3m,
    sample_heun,
    sample_ode,
    sample_sde,
    step_to_zero,
    time_grid,
)
from diffinv.core.samplers.scores import SigmaNodes

FORM = VPFamily(0.1, 20.0, kappa=2.0)
SAMPLERS = {
    "sde": lambda f, x, **kw: sample_sde(f, FORM, x, 5, **kw),
    "ode": lambda f, x, **kw: sample_ode(f, FORM, x, rtol=1e-3, atol=1e-3, **kw),
    "heun": lambda f, x, **kw: sample_heun(f, FORM, x, steps=3, **kw),
    "3m": lambda f, x, **kw: sample_dpmpp_3m(f, FORM, x, steps=5, final_step="tweedie", **kw),
    "2m sde": lambda f, x, **kw: sample_dpmpp_2m_sde(f, FORM, x, steps=5, **kw),
}


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_no_autograd_history_unless_asked(sampler):
    """A score with a trainable parameter: by default the samples carry no graph (memory of one step, not of
    every step); ``grad=True`` keeps it, and the gradient through the whole sampler is finite and nonzero."""
    scale = torch.nn.Parameter(torch.tensor(0.7))
    score = lambda x, t: -scale * x  # noqa: E731
    x_T = torch.randn(16, 2)
    x = SAMPLERS[sampler](score, x_T)
    assert x.grad_fn is None and not x.requires_grad
    x = SAMPLERS[sampler](score, x_T, grad=True)
    (g,) = torch.autograd.grad(x.square().sum(), scale)
    assert torch.isfinite(g) and g != 0


def test_solvers_on_an_explicit_grid_are_what_the_samplers_run():
    """k-diffusion's shape: build a grid, hand it to a solver, take the final step to σ = 0; the same as the
    sampler that builds it."""
    form, score = VP(0.1, 20.0), lambda x, t: -x / (1 + t[..., None])
    x_T = torch.randn(8, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ts = karras_times(form, 9, rho=5.0)
    gen = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    assert torch.equal(
        step_to_zero(score, form, euler_maruyama(score, form, x_T, ts, lam=0.5, generator=gen())),
        sample_sde(score, form, x_T, 9, lam=0.5, schedule="karras", rho=5.0, generator=gen()),
    )
    nodes = SigmaNodes(score, form, time_grid(form, 9, "logsnr"))
    x_hat = dpmpp(nodes, x_T / nodes.m[0], nodes.sigmas, order=3, solver_type="heun")
    assert torch.equal(
        step_to_zero(score, form, nodes.m[-1] * x_hat, "tweedie"),
        sample_dpmpp_3m(score, form, x_T, steps=9, final_step="tweedie"),
    )
    nodes = SigmaNodes(score, form, ts)
    x_hat = heun(nodes, x_T / nodes.m[0], nodes.sigmas)
    assert torch.equal(
        nodes.m[-1] * x_hat, sample_heun(score, form, x_T, steps=9, rho=5.0, final_step="none")
    )
