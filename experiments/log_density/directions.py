"""Where KL(q‖p_exact) of a trained network comes from, on the linear–Gaussian check: per eigen-direction of
the exact posterior covariance at t_eps, the network's sample variance against the exact one, and the
Gaussian KL of that direction, 0.5 (r - 1 - ln r + δ²) with r the variance ratio and δ the mean error in
exact stds (docs/math.md §17.4; experiments/log_density/README.md).

    python experiments/log_density/directions.py <run>/checkpoints/last.ckpt [--cases 4] [--samples 400]

Samples by the probability-flow ODE (rk45, as kl_and_weights.py); no log q is needed, so it is cheap.
Prints, per direction (largest exact variance first, averaged over cases), the exact std, the variance ratio
and the KL, and writes ``directions_<noise>.json`` to ``--out`` (default: this folder). One torch thread.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from kl_and_weights import setup  # noqa: I001 (this folder's script)

from diffinv.core.exact import ConditionalGaussianEps
from diffinv.core.samplers import conditional_score, sample_ode
from diffinv.problems.posterior.metrics import normalised_joint
from diffinv.run.files import write_json

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ckpt")
    parser.add_argument("--cases", type=int, default=4)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, datamodule, exact, _, y = setup(args.ckpt, args.cases)
    form, d = model.module.formulation, model.module.network.x_dim
    eps = ConditionalGaussianEps(*normalised_joint(*exact, datamodule.x_norm, datamodule.y_norm), d, form)
    y_n = torch.as_tensor(datamodule.normalise_y(y))[:, None, :]
    mean, cov = eps.posterior(y_n)
    t_eps = torch.tensor(form.t_eps, dtype=torch.float64)
    m, s = form.m(t_eps), form.s(t_eps)
    var, vecs = torch.linalg.eigh(m**2 * cov + s**2 * torch.eye(d, dtype=torch.float64))
    x_T = form.prior_sample((len(y), args.samples, d), generator=torch.Generator().manual_seed(0))
    x = sample_ode(conditional_score(model.module.network, form, y_n.float()), form, x_T, final_step="none")
    x = x.double()
    z = (x - m * mean) @ vecs  # coordinates in the exact eigenbasis, (n, k, d)
    ratio = (z.var(dim=1) / var).mean(0).numpy()  # sample / exact variance per direction
    delta2 = (z.mean(dim=1) ** 2 / var).mean(0).numpy()
    kl = 0.5 * (ratio - 1 - np.log(ratio) + delta2)
    var = var.numpy()
    order = np.argsort(-var)
    rows = [
        {"exact_std": float(np.sqrt(var[j])), "var_ratio": float(ratio[j]), "kl": float(kl[j])} for j in order
    ]
    noise = model.config.data.noise
    write_json(args.out / f"directions_{noise:g}.json", {"ckpt": args.ckpt, "noise": noise, "rows": rows})
    print(f"noise {noise:g}: Gaussian KL summed over directions {kl.sum():.2f} nats")
    print("exact std   var ratio   KL")
    for row in rows:
        print(f"{row['exact_std']:.2e}   {row['var_ratio']:9.3g}   {row['kl']:.3g}")


if __name__ == "__main__":
    main()
