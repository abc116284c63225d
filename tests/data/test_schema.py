"""The HDF5 dataset schema: round trip, atomic writes, and clear errors on bad files (docs/design.md §6)."""

import os

import h5py
import numpy as np
import pytest

from diffinv.data.schema import DatasetError, Split, read_dataset, write_dataset


def splits(n_train=20, n_test=10, d=3, m=4, mask=False):
    rng = np.random.default_rng(0)

    def one(n):
        return Split(
            rng.normal(size=(n, d)), rng.normal(size=(n, m)), rng.random((n, m)) < 0.7 if mask else None
        )

    return {"train": one(n_train), "test": one(n_test)}


@pytest.mark.parametrize("mask", [False, True])
def test_round_trip(tmp_path, mask):
    data = splits(mask=mask)
    path = write_dataset(tmp_path / "d.h5", data, {"problem": "toy", "sensor_coords": np.ones((4, 2))})
    ds = read_dataset(path)
    np.testing.assert_array_equal(ds.train.x, data["train"].x)
    np.testing.assert_array_equal(ds.test.y_clean, data["test"].y_clean)
    assert ds.has_mask == mask and (ds.x_dim, ds.y_dim) == (3, 4)
    assert ds.attrs["problem"] == "toy" and ds.attrs["schema_version"] == 1
    assert ds.attrs["sensor_coords"].shape == (4, 2)
    assert [p.name for p in tmp_path.iterdir()] == ["d.h5"]  # no temporary left behind
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # the usual permissions, not mkstemp's 0600


def test_failed_write_leaves_existing_file_untouched(tmp_path):
    path = write_dataset(tmp_path / "d.h5", splits())
    before = path.read_bytes()
    bad = splits()
    bad["train"] = Split(bad["train"].x, np.full_like(bad["train"].y_clean, np.nan))
    with pytest.raises(DatasetError, match="'train/y_clean' has 80 non-finite"):
        write_dataset(path, bad)
    assert path.read_bytes() == before
    assert len(list(tmp_path.iterdir())) == 1


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        read_dataset(tmp_path / "nope.h5")


def test_truncated_file(tmp_path):
    path = write_dataset(tmp_path / "d.h5", splits())
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DatasetError, match=r"d\.h5: not a readable HDF5"):
        read_dataset(path)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: f.__delitem__("test"), "group 'test/' missing"),
        (lambda f: f["train"].__delitem__("y_clean"), "'train/y_clean' missing"),
        (
            lambda f: f["train"]["x"].__setitem__((0, 1), np.inf),
            "'train/x' has 1 non-finite values \\(first in row 0\\)",
        ),
        (
            lambda f: (f["test"].__delitem__("x"), f["test"].create_dataset("x", data=np.ones((10, 5)))),
            "'x' has dimension 3 in train/ but 5 in test/",
        ),
        (
            lambda f: (f["test"].__delitem__("x"), f["test"].create_dataset("x", data=np.ones((9, 3)))),
            "'test/x' has 9 rows but 'test/y_clean' has 10",
        ),
        (lambda f: f.attrs.__setitem__("schema_version", 99), "'schema_version' is 99"),
    ],
)
def test_schema_errors_name_the_key(tmp_path, edit, message):
    path = write_dataset(tmp_path / "d.h5", splits())
    with h5py.File(path, "a") as f:
        edit(f)
    with pytest.raises(DatasetError, match=message):
        read_dataset(path)
