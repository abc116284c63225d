"""Mesh-convergence study (docs/problems.md §2 and §4): sensor readings of a few prior fluxes on a sequence of
aligned meshes, and the relative change to the next finer mesh.

``python -m data_gen.fem.convergence problem=advdiff`` (or ``problem=adr``) prints a Markdown table:
``change`` is ``max |y_h - y_fine| / max |y_fine|`` over samples and sensors (the max-norm relative
change), ``worst sensor`` is ``max |y_h - y_fine| / |y_fine|`` per reading (dominated by the small
upstream readings), both against the next finer mesh; ``change vs finest`` is the max-norm change to the
finest mesh of the study. ``s per sample`` times one direct (linear) or Newton (nonlinear) solve. The
table ends with the coarsest mesh meeting ``convergence.tolerance`` (0.1 %) by each of the two criteria.
"""

from __future__ import annotations

import time

import hydra
import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig

from data_gen.fem.draws import draw_inputs
from diffinv.problems.flux.geometry import parse_resolution
from diffinv.run.resolvers import register_resolvers

register_resolvers()


def study(cfg: DictConfig) -> list[dict]:
    """One row per mesh: readings, seconds per sample, and changes to the next finer mesh."""
    q = draw_inputs(cfg.problem, cfg.seed)["train"][0][: int(cfg.convergence.samples)]
    meshes = sorted(cfg.convergence.meshes, key=lambda m: np.prod(parse_resolution(m, "convergence.meshes")))
    rows = []
    for mesh in meshes:
        solver = instantiate(cfg.problem.solver, mesh=mesh)
        start = time.perf_counter()
        readings = solver.readings(q)
        rows.append({"mesh": mesh, "y": readings, "s_per_sample": (time.perf_counter() - start) / len(q)})
    for coarse, fine in zip(rows, rows[1:], strict=False):
        diff = np.abs(coarse["y"] - fine["y"])
        coarse["change"] = diff.max() / np.abs(fine["y"]).max()
        coarse["worst_sensor"] = (diff / np.abs(fine["y"])).max()
        coarse["vs_finest"] = np.abs(coarse["y"] - rows[-1]["y"]).max() / np.abs(rows[-1]["y"]).max()
    return rows


def table(rows: list[dict], tolerance: float) -> str:
    lines = [
        "| mesh | P1 triangles | change vs next finer | worst sensor vs next finer | change vs finest "
        "| s per sample |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        nx, ny = parse_resolution(row["mesh"])
        change = f"{row['change']:.1e}" if "change" in row else "–"
        worst = f"{row['worst_sensor']:.1e}" if "worst_sensor" in row else "–"
        finest = f"{row['vs_finest']:.1e}" if "vs_finest" in row else "–"
        lines.append(
            f"| {row['mesh']} | {2 * nx * ny:,} | {change} | {worst} | {finest} | {row['s_per_sample']:.3f} |"
        )
    lines.append("")
    for key, what in (("change", "max-norm change"), ("worst_sensor", "every reading")):
        converged = [row["mesh"] for row in rows if row.get(key, np.inf) < tolerance]
        lines.append(
            f"coarsest mesh with {what} within {tolerance:.1%} of the next finer: "
            f"{converged[0] if converged else 'none'}"
        )
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path="../conf", config_name="convergence")
def main(cfg: DictConfig) -> None:
    print(f"mesh convergence, problem={cfg.problem.name}, {cfg.convergence.samples} prior samples")
    print(table(study(cfg), float(cfg.convergence.tolerance)))


if __name__ == "__main__":
    main()
