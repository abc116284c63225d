"""Figures of training samples (paper Figs. 6, 12, 15; docs/problems.md §2–4): for each sample the flux on
both walls, the concentration field with the sensors (switched-off ones crossed in red, docs/math.md §8), and
the noisy readings.

``python -m data_gen.fem.figures problem=advdiff`` writes ``<out_dir>/<file name>_samples.png``. The
samples are the first training rows the generator writes for the same seed. The noise is illustrative:
``σ_n = figures.noise × mean clean reading of the samples shown`` (docs/problems.md §2 defines it on the
training set's mean; the datamodule, not this figure, applies noise for training).
"""

from __future__ import annotations

from pathlib import Path

import hydra
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.tri as mtri  # noqa: E402
import numpy as np  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from data_gen.fem.draws import draw_inputs  # noqa: E402
from diffinv.problems.flux import geometry  # noqa: E402
from diffinv.run.files import save_figure  # noqa: E402
from diffinv.run.resolvers import register_resolvers  # noqa: E402

register_resolvers()


def plot_samples(cfg: DictConfig) -> Path:
    """Solve the first ``figures.samples`` training fluxes and save the figure; returns its path."""
    q, mask = draw_inputs(cfg.problem, cfg.seed)["train"]
    n = int(cfg.figures.samples)
    q = q[:n]
    mask = np.ones((n, geometry.NUM_SENSORS), dtype=bool) if mask is None else mask[:n]
    solver = instantiate(cfg.problem.solver)
    fields = [solver.field(qi) for qi in q]
    clean = np.array([solver.disc.sensors @ c for c in fields])
    sigma = float(cfg.figures.noise) * clean.mean()
    noisy = clean + sigma * np.random.default_rng(cfg.seed).standard_normal(clean.shape)

    V = solver.disc.V
    xy = V.tabulate_dof_coordinates()[:, :2]
    triangulation = mtri.Triangulation(xy[:, 0], xy[:, 1], V.dofmap.list)
    sensors = geometry.sensor_coords()
    seg_edges = np.arange(geometry.SEGMENTS_PER_WALL + 1) * geometry.SEGMENT_LENGTH
    fig, axes = plt.subplots(n, 3, figsize=(17, 3.0 * n), width_ratios=[1, 1.6, 1], squeeze=False)
    for i in range(n):
        ax_q, ax_c, ax_y = axes[i]
        for wall, (label, style) in enumerate((("bottom wall", "C0"), ("top wall", "C1"))):
            values = q[i, wall * 15 : (wall + 1) * 15]
            ax_q.stairs(values, seg_edges, baseline=None, color=style, label=label, linewidth=2)
        ax_q.set(xlabel="x", ylabel="flux q", title=f"sample {i}: boundary flux")
        ax_q.legend(fontsize=8)

        tpc = ax_c.tripcolor(triangulation, fields[i], shading="gouraud", cmap="viridis")
        fig.colorbar(tpc, ax=ax_c, fraction=0.03)
        on = mask[i]
        ax_c.plot(sensors[on, 0], sensors[on, 1], "o", mfc="white", mec="k", ms=4)
        ax_c.plot(sensors[~on, 0], sensors[~on, 1], "x", color="red", ms=7, mew=2)
        title = "concentration c, sensors ○" + (", switched off ×" if (~on).any() else "")
        ax_c.set(xlabel="x", ylabel="y", title=title, aspect="equal")

        for line, (y_line, style) in enumerate(zip(geometry.SENSOR_LINES_Y, ("C0", "C1"), strict=True)):
            rows = slice(line * 15, (line + 1) * 15)
            x_s, keep = geometry.SENSOR_X, on[rows]
            ax_y.plot(x_s, clean[i, rows], "-", color=style, alpha=0.5, label=f"clean, y = {y_line}")
            ax_y.plot(x_s[keep], noisy[i, rows][keep], "o", color=style, ms=4, label=f"noisy, y = {y_line}")
        ax_y.set(xlabel="sensor x", ylabel="reading", title=f"measurements (σ_n = {sigma:.3g})")
        ax_y.legend(fontsize=7)
    fig.suptitle(f"{cfg.problem.name}: training samples at {solver.disc.mesh_label}")
    fig.tight_layout()
    return save_figure(fig, Path(cfg.figures.out_dir) / f"{Path(cfg.out).stem}_samples.png", dpi=110)


@hydra.main(version_base="1.3", config_path="../conf", config_name="figures")
def main(cfg: DictConfig) -> None:
    print(plot_samples(cfg))


if __name__ == "__main__":
    main()
