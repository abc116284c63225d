"""The learning-rate schedule (docs/math.md §15): ``lr_scheduler=cosine`` composes to a scheduler that a real
Lightning Trainer steps once per optimiser step, warming up linearly to ``optimizer.lr`` and decaying to
``final × optimizer.lr`` at the last step, for runs of any length; without it the rate stays constant."""

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from diffinv.core.formulations import VE
from diffinv.core.networks import ScoreMLP
from diffinv.data.datamodule import ShuffledBatches
from diffinv.training.module import ScoreModule
from tests.helpers.runs import compose_train


class LearningRates(pl.Callback):
    def __init__(self):
        self.seen = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.seen.append(trainer.optimizers[0].param_groups[0]["lr"])


def fit(scheduler_cfg, epochs=4, batches=5):
    torch.manual_seed(0)
    x, y = torch.randn(50, 2), torch.randn(50, 1)
    loader = ShuffledBatches(x, lambda epoch: y, None, 10, 0, lambda: 0)
    module = ScoreModule(
        ScoreMLP(2, 1, width=16, depth=2),
        VE(0.01, 5.0),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-2),
        lr_scheduler=None if scheduler_cfg is None else instantiate(scheduler_cfg),
    )
    rates = LearningRates()
    trainer = pl.Trainer(
        max_epochs=epochs,
        callbacks=[rates],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, train_dataloaders=loader)
    return rates.seen, trainer


@pytest.mark.parametrize("warmup", [0.2])
def test_cosine_warms_up_then_decays_over_exactly_the_run(warmup):
    cfg = compose_train("lr_scheduler=cosine", f"lr_scheduler.warmup={warmup}").lr_scheduler
    rates, _ = fit(cfg)
    assert len(rates) == 20  # 4 epochs x 5 batches: one rate per optimiser step
    n_warm = round(warmup * 20)
    assert rates[:n_warm] == pytest.approx([1e-2 * (i + 1) / n_warm for i in range(n_warm)])
    assert rates[n_warm] == pytest.approx(1e-2)  # the peak, first step of the decay
    assert all(
        a > b for a, b in zip(rates[n_warm:-1], rates[n_warm + 1 :], strict=True)
    )  # strictly decaying after it
    assert rates[-1] == pytest.approx(cfg.final * 1e-2)  # the last step runs at the final rate


def test_without_a_scheduler_the_rate_is_the_papers_constant():
    assert compose_train("recipe=paper").get("lr_scheduler") is None
    rates, _ = fit(None)
    assert rates == [1e-2] * 20
