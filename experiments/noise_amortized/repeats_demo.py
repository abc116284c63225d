"""Repeated readings through ``diffinv.infer`` on a CSV (experiments/noise_amortized/README.md, docs/math.md
§19.2): ``r`` independent readings of each of a few test states at level ``s`` are written to a CSV, one row
per reading, and ``python -m diffinv.infer ... noise=s repeats=r`` samples their posterior; the result is
compared with the exact posterior given all ``r`` readings (computed here from the readings themselves, not
from their mean) and with the exact posterior of one reading.

    python experiments/noise_amortized/repeats_demo.py <amortized run dir> <data file> <out dir>
        [--level 0.2] [--repeats 4] [--states 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

from diffinv.core.exact import linear_gaussian_posterior
from diffinv.data.noise import noise_std
from diffinv.data.schema import read_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--level", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--states", type=int, default=5)
    args = parser.parse_args()
    data = read_dataset(args.data)
    a, mu, cov = (np.asarray(data.attrs[k]) for k in ("forward_map", "prior_mean", "prior_cov"))
    sigma = args.level * noise_std(data.train.y_clean, 1.0)
    rng = np.random.default_rng(1)
    clean = data.test.y_clean[: args.states]
    readings = np.repeat(clean, args.repeats, axis=0) + sigma * rng.standard_normal(
        (len(clean) * args.repeats, a.shape[0])
    )
    args.out.mkdir(parents=True, exist_ok=True)
    csv = args.out / "readings.csv"
    np.savetxt(csv, readings, delimiter=",", fmt="%.6f")
    run_dir = args.out / "infer"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "diffinv.infer",
            f"ckpt={args.run / 'checkpoints' / 'final.ckpt'}",
            f"measurement={csv}",
            f"noise={args.level}",
            f"repeats={args.repeats}",
            f"hydra.run.dir={run_dir}",
        ],
        check=True,
    )
    with h5py.File(run_dir / "samples.h5") as f:
        (sampler,) = [k for k in f if isinstance(f[k], h5py.Group)]
        mean, std = f[sampler]["mean"][()], f[sampler]["std"][()]
    print(f"{args.states} states x {args.repeats} readings at level {args.level} (sigma_n = {sigma:.3g})")
    print("| state | std ratio (all readings) | mean offset / exact std | std ratio (one reading) |")
    print("| --- | --- | --- | --- |")
    for i in range(args.states):
        rows = readings[i * args.repeats : (i + 1) * args.repeats]
        stacked = np.tile(a, (args.repeats, 1))  # every reading in, not their mean
        m_all, c_all = (
            t.numpy()
            for t in linear_gaussian_posterior(
                mu, cov, stacked, sigma**2 * np.eye(len(stacked)), rows.reshape(1, -1)
            )
        )
        _, c_one = (
            t.numpy() for t in linear_gaussian_posterior(mu, cov, a, sigma**2 * np.eye(len(a)), rows[:1])
        )
        sd_all, sd_one = np.sqrt(np.diag(c_all)), np.sqrt(np.diag(c_one))
        offset = np.abs(mean[i] - m_all[0]) / sd_all
        print(
            f"| {i + 1} | {std[i].mean() / sd_all.mean():.3f} | {offset.mean():.3f} "
            f"| {std[i].mean() / sd_one.mean():.3f} |"
        )


if __name__ == "__main__":
    main()
