"""Figures for the boundary-flux posteriors (paper Figs. 7, 9, 11, 13, 14, 16–20, plus calibration).

The inferred vector holds 15 bottom-wall then 15 top-wall segment fluxes (docs/problems.md §2); each figure
shows the two walls side by side. Inputs are arrays in physical units; every function writes one PNG.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.transforms import blended_transform_factory  # noqa: E402

from diffinv.problems.flux.geometry import FLUX_END, SENSOR_LINES_Y, SENSOR_X  # noqa: E402
from diffinv.run.files import save_figure  # noqa: E402

WALLS = ("bottom wall (y = 0)", "top wall (y = 2)")
NOISE_AXIS = "noise (data.noise: fraction of the mean |clean reading|)"  # docs/problems.md §2.4


def _segment_centres(n_per_wall: int) -> np.ndarray:
    return (np.arange(n_per_wall) + 0.5) * FLUX_END / n_per_wall


def _save(fig, path: str | Path) -> Path:
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def plot_flux_cases(
    truth: np.ndarray | None,
    samples: np.ndarray,
    path: str | Path,
    title: str = "",
    mask: np.ndarray | None = None,
    reference: np.ndarray | None = None,
) -> Path:
    """True flux, posterior mean and ±1 std band for a few test cases (paper Figs. 7, 13, 16); with
    ``reference`` samples (n_cases, k, 2k) of the same cases, e.g. MCMC (docs/math.md §18.4), their mean and
    ±1 std band too.

    ``truth`` (n_cases, 2k) or None (a user's measurement: no true flux to draw), ``samples``
    (n_cases, n_samples, 2k), ``mask`` (n_cases, 30) sensor masks of a many-operator model (Fig. 13): the
    switched-off sensors of the line nearer each wall (y = 0.5 for the bottom, 1.5 for the top) are marked ×
    on that wall's x axis.
    """
    n_cases, _, d = samples.shape
    k = d // 2
    xc = _segment_centres(k)
    mean, std = samples.mean(axis=1), samples.std(axis=1, ddof=1)
    off = None if mask is None else ~np.asarray(mask, dtype=bool)  # switched-off sensors, 15 per line
    fig, axes = plt.subplots(n_cases, 2, figsize=(10, 2.6 * n_cases), sharex=True, squeeze=False)
    for i in range(n_cases):
        off_count = "" if off is None else f" ({int(off[i].sum())} sensors off)"
        axes[i, 0].set_ylabel(f"case {i}: q{off_count}")
        axes[i, 1].set_ylabel(f"case {i}: q")
        for w in range(2):
            ax, sl = axes[i, w], slice(w * k, (w + 1) * k)
            if truth is not None:
                ax.step(xc, truth[i, sl], where="mid", color="k", label="true flux")
            ax.plot(xc, mean[i, sl], "o-", color="C0", ms=3, label="posterior mean")
            ax.fill_between(
                xc, mean[i, sl] - std[i, sl], mean[i, sl] + std[i, sl], color="C0", alpha=0.25, label="±1 std"
            )
            if reference is not None:
                ref_mean, ref_std = reference[i, :, sl].mean(axis=0), reference[i, :, sl].std(axis=0, ddof=1)
                ax.plot(xc, ref_mean, "s--", color="C1", ms=3, label="reference mean")
                ax.plot(xc, ref_mean - ref_std, ":", color="C1", label="reference ±1 std")
                ax.plot(xc, ref_mean + ref_std, ":", color="C1")
            if off is not None:
                line_off = off[i, w * len(SENSOR_X) : (w + 1) * len(SENSOR_X)]
                on_axis = blended_transform_factory(ax.transData, ax.transAxes)
                ax.plot(
                    SENSOR_X[line_off],
                    np.zeros(line_off.sum()),
                    "x",
                    color="red",
                    ms=7,
                    mew=2,
                    clip_on=False,
                    transform=on_axis,
                    label=f"sensor off (y = {SENSOR_LINES_Y[w]})",
                )
            if i == 0:
                ax.set_title(WALLS[w])
    axes[-1, 0].set_xlabel("x")
    axes[-1, 1].set_xlabel("x")
    axes[0, 0].legend(fontsize=8)
    if off is not None:
        axes[0, 1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_per_segment_vs_noise(
    noise_levels: np.ndarray,
    values: np.ndarray,
    path: str | Path,
    ylabel: str,
    reference: np.ndarray | None = None,
    title: str = "",
) -> Path:
    """A per-segment quantity against measurement noise, one line per segment (paper Figs. 9, 11, 14).

    ``values`` (n_levels, 2k); ``reference`` (2k,) is drawn dashed in the segment's colour (e.g. the prior
    std, Fig. 11).
    """
    k = values.shape[1] // 2
    colours = plt.cm.viridis(np.linspace(0, 1, k))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for w, ax in enumerate(axes):
        for j in range(k):
            ax.plot(noise_levels, values[:, w * k + j], "o-", ms=3, color=colours[j], label=f"seg {j + 1}")
            if reference is not None:
                ax.axhline(reference[w * k + j], color=colours[j], ls="--", lw=0.8)
        ax.set_title(WALLS[w])
        ax.set_xlabel(NOISE_AXIS)
    axes[0].set_ylabel(ylabel)
    axes[1].legend(fontsize=6, ncol=3)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_sweep_summary(curves: dict[str, dict[str, np.ndarray]], path: str | Path, title: str = "") -> Path:
    """Segment means against noise, one line per (problem, formulation, sampler) label: error of the posterior
    mean, posterior std with the prior std dashed, and ±1σ/±2σ coverage with the nominal 0.683/0.954 dashed.

    ``curves[label]`` holds equal-length arrays ``noise``, ``rel_mae``, ``post_std``, ``prior_std``,
    ``coverage_1sigma``, ``coverage_2sigma``.
    """
    fig, (ax_err, ax_std, ax_cov) = plt.subplots(1, 3, figsize=(15, 4.2))
    for i, (label, c) in enumerate(curves.items()):
        colour = f"C{i % 10}"
        ax_err.plot(c["noise"], c["rel_mae"], "o-", ms=3, color=colour, label=label)
        ax_std.plot(c["noise"], c["post_std"], "o-", ms=3, color=colour, label=label)
        ax_std.plot(c["noise"], c["prior_std"], "--", lw=0.8, color=colour)
        ax_cov.plot(c["noise"], c["coverage_1sigma"], "o-", ms=3, color=colour, label=f"{label} ±1σ")
        ax_cov.plot(c["noise"], c["coverage_2sigma"], "s:", ms=3, color=colour, label=f"{label} ±2σ")
    for nominal in (0.6827, 0.9545):
        ax_cov.axhline(nominal, color="k", ls="--", lw=0.8)
    ax_err.set_ylabel("relative error of the posterior mean (segment mean)")
    ax_std.set_ylabel("posterior std (segment mean; dashed: prior std)")
    ax_cov.set_ylabel("coverage of the ±1σ (o) and ±2σ (s) intervals")
    for ax in (ax_err, ax_std, ax_cov):
        ax.set_xscale("symlog", linthresh=0.01)  # the sweep starts at 0 and spans 0.01 to 0.5
        ax.set_xlim(left=0)
        ax.set_xlabel(NOISE_AXIS)
    ax_err.set_ylim(bottom=0)
    ax_err.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return _save(fig, path)
