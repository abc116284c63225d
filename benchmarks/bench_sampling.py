"""Posterior sampling throughput: our batched torch samplers against SciPy's solve_ivp (RK45) on a
flattened batch, the paper's approach (issues 6 and 13), with each sampler's network calls per sample, its
accuracy with the exact score, and the limit that the core's matmul rate sets.

    python -m benchmarks.bench_sampling            # ode, sde at 1,000 x 1,000 = 10^6; all on 10 x 1,000
    python -m benchmarks.bench_sampling --quick    # 20 x 100; all on 5 x 100

The samplers are built from their configs (``conf/sampler/``, Hydra's compose API), so the rows follow the
defaults (docs/math.md §15.4): ``rk45`` (the paper's adaptive probability-flow ODE), ``heun`` (EDM's),
``euler_maruyama`` (the paper's reverse SDE), ``ode`` (DPM-Solver++(3M), 20 steps logsnr) and ``sde``
(SDE-DPM-Solver++(2M), 40 steps logsnr). SciPy's RK45 takes the tolerances of the ``rk45`` config.

1. Sub-batch (``--scipy-measurements`` x ``--samples``): SciPy and every sampler on the same measurements,
   interleaved: the like-for-like ratio per sample.
2. Full size (``--measurements`` x ``--samples``): the ``--full`` samplers (default ``ode`` and ``sde``);
   their per-sample speed-up is against SciPy's sub-batch rate (extrapolated, linear in samples).

Columns: calls/sample = network calls counted by :class:`diffinv.core.samplers.CountingScore` (SciPy's
included), each call evaluating every sample of its chunk once, median over the rounds; s per 10^6 = the
median seconds scaled to 10^6 samples; FLOP limit = network FLOPs per sample and call (:func:`network_flops`)
x calls/sample x 10^6 / the core's matmul rate, which :class:`MatmulProbe` measures in the same interleaved
rounds (F.linear over the network's layer shapes at the batch the samplers call it with); fraction = limit /
measured; std ratio and W1/std = the same sampler, same settings, in float64 on the exact score of the
linear–Gaussian problem of ``bench_samplers_exact`` (16 unknowns, 6 readings, 4 measurements, same VP
formulation) against an exact sample: what "at equal accuracy" refers to.

The network is the advection problem's plain ε-MLP (30 -> 30, 4 hidden layers of 256; ``model=mlp``) with
random weights, VP: the fixed-step samplers' cost does not depend on the weights; rk45's (ours and SciPy's)
does, through its adaptive step count, which the calls column shows. Our samplers run under
``torch.inference_mode`` in chunks of ``--chunk`` samples (peak memory bounded by the chunk). The default
chunk, 10,000, is SciPy's sub-batch, so every row calls the network on the same batch; on a CPU larger chunks
are slower per sample (10^6 with ``ode``: 145 s in chunks of 10,000, 214 s in chunks of 100,000, whose
matmuls run at 59 instead of 71-75 GFLOP/s; benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import copy
import functools
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from scipy.integrate import solve_ivp
from torch import nn

from benchmarks.bench_samplers_exact import REF_FACTOR, LinearGaussian, floor_metrics
from benchmarks.harness import (
    interleaved_medians,
    peak_memory,
    report,
    reset_peak_memory,
    set_threads,
    standard_args,
)
from diffinv.core.formulations import VP
from diffinv.core.networks import ScoreMLP
from diffinv.core.samplers import CountingScore, conditional_score
from diffinv.run.labels import sampler_label

CONF = Path(__file__).resolve().parents[1] / "conf"
SAMPLERS = ("rk45", "heun", "euler_maruyama", "ode", "sde")  # config names (conf/sampler/)
BASELINE = "scipy solve_ivp RK45 (baseline)"
PROBE = "matmul probe"
MILLION = 1_000_000
TARGET_SECONDS, TARGET_SPEEDUP = 300.0, 5.0  # issue 13: 10^6 samples in <= 5 min; >= 5x SciPy RK45


def configured_samplers(names) -> dict[str, functools.partial]:
    """The samplers as ``python -m diffinv.train sampler=[names]`` builds them (``conf/sampler/``)."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[f"sampler=[{','.join(names)}]"])
    return {name: instantiate(node) for name, node in cfg.sampler.items()}


def network_flops(net: ScoreMLP) -> dict[str, int]:
    """Floating-point operations of one forward pass of ``net`` per sample, by part, and their ``total``.

    ``linear``: ``2 · in · out`` per ``nn.Linear`` (``in`` multiplications and ``in`` additions, the bias's
    included, per output); ``relu``: one per hidden unit; ``time_features``: ``1 + 3F`` for ``F`` Fourier
    frequencies (``2π·t``, ``F`` products with the frequencies, ``F`` sines and ``F`` cosines, one each).
    Concatenations and casts are not operations.
    """
    parts = {"linear": 0, "relu": 0}
    width = 0
    for layer in net.mlp:
        if isinstance(layer, nn.Linear):
            parts["linear"] += 2 * layer.in_features * layer.out_features
            width = layer.out_features
        elif isinstance(layer, nn.ReLU):
            parts["relu"] += width
        else:
            raise TypeError(f"network_flops does not count {type(layer).__name__} layers")
    parts["time_features"] = 1 + 3 * net.time_embedding.freqs.numel()
    return parts | {"total": sum(parts.values())}


class MatmulProbe:
    """The core's matmul rate on the network's own shapes: ``F.linear`` over each ``nn.Linear``'s
    ``(batch x in) @ (in x out)`` (+ bias) in float32, ``passes`` times per call, timed inside the call (its
    inputs are made and freed there, so they add to no sampler's peak memory)."""

    def __init__(self, net: nn.Module, batch: int, passes: int = 3):
        self.shapes = [(m.in_features, m.out_features) for m in net.modules() if isinstance(m, nn.Linear)]
        self.batch, self.passes = batch, passes
        self.flops = passes * sum(2 * batch * n_in * n_out for n_in, n_out in self.shapes)
        self.seconds: list[float] = []

    def __call__(self) -> None:
        gen = torch.Generator().manual_seed(0)
        inputs = {n_in: torch.randn(self.batch, n_in, generator=gen) for n_in, _ in self.shapes}
        layers = [(torch.randn(o, i, generator=gen), torch.randn(o, generator=gen)) for i, o in self.shapes]
        with torch.inference_mode():
            start = time.perf_counter()
            for _ in range(self.passes):
                for (n_in, _), (weight, bias) in zip(self.shapes, layers, strict=True):
                    F.linear(inputs[n_in], weight, bias)
            self.seconds.append(time.perf_counter() - start)

    @property
    def rate(self) -> float:
        """FLOP/s: the median over the timed calls."""
        return self.flops / statistics.median(self.seconds)


def solve_rk45(score_fn, form, x_T: torch.Tensor, *, rtol: float, atol: float) -> torch.Tensor:
    """The baseline, the paper's approach: SciPy's solve_ivp RK45 on the probability-flow ODE of the
    flattened batch (state in float64), the score called on float32 tensors."""
    shape = x_T.shape

    def velocity(t, x_flat):
        x = torch.from_numpy(x_flat.reshape(shape)).float()
        tt = torch.tensor(t, dtype=torch.float32)
        v = form.f(tt) * x - 0.5 * form.g2(tt) * score_fn(x, tt.expand(shape[:-1]))
        return v.double().numpy().ravel()

    x0 = x_T.double().numpy().ravel()
    sol = solve_ivp(velocity, (form.T, form.t_eps), x0, method="RK45", rtol=rtol, atol=atol)
    return torch.from_numpy(sol.y[:, -1].reshape(shape))


def chunk_rows(n_measurements: int, n_samples: int, chunk: int) -> int:
    """Measurements per chunk: as many as fit ``chunk`` samples, at least one."""
    return min(n_measurements, max(1, chunk // n_samples))


def sample_chunked(net, form, y, n_samples: int, chunk: int, sampler: Callable) -> float:
    """``n_samples`` posterior samples per measurement of ``y`` with ``sampler(score, form, x_T)``, in chunks
    of measurements, in the network's dtype; returns the network calls per sample."""
    dtype = next(net.parameters()).dtype
    per_chunk = chunk_rows(len(y), n_samples, chunk)
    calls = 0
    with torch.inference_mode():
        for start in range(0, len(y), per_chunk):
            yc = y[start : start + per_chunk].to(dtype)
            score = CountingScore(conditional_score(net, form, yc[:, None, :]))
            sampler(score, form, form.prior_sample((len(yc), n_samples, net.x_dim), dtype=dtype))
            calls += score.calls * len(yc)
    return calls / len(y)


def accuracy(samplers: dict[str, Callable], form, n_samples: int):
    """Each sampler on the exact score of the linear–Gaussian problem of ``bench_samplers_exact``, one shared
    ``x_T``: ``{name: {std_ratio, mean_err, w1}}`` and the floor (exact samples of the same size)."""
    torch.manual_seed(0)
    problem = LinearGaussian(form, n_samples)
    x_T, reference = problem.x_T(), problem.exact_sample(REF_FACTOR * n_samples)
    metrics = {}
    for name, sampler in samplers.items():
        with torch.inference_mode():
            metrics[name] = problem.metrics(sampler(problem.score_fn(), form, x_T), reference)
    return metrics, floor_metrics(problem, reference)


def time_group(samplers, form, net, y, candidates: dict, args) -> tuple[list[dict], MatmulProbe]:
    """Interleaved medians of each candidate (``row: (sampler name, network)``) drawing ``args.samples``
    samples per measurement of ``y``, with a :class:`MatmulProbe` of ``net``'s layers at the batch the
    networks are called with.
    One dict per row: samples ``n``, median seconds ``s``, ``calls`` per sample, ``peak`` MiB and ``rate``
    (FLOP/s; None for a network that is not float32, which the probe does not measure)."""
    probe = MatmulProbe(net, chunk_rows(len(y), args.samples, args.chunk) * args.samples)
    calls: dict[str, list[float]] = {row: [] for row in candidates}

    def job(row, name, network):
        run = functools.partial(sample_chunked, network, form, y, args.samples, args.chunk, samplers[name])
        return lambda: calls[row].append(run())

    jobs = {row: job(row, *candidate) for row, candidate in candidates.items()} | {PROBE: probe}
    peaks: dict[str, float] = {}
    seconds = interleaved_medians(jobs, args.repeats, peaks)
    float32 = lambda network: next(network.parameters()).dtype == torch.float32  # noqa: E731
    return [
        {"row": row, "name": name, "n": len(y) * args.samples, "s": seconds[row],
         "calls": statistics.median(calls[row]), "peak": peaks[row],
         "rate": probe.rate if float32(network) else None}
        for row, (name, network) in candidates.items()
    ], probe  # fmt: skip


def limit_line(r: dict, flops: int, limit: float, per_million: float, speedup: float) -> str:
    """``limit = FLOPs/call x calls/sample x 10^6 / rate = X s`` beside the measured time, and the targets."""
    how = "timed at 10^6" if r["n"] == MILLION else f"extrapolated from {r['n']:,}"
    met = lambda ok: "met" if ok else "missed"  # noqa: E731
    return (
        f"- {r['row']}: limit = {flops:,} FLOP/call x {r['calls']:g} calls/sample x 10^6 / "
        f"{r['rate'] / 1e9:.1f} GFLOP/s = {limit:.0f} s; measured {per_million:.0f} s per 10^6 ({how}), "
        f"{limit / per_million:.0%} of the limit's speed. Targets: <= {TARGET_SECONDS:.0f} s per 10^6 "
        f"{met(per_million <= TARGET_SECONDS)}; {speedup:.1f}x SciPy RK45 per sample, >= {TARGET_SPEEDUP:g}x "
        f"{met(speedup >= TARGET_SPEEDUP)}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measurements", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument(
        "--scipy-measurements", type=int, default=10, help="SciPy's sub-batch of measurements"
    )
    parser.add_argument("--chunk", type=int, default=10_000, help="samples integrated at once")
    parser.add_argument(
        "--full", nargs="+", default=["ode", "sde"], choices=SAMPLERS, help="samplers run at the full size"
    )
    parser.add_argument(
        "--accuracy-samples", type=int, default=2000, help="per measurement, exact-score accuracy"
    )
    standard_args(parser, repeats=1)
    args = parser.parse_args()
    set_threads(args.threads)
    if args.quick:
        args.measurements, args.samples, args.scipy_measurements, args.repeats = 20, 100, 5, 2
        args.accuracy_samples = 500
    torch.manual_seed(0)
    form = VP(0.001, 15.0)
    net = ScoreMLP(30, 30, width=256, depth=4).eval()
    flops = network_flops(net)
    samplers = configured_samplers(SAMPLERS)
    tol = {key: samplers["rk45"].keywords[key] for key in ("rtol", "atol")}
    samplers = {BASELINE: functools.partial(solve_rk45, **tol)} | samplers
    label = lambda name: f"{name}: {sampler_label(samplers[name])}"  # noqa: E731
    y = torch.rand(args.measurements, net.y_dim) * 2 - 1
    y_sub = y[: args.scipy_measurements]
    reset_peak_memory()
    idle_mib = peak_memory()

    # 1. the same sub-batch for everyone: the like-for-like ratio; 2. the full size (10^6 by default)
    same, probe_sub = time_group(
        samplers,
        form,
        net,
        y_sub,
        {BASELINE: (BASELINE, net), f"{label('rk45')}, float64": ("rk45", copy.deepcopy(net).double())}
        | {label(name): (name, net) for name in SAMPLERS},
        args,
    )
    full, probe_full = time_group(
        samplers, form, net, y, {label(name): (name, net) for name in args.full}, args
    )
    base_per_sample = same[0]["s"] / same[0]["n"]
    acc, floor = accuracy(samplers, form, args.accuracy_samples)
    rows, limits = [], []
    for r in same + full:
        per_million = r["s"] / r["n"] * MILLION
        speedup = base_per_sample * MILLION / per_million
        limit = flops["total"] * r["calls"] * MILLION / r["rate"] if r["rate"] else None
        rows.append(
            [r["row"], r["n"], r["calls"], r["s"], per_million, speedup,
             *((limit, limit / per_million) if limit else ("—", "—")),
             acc[r["name"]]["std_ratio"], acc[r["name"]]["w1"], r["peak"]]
        )  # fmt: skip
        if any(r is f for f in full):
            limits.append(limit_line(r, flops["total"], limit, per_million, speedup))
    n_sub, n = same[0]["n"], full[0]["n"]
    report(
        f"Posterior sampling: {args.measurements} measurements x {args.samples} samples = {n:,} "
        f"(all samplers and SciPy on {len(y_sub)} x {args.samples} = {n_sub:,})",
        ["sampler", "samples", "calls/sample", "median s", "s per 10^6", "speed-up vs SciPy (per sample)",
         "FLOP limit s per 10^6", "fraction of limit", "std ratio (exact score)", "W1/std (exact score)",
         "peak MiB"],
        rows,
        note=f"{args.repeats} interleaved repeats per group; medians. Network: advection ScoreMLP (30->30, "
        "4x256, plain ε-MLP), random weights, VP (β 0.001–15); samplers as their configs define them "
        f"(conf/sampler/); SciPy: solve_ivp RK45 (rtol {tol['rtol']:g}, atol {tol['atol']:g}, as the rk45 "
        "config) on the flattened batch, network in float32. The first rows share a SUB-BATCH of "
        f"{n_sub:,} samples (the like-for-like ratio); the last {len(full)} run at the full size, their "
        "speed-up against SciPy's sub-batch rate (extrapolated, linear in samples). calls/sample: "
        "network calls counted (SciPy's too), each over every sample of its chunk. FLOP limit = "
        f"{flops['total']:,} FLOP per sample and call (Linear {flops['linear']:,}, ReLU {flops['relu']:,}, "
        f"time features {flops['time_features']:,}) x calls/sample x 10^6 / the matmul rate measured in "
        "the same rounds (F.linear over the network's layer shapes, float32: "
        f"{probe_sub.rate / 1e9:.1f} GFLOP/s at batch {probe_sub.batch:,}, "
        f"{probe_full.rate / 1e9:.1f} GFLOP/s at batch {probe_full.batch:,}); fraction = limit / measured "
        "(none for the float64 row; the samplers' own vector arithmetic and the score's -ε/s are not in "
        "the limit). std ratio, W1/std: the same sampler in float64 on the EXACT score of the "
        f"linear–Gaussian problem of bench_samplers_exact (4 measurements x {args.accuracy_samples:,} "
        f"samples, same VP) against an exact sample; floor (exact samples of that size): std ratio "
        f"{floor['std_ratio']:.3g}, W1/std {floor['w1']:.3g}. Our samplers run under "
        f"torch.inference_mode in chunks of {args.chunk:,} samples; peak MiB = peak resident memory of the "
        f"process during that candidate (CUDA: peak allocated; the process held {idle_mib:.0f} MiB before "
        "sampling).\n\n" + "\n".join(limits),
    )  # fmt: skip


if __name__ == "__main__":
    main()
