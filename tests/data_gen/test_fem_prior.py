"""GP flux prior, sensor masks and the aligned layout (docs/problems.md §2–3, docs/math.md §8).

Statistical tolerances are 5 standard errors of the estimate at the sample size used, so a correct
implementation fails with probability below ~1e-5 per comparison (and the seeds are fixed anyway).
"""

import numpy as np
import pytest
from scipy.stats import norm

from data_gen.fem.masks import sample_masks
from data_gen.fem.prior import GPFluxPrior
from data_gen.priors import rbf_kernel
from diffinv.problems.flux import geometry

pytestmark = pytest.mark.fem

N = 20_000


def test_unclipped_prior_has_stated_mean_and_rbf_covariance():
    prior = GPFluxPrior(clip=False)
    q = prior.sample(np.random.default_rng(1), N)
    # mean 2: standard error 1/sqrt(N) per segment
    assert np.abs(q.mean(axis=0) - 2.0).max() < 5 / np.sqrt(N)
    # RBF kernel, l = 2, unit variance, over 2-D centres: the walls are 2 apart, so K[0, 15] = exp(-1/2)
    expected = rbf_kernel(geometry.segment_centres(), 2.0, 1.0)
    assert expected[0, 15] == pytest.approx(np.exp(-0.5))
    # sample covariance entries have standard error sqrt((1 + rho^2) / N) <= sqrt(2 / N)
    assert np.abs(np.cov(q.T) - expected).max() < 5 * np.sqrt(2 / N)
    assert np.allclose(prior.cov, expected)


def test_clipping_zeroes_exactly_the_negative_draws():
    clipped = GPFluxPrior(clip=True).sample(np.random.default_rng(2), N)
    raw = GPFluxPrior(clip=False).sample(np.random.default_rng(2), N)
    assert np.array_equal(clipped, np.maximum(raw, 0.0))
    # P(2 + Z < 0) = Phi(-2) per entry; per-segment frequencies over N draws have s.e. sqrt(p(1-p)/N)
    p = norm.cdf(-2.0)
    frac = (clipped == 0.0).mean(axis=0)
    assert np.abs(frac - p).max() < 5 * np.sqrt(p * (1 - p) / N)
    # E[max(2 + Z, 0)] = 2 Phi(2) + phi(2)
    assert np.abs(clipped.mean(axis=0) - (2 * norm.cdf(2.0) + norm.pdf(2.0))).max() < 5 / np.sqrt(N)


def test_prior_is_seeded():
    a = GPFluxPrior().sample(np.random.default_rng(7), 5)
    b = GPFluxPrior().sample(np.random.default_rng(7), 5)
    assert np.array_equal(a, b)


def test_masks_have_rate_0_7():
    masks = sample_masks(np.random.default_rng(3), N, geometry.NUM_SENSORS, 0.7)
    assert masks.dtype == bool and masks.shape == (N, 30)
    # N * 30 independent Bernoulli(0.7) entries: binomial s.e. sqrt(0.21 / (30 N))
    assert abs(masks.mean() - 0.7) < 5 * np.sqrt(0.21 / masks.size)
    # and no sensor is special: per-sensor s.e. sqrt(0.21 / N)
    assert np.abs(masks.mean(axis=0) - 0.7).max() < 5 * np.sqrt(0.21 / N)


def test_uniform_masks_cover_every_layout_size():
    """mask_rate='uniform' (math §8.1): the count on is uniform on 0..30, and given the count every layout is
    equally likely (so each sensor is on in half the pairs, and on with the same frequency at every count)."""
    m = geometry.NUM_SENSORS
    masks = sample_masks(np.random.default_rng(4), N, m, "uniform")
    assert masks.dtype == bool and masks.shape == (N, m)
    counts = np.bincount(masks.sum(axis=1), minlength=m + 1)
    expected = N / (m + 1)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 80  # chi-square with 30 d.o.f.: P(> 80) ~ 2e-6
    # each entry is marginally Bernoulli(1/2) and the rows are independent: per-sensor s.e. sqrt(0.25 / N)
    assert np.abs(masks.mean(axis=0) - 0.5).max() < 5 * np.sqrt(0.25 / N)
    # a Bernoulli(0.7) law, by contrast, almost never switches off more than half the sensors
    bernoulli = sample_masks(np.random.default_rng(4), N, m, 0.7).sum(axis=1)
    assert (bernoulli < m / 2).mean() < 0.01 and (masks.sum(axis=1) < m / 2).mean() > 0.45


@pytest.mark.parametrize("rate", [1.5, -0.1, "half", None])
def test_bad_mask_rate_names_the_key(rate):
    with pytest.raises(ValueError, match="problem.mask_rate"):
        sample_masks(np.random.default_rng(0), 2, 30, rate)


@pytest.mark.parametrize("nx", [19, 85, 170, 340, 850, 1700])
def test_segment_ends_are_vertices(nx):
    x = geometry.graded_x(nx)
    ends = np.arange(geometry.SEGMENTS_PER_WALL + 1) * geometry.SEGMENT_LENGTH
    assert np.abs(x[:, None] - ends[None, :]).min(axis=0).max() < 1e-12
    assert x[0] == 0.0 and x[-1] == pytest.approx(geometry.LENGTH) and np.all(np.diff(x) > 0)


@pytest.mark.parametrize("text", ["850", "10x3", "850x1", "axb"])
def test_bad_mesh_size_names_the_key(text):
    with pytest.raises(ValueError, match="problem.mesh"):
        geometry.parse_resolution(text)


def test_sensor_and_segment_coordinates():
    sensors = geometry.sensor_coords()
    assert sensors.shape == (30, 2)
    assert np.allclose(sensors[:15, 1], 0.5) and np.allclose(sensors[15:, 1], 1.5)
    assert np.allclose(sensors[:15, 0], np.arange(1, 16) * 0.5)
    centres = geometry.segment_centres()
    assert np.allclose(centres[:15, 1], 0.0) and np.allclose(centres[15:, 1], 2.0)
    assert centres[0, 0] == pytest.approx(7 / 30) and centres[14, 0] == pytest.approx(7 - 7 / 30)
