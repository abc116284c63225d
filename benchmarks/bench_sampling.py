"""Posterior sampling throughput: our batched torch samplers against SciPy's solve_ivp (RK45) on a
flattened batch, the paper's approach (issue 6). Same network, same ODE, same tolerances.

    python benchmarks/bench_sampling.py --measurements 1000 --samples 1000   # the paper's 10^6 samples
    python benchmarks/bench_sampling.py --quick                               # 50 x 100, seconds

The network is the advection problem's (30 -> 30, 4 hidden layers of 256) with random weights: speed
does not depend on training, and both sides integrate the identical vector field. Our samplers run
under ``torch.inference_mode`` in chunks of ``--chunk`` samples (peak memory bounded by the chunk).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from scipy.integrate import solve_ivp

from benchmarks.harness import interleaved_medians, peak_rss_mib, report
from diffinv.formulations import VP
from diffinv.networks import ScoreMLP
from diffinv.samplers import conditional_score, sample_ode, sample_sde

D = 30


def ours(net, form, y, n_samples, chunk, dtype, run):
    """Sample n_samples per measurement, chunked over measurements; returns (n_meas, n_samples, d)."""
    per_chunk = max(1, chunk // n_samples)
    out = []
    with torch.inference_mode():
        for start in range(0, len(y), per_chunk):
            yc = y[start : start + per_chunk].to(dtype)
            x_T = form.prior_sample((len(yc), n_samples, D), dtype=dtype)
            out.append(run(conditional_score(net.to(dtype), form, yc[:, None, :]), form, x_T))
    return torch.cat(out)


def scipy_rk45(net, form, y, n_samples, chunk, rtol, atol):
    """The baseline: solve_ivp RK45 over the flattened batch, the network called on float32 tensors."""
    per_chunk = max(1, chunk // n_samples)
    out = []
    net = net.float()
    for start in range(0, len(y), per_chunk):
        yc = y[start : start + per_chunk].float()
        shape = (len(yc), n_samples, D)
        score = conditional_score(net, form, yc[:, None, :])

        def velocity(t, x_flat, shape=shape, score=score):
            x = torch.from_numpy(x_flat.reshape(shape)).float()
            tt = torch.tensor(t, dtype=torch.float32)
            with torch.no_grad():
                v = form.f(tt) * x - 0.5 * form.g2(tt) * score(x, tt.expand(shape[:-1]))
            return v.double().numpy().ravel()

        x_T = form.prior_sample(shape, dtype=torch.float64).numpy().ravel()
        sol = solve_ivp(velocity, (form.T, form.t_eps), x_T, method="RK45", rtol=rtol, atol=atol)
        out.append(sol.y[:, -1].reshape(shape))
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measurements", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--chunk", type=int, default=100_000, help="samples integrated at once")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="50 measurements x 100 samples, 3 repeats")
    args = parser.parse_args()
    if args.quick:
        args.measurements, args.samples = 50, 100
    torch.manual_seed(0)
    form = VP(0.001, 15.0)
    net = ScoreMLP(D, D, width=256, depth=4).eval()
    y = torch.rand(args.measurements, D) * 2 - 1
    tol = dict(rtol=1e-5, atol=1e-5)
    f32 = torch.float32
    candidates = {
        "scipy solve_ivp RK45 (baseline)": lambda: scipy_rk45(net, form, y, args.samples, args.chunk, **tol),
        "ours ode rk45 float64": lambda: ours(
            net, form, y, args.samples, args.chunk, torch.float64, lambda s, f, x: sample_ode(s, f, x, **tol)
        ),
        "ours ode rk45 float32": lambda: ours(
            net, form, y, args.samples, args.chunk, f32, lambda s, f, x: sample_ode(s, f, x, **tol)
        ),
        "ours ode heun 50 steps float32": lambda: ours(
            net, form, y, args.samples, args.chunk, f32, lambda s, f, x: sample_ode(s, f, x, "heun", 50)
        ),
        "ours sde 500 steps float32": lambda: ours(
            net, form, y, args.samples, args.chunk, f32, lambda s, f, x: sample_sde(s, f, x, 500)
        ),
    }
    medians = interleaved_medians(candidates, args.repeats)
    base = medians["scipy solve_ivp RK45 (baseline)"]
    rows = [[name, sec, base / sec] for name, sec in medians.items()]
    n = args.measurements * args.samples
    report(
        f"Posterior sampling, {args.measurements} measurements x {args.samples} samples = {n:,}",
        ["sampler", "median s", "speed-up vs SciPy"],
        rows,
        note=f"{args.repeats} interleaved repeats; chunk {args.chunk:,} samples; "
        f"peak RSS {peak_rss_mib():.0f} MiB.",
    )


if __name__ == "__main__":
    main()
