"""Measurements a user brings (docs/usage.md §6): one measurement per row, physical units, NaN for a
switched-off sensor, from CSV (comma, semicolon, tab or space separated, a header row of names allowed, empty
or NA cells for switched-off sensors), NPY (read without pickle) or HDF5 (one dataset)."""

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


MISSING = ("", "nan", "na", "n/a", "null", "none", "-")  # a switched-off sensor's cell (any case): NaN


def _read_csv(path: Path) -> np.ndarray:
    """Rows of readings in the usual CSV dialects (docs/usage.md §6): cells separated by commas, semicolons
    (then a comma inside a cell is a decimal comma, ``1,5;2,25``), tabs or spaces, the separator taken from
    the first non-blank line; an empty, ``NA``, ``NaN``, ``N/A``, ``null``, ``none`` or ``-`` cell is a
    switched-off sensor (NaN); a first row with any other non-number (``s1,s2,…``) is a header and skipped; a
    UTF-8 byte-order mark (spreadsheet exports) is dropped; blank lines are skipped. Anything else stops with
    the line, column and cell found."""
    lines = [(i + 1, line) for i, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines())]
    lines = [(number, line) for number, line in lines if line.strip()]
    if not lines:
        raise MeasurementError(f"measurement: {path} holds no readings (the file is empty)")
    separator = next((sep for sep in (";", "\t", ",") if sep in lines[0][1]), None)  # None: whitespace
    cells = [[cell.strip() for cell in line.split(separator)] for _, line in lines]
    if separator == ";":
        cells = [[cell.replace(",", ".") for cell in row] for row in cells]
    if any(not _is_reading(cell) for cell in cells[0]):
        (number, header), lines, cells = lines[0], lines[1:], cells[1:]
        if not cells:
            raise MeasurementError(f"measurement: {path} holds only a header row (line {number}: {header!r})")
    for (number, _), row in zip(lines, cells, strict=True):
        if len(row) != len(cells[0]):
            raise MeasurementError(
                f"measurement: {path}, line {number}: {len(row)} cells, the first row of readings (line "
                f"{lines[0][0]}) has {len(cells[0])}"
            )
        for column, cell in enumerate(row, start=1):
            if not _is_reading(cell):
                raise MeasurementError(
                    f"measurement: {path}, line {number}, column {column}: {cell!r} is not a number (a "
                    f"switched-off sensor may be empty, NA or NaN)"
                )
    return np.array([[_value(cell) for cell in row] for row in cells], dtype=np.float64)


def _is_reading(cell: str) -> bool:
    return cell.lower() in MISSING or _is_number(cell)


def _value(cell: str) -> float:
    return np.nan if cell.lower() in MISSING else float(cell)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def average_repeats(y: np.ndarray, repeats: int) -> np.ndarray:
    """Readings of ``repeats`` independent measurements of each state (consecutive rows of ``y``, (n·r, m))
    as their means (n, m): with Gaussian noise of one σ_n these carry all the information of the r readings,
    at σ_n/√r (docs/math.md §19.2). A group's switched-off sensors (NaN) must be the same in every row."""
    y = np.asarray(y, dtype=np.float64)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise MeasurementError(f"repeats must be an integer >= 1, got {repeats!r}")
    if y.ndim != 2 or len(y) % repeats:
        raise MeasurementError(
            f"repeats={repeats}: {len(y)} rows of readings are not whole groups of {repeats} (one per state)"
        )
    groups = y.reshape(-1, repeats, y.shape[1])
    off = np.isnan(groups)
    if (off != off[:, :1]).any():
        group = int(np.flatnonzero((off != off[:, :1]).any(axis=(1, 2)))[0])
        raise MeasurementError(
            f"repeats={repeats}: the readings of state {group + 1} (rows {group * repeats + 1}–"
            f"{(group + 1) * repeats}) switch off different sensors; repeated readings must share them"
        )
    return groups.mean(axis=1)
