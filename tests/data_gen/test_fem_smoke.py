"""FEniCSx smoke test: DOLFINx imported through data_gen.fenics solves a tiny Poisson problem exactly."""

import numpy as np
import pytest

pytestmark = pytest.mark.fem


def test_poisson_p1_reproduces_quadratic_solution():
    """-Δu = -6 with u = 1 + x² + 2y² on the boundary: P1 is exact at the vertices for this problem."""
    import ufl

    from data_gen.fenics import MPI, dolfinx

    fem, mesh = dolfinx.fem, dolfinx.mesh
    domain = mesh.create_unit_square(MPI.COMM_WORLD, 8, 8)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u_exact = lambda x: 1 + x[0] ** 2 + 2 * x[1] ** 2  # noqa: E731
    u_bc = fem.Function(V)
    u_bc.interpolate(u_exact)
    domain.topology.create_connectivity(1, 2)
    facets = mesh.exterior_facet_indices(domain.topology)
    bc = fem.dirichletbc(u_bc, fem.locate_dofs_topological(V, 1, facets))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = ufl.dot(ufl.grad(u), ufl.grad(v)) * ufl.dx
    L = fem.Constant(domain, -6.0) * v * ufl.dx
    problem = fem.petsc.LinearProblem(
        a,
        L,
        bcs=[bc],
        petsc_options_prefix="smoke_",
        petsc_options={"ksp_type": "preonly", "pc_type": "lu"},
    )
    uh = problem.solve()
    uh = uh[0] if isinstance(uh, tuple) else uh
    expected = u_exact(domain.geometry.x.T)
    assert dolfinx.__version__
    np.testing.assert_allclose(uh.x.array, expected, atol=1e-10)
