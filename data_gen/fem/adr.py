"""Nonlinear advection–diffusion–reaction ``-κΔc + u·∇c = r c (1 - c/2)`` (docs/problems.md §4).

Newton (SNES via :class:`dolfinx.fem.petsc.NonlinearProblem`, MUMPS LU) per sample, on one mesh and
one compiled form per process. Newton is never started from ``c = 0`` (the Jacobian's ``-r`` term
destabilises it there). Each sample starts from the linear predictor ``c̄ + J(c̄)⁻¹ B (q - q̄)``, built once
at the solution ``c̄`` for the prior-mean flux ``q̄`` (``B`` the unit-flux vectors). A failure (SNES's
converged reason ≤ 0) is retried with a backtracking (damped) line search, then from ``c̄``; a sample that
fails all attempts raises :class:`ConvergenceError` — it is never written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ufl

from data_gen.fem.advdiff import LU_OPTIONS
from data_gen.fem.flux_space import discretise
from data_gen.fenics import dolfinx
from diffinv.problems.flux import geometry

NEWTON_OPTIONS = {
    **LU_OPTIONS,
    "snes_type": "newtonls",
    "snes_linesearch_type": "basic",
    "snes_rtol": 1e-10,
    "snes_atol": 1e-10,
    "snes_stol": 0.0,
    "snes_max_it": 25,
}


class ConvergenceError(RuntimeError):
    """Newton failed on a sample with every start and damping tried."""


@dataclass(frozen=True)
class NewtonReport:
    """How one sample converged: attempt 0 is the plain predictor start, 1 damped, 2 from ``c̄``."""

    attempt: int
    iterations: int


class NonlinearADR:
    """The nonlinear forward model at one resolution, warm-started from the linear predictor."""

    def __init__(
        self,
        mesh: str,
        kappa: float = 2.0,
        u_max: float = 12.0,
        r: float = 10.0,
        prior_mean_flux: float = 2.0,
        saturation: float = 2.0,
    ):
        self.disc = disc = discretise(mesh, u_max)
        self.c = c = dolfinx.fem.Function(disc.V)
        v = ufl.TestFunction(disc.V)
        F = (
            kappa * ufl.inner(ufl.grad(c), ufl.grad(v)) * ufl.dx
            + ufl.dot(disc.velocity, ufl.grad(c)) * v * ufl.dx
            - r * c * (1.0 - c / saturation) * v * ufl.dx
            - disc.flux_term
        )
        self._problem = dolfinx.fem.petsc.NonlinearProblem(
            F, c, bcs=[disc.bc], petsc_options_prefix="adr_", petsc_options=NEWTON_OPTIONS
        )
        self._flux_form = dolfinx.fem.form(disc.flux_term)
        self.q_mean = np.full(geometry.NUM_SEGMENTS, prior_mean_flux)
        self.c_mean = self._solve_from(self.q_mean, np.full_like(c.x.array, saturation), damped=True)
        self.sensitivity = self._predictor_columns()

    def solve(self, q: np.ndarray) -> tuple[np.ndarray, NewtonReport]:
        """Concentration dofs for flux ``q`` (30,) and how Newton converged; raises ConvergenceError."""
        predictor = self.c_mean + self.sensitivity @ (q - self.q_mean)
        starts = ((predictor, False), (predictor, True), (self.c_mean, True))
        for attempt, (start, damped) in enumerate(starts):
            try:
                c = self._solve_from(q, start, damped)
            except ConvergenceError:
                continue
            return c, NewtonReport(attempt, self._problem.solver.getIterationNumber())
        raise ConvergenceError(f"adr: Newton failed for flux q = {np.array2string(q, precision=4)}")

    def field(self, q: np.ndarray) -> np.ndarray:
        """Concentration dofs for flux ``q`` (30,)."""
        return self.solve(q)[0]

    def readings(self, q: np.ndarray) -> np.ndarray:
        """(n, 30) sensor readings of the (n, 30) fluxes ``q``."""
        return np.array([self.disc.sensors @ self.field(qi) for qi in np.atleast_2d(q)])

    def __call__(self, q: np.ndarray) -> np.ndarray:
        """The forward model as a callable: (n, 30) physical fluxes -> (n, 30) clean readings."""
        return self.readings(q)

    def readings_and_jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Readings (30,) of flux ``q`` (30,) and their derivative ``∂y/∂q`` (30 × 30) at the converged state.

        Tangent-linear: ``∂c/∂q_k = J(c)⁻¹ b_k`` with the Jacobian at the Newton solution ``c`` (one
        factorisation, 30 solves; docs/problems.md §4), so ``∂y/∂q = P J(c)⁻¹ B`` with ``P`` the sensors.
        """
        c = self.field(np.asarray(q, dtype=np.float64))
        self.c.x.array[:] = c
        columns = self.disc.unit_flux_responses(self._problem.J, self._flux_form)
        return self.disc.sensors @ c, self.disc.sensors @ columns

    def _solve_from(self, q: np.ndarray, start: np.ndarray, damped: bool) -> np.ndarray:
        self.disc.q.value[:] = q
        self.c.x.array[:] = start
        self.c.x.array[self.disc.bc.dof_indices()[0]] = 0.0
        snes = self._problem.solver
        snes.getLineSearch().setType("bt" if damped else "basic")
        self._problem.solve()
        reason = snes.getConvergedReason()
        if reason <= 0 or not np.all(np.isfinite(self.c.x.array)):
            raise ConvergenceError(f"adr: SNES diverged (reason {reason})")
        return self.c.x.array.copy()

    def _predictor_columns(self) -> np.ndarray:
        """(ndofs, 30) ``J(c̄)⁻¹ b_k``: the derivative of ``c`` with respect to each segment flux at ``c̄``."""
        self.c.x.array[:] = self.c_mean
        return self.disc.unit_flux_responses(self._problem.J, self._flux_form)
