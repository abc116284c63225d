"""The one atomic writer (docs/design.md §8): every file diffinv and data_gen write — datasets, checkpoints'
companions, ``metrics.json``, ``samples.h5``, sampled batches, figures — goes to a temporary file in the
target's folder and is renamed over the target, so a reader never sees a half-written file and a killed
run leaves either the old file or the new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file next to ``path``, then rename it to ``path``.

    The file gets the permissions a plain ``open`` would give it (``0666`` less the umask), not
    ``mkstemp``'s ``0600``. If ``write`` raises, ``path`` is untouched and the temporary file removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_json(path: str | os.PathLike, data: dict) -> Path:
    def dump(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True, allow_nan=True)

    return write_atomic(path, dump)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_atomic(path, lambda tmp: Path(tmp).write_text(text))


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save a Matplotlib figure as PNG (atomically) and close it."""
    import matplotlib.pyplot as plt

    try:
        return write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"))
    finally:
        plt.close(fig)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
