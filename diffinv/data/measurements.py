"""Measurements a user brings (docs/usage.md §6): one measurement per row, physical units, NaN for a
switched-off sensor, from CSV (comma-separated), NPY (read without pickle) or HDF5 (one dataset)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np


class MeasurementError(ValueError):
    """A measurement that cannot be used; the message names the file (or array) and the problem."""


def read_measurement(path: str | Path, key: str = "y") -> np.ndarray:
    """Rows of readings (n, m) from CSV, NPY or HDF5 (dataset ``key``); NaN marks a switched-off sensor."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"measurement: {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            values = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
        elif suffix == ".npy":
            values = np.load(path, allow_pickle=False)
        elif suffix in (".h5", ".hdf5"):
            with h5py.File(path, "r") as f:
                if key not in f:
                    raise MeasurementError(f"measurement: {path} has no dataset {key!r} (has {sorted(f)})")
                values = f[key][()]
        else:
            raise MeasurementError(f"measurement: {path}: unknown format {suffix!r} (use .csv, .npy, .h5)")
    except MeasurementError:
        raise
    except (ValueError, OSError) as exc:
        raise MeasurementError(f"measurement: {path} could not be read as {suffix} ({exc})") from exc
    if not np.issubdtype(np.asarray(values).dtype, np.number):
        raise MeasurementError(f"measurement: {path} holds {np.asarray(values).dtype} values, not numbers")
    return np.atleast_2d(np.asarray(values, dtype=np.float64))
