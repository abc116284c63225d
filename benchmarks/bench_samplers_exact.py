"""Accuracy per network call of every sampler × schedule with EXACT scores (docs/math.md §12): which
sampler reaches the exact posterior in the fewest calls, free of any network error.

    python -m benchmarks.bench_samplers_exact          # both problems, VE/VP/κ=0.5/κ=2, 5 budgets
    python -m benchmarks.bench_samplers_exact --quick  # both problems, VE/VP, 3 budgets (< 30 s)

Two problems, both with closed-form scores and targets (docs/math.md §9):

- ``mixture``: the 3-component 2-D Gaussian mixture of the exact-score tests (unconditional);
- ``linear-gaussian``: x ∈ R^16 with a squared-exponential prior, 6 noisy point readings (5 % noise),
  4 measurements y* sampled in one batch; exact posterior by
  :func:`diffinv.core.exact.linear_gaussian_posterior`,
  exact conditional score ``∇ log N(x; m μ(y*), m² C + s² I)`` from one eigendecomposition of C.

Columns (averaged over measurements and components; "std" = the exact posterior's standard deviation):
calls = network calls counted by :class:`diffinv.core.samplers.CountingScore` (the budget is a target: Heun
spends ``2N - 1``); std ratio = sample std / exact std (1 is perfect); mean err =
|sample mean - exact mean| / std; W1/std = 1-D Wasserstein-1 between each marginal and an exact sample 4x
its size, over std. The "exact sample" row is the Monte Carlo floor: the same metrics for independent exact
samples of the sampler's size (mean of 5 draws; one draw scatters by about ±40 %, so a sampler within
~1.5x the floor is at sampling noise). Deterministic samplers share one x_T, so their rows differ by
discretisation only. Returned samples are x at t_eps, whose noise σ(t_eps) is part of the result: for
VP κ = 2 (σ(t_eps) = 0.12) it dominates the narrow linear–Gaussian posterior (std ratio → 2.1 for every
sampler).
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.harness import report, set_threads, standard_args
from diffinv.core.exact import GaussianMixture, linear_gaussian_posterior
from diffinv.core.formulations import VE, VP, VPFamily
from diffinv.core.samplers import (
    SCHEDULES,
    CountingScore,
    sample_dpmpp_2m,
    sample_dpmpp_2m_sde,
    sample_dpmpp_3m,
    sample_heun,
    sample_sde,
)

REF_FACTOR = 4  # the exact reference sample is 4x the sampler's: less of its own noise in W1
FLOOR_DRAWS = 5  # the floor row averages 5 independent exact samples (one draw scatters by ±40 %)

FORMULATIONS = {
    "VE": lambda: VE(0.01, 50.0),
    "VP": lambda: VP(0.1, 20.0),
    "VP κ=0.5": lambda: VPFamily(0.1, 20.0, kappa=0.5),
    "VP κ=2": lambda: VPFamily(0.1, 20.0, kappa=2.0),
}


# name -> (run(score, form, x_T, budget, schedule, gen), takes a schedule)
SAMPLERS = {
    "heun": lambda f, F, x, b, s, g: sample_heun(f, F, x, steps=(b + 1) // 2, schedule=s),
    "dpmpp_2m": lambda f, F, x, b, s, g: sample_dpmpp_2m(f, F, x, steps=b, schedule=s),
    "dpmpp_3m": lambda f, F, x, b, s, g: sample_dpmpp_3m(f, F, x, steps=b, schedule=s),
    "dpmpp_2m_sde λ=1": lambda f, F, x, b, s, g: sample_dpmpp_2m_sde(
        f, F, x, steps=b, schedule=s, generator=g
    ),
    "sde (EM) λ=1": lambda f, F, x, b, s, g: sample_sde(f, F, x, b, generator=g, schedule=s),
    "sde (EM) λ=0": lambda f, F, x, b, s, g: sample_sde(
        f, F, x, b, lam=0.0, schedule=s
    ),  # explicit Euler ODE
}


class Problem:
    """Samples x_T, runs a sampler on the exact score, scores the result against the exact target."""

    def __init__(self, name: str, form, n: int, seed: int = 0):
        self.name, self.form, self.n = name, form, n
        self.gen = torch.Generator().manual_seed(seed)

    def score_fn(self):
        raise NotImplementedError

    def x_T(self) -> torch.Tensor:
        raise NotImplementedError

    def exact_sample(self, n: int) -> torch.Tensor:
        """Exact target samples, shape (cases, n, d)."""
        raise NotImplementedError

    def metrics(self, x: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
        """std ratio, mean error / std, W1 / std against ``reference`` (cases, n, d); exact mean and std."""
        mean, std = self.exact_moments()
        std_ratio = (x.std(dim=1) / std).mean().item()
        mean_err = ((x.mean(dim=1) - mean).abs() / std).mean().item()
        # W1 = ∫ |F⁻¹ - G⁻¹|; the REF_FACTOR x larger reference gives its quantiles as block means of its
        # sorted values
        xs = torch.sort(x, dim=1).values
        rs = torch.sort(reference, dim=1).values
        rs = rs.reshape(rs.shape[0], xs.shape[1], -1, rs.shape[-1]).mean(dim=2)
        w1 = ((xs - rs).abs().mean(dim=1) / std).mean().item()
        return {"std_ratio": std_ratio, "mean_err": mean_err, "w1": w1}


class Mixture(Problem):
    def __init__(self, form, n, seed=0):
        super().__init__("mixture", form, n, seed)
        self.gm = GaussianMixture(
            weights=[0.5, 0.3, 0.2],
            means=[[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]],
            covs=[[[0.3, 0.0], [0.0, 0.3]], [[0.5, 0.2], [0.2, 0.3]], [[0.1, 0.0], [0.0, 0.1]]],
        )

    def score_fn(self):
        return lambda x, t: self.gm.score(x, t, self.form)

    def x_T(self):
        return self.form.prior_sample((1, self.n, 2), generator=self.gen, dtype=torch.float64)

    def exact_sample(self, n):
        return self.gm.sample(n, self.gen)[0][None]

    def exact_moments(self):
        mean, cov = self.gm.mean_and_covariance()
        return mean[None], torch.sqrt(torch.diagonal(cov))[None]


class LinearGaussian(Problem):
    """x ~ N(0, K), K_ij = exp(-(i-j)²/(2·3²)) + 1e-4 δ_ij on 16 points; y = x at 6 points + 5 % noise."""

    D, READ, NOISE, CASES = 16, (1, 4, 7, 9, 12, 14), 0.05, 4

    def __init__(self, form, n, seed=0):
        super().__init__("linear-gaussian", form, n, seed)
        i = torch.arange(self.D, dtype=torch.float64)
        self.K = torch.exp(-((i[:, None] - i[None]) ** 2) / 18) + 1e-4 * torch.eye(
            self.D, dtype=torch.float64
        )
        self.A = torch.eye(self.D, dtype=torch.float64)[list(self.READ)]
        self.Se = self.NOISE**2 * torch.eye(len(self.READ), dtype=torch.float64)
        x = torch.linalg.cholesky(self.K) @ torch.randn(
            self.D, self.CASES, generator=self.gen, dtype=torch.float64
        )
        self.y = (self.A @ x).T + self.NOISE * torch.randn(
            self.CASES, len(self.READ), generator=self.gen, dtype=torch.float64
        )
        self.post_mean, self.post_cov = linear_gaussian_posterior(
            torch.zeros(self.D), self.K, self.A, self.Se, self.y
        )
        self._evals, self._evecs = torch.linalg.eigh(self.post_cov)  # one posterior covariance for every y*
        self._evals = self._evals.clamp(min=0)

    def score_fn(self):
        """Exact ∇_x log N(x; m μ(y*), m² C + s² I) per measurement, by C's eigendecomposition (math §9.3)."""

        def score(x, t):
            m, s = self.form.m(t)[..., None], self.form.s(t)[..., None]
            rot = (x - m * self.post_mean[:, None, :]) @ self._evecs
            return -(rot / (m**2 * self._evals + s**2)) @ self._evecs.T

        return score

    def x_T(self):
        return self.form.prior_sample((self.CASES, self.n, self.D), generator=self.gen, dtype=torch.float64)

    def exact_sample(self, n):
        evals, evecs = torch.linalg.eigh(self.post_cov)
        root = evecs * torch.sqrt(evals.clamp(min=0))
        z = torch.randn(self.CASES, n, self.D, generator=self.gen, dtype=torch.float64)
        return self.post_mean[:, None, :] + z @ root.T

    def exact_moments(self):
        return self.post_mean, torch.sqrt(torch.diagonal(self.post_cov))[None]


def evaluate(problem: Problem, budgets, samplers=SAMPLERS, schedules=SCHEDULES) -> list[list]:
    """Rows [sampler, schedule, budget, calls, std ratio, mean err, W1/std, seconds]; the floor row last."""
    x_T = problem.x_T()
    reference = problem.exact_sample(REF_FACTOR * problem.n)
    rows = []
    for name, run in samplers.items():
        for schedule in schedules:
            for budget in budgets:
                score = CountingScore(problem.score_fn())
                start = time.perf_counter()
                with torch.inference_mode():
                    x = run(score, problem.form, x_T, budget, schedule, torch.Generator().manual_seed(1))
                seconds = time.perf_counter() - start
                m = problem.metrics(x, reference)
                rows.append(
                    [name, schedule, budget, score.calls, m["std_ratio"], m["mean_err"], m["w1"], seconds]
                )
    floor = floor_metrics(problem, reference)
    rows.append(
        ["exact sample (floor)", "—", "—", "—", floor["std_ratio"], floor["mean_err"], floor["w1"], "—"]
    )
    return rows


def floor_metrics(problem: Problem, reference: torch.Tensor) -> dict[str, float]:
    """The metrics of independent exact samples of the sampler's size, averaged over FLOOR_DRAWS draws."""
    floors = [problem.metrics(problem.exact_sample(problem.n), reference) for _ in range(FLOOR_DRAWS)]
    return {k: sum(f[k] for f in floors) / FLOOR_DRAWS for k in floors[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=None, help="samples per measurement")
    parser.add_argument("--problems", nargs="+", default=["mixture", "linear-gaussian"])
    parser.add_argument("--formulations", nargs="+", default=None, choices=list(FORMULATIONS))
    standard_args(parser, repeats=1)
    args = parser.parse_args()
    set_threads(args.threads)
    budgets = [10, 20, 35] if args.quick else [10, 20, 35, 50, 100]
    forms = args.formulations or (["VE", "VP"] if args.quick else list(FORMULATIONS))
    n = args.samples or (1000 if args.quick else 10_000)
    classes = {"mixture": Mixture, "linear-gaussian": LinearGaussian}
    for problem_name in args.problems:
        for form_name in forms:
            problem = classes[problem_name](FORMULATIONS[form_name](), n)
            rows = evaluate(problem, budgets)
            cases = getattr(problem, "CASES", 1)
            report(
                f"Samplers with the exact score: {problem_name}, {form_name}, "
                f"{cases} measurement(s) x {n} samples",
                ["sampler", "schedule", "budget", "calls", "std ratio", "mean err / std", "W1 / std", "s"],
                rows,
                note="Exact closed-form score, so every error is the sampler's (docs/math.md §12); "
                "budget = target network calls (Heun: 2N-1 calls); std ratio 1, "
                "mean err and W1 at the floor row are perfect; all rows share one x_T.",
            )


if __name__ == "__main__":
    main()
