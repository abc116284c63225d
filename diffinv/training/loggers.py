"""Weights & Biases as its users expect it (docs/usage.md §12), through Lightning's logger.

``logger=wandb`` builds :class:`WandbLogger`: Lightning's, minus the ``anonymous`` argument it always passes
(wandb ≥ 0.19 warns that the setting "has no effect" whatever its value), plus :meth:`WandbLogger.publish`,
which ends a run the W&B way: each figure under its own key ``figures/<stem>`` (one image per key, so no
"Images sizes do not match" warning for figures of different sizes), the run's headline numbers
(:meth:`diffinv.problems.evaluator.Evaluator.headline`) as the run's summary, and the run finished there,
so that W&B's closing lines (where the offline run is, the ``wandb sync`` command) come before the run's
own summary. The run's config is the resolved config, logged by ``diffinv.train`` through
``log_hyperparams``.
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_only


class WandbLogger(pl.loggers.WandbLogger):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        del self._wandb_init["anonymous"]

    @rank_zero_only
    def publish(self, figures: list[Path], headline: dict[str, float]) -> None:
        """Log ``figures`` (PNG files) as images named by their stems, set the summary to ``headline``, and
        finish the W&B run."""
        import wandb

        self.log_metrics({f"figures/{p.stem}": wandb.Image(str(p), caption=p.stem) for p in figures})
        self.experiment.summary.update(headline)
        self.experiment.finish()
