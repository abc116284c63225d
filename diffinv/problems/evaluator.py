"""The evaluator interface every problem family implements (docs/design.md §1).

A problem's config names its evaluator (``problem.evaluator._target_``) with the family's own settings;
``diffinv.train`` and ``diffinv.evaluate`` call it the same way for every family, ``diffinv.infer`` asks it
for the posterior figure of a user's measurements, and ``diffinv.report`` asks the evaluator class named in
the runs' configs for the family's report. Nothing looks at metric names or config values to tell families
apart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig

from diffinv.data.datamodule import PairedDataModule
from diffinv.training.module import ScoreModule
from diffinv.training.posterior import SamplingPlan


class Evaluator(ABC):
    needs_clean_measurements: bool = False  # True: scored against clean test y, so train with data.noise = 0

    @abstractmethod
    def __call__(
        self, module: ScoreModule, datamodule: PairedDataModule, out: Path, plan: SamplingPlan
    ) -> dict[str, float]:
        """Sample the family's test conditions with every sampler of ``module`` (through
        :mod:`diffinv.training.posterior`), write ``samples.h5`` and ``figures/`` into ``out``, and return
        the flat metrics (docs/design.md §7), ``<sampler>/time/sample_s`` and ``time/score_s`` included."""

    @abstractmethod
    def posterior_figure(
        self, samples: np.ndarray, path: Path, title: str, mask: np.ndarray | None = None
    ) -> Path:
        """A PNG of posterior samples (n_measurements, n_samples, d) in physical units."""

    @staticmethod
    @abstractmethod
    def report(rows: list[dict], directory: Path, out: Path) -> str:
        """The family's markdown report (and figures) of ``rows`` (:func:`diffinv.run.records.collect`)."""


def run_evaluator(cfg: DictConfig, module: ScoreModule, datamodule: PairedDataModule, out: Path) -> dict:
    """The run's evaluator (``cfg.problem.evaluator``) with the run's sampling plan (``cfg.evaluation``); its
    metrics with the noise of the run's readings in both units, ``data/noise`` (the fraction) and
    ``data/noise_std`` (σ_n, docs/problems.md §2.4)."""
    evaluator: Evaluator = instantiate(cfg.problem.evaluator)
    metrics = evaluator(module, datamodule, Path(out), SamplingPlan(**cfg.evaluation))
    return metrics | {"data/noise": datamodule.noise, "data/noise_std": datamodule.noise_std}
