"""The graded rectangle mesh and its boundary tags (PROBLEMS.md §2: segment ends are mesh vertices).

Facet tags: ``1 … 15`` bottom flux segments and ``16 … 30`` top ones (left to right, the order of
``q``), :data:`LEFT` the inflow edge x = 0 (c = 0), :data:`RIGHT` the outflow edge x = 8.5. The no-flux
wall parts x > 7 stay untagged.
"""

from __future__ import annotations

import numpy as np

from data_gen.fem import layout
from data_gen.fenics import MPI, dolfinx

LEFT = 31
RIGHT = 32


def segment_tag(index: int) -> int:
    """Facet tag of flux segment ``index`` (0 … 29, the order of ``q``)."""
    return index + 1


def build_mesh(nx: int, ny: int) -> tuple[dolfinx.mesh.Mesh, dolfinx.mesh.MeshTags]:
    """Triangle mesh of [0, 8.5] × [0, 2] with ``nx × ny`` cells (x graded, :func:`layout.graded_x`)."""
    mesh = dolfinx.mesh.create_rectangle(
        MPI.COMM_SELF, [np.array([0.0, 0.0]), np.array([float(nx), layout.HEIGHT])], [nx, ny]
    )
    coords = mesh.geometry.x
    coords[:, 0] = np.interp(coords[:, 0], np.arange(nx + 1), layout.graded_x(nx))
    return mesh, _boundary_tags(mesh)


def _boundary_tags(mesh: dolfinx.mesh.Mesh) -> dolfinx.mesh.MeshTags:
    fdim = mesh.topology.dim - 1
    mesh.topology.create_connectivity(fdim, mesh.topology.dim)
    facets = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    mid = dolfinx.mesh.compute_midpoints(mesh, fdim, facets)
    x, y = mid[:, 0], mid[:, 1]
    tol = 1e-10
    tags = np.zeros(len(facets), dtype=np.int32)
    tags[x < tol] = LEFT
    tags[x > layout.LENGTH - tol] = RIGHT
    on_flux = x < layout.FLUX_END
    segment = np.floor(x / layout.SEGMENT_LENGTH).astype(np.int32)
    bottom = (y < tol) & on_flux
    top = (y > layout.HEIGHT - tol) & on_flux
    tags[bottom] = segment_tag(segment[bottom])
    tags[top] = segment_tag(segment[top] + layout.SEGMENTS_PER_WALL)
    keep = tags > 0
    order = np.argsort(facets[keep])
    return dolfinx.mesh.meshtags(mesh, fdim, facets[keep][order], tags[keep][order])
