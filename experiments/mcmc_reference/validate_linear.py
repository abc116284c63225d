"""Score a reference file of the linear–Gaussian problem against its exact posterior (docs/math.md §9, §18).

    python experiments/mcmc_reference/validate_linear.py data/advdiff_noclip_reference_noise0.05.h5 \
        data/advdiff_noclip.h5

Prints per case the std ratio (mean over segments of MCMC std / exact std), the worst segment's std ratio and
the worst |mean error| / exact std, and the case's convergence and cost.
"""

from __future__ import annotations

import argparse

import numpy as np

from diffinv.data.reference import check_reference, read_reference
from diffinv.data.schema import read_dataset
from diffinv.problems.posterior.metrics import exact_posteriors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("data_file")
    args = parser.parse_args()
    ref = read_reference(args.reference)
    check_reference(ref, args.data_file, float(ref.attrs["noise"]), int(ref.attrs["data_seed"]))
    attrs = read_dataset(args.data_file).attrs
    a = ref.arrays
    prior = attrs["prior_mean"], attrs["prior_cov"]
    mean, cov = exact_posteriors(a["y"], attrs["forward_map"], *prior, ref.noise_std)
    std = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    samples = ref.samples.astype(np.float64)
    ratio = samples.std(axis=1, ddof=1) / std
    mean_err = np.abs(samples.mean(axis=1) - mean) / std
    n, k = samples.shape[:2]
    print(f"noise {ref.attrs['noise']} (σ_n = {ref.noise_std:.4g}), {n} cases, k = {k}")
    print("case | std ratio | worst segment | worst mean err/std | max R̂ | min ESS | solves | acceptance")
    for i, case in enumerate(ref.case_index):
        print(
            f"{case} | {ratio[i].mean():.4f} | {ratio[i][np.argmax(np.abs(ratio[i] - 1))]:.3f} | "
            f"{mean_err[i].max():.3f} | {a['rhat'][i].max():.4f} | {a['ess_bulk'][i].min():.0f} | "
            f"{a['forward_solves'][i]} | {a['acceptance'][i]:.2f}"
        )
    print(f"all cases | {ratio.mean():.4f} | {ratio.min():.3f}–{ratio.max():.3f} | {mean_err.max():.3f}")


if __name__ == "__main__":
    main()
