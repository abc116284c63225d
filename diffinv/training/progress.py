"""Training progress fit for terminals and for files (docs/usage.md §12): ``callbacks.progress``.

:func:`progress_bar` gives Lightning's tqdm bar when stdout is a terminal, and otherwise (a file, a pipe, a
batch job's log) :class:`LogProgress`: a plain log line ``training: 120/400 epochs, loss 0.1234 (12 s, 28 s
left)`` at the first epoch, then at most every ``every_s`` seconds, and at the last (also in the run's log
file), with no carriage returns.
"""

from __future__ import annotations

import sys

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ProgressBar, TQDMProgressBar

from diffinv.run.console import PLAIN_EVERY_S, Progress, on_terminal


def progress_bar(refresh_rate: int = 10, every_s: float = PLAIN_EVERY_S) -> ProgressBar:
    """The tqdm bar (refreshed every ``refresh_rate`` steps) on a terminal, else :class:`LogProgress`;
    ``refresh_rate=0`` shows no progress at all."""
    if on_terminal(sys.stdout):
        return TQDMProgressBar(refresh_rate=refresh_rate)
    bar = LogProgress(every_s)
    if refresh_rate == 0:
        bar.disable()
    return bar


class LogProgress(ProgressBar):
    """Training progress as log lines, one per ``every_s`` seconds at most (:class:`Progress`)."""

    def __init__(self, every_s: float = PLAIN_EVERY_S):
        super().__init__()
        self.every_s = every_s
        self.enabled = True
        self.progress: Progress | None = None

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.enabled and trainer.is_global_zero:
            self.progress = Progress(
                trainer.max_epochs,
                "training",
                "epochs",
                initial=trainer.current_epoch,
                every_s=self.every_s,
                stream=sys.stdout,
            )

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.progress is not None:
            loss = trainer.callback_metrics.get("train/loss")
            self.progress.update(1, "" if loss is None else f"loss {float(loss):.4g}")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.progress is not None:
            self.progress.close()
            self.progress = None
