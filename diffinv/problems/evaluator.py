"""The evaluator interface every problem family implements (docs/design.md §1).

A problem's config names its evaluator (``problem.evaluator._target_``) with the family's own settings;
``diffinv.train`` and ``diffinv.evaluate`` call it the same way for every family and end with its summary of
the headline numbers (:meth:`Evaluator.summary`), ``diffinv.infer`` asks it for the posterior figure of a
user's measurements, and ``diffinv.report`` asks the evaluator class named in the runs' configs for the
family's report. Nothing looks at metric names or config values to tell families apart.
"""

from __future__ import annotations

import copy
import logging
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from diffinv.data.datamodule import PairedDataModule
from diffinv.run.files import write_json, write_text
from diffinv.run.labels import noise_label
from diffinv.training.module import ScoreModule
from diffinv.training.posterior import SamplingPlan

log = logging.getLogger(__name__)

# What every run reports besides its family's headline: metric key (docs/design.md §7) -> how it is shown.
RUN_NUMBERS = {"time/train_s": "{} s", "train/steps": "{} steps", "train/final_loss": "final loss {}"}


class Evaluator(ABC):
    needs_clean_measurements: bool = False  # True: scored against clean test y, so train with data.noise = 0
    # The columns of the run's summary (docs/usage.md §2): label -> metric key, where "{sampler}" stands for
    # each sampler's name; a key without it (a floor, the prior std) is the same in every row.
    headline_columns: dict[str, str] = {}

    @abstractmethod
    def __call__(
        self, module: ScoreModule, datamodule: PairedDataModule, out: Path, plan: SamplingPlan
    ) -> dict[str, float]:
        """Sample the family's test conditions with every sampler of ``module`` (through
        :mod:`diffinv.training.posterior`), write ``samples.h5`` and ``figures/`` into ``out``, and return
        the flat metrics (docs/design.md §7), ``<sampler>/time/sample_s``, ``<sampler>/calls_per_sample`` and
        ``time/score_s`` included."""

    @abstractmethod
    def posterior_figure(
        self, samples: np.ndarray, path: Path, title: str, mask: np.ndarray | None = None
    ) -> Path:
        """A PNG of posterior samples (n_measurements, n_samples, d) in physical units."""

    @staticmethod
    @abstractmethod
    def report(rows: list[dict], directory: Path, out: Path) -> str:
        """The family's markdown report (and figures) of ``rows`` (:func:`diffinv.run.records.collect`)."""

    @classmethod
    def headline(cls, metrics: dict[str, float]) -> dict[str, float]:
        """The headline numbers of a run's ``metrics`` under their own keys (docs/design.md §7): the
        :attr:`headline_columns` of each sampler, then the run's training numbers; keys the run did not
        compute (e.g. the exact-posterior ratios of a clipped flux dataset) are left out."""
        keys = [key.format(sampler=s) for s in samplers(metrics) for key in cls.headline_columns.values()]
        keys += RUN_NUMBERS
        return {key: metrics[key] for key in dict.fromkeys(keys) if key in metrics}

    @classmethod
    def summary(cls, metrics: dict[str, float]) -> str:
        """The headline numbers as a small aligned table, one row per sampler, and a line of the run's
        training numbers (docs/usage.md §2)."""
        headline, names = cls.headline(metrics), samplers(metrics)
        columns = {
            label: key
            for label, key in cls.headline_columns.items()
            if any(key.format(sampler=s) in headline for s in names)
        }
        rows = [
            [s, *(_number(headline.get(key.format(sampler=s))) for key in columns.values())] for s in names
        ]
        run = [shown.format(_number(headline[key])) for key, shown in RUN_NUMBERS.items() if key in headline]
        return aligned(["sampler", *columns], rows) + (f"\ntraining: {', '.join(run)}" if run else "")


def run_evaluator(cfg: DictConfig, module: ScoreModule, datamodule: PairedDataModule, out: Path) -> dict:
    """The run's evaluator (``cfg.problem.evaluator``) with the run's sampling plan (``cfg.evaluation``); its
    metrics with the noise of the run's readings in both units, ``data/noise`` (the fraction) and
    ``data/noise_std`` (σ_n, docs/problems.md §2.4).

    A model trained over a range of noise levels (``data.noise=[low, high]``, docs/math.md §19) is scored at
    each of ``evaluation.noise_levels``: the test readings at that level, everything the evaluator writes in
    ``out/levels/noise_<level>/`` with a ``config.yaml`` that names the level as ``data.noise`` (and the
    trained range as ``data.trained_noise``) and its ``metrics.json``, so that ``diffinv.report`` shows one
    row per level beside models trained at one level. The run's own metrics are then only the level count
    (``eval/noise_levels``); each level's summary goes to the log."""
    evaluator: Evaluator = instantiate(cfg.problem.evaluator)
    plan = SamplingPlan(**{k: v for k, v in cfg.evaluation.items() if k != "noise_levels"})
    levels = OmegaConf.select(cfg, "evaluation.noise_levels")
    if not levels:
        metrics = evaluator(module, datamodule, Path(out), plan)
        return metrics | {"data/noise": datamodule.noise, "data/noise_std": datamodule.noise_std}
    config = OmegaConf.to_container(cfg, resolve=True)
    for level in levels:
        datamodule.use_noise(float(level))
        where = Path(out) / "levels" / f"noise_{level:g}"
        metrics = evaluator(module, datamodule, where, plan)
        metrics |= {"data/noise": datamodule.noise, "data/noise_std": datamodule.noise_std}
        level_config = copy.deepcopy(config)
        level_config["data"] |= {"noise": float(level), "trained_noise": config["data"]["noise"]}
        level_config["evaluation"]["noise_levels"] = None
        write_text(where / "config.yaml", OmegaConf.to_yaml(level_config))
        write_json(where / "metrics.json", metrics)
        log.info(
            "%s: summary (every number: %s)\n%s",
            noise_label(datamodule.noise, datamodule.noise_std), where / "metrics.json",
            type(evaluator).summary(metrics),
        )  # fmt: skip
    return {"eval/noise_levels": float(len(levels))}


def samplers(metrics: dict[str, float]) -> list[str]:
    """The samplers a run evaluated, in its order: every one has ``<sampler>/time/sample_s``."""
    return [key.removesuffix("/time/sample_s") for key in metrics if key.endswith("/time/sample_s")]


def aligned(header: list[str], rows: list[list[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned, two spaces apart."""
    table = [header, *rows]
    widths = [max(len(row[j]) for row in table) for j in range(len(header))]
    return "\n".join(
        "  ".join(
            [row[0].ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True))]
        )
        for row in table
    )


def _number(value: float | None) -> str:
    """Four significant digits; whole numbers and numbers from 1000 up without decimals."""
    if value is None:
        return "–"
    return f"{value:.0f}" if abs(value) >= 1000 or float(value).is_integer() else f"{value:.4g}"


def evaluator_class(cfg: DictConfig) -> type[Evaluator]:
    """The class of the run's evaluator (``cfg.problem.evaluator._target_``), for what needs no instance."""
    return get_class(cfg.problem.evaluator._target_)


def announce(cfg: DictConfig, metrics: dict[str, float], out: Path) -> None:
    """The end of a run of ``diffinv.train`` or ``diffinv.evaluate``: the evaluator's summary of
    ``metrics`` into the log (console and ``<task>.log``), then ``results: DIR`` (docs/usage.md §2)."""
    if "eval/noise_levels" in metrics:  # an amortized model: one summary per level, logged as each was scored
        log.info("summary: one per noise level above (levels/noise_<level>/metrics.json)")
    else:
        log.info("summary (every number: metrics.json)\n%s", evaluator_class(cfg).summary(metrics))
    print(f"results: {out.resolve()}")
