"""A problem of one's own with a DOLFINx forward model and a field-valued unknown (docs/your_problem.md §3):
the initial temperature of the heat equation on the unit square, read by sensors at a later time.

``∂u/∂t = κ Δu`` on ``[0, 1]²`` with insulated walls (``∂u/∂n = 0``), ``u(·, 0) = u0``; P1 elements on the
``(grid - 1)²``-cell mesh, whose vertices are the ``grid × grid`` points of the prior's grid, and ``steps``
implicit Euler steps to ``time``: ``(M + Δt κ K) u_{k+1} = M u_k``. The readings are ``u(·, time)`` at
``sensors_per_axis²`` points of an interior lattice. Linear in ``u0``, so with the Gaussian-process prior the
exact posterior is known in every dimension (docs/math.md §9).
"""

from __future__ import annotations

import numpy as np
import ufl

from data_gen.fem.sensors import sensor_matrix
from data_gen.fenics import MPI, PETSc, dolfinx


class HeatEquation:
    """The forward model ``u0 (n, grid²) -> u(sensors, time) (n, sensors_per_axis²)``; the mesh, the space,
    the matrices and their LU factorisation are built once, here."""

    def __init__(
        self,
        grid: int = 16,
        kappa: float = 1.0,
        time: float = 0.002,
        steps: int = 10,
        sensors_per_axis: int = 7,
    ):
        mesh = dolfinx.mesh.create_unit_square(MPI.COMM_SELF, grid - 1, grid - 1)
        V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        dt = time / steps
        mass = dolfinx.fem.form(u * v * ufl.dx)
        step = dolfinx.fem.form(u * v * ufl.dx + dt * kappa * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
        self._mass = dolfinx.fem.petsc.assemble_matrix(mass)
        self._mass.assemble()
        matrix = dolfinx.fem.petsc.assemble_matrix(step)
        matrix.assemble()
        self._ksp = PETSc.KSP().create(MPI.COMM_SELF)
        self._ksp.setOperators(matrix)
        self._ksp.setType("preonly")
        self._ksp.getPC().setType("lu")
        self._u, self._b = matrix.createVecs()
        # the grid index of each degree of freedom: vertex (i, j) is unknown i * grid + j ("ij" order)
        xy = V.tabulate_dof_coordinates()[:, :2]
        self._grid_index = np.rint(xy[:, 0] * (grid - 1)).astype(int) * grid + np.rint(xy[:, 1] * (grid - 1))
        self._grid_index = self._grid_index.astype(int)
        lattice = (np.arange(sensors_per_axis) + 1.0) / (sensors_per_axis + 1)
        self.sensors = np.stack(np.meshgrid(lattice, lattice, indexing="ij"), axis=-1).reshape(-1, 2)
        self._read = sensor_matrix(V, self.sensors)
        self.steps = steps

    def __call__(self, u0: np.ndarray) -> np.ndarray:
        """(n, m) readings of the (n, grid²) initial temperatures, one time-stepping each."""
        readings = []
        for row in np.atleast_2d(u0):
            self._u.array[:] = row[self._grid_index]
            for _ in range(self.steps):
                self._mass.mult(self._u, self._b)
                self._ksp.solve(self._b, self._u)
            readings.append(self._read @ self._u.array)
        return np.array(readings)
