"""Sensor masks for a family of measurement operators (docs/math.md §8, docs/problems.md §3): each sensor on
with probability ``rate``, or, for ``rate="uniform"``, with a rate drawn per pair from U(0, 1), so that every
number of sensors on (0 to m) is equally likely and every layout of that size too (math §8.1)."""

from __future__ import annotations

import numpy as np

UNIFORM = "uniform"


def sample_masks(rng: np.random.Generator, n: int, num_sensors: int, rate: float | str) -> np.ndarray:
    """(n, num_sensors) bool, True = sensor on: independently with probability ``rate``, or, for
    ``rate="uniform"``, with a per-pair probability ``p_i ~ U(0, 1)`` (the count on is uniform on 0..m)."""
    if rate == UNIFORM:
        rate = rng.random((n, 1))
    else:
        try:
            rate = float(rate)
        except (TypeError, ValueError):
            raise ValueError(f"problem.mask_rate={rate!r}: a probability in [0, 1] or 'uniform'") from None
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"problem.mask_rate={rate}: must lie in [0, 1] (or be 'uniform')")
    return rng.random((n, num_sensors)) < rate
