"""Posterior log-densities of a trained module (docs/math.md §17): :func:`diffinv.core.density.log_prob`
with the network's conditional score, in batches.

- :class:`DensityOptions`: how the probability-flow ODE and its divergence are integrated
  (``evaluation.density``, ``infer``'s ``density``);
- :func:`log_prob_in_batches`: ``log q`` of normalised samples for each normalised measurement;
- :func:`log_abs_det`: the normalisation's Jacobian, for densities in physical units.

The library call, physical units in and out, is :func:`diffinv.training.posterior.posterior_log_prob`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from diffinv.core.density import ATOL, DIVERGENCES, PROBES, RTOL, log_prob
from diffinv.core.samplers import conditional_score
from diffinv.data.datamodule import Affine
from diffinv.run.console import progress
from diffinv.training.module import ScoreModule


@dataclass(frozen=True)
class DensityOptions:
    """Options of :func:`diffinv.core.density.log_prob`, and ``batch_size``: samples per integration (memory
    grows with it times d for the exact divergence); ``seed`` seeds Hutchinson's probes."""

    divergence: str = "auto"
    n_probes: int = 1
    probe: str = "rademacher"
    rtol: float = RTOL
    atol: float = ATOL
    batch_size: int = 1000
    seed: int = 0

    def __post_init__(self):
        if self.divergence not in DIVERGENCES:
            raise ValueError(f"density.divergence must be one of {DIVERGENCES}, got {self.divergence!r}")
        if self.probe not in PROBES:
            raise ValueError(f"density.probe must be one of {PROBES}, got {self.probe!r}")
        for key in ("n_probes", "batch_size"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"density.{key} must be an integer >= 1, got {value!r}")
        if not (self.rtol > 0 and self.atol > 0):
            raise ValueError(f"density.rtol and density.atol must be > 0, got {self.rtol!r}, {self.atol!r}")


def log_prob_in_batches(
    module: ScoreModule,
    samples: np.ndarray,
    y_norm: np.ndarray,
    mask: np.ndarray | None,
    options: DensityOptions | None = None,
) -> np.ndarray:
    """``log q(x | y_i)`` (n, k) of normalised samples ``samples`` (n, k, d) for normalised measurements
    ``y_norm`` (n, m) (mask (n, m) or None), in the network's units; ``max(1, batch_size // k)``
    measurements per integration, batch ``i``'s probes seeded ``seed + i``."""
    samples, options = np.asarray(samples), options or DensityOptions()
    n, k, _ = samples.shape
    per_batch = max(1, options.batch_size // k)
    device, dtype = module.device, next(module.network.parameters()).dtype
    out = np.empty((n, k))
    for i, start in enumerate(progress(range(0, n, per_batch), desc="log q", unit="batches")):
        rows = slice(start, start + per_batch)
        y = torch.as_tensor(y_norm[rows, None, :], dtype=dtype, device=device)
        m = None if mask is None else torch.as_tensor(mask[rows, None, :], dtype=dtype, device=device)
        x = torch.as_tensor(samples[rows], dtype=dtype, device=device)
        score = conditional_score(module.network, module.formulation, y, m)
        generator = torch.Generator(device=device).manual_seed(options.seed + i)
        out[rows] = (
            log_prob(
                score,
                module.formulation,
                x,
                divergence=options.divergence,
                n_probes=options.n_probes,
                probe=options.probe,
                rtol=options.rtol,
                atol=options.atol,
                generator=generator,
            )  # fmt: skip
            .cpu()
            .numpy()
        )
    return out


def log_abs_det(x_norm: Affine) -> float:
    """``log |det ∂x_n/∂x| = -Σ log scale`` of the normalisation ``x_n = (x - shift)/scale``: a physical-unit
    density is the normalised one plus this constant (docs/math.md §17.4)."""
    return float(-np.log(np.asarray(x_norm.scale, dtype=np.float64)).sum())
