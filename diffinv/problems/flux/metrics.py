"""Measures of posterior samples for the boundary-flux problems (docs/problems.md §2–4, docs/design.md §7):
the paper's per-segment relative error; the rest are :mod:`diffinv.problems.posterior.metrics`'.
"""

from __future__ import annotations

import numpy as np

from diffinv.problems.posterior.metrics import checked_samples, coverage


def segment_metrics(samples: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Per-segment error, spread and calibration of the posterior (paper Figs. 9, 11; docs/problems.md §2).

    ``rel_mae/seg_j``: mean over the test set of |posterior mean - truth| divided by the mean of the truth
    over the test set and all segments; ``post_std/seg_j``: mean posterior std; ``prior_std/seg_j``: std of
    the truth over the test set (the prior's, approximately); ``coverage/{1,2}sigma``: fraction of
    (case, segment) pairs whose truth lies within ±1 / ±2 posterior stds of the posterior mean.
    """
    samples, truth = checked_samples(samples, truth)
    mean, std = samples.mean(axis=1), samples.std(axis=1, ddof=1)
    err = np.abs(mean - truth).mean(axis=0) / truth.mean()
    post_std, prior_std = std.mean(axis=0), truth.std(axis=0, ddof=1)
    out: dict[str, float] = {}
    for j in range(truth.shape[1]):
        out[f"rel_mae/seg_{j:02d}"] = float(err[j])
        out[f"post_std/seg_{j:02d}"] = float(post_std[j])
        out[f"prior_std/seg_{j:02d}"] = float(prior_std[j])
    out["rel_mae/mean"] = float(err.mean())
    out["post_std/mean"] = float(post_std.mean())
    out["prior_std/mean"] = float(prior_std.mean())
    return out | coverage(mean, std, truth)
