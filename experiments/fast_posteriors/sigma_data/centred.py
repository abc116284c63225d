"""Arm C of the σ_d study (README.md here): min–max scale, but x centred on its training mean.

``data._target_=centred.CentredX`` (with this folder on ``PYTHONPATH``) replaces the datamodule: x is mapped
by ``(x - mean) / half-range`` instead of ``(x - mid-range) / half-range``; y, the noise and everything else
are those of :class:`diffinv.data.datamodule.PairedDataModule`. The normalised x then has zero mean, so its
centred variance (what ``x_scale`` measures) is also its second moment, the σ_d² of EDM's derivation.
"""

from __future__ import annotations

from diffinv.data.datamodule import Affine, PairedDataModule


class CentredX(PairedDataModule):
    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        super().setup(stage)
        self.x_norm = Affine(shift=self.dataset.train.x.mean(axis=0), scale=self.x_norm.scale)
