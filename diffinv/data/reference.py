"""The MCMC reference-posterior file: schema, atomic writer, validating reader (docs/design.md §6).

A reference file holds, for the first test cases of one paired dataset at one noise level, posterior samples
drawn by MCMC on the problem's own forward model (``python -m data_gen.reference``, docs/math.md §18), with
the readings they condition on and each case's convergence diagnostics. Datasets (n cases):
``case_index`` (n,) int, ``truth`` (n, d), ``y`` (n, m) the noisy test readings, ``mask`` (n, m) bool,
``samples`` (n, k, d) float32 in physical units, ``map`` (n, d), ``rhat`` and ``ess_bulk`` (n, d) of the
sampled latent parameters, ``rhat_physical`` and ``ess_bulk_physical`` (n, d) of the fluxes, ``converged``
(n,) bool, ``steps``, ``forward_solves`` (n,) int, ``acceptance``, ``wall_s``, ``cpu_s`` (n,) (the sampling
process's CPU time). Attributes: ``REFERENCE_ATTRS``. :func:`check_reference` refuses a reference made for
other data, noise or seed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

from diffinv import __version__
from diffinv.run.files import write_atomic

REFERENCE_SCHEMA_VERSION = 1
KIND = "mcmc_reference"
ARRAYS = {  # name: (dtype, number of dimensions)
    "case_index": (np.int64, 1),
    "truth": (np.float64, 2),
    "y": (np.float64, 2),
    "mask": (bool, 2),
    "samples": (np.float32, 3),
    "map": (np.float64, 2),
    "rhat": (np.float64, 2),
    "ess_bulk": (np.float64, 2),
    "rhat_physical": (np.float64, 2),
    "ess_bulk_physical": (np.float64, 2),
    "converged": (bool, 1),
    "steps": (np.int64, 1),
    "forward_solves": (np.int64, 1),
    "acceptance": (np.float64, 1),
    "wall_s": (np.float64, 1),
    "cpu_s": (np.float64, 1),
}
REFERENCE_ATTRS = (
    "problem",  # the data file's problem name
    "noise",  # data.noise of the runs it serves: σ_n as a fraction of the training mean |y_clean|
    "noise_std",  # σ_n in physical units
    "data_seed",  # the runs' `seed` (data.seed), which draws the test noise
    "data_file",  # path of the data file, as given
    "data_sha256",  # SHA-256 of the data file's bytes: its identity
    "mesh",  # the forward model's mesh ("" for a forward map from the file)
    "forward",  # what evaluated the forward model: "solver" (FEM) or "data_file" (forward_map)
    "sampler",  # the sampler settings (YAML)
    "config",  # the resolved command config (YAML)
)


class ReferenceError(ValueError):
    """A reference file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Reference:
    """Cases (their test-set rows), samples (n, k, d), σ_n, attributes and every other array by name."""

    path: Path
    case_index: np.ndarray
    samples: np.ndarray
    noise_std: float
    attrs: dict
    arrays: dict


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_reference(path: str | os.PathLike, arrays: dict, attrs: dict) -> Path:
    """Write a reference file atomically after checking names, shapes and that every value is finite."""
    path = Path(path)
    _check_arrays(path, arrays)
    missing = [key for key in REFERENCE_ATTRS if key not in attrs]
    if missing:
        raise ReferenceError(f"{path}: attributes {missing} missing")

    def write(tmp: str) -> None:
        with h5py.File(tmp, "w") as f:
            for name, (dtype, _) in ARRAYS.items():
                f.create_dataset(name, data=np.asarray(arrays[name], dtype=dtype))
            f.attrs["kind"] = KIND
            f.attrs["schema_version"] = REFERENCE_SCHEMA_VERSION
            f.attrs["package_version"] = __version__
            f.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds")
            for key in REFERENCE_ATTRS:
                f.attrs[key] = attrs[key]

    return write_atomic(path, write)


def read_reference(path: str | os.PathLike) -> Reference:
    """Read and validate a reference file; problems raise :class:`ReferenceError` naming file and key."""
    path = Path(path)
    if not path.is_file():
        raise ReferenceError(f"{path}: reference file not found")
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in f.attrs.items()}
            if attrs.get("kind") != KIND or attrs.get("schema_version") != REFERENCE_SCHEMA_VERSION:
                raise ReferenceError(
                    f"{path}: not a reference file of schema {REFERENCE_SCHEMA_VERSION} (kind "
                    f"{attrs.get('kind')!r}, schema_version {attrs.get('schema_version')!r})"
                )
            missing = [name for name in ARRAYS if name not in f] + [
                k for k in REFERENCE_ATTRS if k not in attrs
            ]
            if missing:
                raise ReferenceError(f"{path}: {missing} missing")
            arrays = {name: f[name][()] for name in ARRAYS}
    except ReferenceError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise ReferenceError(f"{path}: not a readable HDF5 reference file ({exc})") from exc
    _check_arrays(path, arrays)
    return Reference(
        path=path,
        case_index=arrays["case_index"],
        samples=arrays["samples"],
        noise_std=float(attrs["noise_std"]),
        attrs=attrs,
        arrays=arrays,
    )


def check_reference(reference: Reference, data_file: str | os.PathLike, noise: float, seed: int) -> None:
    """Raise :class:`ReferenceError` unless ``reference`` was made for this data file, noise and seed."""
    where = f"reference {reference.path}"
    digest = file_sha256(data_file)
    if digest != reference.attrs["data_sha256"]:
        raise ReferenceError(
            f"{where} was made for data file {reference.attrs['data_file']} (sha256 "
            f"{reference.attrs['data_sha256'][:12]}…), not {data_file} (sha256 {digest[:12]}…)"
        )
    if not np.isclose(float(reference.attrs["noise"]), float(noise), rtol=1e-12, atol=0.0):
        raise ReferenceError(f"{where} is for data.noise={reference.attrs['noise']}, this run has {noise}")
    if int(reference.attrs["data_seed"]) != int(seed):
        raise ReferenceError(
            f"{where} is for seed={reference.attrs['data_seed']} (test noise), this run has {seed}"
        )


def _check_arrays(path: Path, arrays: dict) -> None:
    missing = [name for name in ARRAYS if name not in arrays]
    if missing:
        raise ReferenceError(f"{path}: arrays {missing} missing")
    n = len(np.asarray(arrays["case_index"]))
    for name, (_, ndim) in ARRAYS.items():
        value = np.asarray(arrays[name])
        if value.ndim != ndim or value.shape[0] != n:
            raise ReferenceError(
                f"{path}: '{name}' has shape {value.shape}, need {ndim} dimensions, {n} cases"
            )
        if value.dtype.kind == "f" and name not in ("rhat_physical", "ess_bulk_physical"):
            if not np.all(np.isfinite(value)):
                raise ReferenceError(f"{path}: '{name}' has non-finite values")
