"""Peer comparison (issues 6, 13): sbi's NPSE against ``python -m diffinv.train`` with the default recipe,
trained on the same linear–Gaussian advection data (``advdiff_noclip.h5``, 9,000 pairs, noise 5 %) with the
same budget (epochs, batch 1000), both scored by the same function on the same test measurements against the
exact posterior.

    pip install -e '.[bench]'                 # sbi (optional extra)
    python -m benchmarks.bench_sbi            # 1,000 epochs each; 20 test cases x 500 samples
    python -m benchmarks.bench_sbi --quick    # 3 epochs each; 3 cases x 100 samples (a smoke run)

Ours: ONE path, the entry point's. :func:`train_config` composes ``conf/train.yaml`` with Hydra's compose API
as ``python -m diffinv.train problem=advdiff problem.clip=false problem.data_file=<--data>
data.noise=<--noise> trainer.max_epochs=<--epochs> problem.evaluator.n_test=<--cases>
problem.evaluator.n_figure_cases=<--cases> evaluation.n_samples=<--samples> torch_threads=<--threads>`` would
(outputs in a temporary directory), and :func:`diffinv.train.train` trains, samples and scores it. So the
recipe is the default one (docs/usage.md §14, docs/math.md §15): the EDM-preconditioned MLP, log-normal σ
with the EDM loss weight and σ_d measured on the data, Adam with warm-up and cosine decay from 1e-2, weight
EMA 0.999, VE; samplers ``ode`` (DPM-Solver++(3M), 20 calls) and ``sde`` (SDE-DPM-Solver++(2M), 40 calls),
every test case in one batch of ``cases x samples`` (``evaluation.chunk_size`` 200,000). Taken from the run:
``time/train_s`` (``trainer.fit``), ``<sampler>/time/sample_s`` (the sampler's own seconds), and the
samples, truths and noisy measurements of its ``samples.h5`` (``n_figure_cases = cases`` keeps every case's
samples there). 1,000 epochs is the budget the default recipe is measured at (docs/math.md §15.3).

The paper's recipe (``recipe=paper``: plain ε-MLP, uniform t, unweighted loss, constant lr 1e-3, no EMA; the
rk45 ODE and the 500-step Euler–Maruyama SDE) is a second group of rows; ``--no-paper`` drops it. It is kept
because it is the same path with one override: it costs one more training at the same budget and no code,
and it shows in one table what the recipe change bought against the same sbi baseline (the paper's recipe is
what this benchmark trained by hand before issue 13).

sbi: ``NPSE(prior=N(μ, K), sde_type="ve")`` with its default MLP score network,
``train(training_batch_size=1000, max_num_epochs=E, stop_after_epochs=E)`` (no early stop; sbi holds out
10 % for validation and draws the noise once: the datamodule's first epoch's), ``build_posterior()`` with its
default sampler (Euler–Maruyama on 500 time points), ``sample_batched`` on exactly the noisy test
measurements of our run's ``samples.h5``; train s = ``append_simulations`` + ``train`` + ``build_posterior``;
calls/sample counted by a forward hook on its score estimator (rows evaluated / samples drawn).

Accuracy: :meth:`benchmarks.bench_accuracy.LinearGaussianCase.scores`
(:func:`diffinv.problems.posterior.metrics.exact_comparison`) on every method's samples with the run's
truths and measurements: std ratio (1 is perfect), mean error ratio (|sampled mean - truth| over |exact mean
- truth|, 1 is perfect), W1/std over every case (the note gives its floor: two exact sample sets of the
same size).
Sampling time for 10^6 samples is EXTRAPOLATED from the timed ``cases x samples`` run (per-sample rate), as
the note says; calls/sample of ours is the run's own count, ``<sampler>/calls_per_sample`` (every score call
counted while sampling, docs/design.md §7; rk45's is adaptive, its mean over the cases). The note records
the 1-minute load average before and after each training (a shared machine).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from benchmarks.bench_accuracy import LinearGaussianCase
from benchmarks.harness import report, set_threads, standard_args
from diffinv.run.console import quiet_console
from diffinv.run.labels import sampler_label
from diffinv.train import train

CONF = Path(__file__).resolve().parents[1] / "conf"
N_TARGET = 1_000_000
RECIPES = {"default": [], "paper": ["recipe=paper"]}  # row group -> overrides


def train_config(
    data: Path, noise: float, epochs: int, cases: int, samples: int, threads: int, root: Path, *extra: str
) -> DictConfig:
    """The config ``python -m diffinv.train`` runs with for this comparison (outputs under ``root``):
    ``extra`` overrides come last (``recipe=paper``)."""
    overrides = [
        "problem=advdiff",
        "problem.clip=false",
        f"problem.data_file={Path(data).resolve()}",
        f"data.noise={noise}",
        f"trainer.max_epochs={epochs}",
        f"problem.evaluator.n_test={cases}",
        f"problem.evaluator.n_figure_cases={cases}",  # samples.h5 keeps every case's samples
        f"evaluation.n_samples={samples}",
        f"torch_threads={threads}",
        f"paths.root_dir={root}",
        f"paths.output_dir={root / 'run'}",
        *extra,
    ]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=overrides)


@dataclass
class OurRun:
    """What one ``diffinv.train`` run gives the table."""

    train_s: float
    parameters: int
    noise_std: float
    truth: np.ndarray
    y: np.ndarray
    rows: dict[str, tuple[float, float, np.ndarray]]  # sampler label -> (calls/sample, sample s, samples)
    evaluator: dict[str, float]  # sampler label -> the run's own exact/std_ratio (a cross-check)


def run_ours(args, *extra: str) -> OurRun:
    """Train, sample and score through :func:`diffinv.train.train`; read back its metrics and samples.h5."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = train_config(
            args.data, args.noise, args.epochs, args.cases, args.samples, args.threads, Path(tmp), *extra
        )
        metrics = train(cfg)  # fills cfg.loss.sigma_data (auto) with the measured value
        parameters = sum(p.numel() for p in instantiate(cfg.model).parameters())
        samplers = {name: instantiate(node) for name, node in cfg.sampler.items()}
        with h5py.File(Path(cfg.paths.output_dir) / "samples.h5", "r") as f:
            truth, y, noise_std = f["truth"][()], f["y"][()], float(f.attrs["noise_std"])
            drawn = {name: f[name]["samples"][()].astype(np.float64) for name in samplers}
    labels = {name: sampler_label(s) for name, s in samplers.items()}
    rows = {
        labels[n]: (metrics[f"{n}/calls_per_sample"], metrics[f"{n}/time/sample_s"], drawn[n])
        for n in samplers
    }
    evaluator = {labels[n]: metrics[f"{n}/exact/std_ratio"] for n in samplers}
    return OurRun(metrics["time/train_s"], parameters, noise_std, truth, y, rows, evaluator)


def sbi_prior(case: LinearGaussianCase):
    """N(μ, K) with a 1e-6 jitter (the RBF prior covariance is numerically singular in float32)."""
    scale_tril = torch.linalg.cholesky(torch.tensor(case.K) + 1e-6 * torch.eye(case.d))
    return torch.distributions.MultivariateNormal(
        torch.tensor(case.mu, dtype=torch.float32), scale_tril=scale_tril.float()
    )


def train_sbi(case: LinearGaussianCase, epochs: int):
    from sbi.inference import NPSE
    from torch.utils.tensorboard import SummaryWriter

    train_split = case.dm.dataset.train
    theta = torch.tensor(train_split.x, dtype=torch.float32)
    x = torch.tensor(case.dm.noisy(train_split.y_clean, np.random.default_rng([0, 1])), dtype=torch.float32)
    with tempfile.TemporaryDirectory() as tmp:  # sbi's TensorBoard log (else ./sbi-logs)
        writer = SummaryWriter(log_dir=tmp)
        inference = NPSE(
            prior=sbi_prior(case), sde_type="ve", show_progress_bars=False, summary_writer=writer
        )
        start = time.perf_counter()
        inference.append_simulations(theta, x)
        estimator = inference.train(training_batch_size=1000, max_num_epochs=epochs, stop_after_epochs=epochs)
        posterior = inference.build_posterior(estimator)
        seconds = time.perf_counter() - start
        writer.close()
    return posterior, seconds, sum(p.numel() for p in estimator.parameters())


def sample_sbi(posterior, case: LinearGaussianCase, n_samples: int):
    """(samples (cases, n, d), seconds, score-network calls per sample) for the measurements ``case.y``."""
    rows = []
    estimator = posterior.vector_field_estimator
    hook = estimator.register_forward_hook(lambda _m, _in, out: rows.append(out.shape[:-1].numel()))
    torch.manual_seed(0)
    start = time.perf_counter()
    try:
        x = posterior.sample_batched(
            (n_samples,), x=torch.tensor(case.y, dtype=torch.float32), show_progress_bars=False
        )
    finally:
        seconds = time.perf_counter() - start
        hook.remove()
    return x.permute(1, 0, 2).double().numpy(), seconds, sum(rows) / (len(case.y) * n_samples)


def load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/advdiff_noclip.h5"))
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument(
        "--paper", action=argparse.BooleanOptionalAction, default=True, help="also the recipe=paper rows"
    )
    standard_args(parser, repeats=1)
    args = parser.parse_args()
    set_threads(args.threads)
    quiet_console()
    if args.quick:
        args.epochs, args.cases, args.samples = 3, 3, 100
    try:
        import sbi
    except ImportError:
        print("bench_sbi: SKIPPED — sbi is not installed (pip install -e '.[bench]')")
        return
    if not args.data.is_file():
        print(
            f"bench_sbi: SKIPPED — {args.data} not found "
            "(python -m data_gen problem=advdiff problem.clip=false)"
        )
        return
    loads = [f"start {load():.1f}"]
    ours = {}
    for recipe, extra in RECIPES.items():
        if recipe == "paper" and not args.paper:
            continue
        ours[recipe] = run_ours(args, *extra)
        loads.append(f"after ours ({recipe}) {load():.1f}")
    first = ours["default"]
    for run in ours.values():  # every run sampled the same test measurements
        if not (np.array_equal(run.y, first.y) and np.array_equal(run.truth, first.truth)):
            raise RuntimeError("the runs sampled different test measurements")
    case = LinearGaussianCase(args.data, args.noise, args.cases, measurements=(first.truth, first.y))
    if not np.isclose(case.dm.noise_std, first.noise_std, rtol=1e-12):
        raise RuntimeError(f"noise_std: run {first.noise_std}, benchmark datamodule {case.dm.noise_std}")
    posterior, sbi_train_s, sbi_params = train_sbi(case, args.epochs)
    loads.append(f"after sbi {load():.1f}")
    sbi_samples, sbi_sample_s, sbi_calls = sample_sbi(posterior, case, args.samples)

    n = args.cases * args.samples
    rows = []
    for recipe, run in ours.items():
        for label, (calls, sample_s, samples) in run.rows.items():
            scores = case.scores(samples)
            name = f"ours ({recipe} recipe) {label}"
            rows.append(
                [name, run.train_s, sample_s, sample_s / n * N_TARGET / 60, f"{calls:g}", scores["std_ratio"],
                 scores["mean_err_ratio"], scores["w1"]]
            )  # fmt: skip
            if not np.isclose(scores["std_ratio"], run.evaluator[label], rtol=1e-4):  # same samples scored
                raise RuntimeError(f"{name}: std ratio {scores['std_ratio']}, run's {run.evaluator[label]}")
    scores = case.scores(sbi_samples)
    rows.append(
        [f"sbi {sbi.__version__} NPSE ve (default sampler: Euler–Maruyama)", sbi_train_s, sbi_sample_s,
         sbi_sample_s / n * N_TARGET / 60, f"{sbi_calls:g}", scores["std_ratio"], scores["mean_err_ratio"],
         scores["w1"]]
    )  # fmt: skip
    params = ", ".join(f"ours ({recipe}) {run.parameters:,}" for recipe, run in ours.items())
    report(
        f"Peer comparison: sbi NPSE vs diffinv.train (default recipe), linear–Gaussian advection "
        f"({args.epochs} epochs, batch 1000)",
        ["method", "train s", f"sample s ({n:,})", "10^6 samples (min, extrap.)", "calls/sample", "std ratio",
         "mean err ratio", "W1 / std"],
        rows,
        note=f"Data {args.data.name}, noise {args.noise:g} (σ_n {first.noise_std:.4g}), "
        f"{len(case.dm.dataset.train):,} training pairs; {args.cases} test cases x {args.samples} samples, "
        "the same noisy measurements for every method (our run's samples.h5), scored by the same function "
        f"against the exact posterior (floor W1/std {scores['w1_floor']:.3f}: two exact sample sets of this "
        "size). Ours: python -m diffinv.train problem=advdiff problem.clip=false (+ recipe=paper for its "
        "rows) through diffinv.train.train; train s = its time/train_s, sample s = its "
        "<sampler>/time/sample_s (all cases in one batch). sbi: NPSE ve, default network and sampler, same "
        f"epochs and batch, on sample_batched. Networks: {params}, sbi default {sbi_params:,} parameters. "
        "10^6-sample times EXTRAPOLATED linearly from the timed run. One run each (seeded, not repeated). "
        f"1-min load average on {os.cpu_count()} cores: {', '.join(loads)}.",
    )  # fmt: skip


if __name__ == "__main__":
    main()
