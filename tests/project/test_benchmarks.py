"""The benchmark helpers measure what they claim (fast; tiny sizes, no data files)."""

from functools import partial

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.bench_accuracy import CountingScore, LinearGaussianCase, evaluate
from benchmarks.bench_sampling import (
    MatmulProbe,
    accuracy,
    configured_samplers,
    network_flops,
    sample_chunked,
    solve_rk45,
)
from benchmarks.bench_sbi import train_config
from diffinv.core.formulations import VE, VP
from diffinv.core.networks import ScoreMLP
from diffinv.core.samplers import sample_heun, sample_sde
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
    """NFE per sampler as the samplers implement them: Heun (in σ) 2 per step, the last step 1; euler and
    SDE 1 per step; each +1 for the final step to σ = 0 (docs/math.md §5.4)."""
    case = LinearGaussianCase(linear_gaussian_file, noise=0.1, n_cases=4)
    grid = [("ode heun", {"steps": 7}), ("ode euler", {"steps": 7}), ("sde", {"steps": 9})]
    rows = evaluate(case, VE(0.001, 5.0), grid, n_samples=20, network_repeats=1)
    assert [r["nfe"] for r in rows] == [14, 8, 10]
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


def test_network_flops_match_a_hand_count():
    """2·in·out per Linear, one per ReLU unit, 1 + 3F for the time features; torch's own counter agrees on
    the Linear part, and the matmul probe times exactly those FLOPs."""
    net = ScoreMLP(3, 2, mask_dim=1, width=5, depth=2, time_features=4)
    fan_in = 3 + 2 + 1 + (2 * 4 + 1)
    hand = {"linear": 2 * fan_in * 5 + 2 * 5 * 5 + 2 * 5 * 3, "relu": 5 + 5, "time_features": 1 + 3 * 4}
    assert network_flops(net) == hand | {"total": 230 + 10 + 13}

    batch = 7
    with FlopCounterMode(display=False) as counter:
        net(torch.randn(batch, 3), torch.rand(batch), torch.randn(batch, 2), torch.ones(batch, 1))
    assert counter.get_total_flops() == batch * hand["linear"]
    assert MatmulProbe(net, batch, passes=2).flops == 2 * batch * hand["linear"]

    advection = ScoreMLP(30, 30, width=256, depth=4)  # the benchmark's network
    assert network_flops(advection)["total"] == 2 * (93 * 256 + 3 * 256 * 256 + 256 * 30) + 4 * 256 + 49


def test_calls_per_sample_are_counted_over_chunks():
    """3 measurements in chunks of 2 + 1: every sample sees each call of its chunk once."""
    torch.manual_seed(0)
    net, form = ScoreMLP(3, 2, width=8, depth=1).eval(), VP(0.001, 15.0)
    y = torch.randn(3, 2)
    ode = configured_samplers(["ode"])["ode"]
    assert sample_chunked(net, form, y, 4, 8, ode) == ode.keywords["steps"] + 1  # + the final step
    assert sample_chunked(net, form, y, 4, 8, partial(sample_heun, steps=4)) == 8
    assert sample_chunked(net, form, y, 4, 8, partial(solve_rk45, rtol=1e-3, atol=1e-3)) >= 8


def test_accuracy_column_tells_an_accurate_sampler_from_a_coarse_one():
    """SciPy's RK45 on the exact linear–Gaussian score is at the exact posterior; 2 Euler steps are not."""
    samplers = {
        "scipy": partial(solve_rk45, rtol=1e-4, atol=1e-4),
        "euler 2": partial(sample_sde, steps=2, lam=0.0),
    }
    metrics, floor = accuracy(samplers, VP(0.001, 15.0), n_samples=200)
    assert 0.9 < metrics["scipy"]["std_ratio"] < 1.1
    assert metrics["scipy"]["w1"] < 1.5 * floor["w1"] + 0.02
    assert metrics["euler 2"]["w1"] > 3 * floor["w1"]


def test_sbi_comparison_trains_ours_as_diffinv_train_does(tmp_path):
    """bench_sbi's "ours" is ``python -m diffinv.train``'s config with the default recipe (or recipe=paper),
    the benchmark's sizes set, every test case's samples kept in samples.h5."""
    sizes = (0.05, 7, 4, 30, 1, tmp_path)  # noise, epochs, cases, samples, threads, root
    cfg = train_config(tmp_path / "lg.h5", *sizes)
    assert cfg.model._target_ == "diffinv.core.precondition.EDMPrecond"
    assert (cfg.loss.weighting, cfg.loss.sigma_data, cfg.optimizer.lr) == ("edm", "auto", 1e-2)
    assert cfg.lr_scheduler is not None and "ema" in cfg.callbacks
    assert cfg.trainer.max_epochs == 7 and cfg.evaluation.n_samples == 30 and not cfg.problem.clip
    assert cfg.problem.evaluator.n_test == cfg.problem.evaluator.n_figure_cases == 4
    assert cfg.problem.data_file == str((tmp_path / "lg.h5").resolve())
    assert {name: node.steps for name, node in cfg.sampler.items()} == {"ode": 20, "sde": 40}

    paper = train_config(tmp_path / "lg.h5", *sizes, "recipe=paper")
    assert paper.model._target_ == "diffinv.core.networks.ScoreMLP" and paper.optimizer.lr == 1e-3
    assert list(paper.sampler) == ["rk45", "euler_maruyama"] and paper.sampler.euler_maruyama.steps == 500
