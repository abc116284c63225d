"""Seeded inputs and file attributes shared by the flux-problem generators (docs/problems.md §2–4).

One seed drives everything: :class:`numpy.random.SeedSequence` ``(seed)`` is split into independent streams
for the fluxes and the masks, so the fluxes do not change when masks are switched on or off.
"""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig, OmegaConf

from data_gen.fem.masks import sample_masks
from data_gen.fem.prior import GPFluxPrior
from diffinv.problems.flux import geometry


def build_prior(problem: DictConfig) -> GPFluxPrior:
    """The flux prior of ``problem`` (``problem.prior`` parameters, ``problem.clip``)."""
    return GPFluxPrior(**problem.prior, clip=problem.clip)


def draw_inputs(problem: DictConfig, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """``{"train": (q, mask), "test": (q, mask)}``; ``mask`` is None unless ``problem.mask_rate`` is set."""
    flux_seq, mask_seq = np.random.SeedSequence(seed).spawn(2)
    flux_rng, mask_rng = np.random.default_rng(flux_seq), np.random.default_rng(mask_seq)
    prior = build_prior(problem)
    draws = {}
    for split in ("train", "test"):
        n = int(problem[f"n_{split}"])
        if n < 1:
            raise ValueError(f"problem.n_{split}={n}: need at least one sample")
        q = prior.sample(flux_rng, n)
        mask = None
        if problem.mask_rate is not None:
            mask = sample_masks(mask_rng, n, geometry.NUM_SENSORS, problem.mask_rate)
        draws[split] = (q, mask)
    return draws


def file_attrs(cfg: DictConfig, mesh_label: str) -> dict:
    """The file attributes every flux-problem dataset carries (docs/design.md §6; issue list item 6)."""
    prior = build_prior(cfg.problem)
    return {
        "problem": cfg.problem.name,
        "config": OmegaConf.to_yaml(cfg, resolve=True),
        "seed": int(cfg.seed),
        "mesh": mesh_label,
        "sensor_coords": geometry.sensor_coords(),
        "segment_coords": geometry.segment_centres(),
        "noise_free": True,
        "clip": bool(cfg.problem.clip),
        "prior_mean": prior.mean,
        "prior_cov": prior.cov,
    }
