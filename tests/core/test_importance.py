"""Self-normalised importance weights, Kish's effective sample size and resampling (docs/math.md §17.4)."""

import numpy as np
import pytest
from scipy.stats import norm

from diffinv.core.importance import ess_fraction, normalised_weights, resample


def test_weights_are_normalised_and_ignore_constants():
    log_w = np.log([[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(normalised_weights(log_w), [[0.1, 0.2, 0.3, 0.4]])
    np.testing.assert_allclose(normalised_weights(log_w + 700.0), normalised_weights(log_w))


def test_ess_of_equal_degenerate_and_known_weights():
    assert ess_fraction(np.zeros(50)) == pytest.approx(1.0)
    assert ess_fraction(np.array([0.0, -1e3, -1e3, -1e3])) == pytest.approx(0.25)
    w = np.array([1.0, 2.0, 3.0, 4.0])  # (Σw)² / (N Σw²) = 100 / (4 · 30)
    assert ess_fraction(np.log(w)) == pytest.approx(100 / 120)


def test_nonfinite_log_weights_are_refused():
    with pytest.raises(ValueError, match="must be finite"):
        normalised_weights(np.array([0.0, np.nan]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_resampling_a_widened_shifted_proposal_recovers_the_target(seed):
    """Draws of q = N(0.5, 1.2²) reweighted to p = N(0, 1): the resampled mean and std within 5 standard
    errors (weights inflate the error by 1/sqrt(ESS/N)); the raw draws fail both checks."""
    rng = np.random.default_rng(seed)
    n = 20_000
    x = 0.5 + 1.2 * rng.standard_normal((2, n, 1))
    log_w = norm.logpdf(x[..., 0]) - norm.logpdf(x[..., 0], 0.5, 1.2)
    ess = ess_fraction(log_w)
    assert np.all((0.5 < ess) & (ess < 0.95))
    se = 1 / np.sqrt(n * ess.min())
    out = resample(x, log_w, rng)
    assert out.shape == x.shape
    assert np.all(np.abs(out.mean(axis=(1, 2))) < 5 * se)
    assert np.all(np.abs(out.std(axis=(1, 2)) - 1) < 5 * se)
    assert np.all(np.abs(x.mean(axis=(1, 2))) > 10 * se) and np.all(x.std(axis=(1, 2)) > 1.1)
