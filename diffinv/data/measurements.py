"""Measurements a user brings (docs/usage.md §6): one measurement per row, physical units, NaN for a
switched-off sensor, from CSV (comma-separated, a header row of names allowed), NPY (read without pickle) or
HDF5 (one dataset)."""

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
            values = _read_csv(path)
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
    if np.asarray(values).size == 0:
        raise MeasurementError(f"measurement: {path} holds no readings")
    if not np.issubdtype(np.asarray(values).dtype, np.number):
        raise MeasurementError(f"measurement: {path} holds {np.asarray(values).dtype} values, not numbers")
    return np.atleast_2d(np.asarray(values, dtype=np.float64))


def _read_csv(path: Path) -> np.ndarray:
    """Comma-separated rows; a first row with a cell that is neither empty nor a number (``s1,s2,…``) is a
    header and skipped. A UTF-8 byte-order mark (spreadsheet exports) is dropped."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header = bool(lines) and any(not _is_number(cell) for cell in lines[0].split(",") if cell.strip())
    rows = [line for line in lines[int(header) :] if line.strip()]
    return np.loadtxt(rows, delimiter=",", dtype=np.float64, ndmin=2) if rows else np.empty((0, 0))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
