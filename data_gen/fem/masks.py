"""Sensor masks for a family of measurement operators (docs/math.md §8, docs/problems.md §3):
η_i ~ Bernoulli(rate)."""

from __future__ import annotations

import numpy as np


def sample_masks(rng: np.random.Generator, n: int, num_sensors: int, rate: float) -> np.ndarray:
    """(n, num_sensors) bool, each entry independently True (sensor on) with probability ``rate``."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"problem.mask_rate={rate}: must lie in [0, 1]")
    return rng.random((n, num_sensors)) < rate
