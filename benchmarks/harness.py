"""Side-by-side timing for the benchmarks: medians over repeats, ratios to a baseline, a dated results file.

Every benchmark times its candidates and its baseline in the same process, interleaved (A B A B …), so
the ratio holds when the shared machine's speed drifts; absolute seconds are reported but only ratios
are claims.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import torch

RESULTS = Path(__file__).with_name("RESULTS.md")


def interleaved_medians(
    candidates: dict[str, Callable[[], object]], repeats: int, peaks: dict[str, float] | None = None
) -> dict[str, float]:
    """Median wall seconds of each callable over ``repeats`` rounds, the callables run in turn each round.

    ``peaks``, if given, receives each callable's peak memory in MiB over its runs (:func:`peak_memory`).
    """
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            reset_peak_memory()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
            if peaks is not None:
                peaks[name] = max(peaks.get(name, 0.0), peak_memory())
    return {name: statistics.median(ts) for name, ts in times.items()}


def reset_peak_memory() -> None:
    """Start a new peak-memory window: the CUDA allocator's peak, and on Linux the process's VmHWM."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux (or not allowed): peak_memory() falls back to the whole process's peak


def peak_memory() -> float:
    """Peak memory (MiB) since :func:`reset_peak_memory`: CUDA allocated on a GPU, else resident memory."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mib()


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    """The device, torch version and the 1-minute load average (the shared machine's other jobs)."""
    load = f", load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores" if hasattr(os, "getloadavg") else ""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA), torch {torch.__version__}{load}"
    cpu = platform.processor() or platform.machine()
    return f"{cpu} CPU x{torch.get_num_threads()} threads, torch {torch.__version__}{load}"


def report(benchmark: str, header: list[str], rows: list[list], note: str = "") -> str:
    """Print a markdown table and append it, dated, to ``benchmarks/RESULTS.md``."""
    lines = [
        f"### {benchmark} — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {machine()}",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    if note:
        lines += ["", note]
    text = "\n".join(lines) + "\n"
    print(text)
    with RESULTS.open("a") as f:
        f.write("\n" + text)
    return text


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def standard_args(parser, repeats: int) -> None:
    """Options every benchmark takes: ``--quick``, ``--repeats``, ``--threads`` (torch intra-op threads)."""
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds (make bench-quick)")
    parser.add_argument("--repeats", type=int, default=repeats, help="interleaved rounds (medians)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the shared 2-core machine)")


def set_threads(threads: int) -> None:
    torch.set_num_threads(threads)
