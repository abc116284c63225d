"""One resumable file per test case (docs/design.md §6): ``<out>.parts/case_NNNNN.npz``.

Written atomically by the process that sampled the case, with a fingerprint of the settings (data file
checksum, noise, seed, forward model, sampler). A rerun skips the cases on disk; a file that is unreadable,
stale (other settings) or for another case stops the run with a message naming it. Case ``i`` belongs to
shard ``i mod num_shards``, as the chunks of :mod:`data_gen.fem.chunks`.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_gen.fem.chunks import ChunkError
from diffinv.run.files import write_atomic


@dataclass(frozen=True)
class CaseStore:
    directory: Path
    fingerprint: str

    def path(self, case: int) -> Path:
        return self.directory / f"case_{case:05d}.npz"

    def write(self, case: int, arrays: dict) -> Path:
        return write_atomic(
            self.path(case),
            lambda tmp: np.savez(
                tmp, **arrays, case_index=np.array(case), fingerprint=np.array(self.fingerprint)
            ),
        )

    def is_done(self, case: int) -> bool:
        """True if case ``case`` is on disk and valid; :class:`ChunkError` if the file is bad."""
        if not self.path(case).exists():
            return False
        self.load(case)
        return True

    def load(self, case: int) -> dict:
        path, hint = self.path(case), f"delete it (or all of {self.directory}) to resample"
        try:
            with np.load(path) as f:
                arrays = {name: f[name] for name in f.files}
        except FileNotFoundError:
            raise ChunkError(f"{path}: case {case} missing") from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ChunkError(f"{path}: unreadable case file ({exc}); {hint}") from exc
        if str(arrays.get("fingerprint")) != self.fingerprint:
            raise ChunkError(
                f"{path}: sampled with other settings (fingerprint {arrays.get('fingerprint')}); {hint}"
            )
        if int(arrays["case_index"]) != case:
            raise ChunkError(f"{path}: holds case {int(arrays['case_index'])}, not {case}; {hint}")
        if not np.all(np.isfinite(arrays["samples"])):
            raise ChunkError(f"{path}: 'samples' has non-finite values; {hint}")
        return arrays

    def missing(self, cases: range) -> list[int]:
        return [case for case in cases if not self.path(case).exists()]
