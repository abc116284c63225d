"""The paper's figures for docs/problems.md §1: conditional histograms (Figs. 3–4) and joint densities
(Fig. 2)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def conditional_histograms(y_stars, generated, band, exact_edges, exact_prob, title: str):
    """One panel per y*: histogram of generated x, of the band reference, and the exact density p(x | y*)."""
    fig, axes = plt.subplots(
        1, len(y_stars), figsize=(3.2 * len(y_stars), 3.1), squeeze=False, layout="constrained"
    )  # constrained: the title above the panels' titles, not over them
    for ax, y_star, gen, ref, edges, prob in zip(
        axes[0], y_stars, generated, band, exact_edges, exact_prob, strict=True
    ):
        lo, hi = np.percentile(np.concatenate([gen, ref]), [0.1, 99.9])
        bins = np.linspace(lo - 0.1, hi + 0.1, 60)
        ax.hist(gen, bins=bins, density=True, alpha=0.5, label="generated")
        ax.hist(ref, bins=bins, density=True, histtype="step", color="k", label="band reference")
        centres = 0.5 * (edges[1:] + edges[:-1])
        ax.plot(centres, prob / np.diff(edges), color="C3", lw=1.2, label="exact p(x|y*)")
        ax.set_xlim(bins[0], bins[-1])
        ax.set_title(f"y* = {y_star:g}")
        ax.set_xlabel("x")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title)
    return fig


def joint_density(x_grid, y_grid, density, y_stars, title: str):
    """Contours of p(x, y) with the conditioning lines y = y* (paper Fig. 2)."""
    fig, ax = plt.subplots(figsize=(4, 3.5))
    ax.contourf(x_grid, y_grid, density, levels=30, cmap="viridis")
    for y_star in y_stars:
        ax.axhline(y_star, color="w", lw=0.8, ls="--")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title)
    return fig


def posterior_histograms(samples, title: str):
    """One panel per measurement: histogram of the posterior samples of a scalar unknown."""
    fig, axes = plt.subplots(
        1, len(samples), figsize=(3.2 * len(samples), 3.1), squeeze=False, layout="constrained"
    )
    for i, (ax, x) in enumerate(zip(axes[0], samples, strict=True)):
        ax.hist(np.ravel(x), bins=60, density=True)
        ax.set_title(f"measurement {i}")
        ax.set_xlabel("x")
    fig.suptitle(title)
    return fig
