"""The calibration diagnostics that need no closed form (docs/math.md §16) on a conjugate linear–Gaussian
model whose exact posterior is known: x ~ N(0, C) in R^10 (C_ij = exp(-|i - j| / 3)), y = A x + e in R^10,
e ~ N(0, 0.3² I), 1,000 test cases, 200 posterior samples each, 100 of them through the forward model.

Decision rule of each diagnostic (docs/math.md §16.4): it fails when its p-value is below 0.01 (SBC: the
smallest per-quantity p-value times the number of quantities). Exact posterior samples pass, with probability
0.99 per diagnostic by construction of the tests; the negative controls — the exact posterior widened by
1.2x about its mean, shifted by half a marginal posterior std in every dimension, and the prior itself —
fail. Margins measured over 40 seeds (0–39, a script running :func:`diagnose` for every kind): the largest
p-value of a negative control was 8.1e-38 (SBC, widened), 3.2e-11 (TARP, shifted) and 2.9e-8 (PPC, widened),
far below 0.01 and below the 1e-4 the tests ask; the exact posterior was rejected once in 120 tests (TARP,
p = 8.7e-3), as the 1 % level allows. The tests run seeds 0–2, where the exact posterior's smallest p-value
is 0.107 (TARP, seed 1).
"""

from functools import cache

import numpy as np
import pytest
from scipy import stats

from diffinv.problems import diagnostics as dg

SEEDS = (0, 1, 2)
D, M, NOISE = 10, 10, 0.3
N_CASES, N_SAMPLES, N_PREDICTIVE = 1000, 200, 100
KINDS = ("exact", "widened", "shifted", "prior")


@cache
def toy(seed: int):
    """Truth, readings, training pairs, forward map and posterior samples of every kind for one seed."""
    rng = np.random.default_rng(seed)
    index = np.arange(D)
    prior_cov = np.exp(-np.abs(index[:, None] - index[None]) / 3.0)
    forward_map = np.random.default_rng(12345).standard_normal((M, D)) / np.sqrt(D)
    root = np.linalg.cholesky(prior_cov)

    def pairs(n):
        x = rng.standard_normal((n, D)) @ root.T
        return x, x @ forward_map.T + NOISE * rng.standard_normal((n, M))

    truth, y = pairs(N_CASES)
    x_train, y_train = pairs(2000)
    post_cov = np.linalg.inv(np.linalg.inv(prior_cov) + forward_map.T @ forward_map / NOISE**2)
    post_mean = y @ forward_map @ post_cov / NOISE**2
    z = rng.standard_normal((N_CASES, N_SAMPLES, D)) @ np.linalg.cholesky(post_cov).T
    samples = {
        "exact": post_mean[:, None] + z,
        "widened": post_mean[:, None] + 1.2 * z,
        "shifted": post_mean[:, None] + z + 0.5 * np.sqrt(np.diag(post_cov)),
        "prior": rng.standard_normal((N_CASES, N_SAMPLES, D)) @ root.T,
    }
    return truth, y, x_train, y_train, forward_map, samples


@cache
def diagnose(kind: str, seed: int) -> dict[str, dg.Diagnostic]:
    truth, y, x_train, y_train, forward_map, samples = toy(seed)
    forward = dg.linear_forward_model(forward_map)
    s = samples[kind]
    predicted = forward(s[:, :N_PREDICTIVE].reshape(-1, D)).reshape(N_CASES, N_PREDICTIVE, M)
    truth_clean = forward(truth)
    loglik_truth = dg.gaussian_loglik(truth_clean[:, None], y, NOISE)[:, 0]
    references = dg.regression_references(x_train, y_train, y)
    return {
        "sbc": dg.sbc(s, truth, loglik_truth, dg.gaussian_loglik(predicted, y, NOISE), seed=seed),
        "tarp": dg.tarp(s, truth, references, seed=seed),
        "ppc": dg.ppc(predicted, y, truth_clean, NOISE, seed=seed),
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_exact_posterior_samples_pass_every_diagnostic(seed):
    results = diagnose("exact", seed)
    assert {name: r.metrics["passed"] for name, r in results.items()} == {"sbc": 1, "tarp": 1, "ppc": 1}
    # the readings a fresh measurement of the truth would give are covered at the nominal rate
    ppc = results["ppc"].metrics
    assert abs(ppc["rep_coverage/68"] - dg.central_level(N_PREDICTIVE, 0.68)) < 0.02
    assert abs(ppc["rep_coverage/95"] - dg.central_level(N_PREDICTIVE, 0.95)) < 0.02
    assert abs(ppc["rep_z_rms"] - 1) < 0.05


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", KINDS[1:])
@pytest.mark.parametrize("diagnostic", ("sbc", "tarp", "ppc"))
def test_negative_controls_fail_every_diagnostic(diagnostic, kind, seed):
    result = diagnose(kind, seed)[diagnostic].metrics
    p = result["p_min_bonferroni" if diagnostic == "sbc" else "p"]
    assert result["passed"] == 0 and p < 1e-4, (diagnostic, kind, p)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_prior_passes_every_per_dimension_rank_and_fails_only_through_the_likelihood(seed):
    """Why SBC carries the data-dependent quantity log p(y | x) (docs/math.md §16.1): ranks of x alone
    are uniform for any posterior that ignores y, the prior included."""
    truth, _, _, _, _, samples = toy(seed)
    assert dg.sbc(samples["prior"], truth, seed=seed).metrics["passed"] == 1
    assert diagnose("prior", seed)["sbc"].metrics["p/loglik"] < 1e-100


def test_observed_readings_are_over_covered_by_an_exact_posterior():
    """The exact posterior was conditioned on the observed readings, so they lie nearer its predictive
    centre than a fresh reading (docs/math.md §16.3): coverage above nominal, RMS residual below 1; the
    prior's predictive covers them at the nominal rate."""
    exact, prior = diagnose("exact", 0)["ppc"].metrics, diagnose("prior", 0)["ppc"].metrics
    assert exact["coverage/68"] > 0.85 and exact["z_rms"] < 0.6
    assert abs(prior["coverage/68"] - dg.central_level(N_PREDICTIVE, 0.68)) < 0.03


def test_ranks_tarp_credibility_and_central_intervals_on_small_cases():
    samples = np.array([[[0.0, 3.0], [1.0, 1.0], [2.0, -1.0]]])  # one case, three samples, two dimensions
    np.testing.assert_array_equal(dg.ranks(samples, np.array([[1.5, 0.0]])), [[2, 1]])
    # distances to the reference (0, 0): 3, sqrt 2, sqrt 5; the truth at distance 2 has one sample nearer:
    # f = (1 + V) / 4 with V ~ U(0, 1), the randomised credibility
    result = dg.tarp(samples, np.array([[2.0, 0.0]]), np.zeros((1, 2)), n_levels=5)
    (f,) = result.arrays["f"]
    assert 1 / 4 <= f < 2 / 4
    np.testing.assert_allclose(
        result.arrays["ecp"], [0, 0, 1, 1, 1]
    )  # alpha = 0, 1/4, 1/2, 3/4, 1: f < alpha
    assert result.metrics["max_dev"] == pytest.approx(max(f, 1 - f))  # the KS statistic of one value
    # 99 predictive draws: the 68 % interval spans ranks 16..83, nominal (100 - 32) / 100
    assert dg.central_level(99, 0.68) == pytest.approx(0.68)
    ranks = np.arange(100)[:, None]
    assert dg._central(ranks, 99, 0.68).sum() == 68


def test_randomised_ranks_are_exactly_uniform_for_exchangeable_draws():
    """The rank of one draw among L others of the same law, plus U(0, 1), over L + 1 is U(0, 1) at any L:
    the KS p-values of 2,000 independent such values at L = 3 are uniform, so below 0.01 about 1 % of the
    time; 200 repetitions give at most 8 (binomial 99.9 % bound) below 0.01."""
    rng = np.random.default_rng(0)
    p = []
    for _ in range(200):
        draws = rng.standard_normal((2000, 4))
        u = dg.randomised_pit((draws[:, 1:] < draws[:, :1]).sum(axis=1), 3, rng)
        p.append(stats.kstest(u, "uniform").pvalue)
    assert np.sum(np.array(p) < 0.01) <= stats.binom.ppf(0.999, 200, 0.01)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"samples must be \(n_cases, n_samples, d\)"):
        dg.sbc(np.zeros((3, 4)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"references must have the truth's shape \(2, 3\)"):
        dg.tarp(np.zeros((2, 5, 3)), np.zeros((2, 3)), np.zeros((2, 2)))


def test_a_failing_forward_model_skips_the_predictive_check_with_a_warning(caplog, tmp_path):
    """A forward model that fails on a posterior sample (e.g. Newton on a flux outside the prior's support)
    must not cost the run its samples and scores: the check is skipped with a warning naming the error."""
    from diffinv.problems.flux.evaluator import FluxEvaluator

    rng = np.random.default_rng(0)
    n, k, d = 20, 50, 3
    truth = rng.standard_normal((n, d))
    samples = truth[:, None] + rng.standard_normal((n, k, d))

    def failing(x):
        raise RuntimeError("Newton failed for flux q = [-0.5 ...]")

    checks = {"truth": truth, "references": truth + 0.1, "scale": np.ones(d), "forward": failing,
              "y": truth, "truth_clean": truth, "mask": None, "noise_std": 0.1, "seed": 0}  # fmt: skip
    evaluator = FluxEvaluator(ppc_samples=5)
    with caplog.at_level("WARNING"):
        found = evaluator._diagnostics(samples, checks, tmp_path / "diagnostics.png", "title")
    assert "forward model failed (Newton failed for flux" in caplog.text
    assert not any(key.startswith("ppc/") for key in found) and "sbc/p_min_bonferroni" in found
