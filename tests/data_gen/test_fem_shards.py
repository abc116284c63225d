"""Sharded, resumable ADR generation (docs/problems.md §4): a run killed with SIGKILL and resumed writes the
same file as an uninterrupted one; corrupt, stale, incomplete chunks are detected, never merged."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from data_gen.config import compose_config
from data_gen.fem.adr_generate import generate
from data_gen.fem.chunks import ChunkError, ChunkPlan
from diffinv.data.schema import read_dataset

pytestmark = pytest.mark.fem

REPO = Path(__file__).resolve().parents[2]
SMALL = ["problem=adr", "problem.mesh=43x10", "problem.n_train=200", "problem.n_test=40", "chunk_size=10"]


def _cli(tmp: Path, *overrides: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    args = [*SMALL, f"paths.data_dir={tmp / 'data'}", f"hydra.run.dir={tmp / 'hydra'}", *overrides]
    return subprocess.Popen(
        [sys.executable, "-m", "data_gen", *args],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _finish(proc: subprocess.Popen) -> None:
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out.decode()[-3000:]


def test_killed_and_resumed_sharded_run_equals_uninterrupted_run(tmp_path):
    whole, sharded = tmp_path / "whole", tmp_path / "sharded"
    whole.mkdir(), sharded.mkdir()
    _finish(_cli(whole, "workers=1"))

    proc = _cli(sharded, "workers=1", "shard=0", "num_shards=2")
    parts = sharded / "data" / "adr.h5.parts"
    deadline = time.monotonic() + 60
    while not (parts.exists() and any(parts.glob("chunk_*.npz"))) and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)  # a worker of the killed parent may finish its chunk before it notices and exits
    done = sorted(int(p.stem.split("_")[1]) for p in parts.glob("chunk_*.npz"))
    assert 1 <= len(done) < 12 and all(i % 2 == 0 for i in done), (
        f"chunks {done}: kill did not land mid-shard"
    )

    _finish(_cli(sharded, "workers=2", "shard=1", "num_shards=2"))
    assert not (sharded / "data" / "adr.h5").exists()  # shard 0 is incomplete: no merge yet
    _finish(_cli(sharded, "workers=2", "shard=0", "num_shards=2"))  # resumes shard 0, then merges

    a, b = read_dataset(whole / "data" / "adr.h5"), read_dataset(sharded / "data" / "adr.h5")
    for split in ("train", "test"):
        assert np.array_equal(getattr(a, split).x, getattr(b, split).x)
        assert np.array_equal(getattr(a, split).y_clean, getattr(b, split).y_clean)
    assert a.attrs["problem"] == "adr" and a.attrs["mesh"] == "43x10"


def _plan(tmp_path) -> tuple[ChunkPlan, np.ndarray]:
    x = np.arange(50.0).reshape(25, 2)
    return ChunkPlan(directory=tmp_path, fingerprint="abc", total=25, size=10), x


def test_chunk_round_trip_and_shard_partition(tmp_path):
    plan, x = _plan(tmp_path)
    assert plan.num_chunks == 3 and plan.bounds(2) == (20, 25)
    assert sorted(plan.shard(0, 2) + plan.shard(1, 2)) == [0, 1, 2]
    for i in range(3):
        plan.write(i, x[slice(*plan.bounds(i))], 2 * x[slice(*plan.bounds(i))])
    assert np.array_equal(plan.merge(x), 2 * x)


def test_corrupt_chunk_is_detected(tmp_path):
    plan, x = _plan(tmp_path)
    plan.write(0, x[:10], x[:10])
    data = plan.path(0).read_bytes()
    plan.path(0).write_bytes(data[: len(data) // 2])
    with pytest.raises(ChunkError, match="unreadable"):
        plan.is_done(0, x[:10])


def test_stale_and_mismatched_chunks_are_detected(tmp_path):
    plan, x = _plan(tmp_path)
    ChunkPlan(tmp_path, "other", 25, 10).write(0, x[:10], x[:10])
    with pytest.raises(ChunkError, match="other settings"):
        plan.load(0, x[:10])
    plan.write(1, x[10:20] + 1, x[10:20])
    with pytest.raises(ChunkError, match="inputs 'x' differ"):
        plan.load(1, x[10:20])
    plan.write(2, x[20:], np.full((5, 2), np.nan))
    with pytest.raises(ChunkError, match="non-finite"):
        plan.load(2, x[20:])


def test_incomplete_run_is_not_merged(tmp_path):
    plan, x = _plan(tmp_path)
    plan.write(0, x[:10], x[:10])
    assert plan.missing() == [1, 2]
    with pytest.raises(ChunkError, match="chunk 1 missing"):
        plan.merge(x)


def test_one_shard_leaves_the_merge_to_the_last(tmp_path):
    overrides = [*SMALL, "problem.n_train=20", "problem.n_test=10", "workers=1", f"paths.data_dir={tmp_path}"]
    generate(compose_config(*overrides, "shard=1", "num_shards=2"))
    assert not (tmp_path / "adr.h5").exists()
    assert sorted(p.name for p in (tmp_path / "adr.h5.parts").glob("chunk_*.npz")) == ["chunk_00001.npz"]
    generate(compose_config(*overrides, "shard=0", "num_shards=2"))
    assert len(read_dataset(tmp_path / "adr.h5").train) == 20


def test_shard_out_of_range_names_the_key(tmp_path):
    with pytest.raises(ValueError, match="shard=2 num_shards=2"):
        generate(compose_config(*SMALL, "shard=2", "num_shards=2", f"paths.data_dir={tmp_path}"))
