"""Log-densities of a module's posterior in batches (docs/math.md §17): the batching does not change the
answer beyond the integration tolerance, and bad options are refused by their key."""

import numpy as np
import pytest
import torch

from diffinv.core.density import log_prob
from diffinv.core.formulations import VE
from diffinv.core.networks import ScoreMLP
from diffinv.core.samplers import conditional_score
from diffinv.training.density import DensityOptions, log_prob_in_batches
from diffinv.training.module import ScoreModule
from diffinv.training.posterior import SamplingPlan


def test_batches_agree_with_one_integration_per_measurement():
    torch.manual_seed(0)
    module = ScoreModule(ScoreMLP(3, 2, width=16, depth=2), VE(0.05, 5.0), optimizer=None).eval()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 3)) * 0.5 + 4.0 * np.arange(3)[:, None, None]  # far apart in log q
    y = rng.standard_normal((3, 2))
    options = DensityOptions(batch_size=8, rtol=1e-4, atol=1e-4)  # two measurements per batch
    batched = log_prob_in_batches(module, x, y, None, options)
    for i in range(3):
        score = conditional_score(module.network, module.formulation, torch.tensor(y[i], dtype=torch.float32))
        alone = log_prob(
            score, module.formulation, torch.tensor(x[i], dtype=torch.float32), rtol=1e-4, atol=1e-4
        )
        # other steps at the same tolerance: each within a few 0.01 nats of the exact flow (math §17.1)
        np.testing.assert_allclose(batched[i], alone.numpy(), atol=0.05)
    assert np.all(np.diff(batched.mean(axis=1)) < -0.2)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"divergence": "jvp"}, "density.divergence must be one of"),
        ({"n_probes": 0}, "density.n_probes must be an integer >= 1"),
        ({"batch_size": 1.5}, "density.batch_size must be an integer >= 1"),
        ({"rtol": -1.0}, "density.rtol and density.atol must be > 0"),
    ],
)
def test_bad_density_options_name_their_key(options, message):
    with pytest.raises(ValueError, match=message):
        SamplingPlan(n_samples=10, density=options)


def test_reweight_must_be_a_boolean():
    with pytest.raises(ValueError, match="evaluation.reweight must be true or false"):
        SamplingPlan(n_samples=10, reweight="yes")
