"""Exact-score sampling of a 2-D Gaussian mixture by every formulation and sampler (docs/math.md §5, §9).

No training: each sampler is driven by the mixture's closed-form time-dependent score, so what it
produces shows the formulation and the integrator alone. Prints a table of errors against the exact
moments and component weights and saves a figure of the samples.

    python experiments/exact_score_sampling.py [--n 20000] [--out outputs/exact_score_sampling]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from diffinv.core.exact import GaussianMixture  # noqa: E402
from diffinv.core.formulations import VE, VP, VPFamily  # noqa: E402
from diffinv.core.samplers import sample_heun, sample_ode, sample_sde  # noqa: E402
from diffinv.run.files import save_figure  # noqa: E402

MIXTURE = GaussianMixture(
    weights=[0.5, 0.3, 0.2],
    means=[[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]],
    covs=[[[0.3, 0.0], [0.0, 0.3]], [[0.5, 0.2], [0.2, 0.3]], [[0.1, 0.0], [0.0, 0.1]]],
)
FORMULATIONS = {
    "VE": VE(sigma_min=0.01, sigma_max=50.0),
    "VP": VP(beta_min=0.1, beta_max=20.0),
    "VP κ=0.5": VPFamily(beta_min=0.1, beta_max=20.0, kappa=0.5),
    "VP κ=2": VPFamily(beta_min=0.1, beta_max=20.0, kappa=2.0),
}
SAMPLERS = {
    "SDE λ=1 (500)": lambda fn, F, x, g: sample_sde(fn, F, x, steps=500, lam=1.0, generator=g),
    "SDE λ=0.5 (500)": lambda fn, F, x, g: sample_sde(fn, F, x, steps=500, lam=0.5, generator=g),
    "ODE euler (500)": lambda fn, F, x, g: sample_sde(fn, F, x, steps=500, lam=0.0),  # λ = 0: explicit Euler
    "ODE Heun in σ (99 calls)": lambda fn, F, x, g: sample_heun(fn, F, x, steps=50),
    "ODE rk45": lambda fn, F, x, g: sample_ode(fn, F, x, method="rk45"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="samples per (formulation, sampler)")
    parser.add_argument("--out", type=Path, default=Path("outputs/exact_score_sampling"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    mean, cov = MIXTURE.mean_and_covariance()
    reference = MIXTURE.sample(args.n, torch.Generator().manual_seed(0))[0]

    fig, axes = plt.subplots(
        len(FORMULATIONS),
        len(SAMPLERS) + 1,
        figsize=(3 * (len(SAMPLERS) + 1), 3 * len(FORMULATIONS)),
        sharex=True,
        sharey=True,
    )
    print(
        f"{'formulation':10s} {'sampler':17s} {'|Δmean|max':>10s} {'|Δcov|max':>10s} "
        f"{'|Δweight|max':>12s} {'time s':>7s}"
    )
    for i, (fname, form) in enumerate(FORMULATIONS.items()):
        axes[i, 0].hist2d(*reference.T.numpy(), bins=120, range=[[-4, 4], [-4, 3]], cmap="Greys")
        axes[i, 0].set_ylabel(fname)
        for j, (sname, sampler) in enumerate(SAMPLERS.items(), start=1):
            gen = torch.Generator().manual_seed(1)
            x_T = form.prior_sample((args.n, 2), generator=gen, dtype=torch.float64)
            start = time.perf_counter()
            x = sampler(lambda x, t, F=form: MIXTURE.score(x, t, F), form, x_T, gen)
            seconds = time.perf_counter() - start
            labels = MIXTURE.responsibilities(x, form.t_eps, form).argmax(-1)
            weights = torch.bincount(labels, minlength=3).double() / args.n
            print(
                f"{fname:10s} {sname:17s} {(x.mean(0) - mean).abs().max():10.4f} "
                f"{(torch.cov(x.T) - cov).abs().max():10.4f} {(weights - MIXTURE.weights).abs().max():12.4f} "
                f"{seconds:7.2f}"
            )
            axes[i, j].hist2d(*x.T.numpy(), bins=120, range=[[-4, 4], [-4, 3]], cmap="Blues")
            if i == 0:
                axes[i, j].set_title(sname)
    axes[0, 0].set_title("exact samples")
    fig.suptitle(f"Exact-score sampling of a 3-component Gaussian mixture, {args.n} samples each")
    fig.tight_layout()
    path = save_figure(fig, args.out / "exact_score_sampling.png", dpi=90)
    print(f"1 sample-size standard error of the mean: {torch.sqrt(torch.diagonal(cov) / args.n).max():.4f}")
    print(f"figure: {path.resolve()}")


if __name__ == "__main__":
    main()
