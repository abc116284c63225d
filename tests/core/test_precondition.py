"""EDM preconditioning for the unified kernel and the loss options (docs/math.md §12.1, §13)."""

import pytest
import torch

from diffinv.core.exact import ConditionalGaussianEps
from diffinv.core.formulations import VE, VP
from diffinv.core.losses import dsm_loss, lognormal_times
from diffinv.core.networks import ScoreMLP
from diffinv.core.precondition import EDMPrecond
from diffinv.core.samplers import conditional_score, sample_dpmpp_3m
from tests.helpers.closed_forms import SEEDS, joint_gaussian, joint_gaussian_pairs

torch.set_num_threads(1)

TIMES = [1e-3, 0.01, 0.1, 0.5, 1.0]


class ExactInner(torch.nn.Module):
    """The raw network F that makes EDMPrecond exact: F = (D - c_skip x̂)/c_out, D the mixture's exact
    denoiser, with σ and x̂ recovered from the wrapper's own inputs (c_noise = ¼ ln σ, u = c_in x̂)."""

    def __init__(self, mixture, sigma_data):
        super().__init__()
        self.mixture, self.sd = mixture, sigma_data

    def forward(self, u, c_noise, y, mask=None):
        sigma = torch.exp(4 * c_noise)[..., None]
        root = torch.sqrt(sigma**2 + self.sd**2)
        x_hat = u * root
        D = self.mixture.denoiser(x_hat, sigma[..., 0])
        c_skip, c_out = self.sd**2 / root**2, sigma * self.sd / root
        return (D - c_skip * x_hat) / c_out


def test_exact_denoiser_is_tweedie(formulation, mixture_2d):
    """D(x/m; σ) = (x + s² ∇ log p_t(x))/m and ∇ log p_t = (m D - x)/s² (docs/math.md §12.1)."""
    x = 3 * torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for t in TIMES:
        tt = torch.full((50,), t, dtype=torch.float64)
        m, s, sig = formulation.m(tt)[:, None], formulation.s(tt)[:, None], formulation.sigma(tt)
        D = mixture_2d.denoiser(x / m, sig)
        score = mixture_2d.score(x, tt, formulation)
        torch.testing.assert_close(D, (x + s**2 * score) / m, rtol=1e-9, atol=1e-9)
        # m D - x cancels to -s ε: its round-off 1e-16 |x| grows by 1/s² (s(t_eps) = 5.5e-5 for κ = 0.5)
        atol = 1e-14 * (x.abs().max() / s.min() ** 2).item()
        torch.testing.assert_close((m * D - x) / s**2, score, rtol=1e-7, atol=atol)


@pytest.mark.parametrize("sigma_data", [0.5, 1.0, 2.0])
def test_preconditioned_score_equals_the_exact_score(formulation, mixture_2d, sigma_data):
    """EDMPrecond around the exact inner F gives ε̂ whose score -ε̂/s is the exact mixture score."""
    model = EDMPrecond(ExactInner(mixture_2d, sigma_data), formulation, sigma_data)
    x = 3 * torch.randn(4, 50, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = torch.zeros(4, 50, 0, dtype=torch.float64)
    for t in TIMES:
        tt = torch.full((4, 50), t, dtype=torch.float64)
        score = -model(x, tt, y) / formulation.s(tt)[..., None]
        exact = mixture_2d.score(x, tt, formulation)
        torch.testing.assert_close(score, exact, rtol=1e-6, atol=1e-6 * exact.abs().max().item())
        exact_D = mixture_2d.denoiser(x / formulation.m(tt)[..., None], formulation.sigma(tt))
        torch.testing.assert_close(model.denoiser(x, tt, y), exact_D, rtol=1e-9, atol=1e-9)


def test_coefficients_give_unit_variance_input_and_target(formulation):
    """c_in² (σ² + σ_d²) = 1, (1 - c_skip)² σ_d² + c_skip² σ² = c_out², and c_in x̂ = x / √(s² + m² σ_d²)."""
    model = EDMPrecond(torch.nn.Identity(), formulation, sigma_data=0.7)
    t = torch.linspace(1e-3, 1, 40, dtype=torch.float64)
    c = model.coefficients(t)
    sig2, sd2 = c["sigma"] ** 2, 0.49
    torch.testing.assert_close(c["c_in"] ** 2 * (sig2 + sd2), torch.ones_like(sig2))
    torch.testing.assert_close((1 - c["c_skip"]) ** 2 * sd2 + c["c_skip"] ** 2 * sig2, c["c_out"] ** 2)
    torch.testing.assert_close(c["c_in"] / c["m"], 1 / torch.sqrt(c["s"] ** 2 + c["m"] ** 2 * sd2))
    torch.testing.assert_close(c["c_noise"], 0.25 * torch.log(formulation.sigma(t)))


def test_wrapped_mlp_runs_through_sampler_and_loss():
    """The wrapper is an ε-model: shapes, dims, gradients, conditional_score and a sampler work unchanged."""
    torch.manual_seed(0)
    form = VP(1e-3, 15.0)
    net = EDMPrecond(ScoreMLP(x_dim=3, y_dim=2, mask_dim=2, width=16, depth=2), form, sigma_data=0.5)
    assert (net.x_dim, net.y_dim, net.mask_dim) == (3, 2, 2)
    x0, y, mask = torch.randn(64, 3), torch.randn(64, 2), (torch.rand(64, 2) < 0.7).float()
    for options in ({}, {"t_sampling": "lognormal", "weighting": "edm", "sigma_data": 0.5}):
        loss = dsm_loss(net, form, x0, y, mask, **options)
        loss.backward()
        assert torch.isfinite(loss) and all(p.grad is not None for p in net.parameters())
    with torch.no_grad():
        score = conditional_score(net, form, torch.randn(2, 1, 2), torch.ones(2, 1, 2))
        x = sample_dpmpp_3m(score, form, form.prior_sample((2, 5, 3)), steps=8)
    assert x.shape == (2, 5, 3) and torch.isfinite(x).all()
    with pytest.raises(ValueError, match="sigma_data"):
        EDMPrecond(net.net, form, sigma_data=0.0)


def test_default_loss_is_bit_for_bit_unchanged(formulation):
    """dsm_loss with no options draws and computes exactly what it always did (docs/math.md §6.1)."""
    mean, cov = joint_gaussian()
    eps = ConditionalGaussianEps(mean, cov, 2, formulation)
    joint = torch.randn(256, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + mean
    x0, y = joint[:, :2], joint[:, 2:]
    new = dsm_loss(eps, formulation, x0, y, generator=torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(1)  # the pre-options implementation, verbatim
    t = formulation.t_eps + (formulation.T - formulation.t_eps) * torch.rand(
        256, generator=gen, dtype=x0.dtype
    )
    z = torch.randn(x0.shape, generator=gen, dtype=x0.dtype)
    old = ((eps(formulation.perturb(x0, t, z), t, y, None) - z) ** 2).sum(dim=-1).mean()
    assert torch.equal(new, old)


def test_edm_weighting_is_the_preconditioned_target_loss(formulation, mixture_2d):
    """w(σ) ||ε̂ - z||² = λ(σ) ||D - x0||² = ||F - F_target||² per sample (docs/math.md §13.2)."""
    sd = 0.8
    inner = ScoreMLP(x_dim=2, y_dim=0, width=16, depth=1).double()
    model = EDMPrecond(inner, formulation, sigma_data=sd)
    x0 = mixture_2d.sample(512, torch.Generator().manual_seed(0))[0]
    y = torch.zeros(512, 0, dtype=torch.float64)
    with torch.no_grad():
        loss = dsm_loss(model, formulation, x0, y, generator=torch.Generator().manual_seed(1),
                        t_sampling="lognormal", weighting="edm", sigma_data=sd)  # fmt: skip
        gen = torch.Generator().manual_seed(1)  # the same draws: ln σ, then z
        t = lognormal_times(formulation, 512, generator=gen, dtype=torch.float64)
        z = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
        c = model.coefficients(t)
        x_hat = formulation.perturb(x0, t, z) / c["m"]
        target = (x0 - c["c_skip"] * x_hat) / c["c_out"]
        F = inner(c["c_in"] * x_hat, c["c_noise"], y)
    torch.testing.assert_close(loss, ((F - target) ** 2).sum(-1).mean(), rtol=1e-9, atol=0)


def test_lognormal_times(formulation):
    """t = t_of_sigma(σ), ln σ ~ N(-1.2, 1.2²), clamped into [t_eps, T]: the σ beyond [σ(t_eps), σ(T)] become
    point masses at the ends, of the normal law's tail probabilities (docs/math.md §13.3)."""
    n = 100_000
    t = lognormal_times(formulation, n, generator=torch.Generator().manual_seed(0), dtype=torch.float32)
    assert t.dtype == torch.float32
    t_eps, T = torch.tensor(formulation.t_eps).item(), formulation.T
    assert t.min().item() >= t_eps and t.max().item() <= T
    normal = torch.distributions.Normal(-1.2, 1.2)
    sig_min, sig_max = formulation.sigma(torch.tensor([formulation.t_eps, T], dtype=torch.float64)).tolist()
    ends = [
        ((t == t_eps).double().mean(), normal.cdf(torch.tensor(sig_min).log())),
        ((t == T).double().mean(), 1 - normal.cdf(torch.tensor(sig_max).log())),
    ]
    for observed, expected in ends:
        se = (expected * (1 - expected) / n) ** 0.5 + 1e-6
        assert abs(observed.item() - expected.item()) < 5 * se, (observed, expected)
    log_sigma = torch.log(formulation.sigma(t.double()))
    # the law's CDF at points inside [ln σ(t_eps), ln σ(T)] for every formulation here
    for q in (-2.0, -1.2, 0.0, 1.0):
        expected = normal.cdf(torch.tensor(q)).item()
        assert abs((log_sigma <= q).double().mean().item() - expected) < 5 * (0.25 / n) ** 0.5, q


@pytest.mark.parametrize(
    "options",
    [{"t_sampling": "lognormal"}, {"weighting": "edm"}, {"t_sampling": "lognormal", "weighting": "edm"}],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_weighted_losses_are_minimal_at_the_exact_score(options, seed):
    """Any weighting and law of t keeps the true score as the minimiser (docs/math.md §13.2)."""
    form = VE(0.01, 50.0)
    mean, cov = joint_gaussian()
    exact = ConditionalGaussianEps(mean, cov, 2, form)
    x0, y = joint_gaussian_pairs(seed=seed)

    def loss(model):  # (t, z) from another seed than the pairs': one stream would tie z to x0
        gen = torch.Generator().manual_seed(100 + seed)
        return dsm_loss(model, form, x0, y, generator=gen, **options).item()

    base = loss(exact)
    for delta in (0.05, 0.2):
        assert loss(lambda x, t, y, m, d=delta: exact(x, t, y) + d) > base
        assert loss(lambda x, t, y, m, d=delta: (1 + d) * exact(x, t, y)) > base


@pytest.mark.parametrize(
    "options, message",
    [({"t_sampling": "beta"}, "t_sampling"), ({"weighting": "snr"}, "weighting"),
     ({"p_std": 0.0}, "p_std"), ({"sigma_data": -1.0}, "sigma_data"), ({"p_mean": float("nan")}, "p_mean")],
)  # fmt: skip
def test_bad_loss_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        dsm_loss(lambda x, t, y, m: x, VP(0.1, 20.0), torch.zeros(4, 2), torch.zeros(4, 1), **options)
