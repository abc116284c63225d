"""A linear forward map ``y = A q`` in the shape of the FEM forward models (docs/math.md §18.1).

Same interface as :class:`data_gen.fem.adr.NonlinearADR`: called on (n, 30) physical fluxes it returns the
(n, 30) clean readings; :meth:`readings_and_jacobian` gives one flux's readings and ``∂y/∂q``. The linear
problems' data files store ``A`` as the attribute ``forward_map`` (docs/design.md §6).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diffinv.data.schema import DatasetError, read_dataset


class LinearForward:
    """``q ↦ A q`` for a (m, d) matrix ``A``."""

    def __init__(self, forward_map: np.ndarray):
        self.forward_map = np.asarray(forward_map, dtype=np.float64)
        if self.forward_map.ndim != 2:
            raise ValueError(f"forward_map: need a 2-D matrix, got shape {self.forward_map.shape}")

    @classmethod
    def from_data_file(cls, path: str | Path) -> LinearForward:
        """The map stored in a linear problem's data file (attribute ``forward_map``)."""
        attrs = read_dataset(path).attrs
        if "forward_map" not in attrs:
            raise DatasetError(
                f"{path}: attribute 'forward_map' missing (only the linear problems store one)"
            )
        return cls(attrs["forward_map"])

    def __call__(self, q: np.ndarray) -> np.ndarray:
        return np.atleast_2d(q) @ self.forward_map.T

    def readings_and_jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.forward_map @ np.asarray(q, dtype=np.float64), self.forward_map
