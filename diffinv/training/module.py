"""LightningModule: the conditional ε-network trained by denoising score matching (docs/math.md §6), and
:meth:`ScoreModule.sample`, the one call that draws posterior samples with a reverse-process sampler
(docs/math.md §5); batching, checkpointed batches and units are :mod:`diffinv.training.posterior`'s."""

from __future__ import annotations

import logging
import math
import time

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from diffinv.core.formulations import Formulation, calibration_warnings
from diffinv.core.losses import dsm_loss
from diffinv.core.samplers import CountingScore, conditional_score

log = logging.getLogger(__name__)


class ScoreModule(pl.LightningModule):
    """``network`` is an ε-model ``(x, t, y, mask) -> ε̂``; ``samplers`` maps a name to a callable
    ``(score_fn, formulation, x_T) -> x_0`` (partially applied :func:`diffinv.core.samplers.sample_ode` /
    :func:`~diffinv.core.samplers.sample_sde`); ``optimizer`` is a partial ``torch.optim`` constructor;
    ``lr_scheduler``, optional, a partial ``torch.optim.lr_scheduler`` constructor that takes the optimizer
    and ``total_steps`` and is stepped every optimiser step (docs/math.md §15). Build one from a run's config
    with :func:`build_module`."""

    def __init__(
        self,
        network: torch.nn.Module,
        formulation: Formulation,
        optimizer,
        samplers: dict | None = None,
        loss: dict | None = None,
        lr_scheduler=None,
    ):
        super().__init__()
        self.network, self.formulation, self.optimizer_factory = network, formulation, optimizer
        self.scheduler_factory = lr_scheduler
        self.samplers = dict(samplers or {})
        self.loss_options = dict(loss or {})  # dsm_loss keywords: t_sampling, weighting (docs/math.md §6)
        self.run_state: dict = {}  # resolved config and normalisation, stored in every checkpoint
        # the random stream the first step draws t and z from: the global one as it is once the network is
        # built (diffinv.train captures it); restored when training starts, because a data-parallel launch
        # reseeds every process after the network was built (docs/usage.md §11)
        self.start_rng: torch.Tensor | None = None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["diffinv"] = self.run_state
        checkpoint["diffinv_rng"] = torch.get_rng_state()  # the DSM loss's draws of t and noise

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """A resumed run continues the global random stream where the checkpointed one was."""
        self.run_state = checkpoint.get("diffinv", {})
        self.start_rng = None  # the checkpoint's stream, not the fresh run's
        if "diffinv_rng" in checkpoint:
            torch.set_rng_state(checkpoint["diffinv_rng"])

    def on_train_start(self) -> None:
        """Every process of a data-parallel run starts the draws where one process would (``start_rng``)."""
        if self.start_rng is not None:
            torch.set_rng_state(self.start_rng)

    def training_step(self, batch, batch_idx):
        """The DSM loss of ``batch`` (docs/math.md §6); in one process its mean over the batch.

        Under data parallelism (docs/usage.md §11) ``batch`` is this process's share of a global batch
        (:class:`diffinv.data.datamodule.ShuffledBatches`): shares differ in size by one when the batch size
        is not a multiple of the number of processes W, and a last batch smaller than W leaves some empty.
        Each process returns its share's *sum* × W / B, with B the global batch size (an all-gather of the
        share sizes, which also gives the share's offset): DDP averages the gradients over the W processes,
        so the step is the single-process gradient of the global batch's mean, whatever the shares. The
        noise levels t and noises z are those of the global batch (every process draws all B, from
        generators seeded alike, and keeps its share's rows: :func:`~diffinv.core.losses.dsm_loss`'s
        ``share``), so the step *equals* the single-process step, not merely in expectation; and every
        process's generator stays in the same state, which a resumed run restores from any one of them.
        ``train/loss`` logs the share's mean with weight its size (0 for an empty share, never NaN) and is
        reduced over processes at the end of the epoch: the mean over every pair of the epoch, as logged by
        one process.
        """
        x, y, mask = batch
        n, world_size = x.shape[0], self.trainer.world_size
        if world_size == 1:
            loss = dsm_loss(self.network, self.formulation, x, y, mask, **self.loss_options)
            self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=n)
            return loss
        sizes = self.trainer.strategy.all_gather(torch.tensor(n, device=x.device)).reshape(-1)
        offset, global_size = int(sizes[: self.trainer.global_rank].sum()), int(sizes.sum())
        share_sum = dsm_loss(
            self.network, self.formulation, x, y, mask, reduction="sum", share=(offset, global_size),
            **self.loss_options,
        )  # fmt: skip
        self.log(
            "train/loss",
            share_sum.detach() / max(n, 1),
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            batch_size=n,
            sync_dist=True,
        )
        return share_sum * (world_size / global_size)

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        total_steps = int(self.trainer.estimated_stepping_batches)
        scheduler = self.scheduler_factory(optimizer, total_steps=total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    @torch.no_grad()
    def sample(self, sampler, y: torch.Tensor, n_samples: int, seed: int, mask: torch.Tensor | None = None):
        """Samples (n, n_samples, x_dim) for conditions ``y`` (n, 1, m), normalised units; the seconds; and
        the network calls the sampler made (each over the whole batch, so also the calls per sample)."""
        start = time.perf_counter()
        torch.manual_seed(seed)
        shape = (y.shape[0], n_samples, self.network.x_dim)
        x_T = self.formulation.prior_sample(shape, device=y.device, dtype=y.dtype)
        score_fn = CountingScore(conditional_score(self.network, self.formulation, y, mask))
        x = sampler(score_fn, self.formulation, x_T)
        return x, time.perf_counter() - start, score_fn.calls


def warmup_cosine(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup: float = 0.05, final: float = 0.01
) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning rate of docs/math.md §15: linear warm-up from 0 over the first ``warmup`` fraction of the
    ``total_steps`` optimiser steps, then a cosine decay to ``final`` × the optimiser's rate at the last step.
    Any number of steps works (a one-step run takes the full rate)."""
    if not (0 <= warmup < 1 and 0 <= final <= 1):
        raise ValueError(f"warmup must lie in [0, 1) and final in [0, 1], got {warmup!r}, {final!r}")
    n_warm = math.ceil(warmup * total_steps)
    n_decay = max(total_steps - n_warm - 1, 1)

    def factor(step: int) -> float:
        if step < n_warm:
            return (step + 1) / n_warm
        progress = min((step - n_warm) / n_decay, 1.0)
        return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def build_module(cfg: DictConfig) -> ScoreModule:
    """The untrained module a run's config describes: ``model``, ``formulation``, ``optimizer`` and every
    selected ``sampler`` instantiated, ``loss`` the keywords of :func:`~diffinv.core.losses.dsm_loss`
    (docs/design.md §5; a checkpoint from before ``loss`` existed trains with the defaults). What keeps the
    formulation from calibrated posteriors of data of the run's scale is logged as a warning (docs/math.md
    §5.4)."""
    formulation = instantiate(cfg.formulation)
    sigma_data = OmegaConf.select(cfg, "loss.sigma_data", default=1.0)
    for warning in calibration_warnings(formulation, float(sigma_data)) if sigma_data != "auto" else ():
        log.warning(warning)
    return ScoreModule(
        network=instantiate(cfg.model),
        formulation=formulation,
        optimizer=instantiate(cfg.optimizer),
        samplers={name: instantiate(node) for name, node in cfg.sampler.items()},
        loss=OmegaConf.to_container(cfg.loss) if "loss" in cfg else None,
        lr_scheduler=instantiate(cfg.lr_scheduler) if cfg.get("lr_scheduler") else None,
    )
