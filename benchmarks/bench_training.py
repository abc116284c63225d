"""Training-step throughput of the advection network: the Lightning path against a bare PyTorch loop
(issue 6). Same network (ScoreMLP 30 -> 30, 4 hidden layers of 256, conf/model/mlp.yaml), VE
formulation, Adam (lr 1e-3), ``dsm_loss``, batch 1000, and the same device-resident batches
(:class:`diffinv.data.datamodule.PairedDataModule` on the advection file: 9,000 pairs, noise 5 %).

    python -m benchmarks.bench_training            # 10 epochs per run, 3 interleaved repeats
    python -m benchmarks.bench_training --quick    # 2 epochs per run, 2 repeats

Candidates, each timed over a whole run of ``--epochs`` epochs:
- bare loop: ``for x, y, mask in batches: loss = dsm_loss(...); backward; step`` on the datamodule's
  :class:`~diffinv.data.datamodule.ShuffledBatches`;
- Lightning, lean: ``pl.Trainer.fit`` on :class:`diffinv.training.module.ScoreModule` with progress bar,
  logger, checkpointing and model summary off;
- Lightning, as ``diffinv.train`` runs it: CSV logger and the progress bar (refresh 10) on.

Per-epoch times come from a callback (first epoch start to last epoch end, so the one-off ``fit`` set-up
is reported separately); the overhead is against the bare loop's per-epoch time in the same round.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from benchmarks.harness import interleaved_medians, report, set_threads, standard_args
from diffinv.core.formulations import VE
from diffinv.core.losses import dsm_loss
from diffinv.core.networks import ScoreMLP
from diffinv.data.datamodule import PairedDataModule
from diffinv.data.schema import Split, write_dataset
from diffinv.training.module import ScoreModule

D = 30
PAPER_EPOCHS = 10_000


class EpochClock(pl.Callback):
    """Wall time from the first training epoch's start to the last one's end."""

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 0:
            self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        self.end = time.perf_counter()


def network() -> ScoreMLP:
    torch.manual_seed(0)
    return ScoreMLP(D, D, width=256, depth=4)


def datamodule(path: Path) -> PairedDataModule:
    dm = PairedDataModule(str(path), batch_size=1000, noise=0.05, normalisation="minmax", seed=0)
    dm.setup("fit")
    return dm


def bare_loop(path: Path, epochs: int) -> float:
    """Seconds per epoch of a plain PyTorch loop over the datamodule's device-resident batches."""
    net, form = network(), VE(0.001, 5.0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    batches = datamodule(path).train_dataloader()
    start = time.perf_counter()
    for _ in range(epochs):
        for x, y, mask in batches:
            loss = dsm_loss(net, form, x, y, mask)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return (time.perf_counter() - start) / epochs


def make_trainer(epochs: int, root: str, **extra) -> pl.Trainer:
    """``pl.Trainer`` for ``epochs`` epochs, no checkpoints or summary; logger etc. in ``extra``."""
    return pl.Trainer(
        accelerator="auto",
        devices=1,
        max_epochs=epochs,
        enable_checkpointing=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=root,
        **extra,
    )


def quiet_lightning() -> None:
    """Silence Lightning's per-fit banners ("GPU available ...")."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)


def lightning(path: Path, epochs: int, as_train: bool) -> tuple[float, float]:
    """(seconds per epoch, one-off fit set-up seconds) of ``pl.Trainer.fit`` on ``ScoreModule``."""
    module = ScoreModule(network(), VE(0.001, 5.0), partial(torch.optim.Adam, lr=1e-3))
    clock = EpochClock()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        if as_train:  # diffinv.train's defaults: CSV logger, progress bar refreshed every 10 steps
            extra = dict(
                logger=pl.loggers.CSVLogger(tmp),
                callbacks=[clock, pl.callbacks.TQDMProgressBar(refresh_rate=10)],
                log_every_n_steps=10,
            )
            sink = stack.enter_context(open(os.devnull, "w"))  # the bar is drawn, not shown
            stack.enter_context(contextlib.redirect_stdout(sink))
            stack.enter_context(contextlib.redirect_stderr(sink))
        else:
            extra = dict(logger=False, callbacks=[clock], enable_progress_bar=False)
        trainer = make_trainer(epochs, tmp, **extra)
        start = time.perf_counter()
        trainer.fit(module, datamodule=datamodule(path))
        total = time.perf_counter() - start
    per_epoch = (clock.end - clock.start) / epochs
    return per_epoch, total - per_epoch * epochs


def synthetic_file(directory: Path, n_train: int = 9000) -> Path:
    """A stand-in dataset of the advection file's shape (speed does not depend on the values)."""
    rng = np.random.default_rng(0)
    splits = {
        name: Split(x=rng.normal(2, 1, (n, D)), y_clean=rng.normal(100, 50, (n, D)))
        for name, n in (("train", n_train), ("test", 10))
    }
    return write_dataset(directory / "synthetic.h5", splits)


def run(path: Path, epochs: int, repeats: int) -> dict:
    """Interleaved per-epoch medians of the three candidates and the derived figures."""
    lean_setup, train_setup = [], []
    per_epoch: dict[str, list[float]] = {"bare": [], "lean": [], "as_train": []}

    def record(name, fn):
        def call():
            out = fn()
            if isinstance(out, tuple):
                out, setup = out
                (lean_setup if name == "lean" else train_setup).append(setup)
            per_epoch[name].append(out)

        return call

    interleaved_medians(
        {
            "bare": record("bare", lambda: bare_loop(path, epochs)),
            "lean": record("lean", lambda: lightning(path, epochs, as_train=False)),
            "as_train": record("as_train", lambda: lightning(path, epochs, as_train=True)),
        },
        repeats,
    )
    medians = {k: statistics.median(v) for k, v in per_epoch.items()}
    # overhead per round (same machine state), then the median: robust to drift between rounds
    overhead = {
        k: statistics.median(a / b - 1 for a, b in zip(per_epoch[k], per_epoch["bare"], strict=True))
        for k in ("lean", "as_train")
    }
    return {
        "epoch_s": medians,
        "overhead": overhead,
        "setup_s": {"lean": statistics.median(lean_setup), "as_train": statistics.median(train_setup)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/advdiff.h5"))
    parser.add_argument("--epochs", type=int, default=10, help="epochs per timed run")
    standard_args(parser, repeats=3)
    args = parser.parse_args()
    set_threads(args.threads)
    quiet_lightning()
    if args.quick:
        args.epochs, args.repeats = 2, 2
    with tempfile.TemporaryDirectory() as tmp:
        path = args.data if args.data.is_file() else synthetic_file(Path(tmp))
        n_train = len(datamodule(path).dataset.train)
        steps = -(-n_train // 1000)
        res = run(path, args.epochs, args.repeats)
    names = {
        "bare": "bare PyTorch loop (baseline)",
        "lean": "Lightning (no progress bar/logger)",
        "as_train": "Lightning as diffinv.train (CSV logger + progress bar)",
    }
    rows = []
    for key, name in names.items():
        sec = res["epoch_s"][key]
        over = "—" if key == "bare" else f"{100 * res['overhead'][key]:+.1f} %"
        setup = "—" if key == "bare" else f"{res['setup_s'][key]:.2f}"
        rows.append([name, 1000 * sec / steps, 1000 * sec, over, setup, PAPER_EPOCHS * sec / 60])
    source = path if path == args.data else f"synthetic stand-in ({args.data} missing)"
    report(
        f"Training throughput, advection ScoreMLP 30->30 (4x256), batch 1000, {n_train:,} pairs",
        ["path", "ms/step", "ms/epoch", "overhead vs bare", "fit set-up s", "10,000 epochs (min)"],
        rows,
        note=f"{args.repeats} interleaved repeats of {args.epochs} epochs ({steps} steps each); "
        f"data {source}; "
        "overhead = median over rounds of (Lightning epoch / bare epoch - 1), target <= 10 %; "
        "the 10,000-epoch projection is ms/epoch x 10,000 (excluding the one-off set-up).",
    )


if __name__ == "__main__":
    main()
