"""Formulation identities against closed forms (docs/math.md §1–3, §9)."""

import inspect
import math

import pytest
import torch

from diffinv.core.formulations import (
    SIGMA_EPS,
    T_EPS_MIN,
    TERMINAL_RATIO,
    VE,
    VP,
    VPFamily,
    calibration_warnings,
    largest_kappa,
    smallest_safe_kappa,
)
from tests.conftest import FORMULATIONS

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
     VPFamily(1e-3, 15.0, kappa=0.11), VPFamily(0.1, 20.0, kappa=50.0, t_eps=1e-3), VPFamily(5.0, 5.0)],
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


@pytest.mark.parametrize(
    "form", list(FORMULATIONS.values()) + [VE(1e-4, 5.0), VPFamily(1e-3, 15.0, kappa=5.0)]
)
def test_sampling_ends_at_sigma_eps(form):
    """t_eps = t_of_sigma(σ_eps): every formulation stops at the same noise-to-signal ratio (docs/math.md
    §5.4), unless σ(0) is above it (VE with σ_min > σ_eps stops at t = 0, σ = σ_min)."""
    expected = max(SIGMA_EPS, form.sigma_min) if isinstance(form, VE) else SIGMA_EPS
    assert form.sigma_end == pytest.approx(expected, rel=1e-9)
    assert (form.t_eps == 0) == (isinstance(form, VE) and form.sigma_min >= SIGMA_EPS)
    wider = type(form)(**{k: getattr(form, k) for k in _parameters(form)}, sigma_eps=0.05)
    assert wider.sigma_end == pytest.approx(0.05, rel=1e-9) and wider.t_eps > form.t_eps


def _parameters(form):
    return [k for k in inspect.signature(type(form)).parameters if k not in ("sigma_eps", "t_eps")]


def test_explicit_t_eps_replaces_sigma_eps():
    """The paper's time-based end: t_eps = 1e-3 leaves σ(t_eps) = 0.064 for VP κ = 2 (default schedule)."""
    form = VPFamily(1e-3, 15.0, kappa=2.0, t_eps=1e-3)
    assert form.t_eps == 1e-3 and form.sigma_end == pytest.approx(0.0642, abs=1e-4)
    assert form.label == "VP-κ=2 t_eps=0.001"
    assert VPFamily(1e-3, 15.0, kappa=2.0, sigma_eps=1e-4).label == "VP-κ=2 σ_eps=0.0001"


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: VPFamily(1e-3, 15.0, kappa=0.01), r"kappa=0.01 .*sigma_eps=0.001 is never reached"),
        (lambda: VE(1e-3, 5.0, sigma_eps=6.0), r"sigma_eps=6.0 is never reached.*sigma\(T\) = 5"),
        (lambda: VPFamily(1e-3, 15.0, kappa=6.0), r"kappa=6.0 .*the largest kappa here is 5.37"),
        (lambda: VPFamily(1e-3, 15.0, kappa=0.05, t_eps=1e-3), r"kappa=0.05 .*s\(t_eps\) = 1.92e-64"),
        (lambda: VP(1e-3, 15.0, t_eps=0.0), "t_eps must be > 0 here"),
        (lambda: VE(1e-3, 5.0, sigma_eps=0.0), "sigma_eps"),
    ],
)
def test_intervals_that_cannot_be_sampled_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_kappa_bounds_are_where_their_conditions_switch():
    """smallest_safe_kappa: σ(T) = TERMINAL_RATIO σ_d at the bound; largest_kappa: t_eps = T_EPS_MIN there
    (both rounded inwards to 3 digits, docs/math.md §12.9)."""
    for sigma_data in (1.0, 0.262):
        low = smallest_safe_kappa(1e-3, 15.0, sigma_data=sigma_data)
        sig_T = [float(VPFamily(1e-3, 15.0, kappa=k).sigma(torch.tensor(1.0, dtype=torch.float64)))
                 for k in (low, low * 0.99)]  # fmt: skip
        assert sig_T[0] >= TERMINAL_RATIO * sigma_data > sig_T[1]
    high = largest_kappa(1e-3, 15.0)
    assert VPFamily(1e-3, 15.0, kappa=high).t_eps >= T_EPS_MIN
    with pytest.raises(ValueError, match="largest kappa"):
        VPFamily(1e-3, 15.0, kappa=high * 1.01)


def test_calibration_warnings_name_what_cannot_be_calibrated():
    """A terminal σ(T) below 10 σ_d, an end σ(t_eps) above 0.01 σ_d; the defaults pass (docs/math.md §5.4)."""
    for form in (
        VE(1e-3, 5.0),
        VP(1e-3, 15.0),
        VPFamily(1e-3, 15.0, kappa=0.5),
        VPFamily(1e-3, 15.0, kappa=2.0),
    ):
        assert calibration_warnings(form, sigma_data=0.262) == []
    (late,) = calibration_warnings(VPFamily(1e-3, 15.0, kappa=2.0, t_eps=1e-3), sigma_data=0.262)
    assert "sampling ends at sigma = 0.0642" in late and "sigma_eps" in late
    (short,) = calibration_warnings(VPFamily(1e-3, 15.0, kappa=0.1), sigma_data=0.262)
    assert "sigma(T) = 1.74" in short and "kappa" in short
