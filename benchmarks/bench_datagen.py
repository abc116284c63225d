"""Data generation (issue 6): superposition against direct solves for the linear problem, and the
nonlinear ADR generator's samples/s with 1 and 2 worker processes.

    python -m benchmarks.bench_datagen            # 850x200, 10 direct solves; ADR 600 samples at 170x40
    python -m benchmarks.bench_datagen --quick    # 170x40, 3 direct solves; ADR 120 samples at 170x40

Linear (``problem=advdiff``): the solver (mesh, compiled forms) is built once and shared. Superposition
= :meth:`LinearAdvDiff.forward_map` (one factorisation, 30 unit-flux solves) plus ``y = q @ A.T`` for all
10,000 fluxes of a dataset (9,000 + 1,000); direct = :meth:`LinearAdvDiff.readings`, one full
assemble–factorise–solve per flux, timed on ``--direct`` fluxes and EXTRAPOLATED linearly to 10,000 (the
per-sample cost does not depend on the flux). The two paths' readings are compared on those fluxes.

Nonlinear (``problem=adr``): the whole generator :func:`data_gen.fem.adr_generate.generate` (spawned
workers, per-worker mesh/forms/predictor start-up, chunk files, merge) in a fresh directory per run,
``workers=1`` against ``workers=2``, interleaved; samples/s = samples / wall seconds of the call.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time

import numpy as np
from hydra.utils import instantiate

from benchmarks.harness import interleaved_medians, report, set_threads, standard_args
from data_gen.config import compose_config
from data_gen.fem.adr_generate import generate as generate_adr
from data_gen.fem.draws import draw_inputs

N_DATASET = 10_000


def linear(mesh: str, n_direct: int, repeats: int) -> dict:
    cfg = compose_config("problem=advdiff", f"problem.mesh={mesh}", f"problem.n_train={N_DATASET}")
    start = time.perf_counter()
    solver = instantiate(cfg.problem.solver)
    build_s = time.perf_counter() - start
    q = draw_inputs(cfg.problem, cfg.seed)["train"][0]
    out = {}

    def superposition():
        out["sup"] = q @ solver.forward_map().T

    def direct():
        out["direct"] = solver.readings(q[:n_direct])

    med = interleaved_medians({"superposition": superposition, "direct": direct}, repeats)
    err = np.abs(out["direct"] - out["sup"][:n_direct]).max() / np.abs(out["sup"][:n_direct]).max()
    per_solve = med["direct"] / n_direct
    return {
        "build_s": build_s,
        "superposition_s": med["superposition"],
        "direct_per_solve_s": per_solve,
        "direct_10k_s": per_solve * N_DATASET,
        "speedup": per_solve * N_DATASET / med["superposition"],
        "max_rel_diff": float(err),
    }


def adr(mesh: str, n: int, chunk: int, repeats: int) -> dict:
    def run(workers: int):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = compose_config(
                "problem=adr", f"problem.mesh={mesh}", f"problem.n_train={n - n // 10}",
                f"problem.n_test={n // 10}", f"workers={workers}", f"chunk_size={chunk}",
                f"paths.data_dir={tmp}",
            )  # fmt: skip
            generate_adr(cfg)

    med = interleaved_medians({1: lambda: run(1), 2: lambda: run(2)}, repeats)
    return {"s": med, "per_s": {w: n / s for w, s in med.items()}, "speedup": med[1] / med[2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh", default="850x200", help="linear problem mesh")
    parser.add_argument("--direct", type=int, default=10, help="direct solves timed (then extrapolated)")
    parser.add_argument("--adr-mesh", default="170x40")
    parser.add_argument("--adr-samples", type=int, default=600)
    parser.add_argument("--chunk", type=int, default=50)
    standard_args(parser, repeats=2)
    args = parser.parse_args()
    set_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    if args.quick:
        args.mesh, args.direct, args.adr_samples, args.chunk, args.repeats = "170x40", 3, 120, 20, 1
    lin = linear(args.mesh, args.direct, args.repeats)
    report(
        f"Data generation, linear advdiff at {args.mesh}: superposition vs direct solves, "
        f"{N_DATASET:,} samples",
        ["path", "median s", "s for 10,000 samples", "speed-up"],
        [
            ["direct solves (baseline)", lin["direct_per_solve_s"] * args.direct, lin["direct_10k_s"], 1.0],
            [
                "superposition (forward map + matmul)",
                lin["superposition_s"],
                lin["superposition_s"],
                lin["speedup"],
            ],
        ],  # fmt: skip
        note=f"{args.repeats} interleaved repeats; direct: {args.direct} solves timed "
        f"({lin['direct_per_solve_s']:.3f} s each), 10,000 EXTRAPOLATED linearly; superposition timed on all "
        f"10,000; shared one-off mesh + forms {lin['build_s']:.2f} s not counted on either side; readings "
        f"agree to {lin['max_rel_diff']:.1e} (max-norm relative). Target >= 1,000x.",
    )
    res = adr(args.adr_mesh, args.adr_samples, args.chunk, args.repeats)
    report(
        f"Data generation, nonlinear ADR at {args.adr_mesh}: {args.adr_samples:,} samples, 1 vs 2 workers",
        ["workers", "median s", "samples/s", "speed-up vs 1 worker"],
        [[w, res["s"][w], res["per_s"][w], res["speedup"] if w == 2 else 1.0] for w in (1, 2)],
        note=f"{args.repeats} interleaved repeats of the whole generator (spawned pool, per-worker start-up, "
        f"chunks of {args.chunk}, merge); target >= 1.7x with 2 workers. Only meaningful when 2 cores are "
        "free: "
        "record the machine's load beside it.",
    )


if __name__ == "__main__":
    main()
