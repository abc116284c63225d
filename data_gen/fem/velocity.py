"""The parabolic channel velocity u = (u_max · 4y(2 − y)/4, 0) of docs/problems.md §2 and §4."""

from __future__ import annotations

import ufl


def parabolic_velocity(mesh, u_max: float) -> ufl.core.expr.Expr:
    """UFL vector u(x, y) = (u_max · y(2 − y), 0): zero on both walls, ``u_max`` on the centre line y = 1."""
    y = ufl.SpatialCoordinate(mesh)[1]
    return ufl.as_vector((u_max * 4.0 * y * (2.0 - y) / 4.0, 0.0))
