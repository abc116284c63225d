"""The diagnostics' own verdict on exact posterior samples of the heat-field runs' test cases
(experiments/field_problem/README.md): what a perfect sampler scores on the same cases, sample size, readings
and seeds, so that the trained networks' SBC, TARP and predictive-check p-values can be read against it.

    python experiments/field_problem/exact_controls.py <run dir> [--repeats 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

from diffinv.data.noise import noise_std, noisy_test_readings
from diffinv.data.schema import read_dataset
from diffinv.problems import diagnostics
from diffinv.problems.posterior.metrics import exact_posteriors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    config = yaml.safe_load((args.run / "config.yaml").read_text())
    data = read_dataset(config["problem"]["data_file"])
    n, k = int(config["problem"]["evaluator"]["n_test"]), int(config["evaluation"]["n_samples"])
    sigma = noise_std(data.train.y_clean, config["data"]["noise"])
    y = noisy_test_readings(data, sigma, int(config["seed"]))[:n]
    truth, clean = data.test.x[:n], data.test.y_clean[:n]
    a, mean0, cov0 = data.attrs["forward_map"], data.attrs["prior_mean"], data.attrs["prior_cov"]
    mu, cov = exact_posteriors(y, a, mean0, cov0, sigma)
    rows = []
    for repeat in range(args.repeats):
        rng = np.random.default_rng([repeat, 17])
        roots = [v * np.sqrt(np.clip(w, 0, None)) for w, v in map(np.linalg.eigh, cov)]
        samples = np.stack(
            [m + rng.standard_normal((k, len(m))) @ r.T for m, r in zip(mu, roots, strict=True)]
        )
        seed = int(config["evaluation"]["seed"])
        ppc = diagnostics.ppc(samples[:, :100] @ a.T, y, clean, sigma, None, seed=seed)
        sbc = diagnostics.sbc(samples, truth, seed=seed)
        rows.append(
            (repeat, sbc.metrics["p_min_bonferroni"], ppc.metrics["p"], ppc.metrics["rep_coverage/68"])
        )
    print("repeat  SBC p  PPC p  PPC rep cov 68")
    for repeat, sbc_p, ppc_p, cov68 in rows:
        print(f"{repeat:6d}  {sbc_p:.3g}  {ppc_p:.3g}  {cov68:.3f}")


if __name__ == "__main__":
    main()
