"""How much of a reference/* score is the reference's own Monte Carlo noise (docs/math.md §18.4)?

On the linear problem the exact posterior is known: score ``draws`` sets of 1,000 exact samples of each
reference case against the MCMC reference of those cases, as the flux evaluator scores a diffusion posterior,
and print the spread of the ratios.

    python experiments/mcmc_reference/reference_spread.py \
        data/advdiff_noclip_reference_noise0.05.h5 data/advdiff_noclip.h5
"""

import sys

import numpy as np

from diffinv.data.reference import check_reference, read_reference
from diffinv.data.schema import read_dataset
from diffinv.problems.posterior.metrics import exact_posteriors, reference_comparison


def main(reference_file: str, data_file: str, draws: int = 20, n_samples: int = 1000) -> None:
    ref = read_reference(reference_file)
    check_reference(ref, data_file, float(ref.attrs["noise"]), int(ref.attrs["data_seed"]))
    attrs = read_dataset(data_file).attrs
    y, truth = ref.arrays["y"], ref.arrays["truth"]
    mean, cov = exact_posteriors(
        y, attrs["forward_map"], attrs["prior_mean"], attrs["prior_cov"], ref.noise_std
    )
    scores = []
    for seed in range(draws):
        rng = np.random.default_rng(seed)
        exact = np.stack(
            [
                rng.multivariate_normal(m, c, size=n_samples, method="eigh")
                for m, c in zip(mean, cov, strict=True)
            ]
        )
        r = reference_comparison(exact, truth, ref.samples, seed=seed)
        w1 = r["reference/w1_over_std"] / r["reference/w1_over_std_floor"]
        scores.append((r["reference/std_ratio"], r["reference/mean_err_ratio"], w1))
    s = np.array(scores)
    print(
        f"{reference_file}: {len(truth)} cases, {draws} draws of {n_samples} exact samples: "
        f"std ratio {s[:, 0].mean():.4f} ± {s[:, 0].std():.4f}, mean-error ratio {s[:, 1].mean():.4f} ± "
        f"{s[:, 1].std():.4f} (range {s[:, 1].min():.3f}–{s[:, 1].max():.3f}), "
        f"W1 / floor {s[:, 2].mean():.3f}"
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
