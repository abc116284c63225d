"""Linear advection–diffusion ``-κΔc + u·∇c = 0`` (docs/problems.md §2) on the shared flux discretisation.

Two paths to the sensor readings:

* :meth:`LinearAdvDiff.forward_map` — assemble once, factorise once (MUMPS LU), solve for the 30 unit
  fluxes; the 30 × 30 map ``A`` then gives every sample by superposition, ``y = A q``.
* :meth:`LinearAdvDiff.solve` — the naive per-sample solve (assemble, factorise, solve) of one flux
  vector; used to verify superposition and to draw fields for figures (``method=direct``).
"""

from __future__ import annotations

import numpy as np
import ufl

from data_gen.fem.flux_space import discretise
from data_gen.fenics import dolfinx

LU_OPTIONS = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}


class LinearAdvDiff:
    """The linear forward model at one mesh resolution; forms are compiled once, in the constructor."""

    def __init__(self, mesh: str, kappa: float = 0.02, u_max: float = 0.1):
        self.disc = disc = discretise(mesh, u_max)
        c, v = ufl.TrialFunction(disc.V), ufl.TestFunction(disc.V)
        a = (
            kappa * ufl.inner(ufl.grad(c), ufl.grad(v)) * ufl.dx
            + ufl.dot(disc.velocity, ufl.grad(c)) * v * ufl.dx
        )
        self._problem = dolfinx.fem.petsc.LinearProblem(
            a, disc.flux_term, bcs=[disc.bc], petsc_options_prefix="advdiff_", petsc_options=LU_OPTIONS
        )

    def solve(self, q: np.ndarray) -> dolfinx.fem.Function:
        """Concentration for flux ``q`` (30,) by a full assemble–factorise–solve."""
        self.disc.q.value[:] = q
        c = self._problem.solve()
        reason = self._problem.solver.getConvergedReason()
        if reason <= 0:
            raise RuntimeError(f"advdiff: linear solve failed (KSP reason {reason})")
        return c

    def field(self, q: np.ndarray) -> np.ndarray:
        """Concentration dofs for flux ``q`` (30,) by one direct solve."""
        return self.solve(q).x.array.copy()

    def readings(self, q: np.ndarray) -> np.ndarray:
        """(n, 30) sensor readings of the (n, 30) fluxes ``q``, one direct solve each."""
        return np.array([self.disc.sensors @ self.field(qi) for qi in np.atleast_2d(q)])

    def unit_solutions(self) -> np.ndarray:
        """(ndofs, 30): the concentration for each unit segment flux (one factorisation, 30 solves)."""
        return self.disc.unit_flux_responses(self._problem.a, self._problem.L)

    def forward_map(self) -> np.ndarray:
        """The 30 × 30 flux→sensor map ``A``: ``y_clean = A q`` exactly (docs/problems.md §2)."""
        return self.disc.sensors @ self.unit_solutions()
