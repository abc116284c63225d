"""CPU threads for a library call (docs/usage.md §7): torch's default is one thread per core, which on a busy
machine is slower than one thread (12x slower on 2 cores at load 4.3: benchmarks/RESULTS.md, "Threads and
memory of a library call")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the body with ``n`` torch CPU threads, then give the caller back its own count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
