"""Resumable, shardable work: the samples are cut into fixed chunks, each saved as one ``.npz`` file.

A chunk file is written atomically (temporary file in the same folder, then rename), so after a kill a
chunk is either complete or absent, and a rerun skips the complete ones. Chunk ``i`` belongs to shard
``i mod num_shards``. Each file records a fingerprint of the generator settings and the inputs ``x``
it was solved for; :meth:`ChunkPlan.load` rejects a file that is unreadable (corrupt, truncated), has the
wrong fingerprint (stale settings), the wrong inputs or rows, or non-finite outputs.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffinv.run.files import write_atomic


class ChunkError(ValueError):
    """A chunk file that cannot be used; the message names the file and what is wrong."""


def fingerprint(*parts: str) -> str:
    """Short hash identifying the settings a chunk was computed with."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ChunkPlan:
    directory: Path
    fingerprint: str
    total: int
    size: int

    @property
    def num_chunks(self) -> int:
        return -(-self.total // self.size)

    def bounds(self, index: int) -> tuple[int, int]:
        return index * self.size, min((index + 1) * self.size, self.total)

    def path(self, index: int) -> Path:
        return self.directory / f"chunk_{index:05d}.npz"

    def shard(self, shard: int, num_shards: int) -> list[int]:
        """The chunk indices of shard ``shard`` out of ``num_shards``."""
        if num_shards < 1 or not 0 <= shard < num_shards:
            raise ValueError(f"shard={shard} num_shards={num_shards}: need 0 <= shard < num_shards")
        return list(range(shard, self.num_chunks, num_shards))

    def write(self, index: int, x: np.ndarray, y: np.ndarray) -> Path:
        """Save chunk ``index`` atomically."""
        return write_atomic(
            self.path(index),
            lambda tmp: np.savez(tmp, x=x, y_clean=y, fingerprint=np.array(self.fingerprint)),
        )

    def is_done(self, index: int, x: np.ndarray) -> bool:
        """True if chunk ``index`` is on disk and valid for inputs ``x``; :class:`ChunkError` if it is bad."""
        if not self.path(index).exists():
            return False
        self.load(index, x)
        return True

    def load(self, index: int, x: np.ndarray) -> np.ndarray:
        """The outputs of chunk ``index``, checked to be computed for inputs ``x`` with these settings."""
        path = self.path(index)
        hint = f"delete it (or all of {self.directory}) to recompute"
        try:
            with np.load(path) as f:
                stored_fp, stored_x, y = str(f["fingerprint"]), f["x"], f["y_clean"]
        except FileNotFoundError:
            raise ChunkError(f"{path}: chunk {index} missing") from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ChunkError(f"{path}: unreadable chunk ({exc}); {hint}") from exc
        if stored_fp != self.fingerprint:
            raise ChunkError(f"{path}: computed with other settings (fingerprint {stored_fp}); {hint}")
        if stored_x.shape != x.shape or not np.array_equal(stored_x, x):
            raise ChunkError(f"{path}: inputs 'x' differ from this run's chunk {index}; {hint}")
        if y.shape[0] != x.shape[0] or not np.all(np.isfinite(y)):
            raise ChunkError(f"{path}: 'y_clean' has shape {y.shape} or non-finite values; {hint}")
        return y

    def missing(self) -> list[int]:
        return [i for i in range(self.num_chunks) if not self.path(i).exists()]

    def merge(self, x: np.ndarray) -> np.ndarray:
        """All outputs in order, every chunk validated against its slice of ``x``."""
        return np.concatenate([self.load(i, x[slice(*self.bounds(i))]) for i in range(self.num_chunks)])
