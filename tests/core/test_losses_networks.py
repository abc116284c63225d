"""DSM loss (docs/math.md §6) and the conditional MLP (docs/math.md §7)."""

import math

import pytest
import torch

from diffinv.core.exact import ConditionalGaussianEps
from diffinv.core.formulations import VE, VP
from diffinv.core.losses import dsm_loss
from diffinv.core.networks import ScoreMLP
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


def test_trained_mlp_reproduces_1d_gaussian():
    """A small MLP trained by DSM on 1-D N(1.5, 0.5²) data, then sampled, matches mean and std."""
    torch.manual_seed(0)
    form = VP(0.1, 20.0)
    net = ScoreMLP(x_dim=1, y_dim=0, width=64, depth=2)
    data = 1.5 + 0.5 * torch.randn(4096, 1)
    y = torch.zeros(4096, 0)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    # lr decays linearly to 1 %: a constant-lr final iterate jitters by ~0.05 in the sampled mean
    sched = torch.optim.lr_scheduler.LinearLR(opt, 1.0, 0.01, total_iters=1000)
    for _ in range(1000):
        idx = torch.randint(0, 4096, (512,))
        loss = dsm_loss(net, form, data[idx], y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    with torch.inference_mode():
        x_T = form.prior_sample((20_000, 1))
        x = sample_heun(conditional_score(net, form, torch.zeros(1, 0)), form, x_T, steps=50)
    # training error dominates sampling error (se 0.004); seeds 0-3 measured <= 0.026 (mean), 0.019 (std)
    assert abs(x.mean().item() - 1.5) < 0.08, x.mean()
    assert abs(x.std().item() - 0.5) < 0.08, x.std()


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
