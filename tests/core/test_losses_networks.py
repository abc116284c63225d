"""DSM loss (docs/math.md §6) and the conditional MLP (docs/math.md §7)."""

import math
import re

import pytest
import torch

from diffinv.core.exact import ConditionalGaussianEps
from diffinv.core.formulations import VE, VP
from diffinv.core.losses import dsm_loss
from diffinv.core.networks import ScoreMLP, ScoreResMLP
from diffinv.core.precondition import EDMPrecond
from diffinv.core.samplers import conditional_score, sample_heun
from tests.helpers.closed_forms import SEEDS, Z_FAIL, joint_gaussian, joint_gaussian_pairs


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("form", [VE(0.01, 50.0), VP(0.1, 20.0)], ids=["VE", "VP"])
def test_dsm_loss_is_minimal_at_the_exact_score(form, seed):
    """Perturbing the exact conditional ε (hence score) raises the loss; same (t, z) draws for all.

    A shift by δ adds E||δ||² = 2δ² in expectation (E[ε* - z | x_t, y] = 0) plus the cross term
    2δ Σ_d (ε*_d - z_d), whose standard error is at most 2δ sqrt(d · loss / n) (Cauchy–Schwarz, d = 2).
    """
    mean, cov = joint_gaussian()
    exact = ConditionalGaussianEps(mean, cov, 2, form)
    x0, y = joint_gaussian_pairs(seed=seed)

    def loss(model):  # (t, z) from another seed than the pairs': one stream would tie z to x0
        return dsm_loss(model, form, x0, y, generator=torch.Generator().manual_seed(100 + seed)).item()

    base = loss(exact)
    # ε-loss at the optimum equals E tr Cov(z | x_t, y) <= d = 2
    assert 0 < base < 2
    se = math.sqrt(2 * base / len(x0))
    for delta in (0.05, 0.2):
        shifted = loss(lambda x, t, y, m, d=delta: exact(x, t, y) + d)
        scaled = loss(lambda x, t, y, m, d=delta: (1 + d) * exact(x, t, y))
        assert abs(shifted - base - 2 * delta**2) < Z_FAIL * 2 * delta * se, (delta, shifted - base)
        assert scaled > base, delta


def trained_samples(net, form, x0, y, y_star, steps):
    """Train ``net`` by DSM on the pairs (x0, y) for ``steps`` batches of 512, then draw 20,000 samples at
    ``y_star`` with 50 Heun steps. The rate decays linearly to 1 %: a constant-rate final iterate jitters by
    ~0.05 in the sampled mean."""
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.LinearLR(opt, 1.0, 0.01, total_iters=steps)
    for _ in range(steps):
        idx = torch.randint(0, len(x0), (512,))
        loss = dsm_loss(net, form, x0[idx], y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    with torch.inference_mode():
        x_T = form.prior_sample((20_000, x0.shape[-1]))
        return sample_heun(conditional_score(net, form, y_star), form, x_T, steps=50)


def test_trained_mlp_reproduces_1d_gaussian():
    """A small MLP trained by DSM on 1-D N(1.5, 0.5²) data, then sampled, matches mean and std."""
    torch.manual_seed(0)
    form = VP(0.1, 20.0)
    net = ScoreMLP(x_dim=1, y_dim=0, width=64, depth=2)
    data = 1.5 + 0.5 * torch.randn(4096, 1)
    x = trained_samples(net, form, data, torch.zeros(4096, 0), torch.zeros(1, 0), steps=1000)
    # training error dominates sampling error (se 0.004); seeds 0-3 measured <= 0.026 (mean), 0.019 (std)
    assert abs(x.mean().item() - 1.5) < 0.08, x.mean()
    assert abs(x.std().item() - 0.5) < 0.08, x.std()


def test_trained_resmlp_reproduces_a_conditional_gaussian():
    """The residual FiLM network behind EDM preconditioning (docs/math.md §7.5, as model=resmlp builds it),
    trained by DSM on pairs x ~ N(0, 1), y = x + 0.3 e, then sampled at y* = 1, matches the posterior
    N(1/1.09, 0.09/1.09)."""
    torch.manual_seed(0)
    form = VP(0.1, 20.0)
    net = EDMPrecond(ScoreResMLP(x_dim=1, y_dim=1, width=64, depth=2, embedding=32), form, sigma_data=1.0)
    x0 = torch.randn(8192, 1)
    x = trained_samples(net, form, x0, x0 + 0.3 * torch.randn(8192, 1), torch.ones(1, 1), steps=1500)
    mean, std = 1 / 1.09, math.sqrt(0.09 / 1.09)
    # training error dominates sampling error (se 0.002); seeds 0-3 measured <= 0.008 (mean), 0.017 (std)
    assert abs(x.mean().item() - mean) < 0.05, x.mean()
    assert abs(x.std().item() - std) < 0.05, x.std()


def test_resmlp_shapes_mask_and_conditioning():
    """Batch shapes are kept; the blocks start as the identity (their outer layer is zero), and the output
    depends on the readings, the mask and t from the start (through the stem)."""
    net = ScoreResMLP(x_dim=30, y_dim=31, mask_dim=30, width=32, depth=3, embedding=16)
    x, y, t = torch.randn(5, 7, 30), torch.randn(5, 7, 31), torch.rand(5, 7)
    mask = (torch.rand(5, 7, 30) < 0.7).float()
    out = net(x, t, y, mask)
    assert out.shape == (5, 7, 30)
    conditions = torch.cat([y, mask, net.time_embedding(t)], dim=-1)
    assert torch.allclose(out, net.head(net.stem(torch.cat([x, conditions], dim=-1))), atol=1e-6)
    for changed in (net(x, t, y + 1, mask), net(x, t, y, 1 - mask), net(x, t.flip(-1), y, mask)):
        assert (changed - out).abs().max() > 1e-3


def test_resmlp_rejects_wrong_shapes_and_bad_config():
    net = ScoreResMLP(x_dim=2, y_dim=2, width=8, embedding=4)
    with pytest.raises(ValueError, match="x_dim=2"):
        net(torch.randn(4, 3), torch.rand(4), torch.randn(4, 2))
    with pytest.raises(ValueError, match="mask_dim=0"):
        net(torch.randn(4, 2), torch.rand(4), torch.randn(4, 2), torch.ones(4, 2))
    with pytest.raises(ValueError, match="embedding must be an integer >= 1, got 0"):
        ScoreResMLP(2, 2, embedding=0)
    with pytest.raises(ValueError, match="depth"):
        ScoreResMLP(2, 2, depth=1.5)


def test_mlp_shapes_and_mask():
    net = ScoreMLP(x_dim=30, y_dim=30, mask_dim=30, width=32, depth=4)
    x, y, t = torch.randn(5, 7, 30), torch.randn(5, 7, 30), torch.rand(5, 7)
    mask = torch.rand(5, 7, 30) < 0.7
    assert net(x, t, y, mask).shape == (5, 7, 30)
    n_linear = sum(isinstance(m, torch.nn.Linear) for m in net.modules())
    assert n_linear == 5  # 4 hidden layers + output


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda n: n(torch.randn(4, 3), torch.rand(4), torch.randn(4, 2)), "x_dim=2"),
        (lambda n: n(torch.randn(4, 2), torch.rand(4), torch.randn(4, 5)), "y_dim=2"),
        (lambda n: n(torch.randn(4, 2), torch.rand(3), torch.randn(4, 2)), "t has shape"),
        (lambda n: n(torch.randn(4, 2), torch.rand(4), torch.randn(4, 2), torch.ones(4, 2)), "mask_dim=0"),
    ],
)
def test_mlp_rejects_wrong_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call(ScoreMLP(x_dim=2, y_dim=2, width=8))


def test_mlp_rejects_bad_config():
    with pytest.raises(ValueError, match="depth"):
        ScoreMLP(2, 2, depth=0)
    with pytest.raises(ValueError, match="mask_dim"):
        ScoreMLP(2, 2, mask_dim=3)(torch.randn(4, 2), torch.rand(4), torch.randn(4, 2))


def unet(mask_dim=0, **kw):
    from diffinv.core.networks import ScoreUNet

    sensors = [[0.0, 0.0], [1.0, 1.0], [0.6, 0.0], [0.7, 0.0], [0.0, 0.6]]  # the 3rd and 4th share a point
    return ScoreUNet(16, 5, grid=[4, 4], sensors=sensors, mask_dim=mask_dim, channels=(8, 8), **kw)


def test_unet_places_each_reading_at_its_sensors_grid_point():
    """docs/math.md §7.4: readings at the nearest grid point ((i, j) of the row-major 4 x 4 grid on the unit
    square), averaged where sensors share one, and the switched-on sensors marked in a second channel."""
    net = unet()
    y = torch.tensor([[1.0, 2.0, 3.0, 5.0, 7.0]])
    image = net._scatter(y)[0].reshape(4, 4)
    expected = torch.zeros(4, 4)
    expected[0, 0], expected[3, 3], expected[2, 0], expected[0, 2] = (
        1.0,
        2.0,
        4.0,
        7.0,
    )  # (3 + 5) / 2 at (2, 0)
    torch.testing.assert_close(image, expected)
    on = torch.tensor([[1.0, 0.0, 1.0, 0.0, 1.0]])
    marks = net._scatter(on)[0].reshape(4, 4)
    assert marks[3, 3] == 0 and marks[2, 0] == 0.5 and marks[0, 0] == marks[0, 2] == 1


def test_unet_keeps_batch_shapes_and_starts_at_zero():
    net = unet(mask_dim=5)
    x, t, y, mask = torch.randn(3, 7, 16), torch.rand(3, 7), torch.randn(3, 7, 5), torch.ones(3, 7, 5)
    out = net(x, t, y, mask)
    assert out.shape == (3, 7, 16) and torch.all(out == 0)  # zero-initialised output layer
    for p in net.parameters():  # a step away from zero changes the output and depends on the readings
        p.data.add_(0.05 * torch.randn_like(p))
    a, b = net(x, t, y, mask), net(x, t, y + 1, mask)
    assert not torch.allclose(a, b) and torch.isfinite(a).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grid": None}, "a U-Net needs a field on a 2-D grid"),
        ({"grid": [4, 5]}, "has 20 points, but x_dim=16"),
        ({"grid": [2, 8], "channels": (8, 8, 8)}, "divisible by 2^2"),
        ({"sensors": [[0.0, 0.0]] * 5 + [[0.5, 0.5]]}, "sensors must be (y_dim - noise_dim, 2)"),
        ({"sensors": [[0.0, 0.0]] * 4 + [[1.5, 0.5]]}, "outside the grid's bounds"),
    ],
)
def test_unet_refuses_what_does_not_fit(kwargs, message):
    from diffinv.core.networks import ScoreUNet

    args = {"grid": [4, 4], "sensors": [[0.0, 0.0]] * 5, "channels": (8, 8)} | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        ScoreUNet(16, 5, **args)


def test_unet_takes_an_amortized_models_noise_input_in_its_global_path():
    """noise_dim=1 (docs/math.md §19.1): y's last entry is the noise level, not a reading at a sensor."""
    from diffinv.core.networks import ScoreUNet

    sensors = [[0.0, 0.0], [1.0, 1.0], [0.5, 0.5]]
    net = ScoreUNet(16, 4, grid=[4, 4], sensors=sensors, noise_dim=1, channels=(8, 8))
    for p in net.parameters():
        p.data.add_(0.05 * torch.randn_like(p))
    x, t, y = torch.randn(2, 16), torch.rand(2), torch.randn(2, 4)
    assert net._scatter(y[:, :3]).shape == (2, 16)
    other_level = y.clone()
    other_level[:, -1] += 1
    assert not torch.allclose(net(x, t, y), net(x, t, other_level))
    with pytest.raises(ValueError, match=r"\(y_dim - noise_dim, 2\) = \(2, 2\) coordinates, got \(3, 2\)"):
        ScoreUNet(16, 3, grid=[4, 4], sensors=sensors, noise_dim=1, channels=(8, 8))
