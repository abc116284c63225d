"""diffinv: conditional score-based diffusion models for physics-based inverse problems.

The library surface, k-diffusion style (the mathematics: docs/math.md; the layers: docs/design.md §1)::

    from diffinv import VE, VP, VPFamily, ScoreMLP, dsm_loss, conditional_score, sample_ode, sample_sde
    from diffinv import sample_heun, sample_dpmpp_2m, sample_dpmpp_3m, sample_dpmpp_2m_sde  # fast samplers
    from diffinv import load_model, posterior_samples, read_measurement      # a trained run's posterior
    from diffinv import log_prob, posterior_log_prob      # log-densities by the probability-flow ODE

The torch-only core (formulations, network, loss, samplers, closed forms) is importable without Lightning
or Hydra; names are loaded on first use, so ``import diffinv`` itself is cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "Formulation": "diffinv.core.formulations",
    "VE": "diffinv.core.formulations",
    "VP": "diffinv.core.formulations",
    "VPFamily": "diffinv.core.formulations",
    "ScoreMLP": "diffinv.core.networks",
    "ScoreResMLP": "diffinv.core.networks",
    "ScoreUNet": "diffinv.core.networks",
    "dsm_loss": "diffinv.core.losses",
    "conditional_score": "diffinv.core.samplers",
    "sample_ode": "diffinv.core.samplers",
    "sample_sde": "diffinv.core.samplers",
    "sample_heun": "diffinv.core.samplers",
    "sample_dpmpp_2m": "diffinv.core.samplers",
    "sample_dpmpp_3m": "diffinv.core.samplers",
    "sample_dpmpp_2m_sde": "diffinv.core.samplers",
    "log_prob": "diffinv.core.density",
    "GaussianMixture": "diffinv.core.exact",
    "linear_gaussian_posterior": "diffinv.core.exact",
    "load_model": "diffinv.training.checkpoint",
    "TrainedModel": "diffinv.training.checkpoint",
    "posterior_samples": "diffinv.training.posterior",
    "posterior_log_prob": "diffinv.training.posterior",
    "read_measurement": "diffinv.data.measurements",
}
__all__ = [  # the names of _EXPORTS, spelled out for static tools
    "VE",
    "VP",
    "Formulation",
    "GaussianMixture",
    "ScoreMLP",
    "ScoreResMLP",
    "ScoreUNet",
    "TrainedModel",
    "VPFamily",
    "conditional_score",
    "dsm_loss",
    "linear_gaussian_posterior",
    "load_model",
    "log_prob",
    "posterior_log_prob",
    "posterior_samples",
    "read_measurement",
    "sample_dpmpp_2m",
    "sample_dpmpp_2m_sde",
    "sample_dpmpp_3m",
    "sample_heun",
    "sample_ode",
    "sample_sde",
]

if TYPE_CHECKING:  # what static tools (type checkers, the API docs) see
    from diffinv.core.density import log_prob
    from diffinv.core.exact import GaussianMixture, linear_gaussian_posterior
    from diffinv.core.formulations import VE, VP, Formulation, VPFamily
    from diffinv.core.losses import dsm_loss
    from diffinv.core.networks import ScoreMLP, ScoreResMLP, ScoreUNet
    from diffinv.core.samplers import (
        conditional_score,
        sample_dpmpp_2m,
        sample_dpmpp_2m_sde,
        sample_dpmpp_3m,
        sample_heun,
        sample_ode,
        sample_sde,
    )
    from diffinv.data.measurements import read_measurement
    from diffinv.training.checkpoint import TrainedModel, load_model
    from diffinv.training.posterior import posterior_log_prob, posterior_samples


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'diffinv' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
