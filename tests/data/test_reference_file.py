"""The MCMC reference file (docs/design.md §6): written and read back through real HDF5, refused with a
one-line message when it is not a reference, is malformed, or was made for other data, noise or seed."""

import h5py
import numpy as np
import pytest

from diffinv.data.reference import (
    ARRAYS,
    REFERENCE_ATTRS,
    ReferenceError,
    check_reference,
    file_sha256,
    read_reference,
    write_reference,
)
from diffinv.data.schema import Split, write_dataset


def _dataset(path, seed):
    rng = np.random.default_rng(seed)
    split = Split(x=rng.standard_normal((5, 3)), y_clean=rng.standard_normal((5, 4)))
    return write_dataset(path, {"train": split, "test": split})


def _arrays(n=2, k=6, d=3, m=4):
    rng = np.random.default_rng(0)
    shapes = {1: (n,), 2: (n, d), 3: (n, k, d)}
    arrays = {name: rng.random(shapes[ndim]).astype(dtype) for name, (dtype, ndim) in ARRAYS.items()}
    return arrays | {"case_index": np.arange(n), "y": rng.random((n, m)), "mask": np.ones((n, m), bool)}


@pytest.fixture
def reference(tmp_path):
    data = _dataset(tmp_path / "data.h5", 0)
    attrs = {key: "x" for key in REFERENCE_ATTRS}
    attrs |= {
        "noise": 0.05,
        "noise_std": 0.1,
        "data_seed": 0,
        "data_file": str(data),
        "data_sha256": file_sha256(data),
    }
    return write_reference(tmp_path / "ref.h5", _arrays(), attrs), data


def test_round_trip(reference):
    path, _ = reference
    ref = read_reference(path)
    arrays = _arrays()
    np.testing.assert_array_equal(ref.case_index, [0, 1])
    np.testing.assert_array_equal(ref.samples, arrays["samples"].astype(np.float32))
    assert ref.noise_std == 0.1 and ref.attrs["kind"] == "mcmc_reference"
    for name in ARRAYS:
        np.testing.assert_array_equal(ref.arrays[name], np.asarray(arrays[name], dtype=ARRAYS[name][0]))


def test_check_accepts_its_data_and_refuses_others(reference, tmp_path):
    path, data = reference
    ref = read_reference(path)
    check_reference(ref, data, noise=0.05, seed=0)
    other = _dataset(tmp_path / "other.h5", 1)
    with pytest.raises(ReferenceError, match=r"was made for data file .*data\.h5.*not .*other\.h5"):
        check_reference(ref, other, noise=0.05, seed=0)
    with pytest.raises(ReferenceError, match="is for data.noise=0.05, this run has 0.2"):
        check_reference(ref, data, noise=0.2, seed=0)
    with pytest.raises(ReferenceError, match="is for seed=0 .*this run has 3"):
        check_reference(ref, data, noise=0.05, seed=3)


def test_malformed_files_are_refused(reference, tmp_path):
    path, data = reference
    with pytest.raises(ReferenceError, match="not found"):
        read_reference(tmp_path / "missing.h5")
    with pytest.raises(ReferenceError, match="not a reference file"):
        read_reference(data)  # a paired dataset, not a reference
    with h5py.File(path, "a") as f:
        del f["rhat"]
    with pytest.raises(ReferenceError, match=r"\['rhat'\] missing"):
        read_reference(path)
    bad = _arrays() | {"samples": np.full((2, 6, 3), np.nan)}
    with pytest.raises(ReferenceError, match="'samples' has non-finite values"):
        write_reference(tmp_path / "bad.h5", bad, {key: "x" for key in REFERENCE_ATTRS})
    with pytest.raises(ReferenceError, match="'map' has shape"):
        write_reference(tmp_path / "bad.h5", _arrays() | {"map": np.zeros((3, 3))}, {})
