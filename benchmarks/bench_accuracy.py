"""Score evaluations and accuracy of every sampler and step count against the exact linear–Gaussian
posterior (issue 6): a table to choose a sampler from.

    python -m benchmarks.bench_accuracy            # 10 test cases x 300 samples, full sampler grid
    python -m benchmarks.bench_accuracy --quick    # 4 cases x 100 samples, a few samplers

The score is the EXACT one (:class:`diffinv.core.exact.ConditionalGaussianEps` on the normalised joint of the
linear–Gaussian advection data, ``advdiff_noclip.h5``, noise 5 %), so the table isolates the sampler's
error from the network's. Columns: NFE = calls of the score function (each call evaluates the whole
batch), counted by a wrapper; seconds of the exact-score run; the estimated seconds with the advection
network instead (NFE x one timed ScoreMLP call on the same batch); std ratio (sampled / exact posterior
std, 1 is perfect), mean offset (|sample mean - exact mean| in exact-std units, averaged over cases and
segments), W1/std (per-segment Wasserstein-1 to an exact sample of the same size, in exact-std units) —
the last three from :func:`diffinv.problems.posterior.metrics.exact_comparison` conventions; the "exact
sample" row is the Monte Carlo floor at this sample size.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.harness import report, set_threads, standard_args
from diffinv.core.exact import ConditionalGaussianEps, linear_gaussian_posterior
from diffinv.core.formulations import VE, VP
from diffinv.core.networks import ScoreMLP
from diffinv.core.samplers import (  # noqa: F401 (CountingScore re-exported)
    CountingScore,
    conditional_score,
    sample_heun,
    sample_ode,
    sample_sde,
)
from diffinv.data.datamodule import PairedDataModule
from diffinv.problems.posterior.metrics import exact_comparison, normalised_joint

FULL_GRID = [
    ("ode rk45", {"tol": 1e-3}),
    ("ode rk45", {"tol": 1e-4}),
    ("ode rk45", {"tol": 1e-5}),
    ("ode heun", {"steps": 10}),
    ("ode heun", {"steps": 25}),
    ("ode heun", {"steps": 50}),
    ("ode heun", {"steps": 100}),
    ("ode euler", {"steps": 50}),
    ("ode euler", {"steps": 100}),
    ("ode euler", {"steps": 200}),
    ("sde", {"steps": 100}),
    ("sde", {"steps": 250}),
    ("sde", {"steps": 500}),
    ("sde", {"steps": 1000}),
]
QUICK_GRID = [
    ("ode rk45", {"tol": 1e-3}),
    ("ode heun", {"steps": 10}),
    ("ode euler", {"steps": 20}),
    ("sde", {"steps": 50}),
]


def run_sampler(kind: str, opts: dict, score_fn, form, x_T) -> torch.Tensor:
    if kind == "ode rk45":
        return sample_ode(score_fn, form, x_T, "rk45", rtol=opts["tol"], atol=opts["tol"])
    if kind == "ode heun":
        return sample_heun(score_fn, form, x_T, steps=opts["steps"])
    if kind == "ode euler":
        return sample_sde(score_fn, form, x_T, opts["steps"], lam=0.0)
    if kind == "sde":
        return sample_sde(
            score_fn, form, x_T, steps=opts["steps"], generator=torch.Generator().manual_seed(2)
        )
    raise ValueError(f"unknown sampler {kind!r}")


class LinearGaussianCase:
    """The linear–Gaussian test cases of a dataset file, normalised as the datamodule does for training.

    The file must hold ``forward_map``, ``prior_mean`` and ``prior_cov`` (``problem.clip=false`` data). The
    cases are the datamodule's first ``n_cases`` test measurements, or the first ``n_cases`` of
    ``measurements=(truth, y)`` in raw units (e.g. those a run's evaluator sampled for, its ``samples.h5``).
    """

    def __init__(self, path: Path, noise: float, n_cases: int, measurements=None):
        self.dm = dm = PairedDataModule(str(path), noise=noise, normalisation="minmax")
        dm.setup("fit")
        attrs = dm.dataset.attrs
        self.A, self.mu, self.K = (np.asarray(attrs[k]) for k in ("forward_map", "prior_mean", "prior_cov"))
        if measurements is None:
            self.truth, self.y, _ = dm.test_measurements(n_cases)
        else:
            self.truth, self.y = (np.asarray(a, dtype=np.float64)[:n_cases] for a in measurements)
        self.d = self.A.shape[1]

    def normalised_joint(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and covariance of (x_n, y_n) = (x, A x + e) under the per-component affine normalisation."""
        return normalised_joint(self.A, self.mu, self.K, self.dm.noise_std, self.dm.x_norm, self.dm.y_norm)

    def exact(self) -> tuple[np.ndarray, np.ndarray]:
        """Exact posterior means (n, d) and stds (d,) in raw units."""
        sigma_e = self.dm.noise_std**2 * np.eye(self.A.shape[0])
        mean, cov = linear_gaussian_posterior(self.mu, self.K, self.A, sigma_e, self.y)
        return mean.numpy(), np.sqrt(np.clip(np.diagonal(cov.numpy()), 0, None))

    def scores(self, samples_raw: np.ndarray) -> dict[str, float]:
        metrics = exact_comparison(
            samples_raw, self.truth, self.y, self.A, self.mu, self.K, self.dm.noise_std,
            n_distance_cases=len(self.y),
        )  # fmt: skip
        mean, std = self.exact()
        offset = float((np.abs(samples_raw.mean(axis=1) - mean) / std).mean())
        return {
            "std_ratio": metrics["exact/std_ratio"],
            "mean_err_ratio": metrics["exact/mean_err_ratio"],
            "mean_offset": offset,
            "w1": metrics["exact/w1_over_std"],
            "w1_floor": metrics["exact/w1_over_std_floor"],
        }


def evaluate(case: LinearGaussianCase, form, grid, n_samples: int, network_repeats: int = 3) -> list[dict]:
    """One row per sampler configuration: NFE, seconds, estimated network seconds and accuracy."""
    mean, cov = case.normalised_joint()
    eps = ConditionalGaussianEps(mean, cov, case.d, form)
    y_n = torch.tensor(case.dm.normalise_y(case.y))
    n = len(y_n)
    x_T = form.prior_sample(
        (n, n_samples, case.d), generator=torch.Generator().manual_seed(1), dtype=torch.float64
    )
    net_call = network_call_seconds(case.d, y_n.shape[1], n * n_samples, network_repeats)
    rows = []
    for kind, opts in grid:
        score = CountingScore(conditional_score(eps, form, y_n[:, None, :]))
        start = time.perf_counter()
        with torch.inference_mode():
            x = run_sampler(kind, opts, score, form, x_T)
        seconds = time.perf_counter() - start
        samples_raw = case.dm.x_norm.inverse(x.numpy())
        rows.append(
            {
                "sampler": kind,
                **opts,
                "nfe": score.calls,
                "seconds": seconds,
                "network_s": score.calls * net_call,
            }
            | case.scores(samples_raw)
        )
    return rows


def network_call_seconds(x_dim: int, y_dim: int, batch: int, repeats: int) -> float:
    """Median seconds of one float32 forward pass of the advection network (4 x 256) on ``batch`` points."""
    torch.manual_seed(0)
    net = ScoreMLP(x_dim, y_dim, width=256, depth=4).eval()
    x, y, t = torch.randn(batch, x_dim), torch.randn(batch, y_dim), torch.rand(batch)
    times = []
    with torch.inference_mode():
        for _ in range(repeats + 1):
            start = time.perf_counter()
            net(x, t, y)
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/advdiff_noclip.h5"))
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--formulation", choices=["ve", "vp"], default="ve")
    standard_args(parser, repeats=3)
    args = parser.parse_args()
    set_threads(args.threads)
    if args.quick:
        args.cases, args.samples = 4, 100
    if not args.data.is_file():
        print(
            f"bench_accuracy: SKIPPED — {args.data} not found "
            "(python -m data_gen problem=advdiff problem.clip=false)"
        )
        return
    form = VE(0.001, 5.0) if args.formulation == "ve" else VP(0.001, 15.0)
    case = LinearGaussianCase(args.data, args.noise, args.cases)
    rows = evaluate(case, form, QUICK_GRID if args.quick else FULL_GRID, args.samples, args.repeats)
    table = [
        [
            r["sampler"],
            f"tol {r['tol']:g}" if "tol" in r else f"{r['steps']} steps",
            r["nfe"],
            r["seconds"],
            r["network_s"],
            r["std_ratio"],
            r["mean_offset"],
            r["w1"],
        ]
        for r in rows
    ]
    floor = statistics.mean(r["w1_floor"] for r in rows)
    mc = np.sqrt(2 / np.pi / args.samples)  # E|mean of n N(0,1)| : the offset of a perfect sampler
    table.append(["exact sample (floor)", "—", "—", "—", "—", 1.0, mc, floor])
    n = args.cases * args.samples
    report(
        f"Sampler accuracy vs exact linear–Gaussian posterior ({args.formulation.upper()}, exact score), "
        f"{args.cases} cases x {args.samples} samples",
        ["sampler", "setting", "NFE", "s (exact score)", "s (network, est.)", "std ratio",
         "mean offset / std", "W1 / std"],
        table,
        note=f"Data {args.data} (noise {args.noise:g}); score = closed-form conditional score of the "
        f"normalised "
        f"joint, so errors are the sampler's alone; 's (network, est.)' = NFE x median time of one ScoreMLP "
        f"(30->30, 4x256, float32) call on the {n:,}-point batch; floor row: what an exact sampler scores "
        "(mean offset sqrt(2/(pi n)), W1 between two exact samples).",
    )  # fmt: skip


if __name__ == "__main__":
    main()
