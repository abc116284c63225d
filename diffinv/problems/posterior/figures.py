"""Figures of the posterior of any unknown (docs/design.md §9): profiles for a vector, images of truth,
posterior mean, std and error for a field on a grid, points coloured by value for an unknown at scattered
coordinates (mesh nodes), and the calibration curve. Inputs are arrays in physical units; every function
writes one PNG.

Where the unknown lives is a :class:`Layout`: the grid's shape and bounds (a field), or the coordinates of
each component (one column: a profile against it; two: scattered points), the sensors' coordinates and the
problem's labels, all from the data file and the problem's config
(:func:`diffinv.run.validation.fill_from_data`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from diffinv.run.files import save_figure  # noqa: E402


@dataclass(frozen=True)
class Layout:
    """Where the unknown's components and the sensors sit, and what the problem calls them."""

    grid: tuple[int, ...] | None = None  # a field's grid shape (row-major, first axis x)
    bounds: list | None = None  # [[low, high] per axis] of the grid or the coordinates
    coords: np.ndarray | None = None  # (d, k) coordinates of the components when there is no grid
    sensors: np.ndarray | None = None  # (m, k) sensor coordinates
    labels: dict = field(default_factory=dict)  # unknown: its name; coordinates: axis names

    @property
    def unknown(self) -> str:
        return self.labels.get("unknown") or "x"

    def axis(self, i: int) -> str:
        names = self.labels.get("coordinates") or []
        return names[i] if i < len(names) else f"coordinate {i}"

    @property
    def is_field(self) -> bool:
        return self.grid is not None and len(self.grid) == 2


def plot_cases(
    truth: np.ndarray | None,
    samples: np.ndarray,
    path: str | Path,
    layout: Layout,
    title: str = "",
    mask: np.ndarray | None = None,
    reference: np.ndarray | None = None,
) -> Path:
    """One row per case: for a field, images of the truth, the posterior mean, its std and |mean - truth|
    (without ``truth``, a user's readings: mean and std), with the reference posterior's mean and std
    beside them when ``reference`` samples are given; for a vector, the posterior mean ± 1 std against the
    coordinate (or the component number) with the truth and the reference. Sensors are dots, switched-off
    ones (``mask`` 0) crosses. ``samples`` (n_cases, n_samples, d), ``truth`` (n_cases, d)."""
    if layout.is_field:
        return _field_cases(truth, samples, path, layout, title, mask, reference)
    return _vector_cases(truth, samples, path, layout, title, mask, reference)


def _field_cases(truth, samples, path, layout, title, mask, reference) -> Path:
    n_cases = samples.shape[0]
    mean, std = samples.mean(axis=1), samples.std(axis=1, ddof=1)
    panels = [("posterior mean", mean, "value"), ("posterior std", std, "std")]
    if truth is not None:
        panels = [("truth", truth, "value"), *panels, ("|mean − truth|", np.abs(mean - truth), "std")]
    if reference is not None:
        ref_mean, ref_std = reference.mean(axis=1), reference.std(axis=1, ddof=1)
        panels += [("reference mean", ref_mean, "value"), ("reference std", ref_std, "std")]
    fig, axes = plt.subplots(n_cases, len(panels), figsize=(2.6 * len(panels), 2.4 * n_cases), squeeze=False)
    (x0, x1), (y0, y1) = layout.bounds or [[0.0, 1.0], [0.0, 1.0]]
    for i in range(n_cases):
        values = np.concatenate([p[1][i] for p in panels if p[2] == "value"])
        spreads = np.concatenate([p[1][i] for p in panels if p[2] == "std"])
        limits = {"value": (values.min(), values.max()), "std": (0.0, spreads.max())}
        for j, (name, data, kind) in enumerate(panels):
            ax = axes[i, j]
            image = ax.imshow(
                data[i].reshape(layout.grid).T, origin="lower", extent=(x0, x1, y0, y1),
                cmap="viridis" if kind == "value" else "magma", vmin=limits[kind][0], vmax=limits[kind][1],
            )  # fmt: skip
            fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
            _draw_sensors(ax, layout.sensors, None if mask is None else mask[i])
            ax.set_title(f"case {i}: {name}" if j == 0 else name, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(f"{layout.unknown}\n{title}", fontsize=9)
    return _save(fig, path)


def _vector_cases(truth, samples, path, layout, title, mask, reference) -> Path:
    n_cases, _, d = samples.shape
    one_axis = layout.coords is not None and layout.coords.shape[1] == 1
    s = layout.coords[:, 0] if one_axis else np.arange(d)
    order = np.argsort(s)
    mean, std = samples.mean(axis=1), samples.std(axis=1, ddof=1)
    fig, axes = plt.subplots(n_cases, 1, figsize=(7, 2.4 * n_cases), sharex=True, squeeze=False)
    for i in range(n_cases):
        ax = axes[i, 0]
        ax.fill_between(s[order], (mean - std)[i, order], (mean + std)[i, order], alpha=0.3, label="±1 std")
        ax.plot(s[order], mean[i, order], lw=1.2, label="posterior mean")
        if reference is not None:
            ref_mean, ref_std = reference[i].mean(axis=0), reference[i].std(axis=0, ddof=1)
            ax.plot(s[order], ref_mean[order], "--", color="C2", lw=1, label="reference mean")
            ax.plot(s[order], (ref_mean - ref_std)[order], ":", color="C2", lw=0.8)
            ax.plot(s[order], (ref_mean + ref_std)[order], ":", color="C2", lw=0.8, label="reference ±1 std")
        if truth is not None:
            ax.plot(s[order], truth[i, order], "k.-", lw=0.8, ms=3, label="truth")
        if one_axis and layout.sensors is not None and layout.sensors.shape[1] == 1:
            on = np.ones(len(layout.sensors), bool) if mask is None else np.asarray(mask[i], bool)
            ax.plot(layout.sensors[on, 0], np.full(on.sum(), ax.get_ylim()[0]), "^", color="0.3", ms=4)
            ax.plot(layout.sensors[~on, 0], np.full((~on).sum(), ax.get_ylim()[0]), "x", color="C3", ms=4)
        ax.set_ylabel(f"case {i}")
        if i == 0:
            ax.legend(fontsize=7, ncol=3)
    axes[-1, 0].set_xlabel(layout.axis(0) if one_axis else "component")
    fig.suptitle(f"{layout.unknown}" + (f"\n{title}" if title else ""), fontsize=9)
    return _save(fig, path)


def _draw_sensors(ax, sensors, on) -> None:
    if sensors is None or sensors.shape[1] != 2:
        return
    on = np.ones(len(sensors), bool) if on is None else np.asarray(on, bool)
    ax.plot(sensors[on, 0], sensors[on, 1], "o", mfc="none", mec="w", ms=3, mew=0.6)
    ax.plot(sensors[~on, 0], sensors[~on, 1], "x", color="r", ms=3, mew=0.8)


def _save(fig, path: str | Path) -> Path:
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def plot_calibration(
    levels: np.ndarray, coverages: dict[str, np.ndarray], path: str | Path, title: str = ""
) -> Path:
    """Empirical coverage of central credible intervals against the nominal level (diagonal = calibrated)."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    if title:
        ax.set_title(title, fontsize=9)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="calibrated")
    for label, cov in coverages.items():
        ax.plot(levels, cov, "o-", ms=3, label=label)
    ax.set_xlabel("nominal level")
    ax.set_ylabel("empirical coverage")
    ax.legend(fontsize=8)
    return _save(fig, path)
