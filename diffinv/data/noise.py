"""Measurement noise of the paired data, shared by the datamodule and by anything that must reproduce a run's
test readings without Lightning (the MCMC reference posteriors, docs/design.md §6; docs/problems.md §2.4).

``σ_n = noise × mean|y_clean|`` over the training split; the test readings are ``y_clean + σ_n e`` with ``e``
drawn for every test case at once from ``numpy.random.default_rng([seed, 2])``, so a case's reading does not
depend on how many cases are scored. An amortized model (docs/math.md §19) trains on a range of levels and
takes the level as an input (:func:`noise_feature`).
"""

from __future__ import annotations

import numpy as np

from diffinv.data.schema import Dataset

TEST_NOISE_STREAM = 2  # default_rng([seed, 2]): the test readings' noise (1: training noise, 3: batch order)


def noise_std(train_y_clean: np.ndarray, noise: float) -> float:
    """σ_n in raw units for a noise level ``noise`` given as a fraction of the training mean |y_clean|."""
    return float(noise) * float(np.abs(train_y_clean).mean())


def noise_range(noise) -> tuple[float, float] | None:
    """``data.noise`` given as a range ``[low, high]`` (an amortized model, docs/math.md §19): the range,
    checked; None for one level (a number)."""
    if isinstance(noise, int | float) and not isinstance(noise, bool):
        return None
    try:
        low, high = (float(v) for v in noise)
    except (TypeError, ValueError):
        raise ValueError(f"data.noise must be a number >= 0 or a range [low, high], got {noise!r}") from None
    if not 0 < low < high:
        raise ValueError(f"data.noise range [{low}, {high}]: need 0 < low < high")
    return low, high


def noise_feature(fraction, low: float, high: float):
    """The network's input for a noise level (a fraction, docs/problems.md §2.4) of an amortized model:
    ``log`` of it mapped from ``[log low, log high]`` to ``[-1, 1]`` (docs/math.md §19.1)."""
    return 2 * (np.log(fraction) - np.log(low)) / (np.log(high) - np.log(low)) - 1


def add_noise(y_clean: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """``y_clean + std · e``, ``e ~ N(0, I)`` from ``rng``; ``y_clean`` itself when ``std`` is 0."""
    return y_clean + std * rng.standard_normal(y_clean.shape) if std else y_clean


def noisy_test_readings(dataset: Dataset, std: float, seed: int) -> np.ndarray:
    """Every test case's noisy readings (n_test, m), as a run with ``seed`` and σ_n = ``std`` scores them."""
    return add_noise(dataset.test.y_clean, std, np.random.default_rng([seed, TEST_NOISE_STREAM]))
