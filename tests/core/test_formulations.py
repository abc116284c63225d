"""Formulation identities against closed forms (docs/math.md §1–3, §9)."""

import math

import pytest
import torch

from diffinv.core.formulations import VE, VP, VPFamily

T_GRID = torch.linspace(0.01, 1.0, 50, dtype=torch.float64)


@pytest.mark.parametrize("kappa", [0.5, 1.0, 2.0])
def test_vp_family_invariant(kappa):
    """m^{2κ} + s^{2κ} = 1 (docs/math.md §3.1)."""
    form = VPFamily(0.1, 20.0, kappa=kappa)
    lhs = form.m(T_GRID) ** (2 * kappa) + form.s(T_GRID) ** (2 * kappa)
    torch.testing.assert_close(lhs, torch.ones_like(lhs), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "form",
    [VE(0.01, 50.0), VPFamily(0.1, 20.0, kappa=0.5), VP(0.1, 20.0), VPFamily(0.1, 20.0, kappa=2.0)],
    ids=["VE", "VPk0.5", "VP", "VPk2"],
)
def test_variance_ode_and_mean(form):
    """d(s²)/dt = 2 f s² + g² and dm/dt = f m (docs/math.md §1.3), by autograd in float64."""
    t = T_GRID.clone().requires_grad_(True)
    s2, m = form.s(t) ** 2, form.m(t) + 0 * t  # + 0·t: VE's m is a constant with no graph
    (ds2,) = torch.autograd.grad(s2.sum(), t)
    (dm,) = torch.autograd.grad(m.sum(), t)
    with torch.no_grad():
        rhs = 2 * form.f(t) * s2 + form.g2(t)
        torch.testing.assert_close(ds2, rhs, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(dm, form.f(t) * m, rtol=1e-10, atol=1e-12)


def test_vp_is_textbook_vp_sde():
    """κ = 1 equals the VP SDE of Song et al. (2021): their closed-form mean factor and std, g² = β."""
    b0, b1 = 0.1, 20.0
    form = VP(b0, b1)
    t = T_GRID
    log_mean = -0.25 * t**2 * (b1 - b0) - 0.5 * t * b0  # score_sde_pytorch sde_lib.VPSDE.marginal_prob
    torch.testing.assert_close(form.m(t), torch.exp(log_mean), rtol=1e-13, atol=0)
    torch.testing.assert_close(form.s(t), torch.sqrt(1 - torch.exp(2 * log_mean)), rtol=1e-12, atol=0)
    torch.testing.assert_close(form.g2(t), b0 + t * (b1 - b0), rtol=1e-13, atol=0)
    torch.testing.assert_close(form.f(t), -0.5 * (b0 + t * (b1 - b0)), rtol=1e-13, atol=0)


def test_ve_schedule():
    form = VE(0.001, 12.0)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    torch.testing.assert_close(form.s(t), torch.tensor([0.001, math.sqrt(0.012), 12.0], dtype=torch.float64))
    assert torch.all(form.m(t) == 1) and torch.all(form.f(t) == 0)
    assert form.prior_std == 12.0


def test_prior_sample_shape_and_std():
    form = VP(0.1, 20.0)
    gen = torch.Generator().manual_seed(0)
    x = form.prior_sample((100_000, 3), generator=gen, dtype=torch.float64)
    assert x.shape == (100_000, 3) and x.dtype == torch.float64
    # std of a sample std with n = 3e5 draws is ~ 0.0013; allow 4 of them
    assert abs(x.std().item() - form.prior_std) < 0.006
    assert abs(form.prior_std - math.sqrt(1 - math.exp(-(0.1 + 19.9 / 2)))) < 1e-12


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: VE(0.0, 1.0), "sigma_min"),
        (lambda: VE(1.0, 1.0), "sigma_min must be < sigma_max"),
        (lambda: VE(0.1, float("nan")), "sigma_max"),
        (lambda: VPFamily(0.1, 20.0, kappa=0.0), "kappa"),
        (lambda: VPFamily(0.1, 20.0, kappa=-1.0), "kappa"),
        (lambda: VPFamily(-0.1, 20.0), "beta_min"),
        (lambda: VPFamily(30.0, 20.0), "beta_min must be <= beta_max"),
        (lambda: VP(0.1, 20.0, T=0.0), "T"),
        (lambda: VE(0.1, 1.0, T=1.0, t_eps=2.0), "t_eps"),
    ],
)
def test_invalid_parameters_are_named(build, name):
    with pytest.raises(ValueError, match=name):
        build()


@pytest.mark.parametrize(
    "form",
    [VE(0.01, 50.0), VPFamily(0.1, 20.0, kappa=0.5), VP(0.1, 20.0), VPFamily(0.1, 20.0, kappa=2.0),
     VPFamily(1e-3, 15.0, kappa=0.11), VPFamily(0.1, 20.0, kappa=50.0), VPFamily(5.0, 5.0)],
    ids=["VE", "VPk0.5", "VP", "VPk2", "VPk0.11", "VPk50", "VPconstbeta"],
)  # fmt: skip
def test_sigma_and_its_inverse(form):
    """σ = s/m, increasing, and t_of_sigma inverts it in closed form (docs/math.md §12.2)."""
    t = torch.linspace(form.t_eps, form.T, 200, dtype=torch.float64)
    sigma = form.sigma(t)
    torch.testing.assert_close(sigma, form.s(t) / form.m(t), rtol=1e-12, atol=0)
    assert (sigma.diff() > 0).all()
    torch.testing.assert_close(form.t_of_sigma(sigma), t, rtol=1e-12, atol=1e-15)
    # the base class's generic bisection agrees with the closed form
    generic = super(type(form), form) if isinstance(form, VE) else super(VPFamily, form)
    torch.testing.assert_close(generic.t_of_sigma(sigma), t, rtol=1e-9, atol=1e-12)


def test_vp_sigma_closed_forms():
    """κ-family: σ^{2κ} = e^{κB} - 1 and m = (1 + σ^{2κ})^{-1/(2κ)} (the invariant solved for m)."""
    for kappa in (0.5, 1.0, 2.0):
        form = VPFamily(0.1, 20.0, kappa=kappa)
        sigma = form.sigma(T_GRID)
        torch.testing.assert_close(
            sigma ** (2 * kappa), torch.expm1(kappa * form.B(T_GRID)), rtol=1e-12, atol=0
        )
        torch.testing.assert_close(
            form.m(T_GRID), (1 + sigma ** (2 * kappa)) ** (-0.5 / kappa), rtol=1e-12, atol=0
        )
