"""``python -m diffinv.train [overrides]``: data (generated on first use), training, test-stage sampling,
metrics and figures, all in one run directory (docs/design.md §3–4).

Run directory: ``config.yaml`` (resolved), ``checkpoints/final.ckpt`` (and ``last.ckpt``, periodic),
``metrics.json``, ``figures/*.png``, and the loggers' folders (``csv/`` by default). ``resume=DIR``
continues a killed run there (:mod:`diffinv.run.resume`); ``time/train_s`` is then the last invocation's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from diffinv.run.console import quiet_console
from diffinv.run.errors import exits_on_bad_input
from diffinv.run.files import write_json
from diffinv.run.resolvers import register_resolvers
from diffinv.run.resume import completed_metrics, latest_checkpoint, start_run_dir
from diffinv.run.validation import validate
from diffinv.training.module import ScoreModule

log = logging.getLogger(__name__)
register_resolvers()


def dataset_path(cfg: DictConfig, recipe=None) -> Path:
    """``problem.data_file``, or ``<data_dir>/<recipe name>-<sha256 of the recipe, 10 hex>.h5`` for data made
    on first use; ``recipe`` is the instantiated ``problem.dataset`` (:class:`data_gen.build.Recipe`)."""
    if cfg.problem.data_file:
        return Path(cfg.problem.data_file)
    if recipe is None:
        recipe = instantiate(OmegaConf.to_container(cfg.problem.dataset, resolve=True))
    digest = hashlib.sha256(json.dumps(recipe.spec, sort_keys=True).encode()).hexdigest()[:10]
    return Path(cfg.paths.data_dir) / f"{recipe.name}-{digest}.h5"


def ensure_dataset(cfg: DictConfig) -> Path:
    """The run's dataset file: ``problem.data_file`` (which must exist), or the file of the recipe
    ``problem.dataset``, generated here (in this process, by data_gen) when it is missing."""
    if cfg.problem.data_file:
        path = Path(cfg.problem.data_file)
        if not path.is_file():
            make = OmegaConf.select(cfg, "problem.make_data")
            hint = f"; make it with: {make}" if make else ""
            raise FileNotFoundError(f"problem.data_file: {path} does not exist{hint}")
        return path
    # the node names its _target_ (data_gen.build.Recipe): diffinv never imports data_gen
    recipe = instantiate(OmegaConf.to_container(cfg.problem.dataset, resolve=True))
    path = dataset_path(cfg, recipe)
    if not path.exists():
        log.info("dataset %s missing: generating it with %s", path, recipe.target)
        start = time.perf_counter()
        recipe.write(path)
        log.info("generated %s in %.1f s", path, time.perf_counter() - start)
    return path


def build_module(cfg: DictConfig) -> ScoreModule:
    samplers = {name: instantiate(node) for name, node in cfg.sampler.items()}
    return ScoreModule(
        network=instantiate(cfg.model),
        formulation=instantiate(cfg.formulation),
        optimizer=instantiate(cfg.optimizer),
        samplers=samplers,
        n_samples=cfg.evaluation.n_samples,
        sample_seed=cfg.evaluation.seed,
    )


def sample_and_score(cfg: DictConfig, module: ScoreModule, datamodule, out: Path) -> dict:
    """Lightning test stage (all y* at once, every configured sampler), then metrics and figures.

    Problems without y* (boundary flux, docs/problems.md §2–4) condition on every test measurement instead: their
    evaluator samples them in chunks itself (:mod:`diffinv.problems.flux.evaluator`).
    """
    if cfg.problem.y_stars is None:
        evaluator = instantiate(
            cfg.problem.evaluator, n_test=cfg.evaluation.n_test, chunk_size=cfg.evaluation.chunk_size
        )
        return evaluator(module, datamodule, out, seed=cfg.evaluation.seed)
    # one process samples, also after data-parallel training: a single-device Trainer of the same accelerator
    tester = instantiate(
        cfg.trainer,
        devices=1,
        num_nodes=1,
        strategy="auto",
        logger=False,
        callbacks=[],
        default_root_dir=str(out),
    )
    tester.test(module, datamodule=datamodule, verbose=False)
    x_norm = datamodule.x_norm
    samples = {name: x_norm.inverse(x.double().cpu().numpy()) for name, x in module.test_samples.items()}
    evaluator = instantiate(
        cfg.problem.evaluator,
        band_halfwidth=cfg.evaluation.band_halfwidth,
        sinkhorn_reg=cfg.evaluation.sinkhorn_reg,
        sinkhorn_tol=cfg.evaluation.sinkhorn_tol,
        exact_sinkhorn=cfg.evaluation.exact_sinkhorn,
    )
    test = datamodule.dataset.test
    start = time.perf_counter()
    metrics = evaluator(
        samples, test.x, test.y_clean, list(cfg.problem.y_stars), out, seed=cfg.evaluation.seed
    )
    metrics["time/score_s"] = time.perf_counter() - start
    for name, seconds in module.sample_seconds.items():
        metrics[f"{name}/time/sample_s"] = seconds
    return metrics


def publish(metrics: dict, loggers: list, out: Path) -> None:
    """``metrics.json`` (atomic) and every logger; W&B also receives the figures."""
    write_json(out / "metrics.json", metrics)
    for logger in loggers:
        logger.log_metrics(metrics)
        if isinstance(logger, pl.loggers.WandbLogger):
            figures = sorted((out / "figures").glob("*.png"))
            logger.log_image(
                key="figures", images=[str(p) for p in figures], caption=[p.stem for p in figures]
            )
        logger.save()
        logger.finalize("success")


def fit(trainer: pl.Trainer, module: ScoreModule, datamodule, out: Path, resuming: bool) -> dict:
    """Train (continuing from the run's newest checkpoint when resuming), save ``final.ckpt``, and return
    the fit metrics, which ``final.ckpt`` also keeps: a run resumed after training finished reports them."""
    checkpoint = latest_checkpoint(out) if resuming else None
    start = time.perf_counter()
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
    validate(cfg)
    torch.set_num_threads(cfg.torch_threads)
    pl.seed_everything(cfg.seed, workers=True)
    out = Path(cfg.paths.output_dir)
    resuming = start_run_dir(cfg.resume, out, cfg)
    if resuming and (done := completed_metrics(out)) is not None:
        return done
    datamodule = instantiate(cfg.data, path=str(ensure_dataset(cfg)))
    datamodule.setup("fit")
    module = build_module(cfg)
    run_config = OmegaConf.to_container(cfg, resolve=True)
    for key in ("root_dir", "data_dir", "log_dir"):  # absolute, so a checkpoint finds its data from anywhere
        run_config["paths"][key] = str(Path(run_config["paths"][key]).resolve())
    module.run_state = {"config": run_config, "normalisation": datamodule.state()}
    loggers = [instantiate(node) for node in cfg.logger.values()]
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    callbacks = [instantiate(node) for node in cfg.callbacks.values()]
    trainer = instantiate(cfg.trainer, logger=loggers, callbacks=callbacks)

    fit_metrics = fit(trainer, module, datamodule, out, resuming)
    if trainer.global_rank != 0:  # data-parallel training: one process samples, scores and writes
        return fit_metrics
    metrics = sample_and_score(cfg, module, datamodule, out) | fit_metrics
    publish(metrics, loggers, out)
    log.info("results in %s (metrics.json, figures/, checkpoints/final.ckpt)", out)
    print(f"results: {out.resolve()}")
    return metrics


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@exits_on_bad_input
def main(cfg: DictConfig) -> float:
    quiet_console()
    metrics = train(cfg)
    first = next(iter(cfg.sampler))
    objective = OmegaConf.select(cfg, "problem.objective", default="sinkhorn/mean")
    return float(metrics.get(f"{first}/{objective}", float("nan")))  # data-parallel ranks > 0: no metrics


if __name__ == "__main__":
    main()
