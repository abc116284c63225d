"""A problem of one's own with a pure-Python forward model (docs/your_problem.md §2): the source of a 1-D
steady diffusion–reaction equation from 15 readings of the concentration.

``-D u'' + r u = f`` on ``[0, 1]``, ``u(0) = u(1) = 0``, by finite volumes on ``cells`` cells: ``f`` (the
unknown) and ``u`` live at the cell centres, and each sensor reads ``u`` interpolated linearly between the
centres (and the zero boundary values). NumPy only; linear in ``f``, so with a Gaussian prior the exact
posterior is known (docs/math.md §9).
"""

from __future__ import annotations

import numpy as np


class SteadyDiffusion:
    """The forward model ``f (n, cells) -> u(sensors) (n, len(sensors))``."""

    def __init__(self, cells: int = 20, diffusivity: float = 0.01, reaction: float = 1.0, sensors=None):
        h = 1.0 / cells
        centres = (np.arange(cells) + 0.5) * h
        # -D u'' by the three-point stencil; the wall sits half a cell away, so its coefficient is doubled
        main = np.full(cells, 2.0)
        main[[0, -1]] = 3.0
        operator = diffusivity / h**2 * (np.diag(main) - np.eye(cells, k=1) - np.eye(cells, k=-1))
        operator += reaction * np.eye(cells)
        self.sensors = np.linspace(0, 1, 17)[1:-1, None] if sensors is None else np.asarray(sensors)
        nodes = np.concatenate([[0.0], centres, [1.0]])  # u = 0 at both walls
        # row i: the weights of the linear interpolation at sensor i of values at the nodes
        weights = [np.interp(self.sensors[:, 0], nodes, unit) for unit in np.eye(cells + 2)]
        interpolate = np.stack(weights, axis=1)
        self.matrix = interpolate[:, 1:-1] @ np.linalg.inv(operator)

    def __call__(self, f: np.ndarray) -> np.ndarray:
        """(n, 15) readings of the (n, cells) sources."""
        return f @ self.matrix.T
