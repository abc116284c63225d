"""``python -m diffinv.train [overrides]``: data (generated on first use), training, then the problem's
evaluator (posterior samples, metrics, figures, ``samples.h5``), all in one run directory
(docs/design.md §3–4).

Run directory: ``config.yaml`` (resolved), ``checkpoints/final.ckpt`` (and ``last.ckpt``, periodic),
``metrics.json``, ``figures/*.png``, and the loggers' folders (``csv/`` by default). ``resume=DIR``
continues a killed or interrupted run there (:mod:`diffinv.run.resume`); ``time/train_s`` is then the last
invocation's. SIGINT, SIGTERM and SIGUSR1 stop a run with its work saved and print that command
(:mod:`diffinv.run.interrupts`, :mod:`diffinv.training.interruption`; docs/usage.md §8).
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from diffinv.data.source import ensure_dataset
from diffinv.problems.evaluator import announce, evaluator_class, run_evaluator
from diffinv.run.console import quiet_console
from diffinv.run.errors import exits_on_bad_input
from diffinv.run.files import write_json
from diffinv.run.interrupts import active_catcher, exits_on_interrupt
from diffinv.run.labels import noise_label, run_label
from diffinv.run.resolvers import register_resolvers
from diffinv.run.resume import completed_metrics, discarded_on_failure, latest_checkpoint, start_run_dir
from diffinv.run.validation import fill_from_data, validate
from diffinv.training.interruption import StopOnSignal, continue_csv_log
from diffinv.training.loggers import WandbLogger
from diffinv.training.module import ScoreModule, build_module

log = logging.getLogger(__name__)
register_resolvers()


def publish(metrics: dict, headline: dict, loggers: list, out: Path) -> None:
    """``metrics.json`` (atomic) and every logger: W&B receives the figures and the ``headline`` numbers as
    its run summary (:class:`diffinv.training.loggers.WandbLogger`), the others every metric."""
    write_json(out / "metrics.json", metrics)
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.publish(sorted((out / "figures").glob("*.png")), headline)
        else:
            logger.log_metrics(metrics)
        logger.save()
        logger.finalize("success")


def fit(trainer: pl.Trainer, module: ScoreModule, datamodule, out: Path, checkpoint: Path | None) -> dict:
    """Train (continuing from ``checkpoint``, the run's newest when resuming), save ``final.ckpt``, and
    return the fit metrics, which ``final.ckpt`` also keeps: a run resumed after training finished reports
    them."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        if checkpoint is not None:  # resuming: of course the checkpoint directory has files
            warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
        trainer.fit(module, datamodule=datamodule, ckpt_path=checkpoint, weights_only=True)
    if checkpoint is not None and checkpoint.name == "final.ckpt":
        return module.run_state["fit"]
    module.run_state["fit"] = {
        "time/train_s": time.perf_counter() - start,
        "train/steps": float(trainer.global_step),
        "train/final_loss": float(trainer.callback_metrics["train/loss"]),
    }
    trainer.save_checkpoint(out / "checkpoints" / "final.ckpt", weights_only=False)
    return module.run_state["fit"]


def train(cfg: DictConfig) -> dict:
    out = Path(cfg.paths.output_dir)
    with discarded_on_failure(out, cfg.resume):  # everything checked before the run directory is written to
        validate(cfg)
        torch.set_num_threads(cfg.torch_threads)
        pl.seed_everything(cfg.seed, workers=True)
        datamodule = instantiate(cfg.data, path=str(ensure_dataset(cfg)))
        datamodule.setup("fit")
        fill_from_data(cfg, datamodule.dataset)
        if OmegaConf.select(cfg, "loss.sigma_data") == "auto":  # the data's scale (docs/math.md §15.2): the
            cfg.loss.sigma_data = datamodule.x_scale()  # run's config.yaml, checkpoint and W&B config hold it
            log.info("sigma_data (auto): %.4g, the normalised training data's std", cfg.loss.sigma_data)
    resuming = start_run_dir(cfg.resume, out, cfg)
    if resuming and (done := completed_metrics(out)) is not None:
        announce(cfg, done, out)
        return done
    module = build_module(cfg)
    module.start_rng = torch.get_rng_state()  # where one process's draws start (ScoreModule.on_train_start)
    label = run_label(cfg.problem.name, module.formulation, module.samplers.values())
    trained = noise_label(
        datamodule.noise_range or datamodule.noise, datamodule.noise_std
    )  # a range: its span
    log.info("run: %s · %s", label, trained)
    run_config = OmegaConf.to_container(cfg, resolve=True)
    for key in ("root_dir", "data_dir", "log_dir"):  # absolute, so a checkpoint finds its data from anywhere
        run_config["paths"][key] = str(Path(run_config["paths"][key]).resolve())
    module.run_state = {"config": run_config, "normalisation": datamodule.state()}
    checkpoint = latest_checkpoint(out) if resuming else None
    loggers = [instantiate(node) for node in cfg.logger.values()]
    if resuming:
        continue_csv_log(loggers, checkpoint)
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    callbacks = [instantiate(node) for node in cfg.callbacks.values()]
    if (catcher := active_catcher()) is not None:
        callbacks.append(StopOnSignal(catcher, out / "checkpoints" / "last.ckpt"))
    batches = math.ceil(len(datamodule.dataset.train.x) / cfg.data.batch_size)
    trainer = instantiate(
        cfg.trainer,
        logger=loggers,
        callbacks=callbacks,
        log_every_n_steps=min(cfg.trainer.log_every_n_steps, batches),  # a maximum: no warning on few batches
    )

    fit_metrics = fit(trainer, module, datamodule, out, checkpoint)
    if trainer.global_rank != 0:  # data-parallel training: one process samples, scores and writes
        return fit_metrics
    metrics = run_evaluator(cfg, module, datamodule, out) | fit_metrics
    publish(metrics, evaluator_class(cfg).headline(metrics), loggers, out)
    announce(cfg, metrics, out)
    return metrics


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@exits_on_bad_input
@exits_on_interrupt("diffinv.train")
def main(cfg: DictConfig) -> float:
    quiet_console()
    metrics = train(cfg)
    first = next(iter(cfg.sampler))
    objective = OmegaConf.select(cfg, "problem.objective", default="sinkhorn/mean")
    return float(metrics.get(f"{first}/{objective}", float("nan")))  # data-parallel ranks > 0: no metrics


if __name__ == "__main__":
    main()
