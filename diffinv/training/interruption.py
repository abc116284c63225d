"""Training's side of interruptions (docs/usage.md §8; the signals are :mod:`diffinv.run.interrupts`'s).

- :class:`StopOnSignal`: the first SIGINT/SIGTERM/SIGUSR1 during training ends it at the end of the current
  epoch, with that epoch saved to ``checkpoints/last.ckpt``, the checkpoint ``resume=DIR`` continues from.
  An epoch boundary is where a resumed run is exact: the data order and noise are functions of (seed,
  epoch) and the checkpoint holds the weights, the optimiser and the random stream, so the resumed run ends
  with the weights and ``metrics.json`` of an uninterrupted one.
- :func:`continue_csv_log`: a resumed run writes on in its CSV log (``csv/version_0/metrics.csv``): the rows
  of the epochs its checkpoint holds stay, later ones (logged before a kill) go, so the log has every epoch
  once.
"""

from __future__ import annotations

import csv
import logging
import shutil
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_only

from diffinv.run.interrupts import Interrupted, SignalCatcher
from diffinv.training.checkpoint import read_checkpoint

log = logging.getLogger(__name__)


class StopOnSignal(pl.Callback):
    """Defers the signals ``catcher`` receives during training epochs to the epoch's end, saves ``path``
    there and stops training; :class:`~diffinv.run.interrupts.Interrupted` is raised once the trainer has
    logged that epoch. Under data parallelism every process stops at the same epoch (a signal to any one)."""

    def __init__(self, catcher: SignalCatcher, path: Path):
        self.catcher, self.path = catcher, Path(path)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning has just put its own SIGTERM handler in (raise after the current batch): ours again.
        self.catcher.install()
        self.catcher.deferring = True

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        received = torch.tensor(float(self.catcher.received or 0), device=pl_module.device)
        signum = int(trainer.strategy.reduce(received, reduce_op="max"))
        if signum:
            self.catcher.received = signum
            trainer.save_checkpoint(self.path, weights_only=False)
            log.warning("saved %s (epoch %d of %d)", self.path, trainer.current_epoch + 1, trainer.max_epochs)
            trainer.should_stop = True

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.catcher.deferring = False
        if self.catcher.received:
            raise Interrupted(self.catcher.received)


@rank_zero_only
def continue_csv_log(loggers: list, checkpoint: Path | None) -> None:
    """Before a resumed run logs anything: keep the rows of each CSV log up to the epoch of ``checkpoint``
    (none without one) and write them back through the logger, which would otherwise delete the file."""
    last_epoch = -1 if checkpoint is None else int(read_checkpoint(checkpoint)["epoch"])
    for logger in loggers:
        if not isinstance(logger, pl.loggers.CSVLogger) or not Path(logger.log_dir).is_dir():
            continue
        path = Path(logger.log_dir) / "metrics.csv"
        rows = []
        if path.is_file():
            with path.open(newline="") as f:
                rows = list(csv.DictReader(f))
        shutil.rmtree(logger.log_dir)
        for row in rows:
            if not row.get("epoch") or int(float(row["epoch"])) <= last_epoch:
                values = {k: v for k, v in row.items() if v != "" and k != "step"}
                logger.experiment.log_metrics(values, step=int(row["step"]))
        logger.save()
