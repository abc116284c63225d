"""The datamodules of arms C, D and E of the σ_d study (README.md here); ``data._target_=centred.<class>``
with this folder on ``PYTHONPATH``. Both keep min–max's scale (half the training range) and change only the
shift of x; y, the noise and everything else are those of :class:`diffinv.data.datamodule.PairedDataModule`.

- :class:`CentredX` (arm C): ``(x - mean) / half-range``, so the normalised x has zero mean and its centred
  variance is also its second moment, the σ_d² of EDM's derivation (docs/math.md §15.2).
- :class:`OffsetX` (arms D, E): ``(x - mean - std) / half-range``, so every normalised component has mean
  -1 standard deviation: the linear–Gaussian check given the offset that min–max scaling leaves on the clipped
  flux problems (mean -0.90 std on average on advdiff, -1.07 on advdiff_multiop), where its exact posterior
  still scores the runs.
"""

from __future__ import annotations

from diffinv.data.datamodule import Affine, PairedDataModule


class CentredX(PairedDataModule):
    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        super().setup(stage)
        self.x_norm = Affine(shift=self.dataset.train.x.mean(axis=0), scale=self.x_norm.scale)


class OffsetX(PairedDataModule):
    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        super().setup(stage)
        x = self.dataset.train.x
        self.x_norm = Affine(shift=x.mean(axis=0) + x.std(axis=0), scale=self.x_norm.scale)
