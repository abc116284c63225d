"""Threads and memory of a library call: the README's core sampler call (2 measurements x 1,000 samples of
a 30-d unknown, the 4x256 ε-MLP, ``sample_sde(steps=1000)``) with one torch thread against torch's default
(one per core), and its peak memory without autograd history (the samplers' default) against ``grad=True``
at a tenth of the steps (the graph grows with every step).

    python -m benchmarks.bench_library            # 1,000 steps, 2 rounds (~11 min on 2 cores at load 4)
    python -m benchmarks.bench_library --quick    # 100 steps, 1 round

Times are medians of interleaved rounds (A B A B …); the ratio is the claim. Memory is the process's peak
resident set over each call (``VmHWM`` after a reset), torch's own import included: the first row is what
``import diffinv`` and a network already cost before sampling.
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.harness import interleaved_medians, peak_memory, report, reset_peak_memory, standard_args
from diffinv.core.formulations import VPFamily
from diffinv.core.networks import ScoreMLP
from diffinv.core.samplers import conditional_score, sample_sde
from diffinv.run.threads import torch_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    standard_args(parser, repeats=2)
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats = 100, 1
    default_threads = torch.get_num_threads()
    form = VPFamily(beta_min=0.001, beta_max=15.0, kappa=2.0)
    net = ScoreMLP(x_dim=30, y_dim=30, mask_dim=0, width=256, depth=4)
    score = conditional_score(net, form, torch.randn(2, 1, 30))
    x_T = form.prior_sample((2, 1000, 30))
    reset_peak_memory()
    before = peak_memory()

    def sample(threads: int, grad: bool = False, steps: int = args.steps):
        def run():
            with torch_threads(threads):
                sample_sde(score, form, x_T, steps, generator=torch.Generator().manual_seed(0), grad=grad)

        return run

    peaks: dict[str, float] = {}
    timed = {f"{default_threads} threads (torch's default)": sample(default_threads), "1 thread": sample(1)}
    seconds = interleaved_medians(timed, args.repeats, peaks)
    grad_steps = max(1, args.steps // 10)
    interleaved_medians({"grad": sample(1, grad=True, steps=grad_steps)}, 1, peaks)
    base = seconds["1 thread"]
    rows = [["before sampling (torch, network, x_T)", "—", "—", "—", before]]
    rows += [[name, args.steps, s, s / base, peaks[name]] for name, s in seconds.items()]
    rows.append(["1 thread, grad=True (autograd history kept)", grad_steps, "—", "—", peaks["grad"]])
    report(
        f"Threads and memory of a library call: sample_sde, 2 x 1000 samples, 30-d, 4x256 MLP, "
        f"{args.repeats} round(s)",
        ["call", "steps", "median s", "ratio to 1 thread", "peak MiB"],
        rows,
        note="python -m benchmarks.bench_library" + (" --quick" if args.quick else ""),
    )


if __name__ == "__main__":
    main()
