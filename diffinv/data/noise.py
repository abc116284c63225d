"""Measurement noise of the paired data, shared by the datamodule and by anything that must reproduce a run's
test readings without Lightning (the MCMC reference posteriors, docs/design.md §6; docs/problems.md §2.4).

``σ_n = noise × mean|y_clean|`` over the training split; the test readings are ``y_clean + σ_n e`` with ``e``
drawn for every test case at once from ``numpy.random.default_rng([seed, 2])``, so a case's reading does not
depend on how many cases are scored.
"""

from __future__ import annotations

import numpy as np

from diffinv.data.schema import Dataset

TEST_NOISE_STREAM = 2  # default_rng([seed, 2]): the test readings' noise (1: training noise, 3: batch order)


def noise_std(train_y_clean: np.ndarray, noise: float) -> float:
    """σ_n in raw units for a noise level ``noise`` given as a fraction of the training mean |y_clean|."""
    return float(noise) * float(np.abs(train_y_clean).mean())


def add_noise(y_clean: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """``y_clean + std · e``, ``e ~ N(0, I)`` from ``rng``; ``y_clean`` itself when ``std`` is 0."""
    return y_clean + std * rng.standard_normal(y_clean.shape) if std else y_clean


def noisy_test_readings(dataset: Dataset, std: float, seed: int) -> np.ndarray:
    """Every test case's noisy readings (n_test, m), as a run with ``seed`` and σ_n = ``std`` scores them."""
    return add_noise(dataset.test.y_clean, std, np.random.default_rng([seed, TEST_NOISE_STREAM]))
