"""Self-normalised importance weights of posterior samples and their effective sample size
(docs/math.md §17.4). Arrays (..., N): the last axis holds one case's N samples; numpy only."""

from __future__ import annotations

import numpy as np

LOW_ESS_FRACTION = 0.1  # below this ESS/N a reweighted posterior rests on a few samples (docs/math.md §17.4)


def normalised_weights(log_w: np.ndarray) -> np.ndarray:
    """``w_i = exp(log w_i) / Σ_j exp(log w_j)`` along the last axis, computed after subtracting the largest
    ``log w`` (any constant added to ``log w`` cancels)."""
    log_w = np.asarray(log_w, dtype=np.float64)
    if not np.isfinite(log_w).all():
        raise ValueError("log importance weights must be finite; got NaN or inf")
    w = np.exp(log_w - log_w.max(axis=-1, keepdims=True))
    return w / w.sum(axis=-1, keepdims=True)


def ess_fraction(log_w: np.ndarray) -> np.ndarray:
    """Kish's effective sample size over N, ``(Σ w)² / (N Σ w²)``, in ``[1/N, 1]`` (docs/math.md §17.4)."""
    w = normalised_weights(log_w)
    return 1.0 / (w.shape[-1] * (w**2).sum(axis=-1))


def resample(samples: np.ndarray, log_w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``N`` draws with replacement from each case's samples (..., N, d) with probabilities its normalised
    weights (multinomial resampling): an equally weighted sample of the reweighted posterior."""
    samples = np.asarray(samples)
    w = normalised_weights(log_w)
    flat_w, flat_x = w.reshape(-1, w.shape[-1]), samples.reshape(-1, *samples.shape[-2:])
    picked = [x[rng.choice(len(p), size=len(p), p=p)] for x, p in zip(flat_x, flat_w, strict=True)]
    return np.stack(picked).reshape(samples.shape)
