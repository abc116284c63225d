"""The benchmark helpers measure what they claim (fast; tiny sizes, no data files)."""

import numpy as np
import pytest
import torch

from benchmarks.bench_accuracy import CountingScore, LinearGaussianCase, evaluate
from diffinv.core.formulations import VE
from diffinv.data.schema import Split, write_dataset

D = 3


@pytest.fixture
def linear_gaussian_file(tmp_path):
    """x ~ N(mu, K), y_clean = A x, with the attributes a ``problem.clip=false`` file carries."""
    rng = np.random.default_rng(0)
    mu, root = np.array([2.0, 1.0, -1.0]), rng.normal(size=(D, D))
    K, A = root @ root.T + 0.5 * np.eye(D), rng.normal(size=(D, D)) + 2 * np.eye(D)
    splits = {}
    for name, n in (("train", 2000), ("test", 4)):
        x = rng.multivariate_normal(mu, K, n)
        splits[name] = Split(x=x, y_clean=x @ A.T)
    attrs = {"forward_map": A, "prior_mean": mu, "prior_cov": K}
    return write_dataset(tmp_path / "lg.h5", splits, attrs)


def test_counting_score_counts_sampler_calls(linear_gaussian_file):
    """NFE per sampler as the samplers implement them: heun 2 per step, euler and SDE 1 per step."""
    case = LinearGaussianCase(linear_gaussian_file, noise=0.1, n_cases=4)
    grid = [("ode heun", {"steps": 7}), ("ode euler", {"steps": 7}), ("sde", {"steps": 9})]
    rows = evaluate(case, VE(0.001, 5.0), grid, n_samples=20, network_repeats=1)
    assert [r["nfe"] for r in rows] == [14, 7, 9]
    assert all(r["seconds"] > 0 and r["network_s"] > 0 for r in rows)

    calls = CountingScore(lambda x, t: -x)
    calls(torch.zeros(2, D), torch.zeros(2))
    assert calls.calls == 1


def test_accurate_sampler_scores_near_the_exact_posterior(linear_gaussian_file):
    """rk45 at a tight tolerance on the exact score: std ratio ~1, mean offset and W1 near their floors."""
    case = LinearGaussianCase(linear_gaussian_file, noise=0.1, n_cases=4)
    (row,) = evaluate(case, VE(0.001, 5.0), [("ode rk45", {"tol": 1e-5})], n_samples=400, network_repeats=1)
    assert 0.85 < row["std_ratio"] < 1.15
    assert row["mean_offset"] < 0.2  # a perfect sampler: sqrt(2 / (pi 400)) = 0.04
    assert row["w1"] < 2 * row["w1_floor"] + 0.05
    assert 0.8 < row["mean_err_ratio"] < 1.25
