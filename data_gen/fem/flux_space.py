"""What the linear (docs/problems.md §2) and nonlinear (§4) flux problems share: mesh, P1 space, c = 0 on the
left edge, the inward-flux boundary term, the velocity and the sensor matrix.

The flux term is ``Σ_k q_k ∫_{Γ_k} v ds`` with ``q`` one 30-vector :class:`dolfinx.fem.Constant`, so a single
compiled form serves every sample (set ``q``, reassemble). With ``n`` the outward normal, the weak form of
``-κΔc`` is ``∫ κ∇c·∇v dx - ∫ κ ∂c/∂n v ds``; the boundary condition ``κ ∂c/∂n = q`` (inward diffusive flux
``q``) moves that term to the right-hand side as ``+∫ q v ds``, so positive ``q`` raises ``c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import ufl

from data_gen.fem.mesh import LEFT, build_mesh, segment_tag
from data_gen.fem.sensors import sensor_matrix
from data_gen.fem.velocity import parabolic_velocity
from data_gen.fenics import PETSc, dolfinx
from diffinv.problems.flux import geometry


@dataclass
class FluxDiscretisation:
    """P1 discretisation of the rectangle with its flux segments; build with :func:`discretise`."""

    resolution: tuple[int, int]
    mesh: dolfinx.mesh.Mesh
    facet_tags: dolfinx.mesh.MeshTags
    V: dolfinx.fem.FunctionSpace
    bc: dolfinx.fem.DirichletBC
    q: dolfinx.fem.Constant
    flux_term: ufl.Form
    velocity: ufl.core.expr.Expr
    sensors: scipy.sparse.csr_matrix

    @property
    def mesh_label(self) -> str:
        return f"{self.resolution[0]}x{self.resolution[1]}"

    def unit_flux_vectors(self, flux_form: dolfinx.fem.Form) -> list[PETSc.Vec]:
        """``b_k = ∫_{Γ_k} v ds``, k = 0 … 29 (zero at Dirichlet dofs), from the compiled ``flux_form``."""
        vectors = []
        for k in range(geometry.NUM_SEGMENTS):
            self.q.value[:] = 0.0
            self.q.value[k] = 1.0
            b = dolfinx.fem.petsc.assemble_vector(flux_form)
            b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
            dolfinx.fem.petsc.set_bc(b, [self.bc])
            vectors.append(b)
        self.q.value[:] = 0.0
        return vectors

    def unit_flux_responses(self, operator: dolfinx.fem.Form, flux_form: dolfinx.fem.Form) -> np.ndarray:
        """(ndofs, 30) solutions ``K⁻¹ b_k`` of the assembled ``operator`` K (with the boundary condition)
        for every unit segment flux: one MUMPS LU factorisation, 30 solves (docs/problems.md §2, §4)."""
        K = dolfinx.fem.petsc.assemble_matrix(operator, bcs=[self.bc])
        K.assemble()
        ksp = PETSc.KSP().create(K.comm)
        ksp.setOperators(K)
        ksp.setType("preonly")
        ksp.getPC().setType("lu")
        ksp.getPC().setFactorSolverType("mumps")
        x = K.createVecRight()
        columns = []
        for b in self.unit_flux_vectors(flux_form):
            ksp.solve(b, x)
            reason = ksp.getConvergedReason()
            b.destroy()
            if reason <= 0:
                raise RuntimeError(f"unit-flux solve failed (KSP reason {reason})")
            columns.append(x.array.copy())
        for obj in (x, ksp, K):
            obj.destroy()
        return np.column_stack(columns)


def discretise(mesh_size: str, u_max: float) -> FluxDiscretisation:
    """Mesh, space, boundary condition, flux term, velocity and sensors at ``mesh_size`` (``"NXxNY"``)."""
    resolution = geometry.parse_resolution(mesh_size)
    mesh, tags = build_mesh(*resolution)
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    fdim = mesh.topology.dim - 1
    left_dofs = dolfinx.fem.locate_dofs_topological(V, fdim, tags.find(LEFT))
    bc = dolfinx.fem.dirichletbc(PETSc.ScalarType(0.0), left_dofs, V)
    q = dolfinx.fem.Constant(mesh, np.zeros(geometry.NUM_SEGMENTS, dtype=PETSc.ScalarType))
    v = ufl.TestFunction(V)
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=tags)
    flux_term = sum(q[k] * v * ds(segment_tag(k)) for k in range(geometry.NUM_SEGMENTS))
    return FluxDiscretisation(
        resolution=resolution,
        mesh=mesh,
        facet_tags=tags,
        V=V,
        bc=bc,
        q=q,
        flux_term=flux_term,
        velocity=parabolic_velocity(mesh, u_max),
        sensors=sensor_matrix(V, geometry.sensor_coords()),
    )
