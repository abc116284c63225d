"""Sensor-layout design (docs/math.md §20): the Wishart bias of a sample log-determinant, the information-gain
and variance-reduction estimators fed exact posterior samples of a linear–Gaussian problem against their
closed forms (with too-wide and shifted posteriors that must fail), and the greedy choice.

Tolerances are 5 standard errors of the estimate at the sizes used: a correct estimator fails with
probability below ~1e-5 per comparison, at any seed."""

import numpy as np
import pytest

from diffinv.core import design

D, M, SIGMA = 12, 8, 0.3


def problem(seed: int):
    """A GP-like prior (smooth, nearly singular covariance) and a random forward map."""
    s = np.linspace(0, 1, D)
    cov = np.exp(-0.5 * (s[:, None] - s[None, :]) ** 2 / 0.25**2) + 1e-9 * np.eye(D)
    a = np.random.default_rng(seed).standard_normal((M, D))
    return a, cov


def exact_samples(a, cov, on, n_draws, n, rng, widen=1.0):
    """``n`` exact posterior samples for each of ``n_draws`` prior-predictive readings of the sensors ``on``
    (zero prior mean); ``widen`` > 1: a posterior too wide by that factor."""
    x = rng.multivariate_normal(np.zeros(D), cov, size=n_draws)
    a_s = a[list(on)]
    y = x @ a_s.T + SIGMA * rng.standard_normal((n_draws, len(on)))
    gain = cov @ a_s.T @ np.linalg.inv(a_s @ cov @ a_s.T + SIGMA**2 * np.eye(len(on)))
    post_cov = cov - gain @ a_s @ cov
    evals, evecs = np.linalg.eigh(post_cov)
    root = evecs * np.sqrt(np.clip(evals, 0, None))
    means = y @ gain.T
    z = rng.standard_normal((n_draws, n, D))
    return means[:, None, :] + widen * z @ root.T


def test_log_det_bias_is_the_wishart_mean():
    rng = np.random.default_rng(0)
    r, n, reps = 5, 20, 4000
    cov = np.diag([1.0, 2.0, 0.5, 3.0, 0.1])
    z = rng.multivariate_normal(np.zeros(r), cov, size=(reps, n))
    z = z - z.mean(axis=1, keepdims=True)
    log_det = np.linalg.slogdet(np.einsum("bni,bnj->bij", z, z) / (n - 1))[1] - np.log(np.linalg.det(cov))
    assert abs(log_det.mean() - design.log_det_bias(r, n)) < 5 * log_det.std() / np.sqrt(reps)
    assert design.log_det_bias(r, n) < -0.5  # a bias worth correcting at these sizes
    with pytest.raises(ValueError, match="n_samples=5"):
        design.log_det_bias(5, 5)


@pytest.mark.parametrize("on", [(0,), (1, 4, 6), tuple(range(M))])
def test_information_gain_of_exact_posteriors_is_the_closed_form(on):
    a, cov = problem(1)
    whitening = design.prior_whitening(cov, 1e-6)
    assert 0 < len(whitening) < D  # the prior's round-off directions are left out
    gains = design.information_gains(
        exact_samples(a, cov, on, 40, 300, np.random.default_rng(2)), whitening.T
    )
    exact = design.exact_gain("information", a, cov, SIGMA, on)
    assert exact > 0.5
    assert abs(gains.mean() - exact) < 5 * gains.std(ddof=1) / np.sqrt(len(gains))


@pytest.mark.parametrize("wrong", ["too wide", "prior"])
def test_wrong_posteriors_give_wrong_gains(wrong):
    """Negative controls: a posterior 10 % too wide, and the prior itself as the "posterior", must give gains
    below the closed form by more than the Monte-Carlo error. (An entropy cannot see a shifted posterior;
    the exact check of a trained model compares the layouts chosen as well, math §20.5.)"""
    a, cov = problem(1)
    on = (1, 4, 6)
    whitening = design.prior_whitening(cov, 1e-6)
    rng = np.random.default_rng(3)
    if wrong == "too wide":
        samples = exact_samples(a, cov, on, 40, 300, rng, widen=1.1)
    else:
        samples = rng.multivariate_normal(np.zeros(D), cov, size=(40, 300))
    gains = design.information_gains(samples, whitening.T)
    exact = design.exact_gain("information", a, cov, SIGMA, on)
    assert gains.mean() < exact - 5 * gains.std(ddof=1) / np.sqrt(len(gains))


def test_only_the_directions_the_readings_inform_are_counted():
    """math §20.2: from prior-predictive pairs, the linearised information picks the whitened directions a
    layout informs. A sampler right there but 20 % too wide in every other direction (a trained network's
    error where no reading reaches) then scores the closed form; counted in every direction it is short by
    ~(r − k)·log 1.2."""
    a, cov = problem(1)
    on = (1, 4)
    whitening = design.prior_whitening(cov, 1e-6)
    rng = np.random.default_rng(8)
    x = rng.multivariate_normal(np.zeros(D), cov, size=20_000)
    directions, left_out = design.informed_directions(x @ whitening.T, x @ a[list(on)].T, SIGMA, 0.01)
    exact = design.exact_gain("information", a, cov, SIGMA, on)
    assert directions.shape == (len(whitening), 2) and left_out < 0.01 * exact
    basis = whitening.T @ directions
    samples = exact_samples(a, cov, on, 40, 300, rng)
    centre = samples.mean(axis=1, keepdims=True)
    # widen the component outside the informed plane (in whitened coordinates) by 1.2
    z = (samples - centre) @ whitening.T
    z = z + 0.2 * (z - z @ directions @ directions.T)
    wide = centre + z @ np.linalg.pinv(whitening).T
    for basis_used, expected in ((basis, exact), (whitening.T, exact - (len(whitening) - 2) * np.log(1.2))):
        gains = design.information_gains(wide, basis_used)
        assert abs(gains.mean() - expected) < 5 * gains.std(ddof=1) / np.sqrt(len(gains)) + 0.02


def test_variance_reduction_of_exact_posteriors_is_the_closed_form():
    a, cov = problem(4)
    on = (0, 2, 5)
    reductions = design.variance_reductions(exact_samples(a, cov, on, 40, 300, np.random.default_rng(5)), cov)
    exact = design.exact_gain("variance", a, cov, SIGMA, on)
    assert 0.2 < exact < 1
    assert abs(reductions.mean() - exact) < 5 * reductions.std(ddof=1) / np.sqrt(len(reductions))
    widened = design.variance_reductions(
        exact_samples(a, cov, on, 40, 300, np.random.default_rng(5), widen=1.1), cov
    )
    assert widened.mean() < exact - 5 * widened.std(ddof=1) / np.sqrt(len(widened))


def test_closed_forms_agree_with_the_posterior_covariance():
    """½ log det(I + A Σ Aᵀ/σ²) = ½ log det Σ − ½ log det Σ_post where Σ is well conditioned."""
    rng = np.random.default_rng(6)
    cov = np.cov(rng.standard_normal((D, 3 * D)))
    a = rng.standard_normal((M, D))
    on = [0, 3, 7]
    a_s = a[on]
    post = np.linalg.inv(np.linalg.inv(cov) + a_s.T @ a_s / SIGMA**2)
    expected = 0.5 * (np.linalg.slogdet(cov)[1] - np.linalg.slogdet(post)[1])
    assert design.exact_gain("information", a, cov, SIGMA, on) == pytest.approx(expected, rel=1e-9)
    assert design.exact_gain("variance", a, cov, SIGMA, on) == pytest.approx(
        1 - np.trace(post) / np.trace(cov), rel=1e-9
    )
    assert design.exact_gain("information", a, cov, SIGMA, []) == 0.0


def test_greedy_picks_the_best_sensor_each_step_and_continues_after_an_interruption():
    """Independent unknowns each read by one sensor of its own noise: the greedy order is by signal-to-noise,
    and the total is additive; an interrupted run's steps are kept."""
    snr = np.array([0.5, 4.0, 1.0, 9.0, 2.0])

    noise = np.random.default_rng(0).normal(0, 0.01, 50)  # per-draw noise shared by every layout (CRN)

    def score(layouts):
        return np.array([0.5 * np.log1p(snr[list(on)]).sum() + noise for on in layouts])

    seen = []
    steps = design.greedy(score, range(5), 3, on_step=seen.append)
    assert [s.sensor for s in steps] == [3, 1, 4] and seen == steps
    assert steps[-1].gain == pytest.approx(0.5 * np.log1p(snr[[3, 1, 4]]).sum() + noise.mean())
    assert steps[-1].error == pytest.approx(noise.std(ddof=1) / np.sqrt(50))
    assert steps[0].margin > 1e6  # the shared noise cancels in the paired difference
    exact = design.greedy(
        lambda layouts: np.array([[0.5 * np.log1p(snr[list(on)]).sum()] for on in layouts]), range(5), 1
    )
    assert exact[0].error == 0 and exact[0].margin == np.inf
    resumed = design.greedy(score, range(5), 3, done=steps[:1])
    assert resumed == steps
    assert [s.sensor for s in design.greedy(score, range(5), 2, fixed=[3])] == [1, 4]
    with pytest.raises(ValueError, match="k=6"):
        design.greedy(score, range(5), 6)


def test_bad_criterion_is_refused():
    a, cov = problem(1)
    with pytest.raises(ValueError, match="criterion='entropy'"):
        design.exact_gain("entropy", a, cov, SIGMA, [0])
