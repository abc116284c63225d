"""The one sampling path (docs/design.md §1, §7): ``sample_in_batches`` counts the network calls each batch
made and keeps them with its samples, so ``<sampler>/calls_per_sample`` is what the sampler did — a fixed
budget exactly, an adaptive rk45 its mean over the measurements — also for a run resumed from its batches."""

from functools import partial

import numpy as np
import torch

from diffinv.core.formulations import VP
from diffinv.core.networks import ScoreMLP
from diffinv.core.samplers import sample_dpmpp_3m, sample_heun, sample_ode
from diffinv.training.module import ScoreModule
from diffinv.training.posterior import SamplingPlan, sample_in_batches

N_CASES, N_SAMPLES = 3, 16


def draw(sampler, chunk_dir):
    torch.manual_seed(0)
    module = ScoreModule(ScoreMLP(2, 1, width=8, depth=1), VP(0.001, 15.0), optimizer=None).eval()
    y = np.linspace(-1.0, 1.0, N_CASES)[:, None]
    plan = SamplingPlan(n_samples=N_SAMPLES, chunk_size=N_SAMPLES, seed=3)  # one measurement per batch
    return sample_in_batches(module, sampler, y, None, plan, chunk_dir)


def test_fixed_budgets_are_counted_exactly(tmp_path):
    assert draw(partial(sample_dpmpp_3m, steps=7), tmp_path / "3m").calls_per_sample == 7 + 1  # final step
    assert (
        draw(partial(sample_heun, steps=4, final_step="none"), tmp_path / "heun").calls_per_sample
        == 2 * 4 - 1
    )
    drawn = draw(partial(sample_dpmpp_3m, steps=7, final_step="tweedie"), tmp_path / "denoised")
    assert drawn.metrics("ode") == {"ode/time/sample_s": drawn.seconds, "ode/calls_per_sample": 8}


def test_adaptive_calls_are_averaged_and_come_back_with_resumed_batches(tmp_path):
    rk45 = partial(sample_ode, method="rk45", rtol=1e-4, atol=1e-4)
    first = draw(rk45, tmp_path)
    per_batch = [int(np.load(tmp_path / f"batch_{i:05d}.npz")["calls"]) for i in range(N_CASES)]
    assert min(per_batch) > 6  # dopri5: 6 calls per accepted step, plus the first-step probe
    assert first.calls_per_sample == np.mean(per_batch) and first.seconds > 0

    resumed = draw(rk45, tmp_path)  # every batch on disk: read, not sampled
    assert resumed.seconds == 0 and resumed.calls_per_sample == first.calls_per_sample
    np.testing.assert_array_equal(resumed.samples, first.samples)
