"""Seconds per y* of the Sinkhorn metric: :func:`diffinv.problems.densities.metrics.sinkhorn_cost` against
plain POT ``ot.sinkhorn2(a, b, M, reg=0.01, method="sinkhorn_log")`` on the same points (issue 6).

    python -m benchmarks.bench_sinkhorn            # POT at 1,000 x 250; ours alone at 10,000 x 2,000
    python -m benchmarks.bench_sinkhorn --quick    # 500 x 200; ours alone at 2,000 x 500

Points are 2-D (the Table 2 problems): a standard normal sample against a shifted one. POT runs to
``stopThr`` (its criterion: the norm of the column-marginal error) with an iteration cap high enough to
converge; ours to its L1 marginal violation ``tol``. The values of both are printed with their relative
difference. One call = one y* of a Table 2 evaluation (generated samples vs the band reference).
"""

from __future__ import annotations

import argparse

import numpy as np
import ot

from benchmarks.harness import interleaved_medians, report, set_threads, standard_args
from diffinv.problems.densities.metrics import sinkhorn_cost

REG = 0.01


def points(n: int, m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2)), rng.standard_normal((m, 2)) + 0.3


def pot(xs: np.ndarray, xr: np.ndarray, stop: float) -> tuple[float, int]:
    a, b = np.full(len(xs), 1 / len(xs)), np.full(len(xr), 1 / len(xr))
    value, log = ot.sinkhorn2(
        a, b, ot.dist(xs, xr), REG, method="sinkhorn_log", numItermax=1_000_000, stopThr=stop, log=True
    )
    return float(value), int(log["niter"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pot-size", type=int, nargs=2, default=[1000, 250], metavar=("N", "M"))
    parser.add_argument("--large-size", type=int, nargs=2, default=[10_000, 2_000], metavar=("N", "M"))
    parser.add_argument("--tol", type=float, default=1e-6, help="our L1 marginal tolerance and POT's stopThr")
    standard_args(parser, repeats=1)
    args = parser.parse_args()
    set_threads(args.threads)
    if args.quick:
        args.pot_size, args.large_size, args.repeats = [500, 200], [2000, 500], 2
    xs, xr = points(*args.pot_size)
    out: dict[str, tuple[float, int]] = {}

    def ours_small():
        r = sinkhorn_cost(xs, xr, reg=REG, tol=args.tol)
        out["ours"] = (r.cost, r.iterations)

    def pot_small():
        out["pot"] = pot(xs, xr, args.tol)

    medians = interleaved_medians({"pot": pot_small, "ours": ours_small}, args.repeats)
    xs_l, xr_l = points(*args.large_size, seed=1)
    large = {}

    def ours_large():
        r = sinkhorn_cost(xs_l, xr_l, reg=REG, tol=args.tol)
        large["ours"] = (r.cost, r.iterations)

    large_s = interleaved_medians({"ours": ours_large}, 1 if not args.quick else args.repeats)["ours"]
    n, m = args.pot_size
    rel = abs(out["ours"][0] - out["pot"][0]) / abs(out["pot"][0])
    rows = [
        [f"POT sinkhorn_log (baseline), {n:,} x {m:,}", medians["pot"], 1.0, out["pot"][0], out["pot"][1]],
        [f"diffinv sinkhorn_cost, {n:,} x {m:,}", medians["ours"], medians["pot"] / medians["ours"],
         out["ours"][0], out["ours"][1]],
        [f"diffinv sinkhorn_cost, {args.large_size[0]:,} x {args.large_size[1]:,}", large_s, "—",
         large["ours"][0], large["ours"][1]],
    ]  # fmt: skip
    report(
        "Sinkhorn metric, seconds per y* (reg 0.01, squared Euclidean cost, 2-D points)",
        ["implementation, points", "median s", "speed-up vs POT", "cost <P, M>", "iterations"],
        rows,
        note=f"{args.repeats} interleaved repeats (the large case: "
        f"{1 if not args.quick else args.repeats}); tolerance {args.tol:g} (ours: L1 marginal violation; "
        f"POT: "
        f"stopThr); values differ by {rel:.1e} relative. POT needs ~N x M x iterations exponentials; "
        "at 10,000 x 2,000 it had not returned after 600 s (README), so POT is timed at the smaller size "
        "only.",
    )


if __name__ == "__main__":
    main()
