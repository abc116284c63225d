"""Posterior measures on exact linear–Gaussian posteriors, where the answers are known (docs/math.md §9)."""

import numpy as np
import pytest
import torch

from diffinv.core.exact import ConditionalGaussianEps, linear_gaussian_posterior
from diffinv.core.formulations import VE
from diffinv.data.datamodule import Affine
from diffinv.problems.flux.metrics import segment_metrics
from diffinv.problems.posterior.metrics import (
    coverage_curve,
    exact_comparison,
    exact_posteriors,
    normalised_joint,
    reference_comparison,
)


@pytest.fixture(scope="module")
def problem():
    """x ~ N(2, K) in R^6 (RBF prior), y = A x + e with 4 noisy sensors; exact posterior samples."""
    rng = np.random.default_rng(0)
    d, m, n_test, n_samples, noise = 6, 4, 400, 500, 0.3
    pts = np.arange(d, dtype=float)
    K = np.exp(-((pts[:, None] - pts[None]) ** 2) / 8)
    mu = np.full(d, 2.0)
    A = rng.normal(size=(m, d))
    truth = mu + rng.multivariate_normal(np.zeros(d), K, size=n_test)
    y = truth @ A.T + noise * rng.standard_normal((n_test, m))
    post_mean, post_cov = (a.numpy() for a in linear_gaussian_posterior(mu, K, A, noise**2 * np.eye(m), y))
    chol = np.linalg.cholesky(post_cov)
    samples = post_mean[:, None, :] + rng.standard_normal((n_test, n_samples, d)) @ chol.T
    return dict(samples=samples, truth=truth, y=y, A=A, mu=mu, K=K, noise=noise, post_cov=post_cov)


def test_exact_posterior_is_calibrated(problem):
    out = segment_metrics(problem["samples"], problem["truth"])
    # 400 cases x 6 segments (correlated within a case): se of a coverage ~ sqrt(.68*.32/400) = 0.023
    assert abs(out["coverage/1sigma"] - 0.6827) < 0.06
    assert abs(out["coverage/2sigma"] - 0.9545) < 0.03
    np.testing.assert_allclose(
        [out[f"post_std/seg_{j:02d}"] for j in range(6)], np.sqrt(np.diag(problem["post_cov"])), rtol=0.02
    )
    # the prior std is 1 per segment; its sample std over 400 cases has se ~ 0.035
    assert all(abs(out[f"prior_std/seg_{j:02d}"] - 1) < 0.15 for j in range(6))
    assert out["rel_mae/mean"] > 0 and set(out) >= {"rel_mae/seg_05", "coverage/1sigma"}


def test_coverage_curve_is_diagonal_for_exact_and_detects_overconfidence(problem):
    levels = np.array([0.1, 0.5, 0.9])
    cov = coverage_curve(problem["samples"], problem["truth"], levels)
    np.testing.assert_allclose(cov, levels, atol=0.05)  # 2,400 correlated pairs: se <= 0.025
    mean = problem["samples"].mean(axis=1, keepdims=True)
    narrow = mean + 0.5 * (problem["samples"] - mean)
    assert np.all(coverage_curve(narrow, problem["truth"], levels) < levels - 0.04)


def test_exact_comparison_scores_exact_samples_as_exact(problem):
    p = problem
    out = exact_comparison(p["samples"], p["truth"], p["y"], p["A"], p["mu"], p["K"], p["noise"])
    assert abs(out["exact/mean_err_ratio"] - 1) < 0.02  # posterior-mean noise: std/sqrt(500) per case
    assert abs(out["exact/std_ratio"] - 1) < 0.02
    assert out["exact/w1_over_std"] < 2 * out["exact/w1_over_std_floor"]


def test_exact_comparison_detects_wrong_posteriors(problem):
    p = problem
    mean = p["samples"].mean(axis=1, keepdims=True)
    too_wide = mean + 1.5 * (p["samples"] - mean)
    out = exact_comparison(too_wide, p["truth"], p["y"], p["A"], p["mu"], p["K"], p["noise"])
    assert abs(out["exact/std_ratio"] - 1.5) < 0.03
    assert out["exact/w1_over_std"] > 3 * out["exact/w1_over_std_floor"]
    biased = p["samples"] + 0.5
    out = exact_comparison(biased, p["truth"], p["y"], p["A"], p["mu"], p["K"], p["noise"])
    assert out["exact/mean_err_ratio"] > 1.3


def exact_reference(p, n_cases=40, k=2000, seed=7):
    """A sampled reference posterior (as MCMC would give) of the first ``n_cases`` cases: exact draws."""
    rng = np.random.default_rng(seed)
    noise_cov = p["noise"] ** 2 * np.eye(len(p["A"]))
    post_mean = linear_gaussian_posterior(p["mu"], p["K"], p["A"], noise_cov, p["y"][:n_cases])[0].numpy()
    chol = np.linalg.cholesky(p["post_cov"])
    return post_mean[:, None, :] + rng.standard_normal((n_cases, k, p["mu"].size)) @ chol.T


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_comparison_scores_exact_samples_as_the_reference(problem, seed):
    p, n = problem, 40
    reference = exact_reference(p, n, seed=seed)
    out = reference_comparison(p["samples"][:n], p["truth"][:n], reference, seed=seed)
    # 40 cases x 500 samples: the std ratio's sampling error is ~ 1/sqrt(2 * 500 * 40) = 0.005 per segment;
    # the mean-error ratio's ~ 0.02 (both means carry std/sqrt(k) noise on an error of ~0.8 std)
    assert abs(out["reference/std_ratio"] - 1) < 0.02
    assert abs(out["reference/mean_err_ratio"] - 1) < 0.06
    assert out["reference/w1_over_std"] < 1.3 * out["reference/w1_over_std_floor"]
    # and it agrees with the exact comparison of the same samples
    exact = exact_comparison(
        p["samples"][:n], p["truth"][:n], p["y"][:n], p["A"], p["mu"], p["K"], p["noise"]
    )
    assert abs(out["reference/std_ratio"] - exact["exact/std_ratio"]) < 0.02
    assert set(out) >= {"reference/coverage/1sigma", "reference/ref_coverage/2sigma", "reference/mean_err"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_comparison_fails_a_wide_a_shifted_and_the_prior_posterior(problem, seed):
    p, n = problem, 40
    reference = exact_reference(p, n, seed=seed)
    samples = p["samples"][:n]
    mean = samples.mean(axis=1, keepdims=True)
    post_std = np.sqrt(np.diag(p["post_cov"]))
    rng = np.random.default_rng(seed)
    prior = p["mu"] + rng.multivariate_normal(np.zeros(p["mu"].size), p["K"], size=(n, samples.shape[1]))
    controls = {
        "too wide": mean + 1.2 * (samples - mean),
        "shifted": samples + 0.5 * post_std,
        "prior": prior,
    }
    for name, wrong in controls.items():
        out = reference_comparison(wrong, p["truth"][:n], reference, seed=seed)
        in_target = 0.97 <= out["reference/std_ratio"] <= 1.03 and out["reference/mean_err_ratio"] <= 1.03
        assert not in_target, (name, out)
        assert out["reference/w1_over_std"] > 1.5 * out["reference/w1_over_std_floor"], name


def test_reference_comparison_w1_uses_equal_sample_sizes(problem):
    """More diffusion samples than half the reference: W1 and its floor both use k // 2 samples."""
    p, n = problem, 5
    reference = exact_reference(p, n, k=600)
    out = reference_comparison(p["samples"][:n], p["truth"][:n], reference)
    assert out["reference/w1_over_std"] < 1.5 * out["reference/w1_over_std_floor"]
    with pytest.raises(ValueError, match="reference samples must be"):
        reference_comparison(p["samples"][:n], p["truth"][:n], reference[:4])


def test_shape_errors_are_named():
    with pytest.raises(ValueError, match="n_test, n_samples, d"):
        segment_metrics(np.zeros((3, 4)), np.zeros((3, 4)))


def test_flux_figures_are_written(problem, tmp_path):
    import matplotlib.pyplot as plt

    from diffinv.problems.flux.figures import plot_flux_cases, plot_per_segment_vs_noise
    from diffinv.problems.posterior.figures import plot_calibration

    rng = np.random.default_rng(1)
    truth, samples = rng.random((3, 30)), rng.random((3, 50, 30))
    mask = rng.random((3, 30)) < 0.7
    paths = [
        plot_flux_cases(truth, samples, tmp_path / "cases.png", title="three cases"),
        plot_flux_cases(truth, samples, tmp_path / "masked.png", title="three cases", mask=mask),
        plot_per_segment_vs_noise(
            np.array([0, 0.1, 0.2]),
            rng.random((3, 30)),
            tmp_path / "err.png",
            "error",
            reference=rng.random(30),
        ),
        plot_calibration(np.array([0.1, 0.5, 0.9]), {"VE": np.array([0.1, 0.5, 0.9])}, tmp_path / "cal.png"),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000

    def red_pixels(path):
        rgb = plt.imread(path)[..., :3]
        return int(((rgb[..., 0] > 0.8) & (rgb[..., 1] < 0.3) & (rgb[..., 2] < 0.3)).sum())

    assert red_pixels(tmp_path / "cases.png") == 0
    assert red_pixels(tmp_path / "masked.png") > 20 * (~mask).sum()  # each switched-off sensor a red ×


def test_exact_comparison_handles_noise_free_ill_conditioned_maps(problem):
    """Noise-free readings of a square, nearly rank-deficient map (as advdiff, docs/problems.md §2): the exact
    posterior covariance is singular up to round-off, which must not break the exact sampling."""
    p = problem
    A = np.random.default_rng(1).normal(size=(6, 6))
    A[5] = A[4] + 1e-7 * A[3]
    out = exact_comparison(p["samples"][:5], p["truth"][:5], p["truth"][:5] @ A.T, A, p["mu"], p["K"], 0.0)
    assert all(np.isfinite(v) for v in out.values())
    assert out["exact/mean_err"] < 0.05  # five independent readings; the prior alone errs by ~0.4


def test_exact_comparison_with_masks_uses_the_switched_on_readings(problem):
    """Many-operator variant (docs/problems.md §3): samples of each case's exact posterior given its
    switched-on readings score as exact; the all-readings posterior is then too narrow by the right amount."""
    p = problem
    rng = np.random.default_rng(2)
    n_test, n_samples, d = p["samples"].shape
    mask = (rng.random(p["y"].shape) < 0.5).astype(np.float64)
    mean, cov = exact_posteriors(p["y"], p["A"], p["mu"], p["K"], p["noise"], mask)
    masked_samples = np.stack(
        [mean[i] + rng.standard_normal((n_samples, d)) @ np.linalg.cholesky(cov[i]).T for i in range(n_test)]
    )
    out = exact_comparison(masked_samples, p["truth"], p["y"], p["A"], p["mu"], p["K"], p["noise"], mask=mask)
    assert abs(out["exact/mean_err_ratio"] - 1) < 0.03
    assert abs(out["exact/std_ratio"] - 1) < 0.02
    assert out["exact/w1_over_std"] < 2 * out["exact/w1_over_std_floor"]
    full = exact_comparison(p["samples"], p["truth"], p["y"], p["A"], p["mu"], p["K"], p["noise"], mask=mask)
    expected = (np.sqrt(np.diag(p["post_cov"])) / np.sqrt(np.diagonal(cov, axis1=1, axis2=2)).mean(0)).mean()
    assert full["exact/std_ratio"] < 0.95
    assert abs(full["exact/std_ratio"] - expected) < 0.02
    no_mask = exact_posteriors(p["y"], p["A"], p["mu"], p["K"], p["noise"])
    np.testing.assert_allclose(no_mask[1][0], p["post_cov"], atol=1e-12)


def test_the_normalised_joint_conditions_to_the_normalised_exact_posterior(problem):
    """The network's units: conditioning the joint of (x_n, y_n) on y_n gives the raw exact posterior mapped
    by x_n = (x - shift)/scale, i.e. mean (μ - shift)/scale and covariance C / (scale scaleᵀ) (docs/math.md
    §9.4)."""
    p = problem
    x_norm = Affine.fit(p["truth"], "minmax")
    y_norm = Affine.fit(p["y"], "standard")
    mean, cov = normalised_joint(p["A"], p["mu"], p["K"], p["noise"], x_norm, y_norm)
    mu_n, cov_n = ConditionalGaussianEps(mean, cov, 6, VE(0.01, 5.0)).posterior(
        torch.tensor(y_norm.forward(p["y"]))
    )
    mu, post_cov = (
        a.numpy()
        for a in linear_gaussian_posterior(p["mu"], p["K"], p["A"], p["noise"] ** 2 * np.eye(4), p["y"])
    )
    np.testing.assert_allclose(mu_n.numpy(), x_norm.forward(mu), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(
        cov_n.numpy(), post_cov / np.outer(x_norm.scale, x_norm.scale), rtol=1e-9, atol=1e-12
    )
    assert not np.allclose(x_norm.scale, 1) and not np.allclose(y_norm.shift, 0)  # the maps do something
