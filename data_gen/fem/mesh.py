"""The graded rectangle mesh and its boundary tags (docs/problems.md §2: segment ends are mesh vertices).

Facet tags: ``1 … 15`` bottom flux segments and ``16 … 30`` top ones (left to right, the order of
``q``), :data:`LEFT` the inflow edge x = 0 (c = 0), :data:`RIGHT` the outflow edge x = 8.5. The no-flux
wall parts x > 7 stay untagged.
"""

from __future__ import annotations

import numpy as np

from data_gen.fenics import MPI, dolfinx
from diffinv.problems.flux import geometry

LEFT = 31
RIGHT = 32


def segment_tag(index: int) -> int:
    """Facet tag of flux segment ``index`` (0 … 29, the order of ``q``)."""
    return index + 1


def build_mesh(nx: int, ny: int) -> tuple[dolfinx.mesh.Mesh, dolfinx.mesh.MeshTags]:
    """Triangle mesh of [0, 8.5] × [0, 2] with ``nx × ny`` cells (x graded, :func:`geometry.graded_x`)."""
    mesh = dolfinx.mesh.create_rectangle(
        MPI.COMM_SELF, [np.array([0.0, 0.0]), np.array([float(nx), geometry.HEIGHT])], [nx, ny]
    )
    coords = mesh.geometry.x
    coords[:, 0] = np.interp(coords[:, 0], np.arange(nx + 1), geometry.graded_x(nx))
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
    tags[x > geometry.LENGTH - tol] = RIGHT
    on_flux = x < geometry.FLUX_END
    segment = np.floor(x / geometry.SEGMENT_LENGTH).astype(np.int32)
    bottom = (y < tol) & on_flux
    top = (y > geometry.HEIGHT - tol) & on_flux
    tags[bottom] = segment_tag(segment[bottom])
    tags[top] = segment_tag(segment[top] + geometry.SEGMENTS_PER_WALL)
    keep = tags > 0
    order = np.argsort(facets[keep])
    return dolfinx.mesh.meshtags(mesh, fdim, facets[keep][order], tags[keep][order])
