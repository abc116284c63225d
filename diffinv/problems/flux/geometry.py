"""Geometry of the boundary-flux problems (docs/problems.md §2): domain, flux segments, sensors, mesh sizes.

Pure NumPy; the DOLFINx mesh built from it lives in :mod:`data_gen.fem.mesh`.

Resolution ``nx × ny`` means ``nx`` cells along x and ``ny`` along y (each rectangle split into two
triangles, ``2·nx·ny`` P1 triangles). The x direction is graded so that every flux-segment end
``k·7/15`` is a mesh vertex: ``[0, 7]`` receives ``n_flux = 15·round(nx·(7/8.5)/15)`` uniform cells (the
multiple of 15 closest to its uniform share) and ``[7, 8.5]`` the remaining ``nx - n_flux``. For
``850 × 200`` that is 705 cells of width 0.00993 then 145 of width 0.01034; for ``170 × 40``, 135 then 35.
"""

from __future__ import annotations

import re

import numpy as np

LENGTH = 8.5
HEIGHT = 2.0
FLUX_END = 7.0
SEGMENTS_PER_WALL = 15
NUM_SEGMENTS = 2 * SEGMENTS_PER_WALL
SEGMENT_LENGTH = FLUX_END / SEGMENTS_PER_WALL

SENSOR_X = 0.5 * np.arange(1, 16)
SENSOR_LINES_Y = (0.5, 1.5)
NUM_SENSORS = len(SENSOR_X) * len(SENSOR_LINES_Y)


def segment_centres() -> np.ndarray:
    """(30, 2) centres ``(x_c, y_wall)``: 15 bottom segments (y = 0) then 15 top (y = 2), left to right."""
    xc = (np.arange(SEGMENTS_PER_WALL) + 0.5) * SEGMENT_LENGTH
    return np.concatenate(
        [np.column_stack([xc, np.full_like(xc, y)]) for y in (0.0, HEIGHT)],
    )


def sensor_coords() -> np.ndarray:
    """(30, 2) sensor positions: x = 0.5, 1.0, …, 7.5 on y = 0.5, then on y = 1.5 (docs/problems.md §2)."""
    return np.concatenate([np.column_stack([SENSOR_X, np.full_like(SENSOR_X, y)]) for y in SENSOR_LINES_Y])


def parse_resolution(text: str, key: str = "problem.mesh") -> tuple[int, int]:
    """``"850x200"`` → ``(850, 200)``; a clear error naming ``key`` otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", str(text))
    if match is None:
        raise ValueError(f"{key}={text!r}: expected 'NXxNY', e.g. '850x200'")
    nx, ny = int(match[1]), int(match[2])
    if ny < 2 or flux_cells(nx) < SEGMENTS_PER_WALL or nx - flux_cells(nx) < 1:
        raise ValueError(
            f"{key}={text!r}: need ny >= 2 and nx large enough that [0, 7] gets at least 15 cells and "
            f"[7, 8.5] at least one (nx >= 19)"
        )
    return nx, ny


def flux_cells(nx: int) -> int:
    """Cells on [0, 7] for ``nx`` cells in total: the multiple of 15 nearest ``nx·7/8.5`` (see module doc)."""
    return SEGMENTS_PER_WALL * max(1, round(nx * FLUX_END / LENGTH / SEGMENTS_PER_WALL))


def graded_x(nx: int) -> np.ndarray:
    """The ``nx + 1`` vertex x-coordinates: uniform on [0, 7] and on [7, 8.5], segment ends included."""
    n_flux = flux_cells(nx)
    return np.interp(np.arange(nx + 1), [0, n_flux, nx], [0.0, FLUX_END, LENGTH])
