"""The fast Sinkhorn cost equals POT's plain log-domain Sinkhorn; the 1-D W2 equals POT's exact 1-D OT."""

import numpy as np
import ot
import pytest

from diffinv.problems.densities import definitions as toy
from diffinv.problems.densities.metrics import sinkhorn_cost, wasserstein2_1d


def pot_sinkhorn(xs, xr, reg):
    a, b = np.full(len(xs), 1 / len(xs)), np.full(len(xr), 1 / len(xr))
    cost = ot.dist(xs[:, None], xr[:, None])
    return float(ot.sinkhorn2(a, b, cost, reg, method="sinkhorn_log", numItermax=200_000, stopThr=1e-13))


@pytest.mark.parametrize("shift", [0.0, 0.3, 2.0])
def test_fast_sinkhorn_equals_plain_pot(shift):
    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.normal(-0.7, 0.3, 150), rng.normal(0.7, 0.3, 150)])
    xr = rng.uniform(-1, 1, 200) + shift
    result = sinkhorn_cost(xs, xr, reg=0.01, tol=1e-11)
    assert result.marginal_violation < 1e-11
    assert result.cost == pytest.approx(pot_sinkhorn(xs, xr, 0.01), rel=1e-9)


def test_fast_sinkhorn_reports_non_convergence():
    rng = np.random.default_rng(1)
    with pytest.raises(RuntimeError, match="did not reach marginal violation"):
        sinkhorn_cost(rng.normal(size=200), rng.normal(size=100) + 1, tol=1e-12, max_iterations=30)


def test_sinkhorn_has_a_positive_floor_for_identical_distributions():
    """The metric's bias (docs/problems.md §1): two samples of one law score above zero, W2 near zero."""
    rng = np.random.default_rng(2)
    xs, xr = rng.normal(size=500), rng.normal(size=500)
    assert sinkhorn_cost(xs, xr).cost > 0.003
    assert wasserstein2_1d(xs, xr) < 0.02


@pytest.mark.parametrize(("n", "m"), [(100, 100), (137, 59)])
def test_w2_equals_pot_exact_1d(n, m):
    rng = np.random.default_rng(3)
    xs, xr = rng.normal(size=n), rng.gamma(2.0, size=m)
    assert wasserstein2_1d(xs, xr) == pytest.approx(ot.emd2_1d(xs, xr, metric="sqeuclidean"), rel=1e-10)


def test_over_relaxation_cuts_iterations_on_evaluator_like_samples_without_moving_the_value():
    """The metrics.py docstring's 1-D tanh row: 300 exact draws of x | y* = 0.6 against the band reference."""
    rng = np.random.default_rng(0)
    x, y = toy.problem("tanh").sample_joint(100_000, rng)
    band = x[np.abs(y - 0.6) < 0.05]
    generated = toy.sample_conditional("tanh", 0.6, 300, rng)
    relaxed, plain = (sinkhorn_cost(generated, band, omega=omega) for omega in (1.8, 1.0))
    assert plain.iterations > 4 * relaxed.iterations  # measured 1,510 and 280
    assert relaxed.cost == pytest.approx(plain.cost, rel=1e-4)
