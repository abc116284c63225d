"""KL(q‖p_exact) of a trained network's probability-flow posterior and its self-normalised importance
weights, on the linear–Gaussian check (docs/math.md §17, docs/problems.md §2).

    python experiments/log_density/kl_and_weights.py <run>/checkpoints/last.ckpt [--cases 5] [--samples 100]

For the first ``--cases`` test measurements (the evaluator's, with its seeded noise): ``--samples`` draws of
the model's probability-flow ODE by adaptive rk45 (``sample_ode``, rtol = atol = 1e-5) from N(0, σ_T² I), so
that q is the law :func:`diffinv.core.density.log_prob` computes; ``log q`` of each draw (exact divergence,
rtol = atol = ``--tol``, 1e-5 by default); the exact law of the samples at t_eps, N(m μ(y), m² C + s² I)
in normalised units.

- ``kl``: the mean over draws of ``log q - log p_exact`` per case (an unbiased estimate of KL(q‖p_exact))
  and its standard error;
- importance weights ``log w = log prior + log lik - log q`` (``importance.log_target``, physical units;
  the Jacobian constant added), ESS/N per case; the std ratio and mean-error ratio of the
  raw and the resampled posterior (the evaluator's ``exact_comparison``);
- the same with the exact conditional score in place of the network (``--exact-score``): KL ≈ 0 and
  ESS/N ≈ 1, the self-check.

The GP prior of the data file has a covariance singular to round-off; the prior density is that of the
prior at the samples' noise level σ(t_eps), N(μ, K + σ(t_eps)² S²) with S the normalisation's scales
(docs/math.md §17.4). Prints a table and writes ``<name>.json`` to ``--out`` (default: this folder). One
torch thread.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate

from diffinv.core.density import log_prob
from diffinv.core.exact import ConditionalGaussianEps
from diffinv.core.importance import ess_fraction, resample
from diffinv.core.samplers import conditional_score, sample_ode
from diffinv.data.source import dataset_path
from diffinv.problems.posterior.importance import log_target, smoothed_prior_cov
from diffinv.problems.posterior.metrics import exact_comparison, normalised_joint
from diffinv.run.files import write_json
from diffinv.training.checkpoint import load_model
from diffinv.training.density import log_abs_det

HERE = Path(__file__).resolve().parent
SEED = 0


def setup(ckpt: str, n_cases: int):
    model = load_model(ckpt)
    cfg = model.config
    datamodule = instantiate(cfg.data, path=str(dataset_path(cfg)))
    datamodule.setup("test")
    model.check_data(datamodule)
    attrs = datamodule.dataset.attrs
    exact = (attrs["forward_map"], attrs["prior_mean"], attrs["prior_cov"], datamodule.noise_std)
    truth, y, _ = datamodule.test_measurements(n_cases)
    return model, datamodule, exact, truth, y


def measure(model, datamodule, exact, truth, y, n_samples: int, exact_score: bool, tol: float) -> dict:
    form, d = model.module.formulation, model.module.network.x_dim
    joint = normalised_joint(*exact, datamodule.x_norm, datamodule.y_norm)
    eps_exact = ConditionalGaussianEps(*joint, d, form)
    y_n = torch.as_tensor(datamodule.normalise_y(y))[:, None, :]
    if exact_score:
        score, x_dtype = conditional_score(eps_exact, form, y_n), torch.float64
    else:
        score, x_dtype = conditional_score(model.module.network, form, y_n.float()), torch.float32
    gen = torch.Generator().manual_seed(SEED)
    x_T = form.prior_sample((len(y), n_samples, d), generator=gen, dtype=x_dtype)
    start = time.perf_counter()
    x = sample_ode(score, form, x_T, final_step="none")  # x(t_eps): the law log_prob integrates
    sample_s = time.perf_counter() - start
    start = time.perf_counter()
    log_q = log_prob(score, form, x, rtol=tol, atol=tol).numpy()
    log_q_s = time.perf_counter() - start
    mean, cov = eps_exact.posterior(y_n)
    t_eps = torch.tensor(form.t_eps, dtype=torch.float64)
    m, s = form.m(t_eps), form.s(t_eps)
    p_eps = torch.distributions.MultivariateNormal(
        m * mean, m**2 * cov + s**2 * torch.eye(d, dtype=torch.float64)
    )
    gap = log_q - p_eps.log_prob(x.double()).numpy()  # (n, k)
    # with the exact score, KL(q‖p_eps) = KL(π‖p_T) exactly (one flow maps both), in closed form
    t_T = torch.tensor(form.T, dtype=torch.float64)
    eye = torch.eye(d, dtype=torch.float64)
    p_T = torch.distributions.MultivariateNormal(
        form.m(t_T) * mean, form.m(t_T) ** 2 * cov + form.s(t_T) ** 2 * eye
    )
    start = torch.distributions.MultivariateNormal(
        torch.zeros(d, dtype=torch.float64), form.prior_std**2 * eye
    )
    kl_start = torch.distributions.kl_divergence(start, p_T)[:, 0].numpy()
    physical = datamodule.x_norm.inverse(x.double().numpy())
    forward_map, prior_mean, prior_cov, noise_std = exact
    prior = smoothed_prior_cov(prior_cov, float(form.sigma(t_eps)), datamodule.x_norm.scale)
    log_w = log_target(physical, y, forward_map, prior_mean, prior, noise_std) - (
        log_q + log_abs_det(datamodule.x_norm)
    )
    ess = ess_fraction(log_w)
    reweighted = resample(physical, log_w, np.random.default_rng(SEED))
    raw_scores = exact_comparison(physical, truth, y, *exact, seed=SEED)
    rw_scores = exact_comparison(reweighted, truth, y, *exact, seed=SEED)
    return {
        "score": "exact" if exact_score else "network",
        "kl_per_case": gap.mean(axis=1).tolist(),
        "kl_mean": float(gap.mean()),
        "kl_se": float(gap.mean(axis=1).std(ddof=1) / np.sqrt(len(y))) if len(y) > 1 else float("nan"),
        "kl_start_to_p_T": float(kl_start.mean()),
        "ess_frac_per_case": ess.tolist(),
        "raw_std_ratio": raw_scores["exact/std_ratio"],
        "reweighted_std_ratio": rw_scores["exact/std_ratio"],
        "raw_mean_err_ratio": raw_scores["exact/mean_err_ratio"],
        "reweighted_mean_err_ratio": rw_scores["exact/mean_err_ratio"],
        "sample_s": sample_s,
        "log_q_s": log_q_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ckpt")
    parser.add_argument("--cases", type=int, default=5)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--exact-score", action="store_true", help="the exact conditional score (self-check)")
    parser.add_argument("--tol", type=float, default=1e-5, help="rtol = atol of log q (README: why 1e-5)")
    parser.add_argument("--name", default="kl_and_weights")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, datamodule, exact, truth, y = setup(args.ckpt, args.cases)
    result = measure(model, datamodule, exact, truth, y, args.samples, args.exact_score, args.tol)
    result |= {
        "ckpt": args.ckpt,
        "noise": model.config.data.noise,
        "cases": args.cases,
        "samples": args.samples,
    }
    result |= {
        "formulation": model.module.formulation.label,
        "global_step": model.global_step,
        "tol": args.tol,
    }
    write_json(args.out / f"{args.name}.json", result)
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("per_case")}, indent=1))
    print("ESS/N per case:", np.round(result["ess_frac_per_case"], 3).tolist())
    print("KL per case:", np.round(result["kl_per_case"], 4).tolist())


if __name__ == "__main__":
    main()
