"""Repeated readings (docs/math.md §19.2): n independent Gaussian readings of one state are, for the
posterior, their mean at σ_n/√n — checked against the exact linear–Gaussian posterior — and
``average_repeats`` forms that mean or refuses groups that cannot be averaged."""

import numpy as np
import pytest

from diffinv.core.exact import linear_gaussian_posterior
from diffinv.data.measurements import MeasurementError, average_repeats


@pytest.mark.parametrize("n", [1, 4, 16])
def test_repeated_readings_are_their_mean_at_sigma_over_root_n(n):
    """docs/math.md §19.2 on a linear–Gaussian problem: the exact posterior given n independent readings of
    one state equals the exact posterior given their mean at σ_n/√n (mean and covariance to round-off)."""
    rng = np.random.default_rng(n)
    d, m, sigma = 5, 3, 0.3
    a, root = rng.normal(size=(m, d)), rng.normal(size=(d, d))
    prior_mean, prior_cov = rng.normal(size=d), root @ root.T + 0.1 * np.eye(d)
    x = prior_mean + np.linalg.cholesky(prior_cov) @ rng.normal(size=d)
    readings = a @ x + sigma * rng.normal(size=(n, m))
    stacked = linear_gaussian_posterior(
        prior_mean, prior_cov, np.tile(a, (n, 1)), sigma**2 * np.eye(n * m), readings.reshape(1, -1)
    )
    mean = average_repeats(readings, n)
    averaged = linear_gaussian_posterior(prior_mean, prior_cov, a, sigma**2 / n * np.eye(m), mean)
    for got, want in zip(averaged, stacked, strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-9, atol=1e-12)
    if n > 1:  # not the mean at σ_n: the widths differ by √n
        wrong = linear_gaussian_posterior(prior_mean, prior_cov, a, sigma**2 * np.eye(m), mean)
        assert not np.allclose(np.asarray(wrong[1]), np.asarray(stacked[1]), rtol=1e-3)


def test_average_repeats_groups_consecutive_rows_and_refuses_what_it_cannot_average():
    y = np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(average_repeats(y, 2), [[1.5, 2.5, 3.5], [7.5, 8.5, 9.5]])
    np.testing.assert_array_equal(average_repeats(y, 1), y)
    off = y.copy()
    off[[0, 1], 2] = np.nan  # the same sensor off in both rows of the first state: allowed
    assert np.isnan(average_repeats(off, 2)[0, 2]) and average_repeats(off, 2)[1, 2] == 9.5
    off[3, 0] = np.nan
    with pytest.raises(MeasurementError, match="state 2 .rows 3–4. switch off different sensors"):
        average_repeats(off, 2)
    with pytest.raises(MeasurementError, match="4 rows of readings are not whole groups of 3"):
        average_repeats(y, 3)
    with pytest.raises(MeasurementError, match="repeats must be an integer >= 1"):
        average_repeats(y, 0)
