"""The paired-data HDF5 file: one schema, an atomic writer and a validating reader (docs/design.md §6).

Layout: groups ``train/`` and ``test/``, each holding ``x`` (N, d) float64 (the inferred vector),
``y_clean`` (N, m) float64 (noise-free measurement) and, for a family of measurement operators
(docs/math.md §8), ``mask`` (N, m) bool. File attributes record how the file was made (problem name, schema
version, generator config as YAML, seed, coordinates, creation time, package version).
Measurement noise is *not* stored: the datamodule applies it, so one file serves a noise sweep.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

from diffinv import __version__
from diffinv.run.files import write_atomic

SCHEMA_VERSION = 1
SPLITS = ("train", "test")
# HDF5 attributes hold at most 64 KiB: larger arrays (a field's prior covariance, its forward map) are written
# as datasets of the group "attrs/" and read back among the attributes.
LARGE_ATTRIBUTES = "attrs"
LARGE_ATTRIBUTE_BYTES = 16_384


class DatasetError(ValueError):
    """A dataset file that does not follow the schema; the message names the file and the key."""


@dataclass(frozen=True)
class Split:
    x: np.ndarray
    y_clean: np.ndarray
    mask: np.ndarray | None = None

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass(frozen=True)
class Dataset:
    path: Path
    train: Split
    test: Split
    attrs: dict = field(default_factory=dict)

    @property
    def x_dim(self) -> int:
        return self.train.x.shape[1]

    @property
    def y_dim(self) -> int:
        return self.train.y_clean.shape[1]

    @property
    def has_mask(self) -> bool:
        return self.train.mask is not None


def write_dataset(path: str | os.PathLike, splits: dict[str, Split], attrs: dict | None = None) -> Path:
    """Write ``splits`` to ``path`` atomically (temporary file in the same folder, then rename).

    The splits are validated first, so a file on disk is always a valid one; an existing file at
    ``path`` is untouched if anything fails.
    """
    path = Path(path)
    for name in SPLITS:
        if name not in splits:
            raise DatasetError(f"{path}: split '{name}' missing (need {SPLITS})")
        _check_split(path, name, splits[name])
    _check_consistent(path, splits["train"], splits["test"])

    def write(tmp: str) -> None:
        with h5py.File(tmp, "w") as f:
            for name in SPLITS:
                split = splits[name]
                g = f.create_group(name)
                g.create_dataset("x", data=np.asarray(split.x, dtype=np.float64))
                g.create_dataset("y_clean", data=np.asarray(split.y_clean, dtype=np.float64))
                if split.mask is not None:
                    g.create_dataset("mask", data=np.asarray(split.mask, dtype=bool))
            f.attrs["schema_version"] = SCHEMA_VERSION
            f.attrs["package_version"] = __version__
            f.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds")
            for key, value in (attrs or {}).items():
                if isinstance(value, np.ndarray) and value.nbytes > LARGE_ATTRIBUTE_BYTES:
                    f.create_dataset(f"{LARGE_ATTRIBUTES}/{key}", data=value)
                else:
                    f.attrs[key] = value

    return write_atomic(path, write)


def read_dataset(path: str | os.PathLike) -> Dataset:
    """Read and validate a dataset file; every problem raises :class:`DatasetError` naming file and key."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: dataset file not found")
    try:
        with h5py.File(path, "r") as f:
            version = _plain(f.attrs.get("schema_version"))
            if version != SCHEMA_VERSION:
                raise DatasetError(
                    f"{path}: attribute 'schema_version' is {version!r}, this reader needs {SCHEMA_VERSION}"
                )
            splits = {name: _read_split(path, f, name) for name in SPLITS}
            attrs = {k: _plain(v) for k, v in f.attrs.items()}
            if LARGE_ATTRIBUTES in f:
                attrs |= {k: v[()] for k, v in f[LARGE_ATTRIBUTES].items()}
    except DatasetError:
        raise
    except (OSError, KeyError, ValueError) as exc:  # h5py reports corrupt/truncated files as OSError
        raise DatasetError(f"{path}: not a readable HDF5 dataset ({exc})") from exc
    _check_consistent(path, splits["train"], splits["test"])
    return Dataset(path=path, train=splits["train"], test=splits["test"], attrs=attrs)


def _read_split(path: Path, f: h5py.File, name: str) -> Split:
    if name not in f:
        raise DatasetError(f"{path}: group '{name}/' missing")
    g = f[name]
    for key in ("x", "y_clean"):
        if key not in g:
            raise DatasetError(f"{path}: dataset '{name}/{key}' missing")
    split = Split(
        x=g["x"][()],
        y_clean=g["y_clean"][()],
        mask=g["mask"][()] if "mask" in g else None,
    )
    _check_split(path, name, split)
    return split


def _check_split(path: Path, name: str, split: Split) -> None:
    x, y = np.asarray(split.x), np.asarray(split.y_clean)
    for key, arr in (("x", x), ("y_clean", y)):
        if arr.ndim != 2:
            raise DatasetError(f"{path}: '{name}/{key}' must be 2-D (N, dim), got shape {arr.shape}")
        if arr.shape[0] == 0:
            raise DatasetError(f"{path}: '{name}/{key}' is empty")
        bad = ~np.isfinite(arr)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise DatasetError(
                f"{path}: '{name}/{key}' has {int(bad.sum())} non-finite values (first in row {row})"
            )
    if x.shape[0] != y.shape[0]:
        raise DatasetError(f"{path}: '{name}/x' has {x.shape[0]} rows but '{name}/y_clean' has {y.shape[0]}")
    if split.mask is not None:
        mask = np.asarray(split.mask)
        if mask.dtype != bool or mask.shape != y.shape:
            raise DatasetError(
                f"{path}: '{name}/mask' must be bool with the shape of y_clean {y.shape}, "
                f"got {mask.dtype} {mask.shape}"
            )


def _check_consistent(path: Path, train: Split, test: Split) -> None:
    for key in ("x", "y_clean"):
        a, b = getattr(train, key).shape[1], getattr(test, key).shape[1]
        if a != b:
            raise DatasetError(f"{path}: '{key}' has dimension {a} in train/ but {b} in test/")
    if (train.mask is None) != (test.mask is None):
        raise DatasetError(f"{path}: 'mask' present in only one of train/ and test/")


def _plain(value):
    """HDF5 attribute values as plain Python/NumPy objects (bytes decoded)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
