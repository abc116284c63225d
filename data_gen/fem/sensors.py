"""Point evaluation of a P1 field at the sensors (docs/problems.md §2) as a sparse (30 × ndofs) matrix.

For P1 Lagrange the value at a point is the barycentric combination of the three vertex values of the
cell containing it, so the readings of any field are ``S @ c.x.array``: one sparse product per sample,
and ``S @ U`` for the 30 unit-flux solutions gives the flux→sensor map.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from data_gen.fenics import dolfinx


def sensor_matrix(V: dolfinx.fem.FunctionSpace, points: np.ndarray) -> scipy.sparse.csr_matrix:
    """Rows of barycentric weights: ``(S @ u.x.array)[i] = u(points[i])`` for ``u`` in the P1 space ``V``."""
    mesh = V.mesh
    pts3 = np.zeros((len(points), 3))
    pts3[:, : points.shape[1]] = points
    tree = dolfinx.geometry.bb_tree(mesh, mesh.topology.dim)
    candidates = dolfinx.geometry.compute_collisions_points(tree, pts3)
    colliding = dolfinx.geometry.compute_colliding_cells(mesh, candidates, pts3)
    dof_xy = V.tabulate_dof_coordinates()[:, :2]
    rows, cols, vals = [], [], []
    for i, p in enumerate(points):
        cells = colliding.links(i)
        if len(cells) == 0:
            raise ValueError(f"sensor {i} at {tuple(p)} lies outside the mesh")
        dofs = V.dofmap.cell_dofs(cells[0])
        corners = dof_xy[dofs]
        T = np.column_stack([corners[1] - corners[0], corners[2] - corners[0]])
        l1, l2 = np.linalg.solve(T, p - corners[0])
        rows += [i] * 3
        cols += list(dofs)
        vals += [1.0 - l1 - l2, l1, l2]
    n_dofs = V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts
    return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(len(points), n_dofs))
