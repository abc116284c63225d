"""The per-level exact check of one amortized run (experiments/noise_amortized/README.md): a Markdown table of
std ratio, mean-error ratio and ±1σ coverage for each sampler at every ``levels/noise_<level>/`` of the run,
each marked against the targets given (issue 24: 0.97–1.03, ≤ 1.03, 0.683 ± 0.02 without masks; 0.95–1.05,
≤ 1.05, ± 0.03 with them), plus the run's training time.

    python experiments/noise_amortized/levels_table.py <run dir> [--std 0.03] [--mean 1.03] [--cov 0.02]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--std", type=float, default=0.03, help="std ratio within 1 ± this")
    parser.add_argument("--mean", type=float, default=1.03, help="mean-error ratio at most this")
    parser.add_argument("--cov", type=float, default=0.02, help="±1σ coverage within 0.683 ± this")
    args = parser.parse_args()
    top = json.loads((args.run / "metrics.json").read_text())
    levels = sorted(args.run.glob("levels/noise_*/metrics.json"), key=lambda p: float(p.parent.name[6:]))
    print("| level | sampler | std ratio | mean-err ratio | ±1σ | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    for path in levels:
        metrics = json.loads(path.read_text())
        for sampler in ("ode", "sde"):
            std = metrics[f"{sampler}/exact/std_ratio"]
            mean = metrics[f"{sampler}/exact/mean_err_ratio"]
            cov = metrics[f"{sampler}/coverage/1sigma"]
            met = abs(std - 1) <= args.std and mean <= args.mean and abs(cov - 0.683) <= args.cov
            level = path.parent.name[6:]
            print(
                f"| {level} | {sampler} | {std:.3f} | {mean:.3f} | {cov:.3f} | {'yes' if met else '**no**'} |"
            )
    print(f"\ntraining: {top['time/train_s']:.0f} s, {top['train/steps']:.0f} steps")


if __name__ == "__main__":
    main()
