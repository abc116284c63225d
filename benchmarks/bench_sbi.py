"""Peer comparison (issue 6): sbi's score-based posterior estimator (NPSE) against ours, trained on the
same linear–Gaussian advection data (``advdiff_noclip.h5``, 9,000 pairs, noise 5 %) with the same
budget (epochs, batch 1000), scored against the exact posterior.

    pip install -e '.[bench]'                 # sbi (optional extra)
    python -m benchmarks.bench_sbi            # 200 epochs each; 20 test cases x 500 samples
    python -m benchmarks.bench_sbi --quick    # 3 epochs each; 3 cases x 100 samples

Ours: :class:`diffinv.training.module.ScoreModule` (ScoreMLP 30 -> 30, 4 x 256, VE σ ∈ [0.001, 5], Adam 1e-3)
by ``pl.Trainer`` on :class:`~diffinv.data.datamodule.PairedDataModule` (min–max normalisation, fresh noise
each epoch); sampled with the ODE (rk45, 1e-5) and the SDE (500 steps), all test cases in one batch. sbi:
``NPSE(prior=N(μ, K), sde_type="ve")`` with its default MLP score network, ``train(training_batch_size=1000,
max_num_epochs=E, stop_after_epochs=E)`` (no early stop; sbi holds out 10 % for validation and draws the noise
once), ``build_posterior()`` with its default sampler, ``sample_batched`` over the test cases. Accuracy
(:func:`diffinv.problems.flux.metrics.exact_comparison`): std ratio (1 is perfect), mean error ratio (|sampled
mean - truth| over |exact mean - truth|, 1 is perfect), W1/std. Sampling time for 10^6 samples is EXTRAPOLATED
from the timed ``cases x samples`` run (per-sample rate), as the note says.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from benchmarks.bench_accuracy import LinearGaussianCase
from benchmarks.bench_training import make_trainer, network, quiet_lightning
from benchmarks.harness import report, set_threads, standard_args
from diffinv.core.formulations import VE
from diffinv.core.samplers import conditional_score, sample_ode, sample_sde
from diffinv.training.module import ScoreModule

N_TARGET = 1_000_000


def train_ours(case: LinearGaussianCase, epochs: int) -> tuple[ScoreModule, float]:
    module = ScoreModule(network(), VE(0.001, 5.0), partial(torch.optim.Adam, lr=1e-3))
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(epochs, tmp, logger=False, enable_progress_bar=False)
        start = time.perf_counter()
        trainer.fit(module, datamodule=case.dm)
        return module.eval(), time.perf_counter() - start


def sample_ours(module: ScoreModule, case: LinearGaussianCase, n_samples: int, sampler: str):
    form = module.formulation
    y = torch.tensor(case.dm.normalise_y(case.y), dtype=torch.float32)
    torch.manual_seed(0)
    start = time.perf_counter()
    with torch.inference_mode():
        x_T = form.prior_sample((len(y), n_samples, case.d))
        score = conditional_score(module.network, form, y[:, None, :])
        x = sample_ode(score, form, x_T) if sampler == "ode" else sample_sde(score, form, x_T, steps=500)
    seconds = time.perf_counter() - start
    return case.dm.x_norm.inverse(x.numpy().astype(np.float64)), seconds


def sbi_prior(case: LinearGaussianCase):
    """N(μ, K) with a 1e-6 jitter (the RBF prior covariance is numerically singular in float32)."""
    scale_tril = torch.linalg.cholesky(torch.tensor(case.K) + 1e-6 * torch.eye(case.d))
    return torch.distributions.MultivariateNormal(
        torch.tensor(case.mu, dtype=torch.float32), scale_tril=scale_tril.float()
    )


def train_sbi(case: LinearGaussianCase, epochs: int):
    from sbi.inference import NPSE
    from torch.utils.tensorboard import SummaryWriter

    train = case.dm.dataset.train
    theta = torch.tensor(train.x, dtype=torch.float32)
    x = torch.tensor(case.dm.noisy(train.y_clean, np.random.default_rng([0, 1])), dtype=torch.float32)
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
    torch.manual_seed(0)
    start = time.perf_counter()
    x = posterior.sample_batched(
        (n_samples,), x=torch.tensor(case.y, dtype=torch.float32), show_progress_bars=False
    )
    seconds = time.perf_counter() - start
    return x.permute(1, 0, 2).double().numpy(), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/advdiff_noclip.h5"))
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--samples", type=int, default=500)
    standard_args(parser, repeats=1)
    args = parser.parse_args()
    set_threads(args.threads)
    quiet_lightning()
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
    case = LinearGaussianCase(args.data, args.noise, args.cases)
    module, ours_train_s = train_ours(case, args.epochs)
    posterior, sbi_train_s, sbi_params = train_sbi(case, args.epochs)
    n = args.cases * args.samples
    runs = {
        "ours ODE rk45 1e-5": (*sample_ours(module, case, args.samples, "ode"), ours_train_s),
        "ours SDE 500 steps": (*sample_ours(module, case, args.samples, "sde"), ours_train_s),
        f"sbi {sbi.__version__} NPSE (default sampler)": (
            *sample_sbi(posterior, case, args.samples),
            sbi_train_s,
        ),
    }
    ours_params = sum(p.numel() for p in module.network.parameters())
    rows = []
    for name, (samples, sample_s, train_s) in runs.items():
        scores = case.scores(samples)
        rows.append(
            [name, train_s, sample_s, sample_s / n * N_TARGET / 60, scores["std_ratio"],
             scores["mean_err_ratio"], scores["w1"]]
        )  # fmt: skip
    floor = case.scores(runs[next(iter(runs))][0])["w1_floor"]
    report(
        f"Peer comparison: sbi NPSE vs diffinv, linear–Gaussian advection ({args.epochs} epochs, batch 1000)",
        ["method", "train s", f"sample s ({n:,})", "10^6 samples (min, extrap.)", "std ratio",
         "mean err ratio", "W1 / std"],
        rows,
        note=f"Data {args.data}, noise {args.noise:g}, {len(case.dm.dataset.train):,} training pairs; "
        f"{args.cases} test cases x {args.samples} samples against the exact posterior (floor W1/std "
        f"{floor:.3f}). Networks: ours {ours_params:,} parameters, "
        f"sbi default {sbi_params:,}. 10^6-sample times EXTRAPOLATED linearly from the timed run. One run "
        "each (training is seeded but not repeated).",
    )  # fmt: skip


if __name__ == "__main__":
    main()
