"""The figure of the calibration diagnostics (docs/math.md §16, how to read it: docs/usage.md §16): SBC rank
histograms, the TARP curve and the posterior predictive check, one PNG per sampler."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from diffinv.problems.diagnostics import SIGNIFICANCE, Diagnostic  # noqa: E402
from diffinv.run.files import save_figure  # noqa: E402

N_BINS = 20
P_FLOOR = 1e-20  # p-values drawn no lower


def plot_diagnostics(
    sbc: Diagnostic, tarp: Diagnostic, ppc: Diagnostic | None, path: Path, title: str
) -> Path:
    """Four panels: SBC rank histograms (every dimension pooled; the log-likelihood quantity alone), SBC
    p-value per quantity against the Bonferroni line, TARP's ECP against α with the KS acceptance band,
    and the PPC's distance-rank histogram (empty panel when the run has no forward model)."""
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.6))
    pit = sbc.arrays["pit"]
    n_dims = int(sum(k.startswith("p/dim_") for k in sbc.metrics))
    _rank_histogram(axes[0], pit[:, :n_dims].ravel(), f"all {n_dims} dimensions")
    if pit.shape[1] > n_dims:
        _rank_histogram(axes[0], pit[:, n_dims], "log-likelihood", band=False)
    axes[0].set(xlabel="normalised rank of the truth", ylabel="density", title="SBC rank histograms")
    axes[0].legend(fontsize=7)
    p = np.clip(sbc.arrays["p"], P_FLOOR, 1)
    axes[1].semilogy(np.arange(len(p)), p, "o", ms=3)
    axes[1].set_ylim(P_FLOOR / 2, 2)
    axes[1].axhline(SIGNIFICANCE / len(p), color="C3", ls="--", label="0.01 / quantities (Bonferroni)")
    axes[1].set(
        xlabel="quantity (dimension; last: log-lik.)",
        ylabel="KS p-value (floor 1e-20)",
        title="SBC uniformity",
    )
    axes[1].legend(fontsize=7)
    alpha, ecp = tarp.arrays["alpha"], tarp.arrays["ecp"]
    band = stats.kstwo.isf(SIGNIFICANCE, len(tarp.arrays["f"]))
    axes[2].fill_between(alpha, alpha - band, alpha + band, color="0.85", label="99 % band (KS)")
    axes[2].plot(alpha, alpha, "k--", lw=0.8)
    axes[2].plot(alpha, ecp, "C0", label=f"max |ECP - α| = {tarp.metrics['max_dev']:.3f}")
    axes[2].set(
        xlabel="credibility level α", ylabel="expected coverage", title="TARP", xlim=(0, 1), ylim=(0, 1)
    )
    axes[2].legend(fontsize=7)
    if ppc is None:
        axes[3].set_axis_off()
        axes[3].set_title("PPC: no forward model")
    else:
        _rank_histogram(axes[3], ppc.arrays["pit"], "replicate distance rank")
        m = ppc.metrics
        axes[3].set(
            xlabel="normalised rank of |y_rep - y_obs|",
            title=f"PPC: coverage 68/95 obs {m['coverage/68']:.2f}/{m['coverage/95']:.2f}, "
            f"rep {m['rep_coverage/68']:.2f}/{m['rep_coverage/95']:.2f}",
        )
        axes[3].title.set_fontsize(8)
        axes[3].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def _rank_histogram(ax, u: np.ndarray, label: str, band: bool = True) -> None:
    """Histogram of normalised ranks with, for ``band``, the 99 % range of a bin's height under uniformity
    for as many independent ranks (only indicative for the pooled dimensions, which are dependent)."""
    ax.hist(u, bins=N_BINS, range=(0, 1), density=True, histtype="step", label=label)
    if band:
        lo, hi = stats.binom.interval(1 - SIGNIFICANCE, len(u), 1 / N_BINS)
        ax.axhspan(lo * N_BINS / len(u), hi * N_BINS / len(u), color="0.85", zorder=0)
