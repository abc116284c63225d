"""LightningDataModule for the paired HDF5 datasets (docs/design.md §6; docs/math.md §8).

- reads the file through :func:`diffinv.data.schema.read_dataset` (schema errors are ``DatasetError``s that
  name the file and key);
- normalises x and y with statistics of the training split only: ``standard`` (zero mean, unit std),
  ``minmax`` (to [-1, 1], docs/problems.md §2) or ``none``;
- adds measurement noise ``y = y_clean + σ_n e`` from a seeded generator, ``σ_n = noise × mean|y_clean|`` of
  the training split (docs/problems.md §2); fresh every epoch or fixed (``fresh_noise_each_epoch``);
- for operator families passes the mask η as an extra input and sets missing readings to -1 after
  normalisation (docs/math.md §8);
- keeps the whole training set as tensors on the training device and yields shuffled batches by index,
  with no per-item collation.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytorch_lightning as pl
import torch

from diffinv.data.noise import add_noise, noise_feature, noise_range, noise_std, noisy_test_readings
from diffinv.data.schema import Dataset, read_dataset

NORMALISATIONS = ("standard", "minmax", "none")
MISSING_READING = -1.0  # docs/math.md §8: value of a switched-off sensor in normalised units


@dataclass(frozen=True)
class Affine:
    """``normalised = (raw - shift) / scale`` per component, fitted on the training split."""

    shift: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, kind: str) -> Affine:
        if kind == "standard":
            shift, scale = values.mean(axis=0), values.std(axis=0)
        elif kind == "minmax":
            lo, hi = values.min(axis=0), values.max(axis=0)
            shift, scale = (hi + lo) / 2, (hi - lo) / 2
        elif kind == "none":
            shift, scale = np.zeros(values.shape[1]), np.ones(values.shape[1])
        else:
            raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {kind!r}")
        return cls(shift=shift, scale=np.where(scale > 0, scale, 1.0))

    def forward(self, values):
        return (values - self.shift) / self.scale

    def inverse(self, values):
        return values * self.scale + self.shift

    def state(self) -> dict:
        return {"shift": self.shift.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_state(cls, state: dict) -> Affine:
        """The inverse of :meth:`state` (a checkpoint's normalisation)."""
        return cls(shift=np.asarray(state["shift"]), scale=np.asarray(state["scale"]))


def network_measurements(y_norm: Affine, y: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Measurements (raw units) to network inputs: affine map, then -1 where the mask is off
    (docs/math.md §8)."""
    y = y_norm.forward(np.asarray(y, dtype=np.float64))
    return y if mask is None else np.where(mask, y, MISSING_READING)


def with_noise_input(y_in: np.ndarray, level, noise_range: tuple[float, float] | None) -> np.ndarray:
    """Network inputs ``y_in`` (n, m) with an amortized model's noise input appended: the level (a number, or
    one per row as (n, 1)) by :func:`~diffinv.data.noise.noise_feature` (docs/math.md §19.1); ``y_in`` itself
    for a model of one level (``noise_range`` None)."""
    if noise_range is None:
        return y_in
    feature = np.broadcast_to(noise_feature(level, *noise_range), (len(y_in), 1))
    return np.concatenate([y_in, feature], axis=1)


class ShuffledBatches:
    """Iterable of ``(x, y, mask)`` batches drawn by a random permutation of tensors already on the device.

    ``epoch()`` is the number of the epoch about to run; ``make_epoch(epoch)`` returns its (noisy,
    normalised) measurements, so noise can be fresh per epoch. The permutation and the noise are functions
    of ``(seed, epoch)`` alone, so a run resumed from a checkpoint sees the batches it would have seen.
    Under data parallelism (``world_size`` processes, docs/usage.md §11) every process draws the same
    permutation and takes its ``rank``-th share of each batch (``tensor_split``): shares differ by at most
    one pair, so a share is empty only in a batch with fewer pairs than processes (the last one), and every
    process takes the same number of steps. No pair is dropped:
    :meth:`diffinv.training.module.ScoreModule.training_step` weights the shares so that the averaged
    gradient is that of the whole batch, as in one process.
    """

    def __init__(
        self,
        x: torch.Tensor,
        make_epoch,
        mask: torch.Tensor | None,
        batch_size: int,
        seed: int,
        epoch,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.x, self.make_epoch, self.mask = x, make_epoch, mask
        self.batch_size, self.seed, self.epoch = batch_size, seed, epoch
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        return -(-self.x.shape[0] // self.batch_size)

    def __iter__(self) -> Iterator[tuple]:
        epoch = self.epoch()
        y = self.make_epoch(epoch)
        order = np.random.default_rng([self.seed, 3, epoch]).permutation(self.x.shape[0])
        order = torch.from_numpy(order).to(self.x.device)
        for batch in order.split(self.batch_size):
            idx = batch.tensor_split(self.world_size)[self.rank]
            yield self.x[idx], y[idx], None if self.mask is None else self.mask[idx]


class PairedDataModule(pl.LightningDataModule):
    def __init__(
        self,
        path: str,
        batch_size: int = 1000,
        noise: float | list[float] = 0.0,
        fresh_noise_each_epoch: bool = True,
        normalisation: str = "standard",
        seed: int = 0,
    ):
        super().__init__()
        if normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {normalisation!r}")
        # one level, or a range for an amortized model (docs/math.md §19), whose test readings take the level
        # chosen by use_noise (the evaluation's); until then the range's geometric middle
        self.noise_range = noise_range(noise)
        self.noise = float(noise) if self.noise_range is None else float(np.sqrt(np.prod(self.noise_range)))
        self.path, self.batch_size = path, batch_size
        self.fresh_noise_each_epoch, self.normalisation, self.seed = (
            fresh_noise_each_epoch,
            normalisation,
            seed,
        )
        self.dataset: Dataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        self.dataset = read_dataset(self.path)
        train = self.dataset.train
        self.x_norm = Affine.fit(train.x, self.normalisation)
        self.y_norm = Affine.fit(train.y_clean, self.normalisation)
        self.noise_unit = noise_std(train.y_clean, 1.0)  # σ_n of the level 1 (100 %)
        self.noise_std = self.noise * self.noise_unit

    def use_noise(self, level: float) -> None:
        """Test readings (and the network's noise input) at ``level`` (``data.noise`` units), which an
        amortized model must have been trained for."""
        if self.noise_range is not None and not self.noise_range[0] <= level <= self.noise_range[1]:
            low, high = self.noise_range
            raise ValueError(
                f"noise level {level}: outside the range the model was trained on, [{low}, {high}]"
            )
        if self.noise_range is None and level != self.noise:
            raise ValueError(f"noise level {level}: the model was trained at data.noise={self.noise} only")
        self.noise, self.noise_std = float(level), float(level) * self.noise_unit

    def x_scale(self) -> float:
        """σ_data of docs/math.md §13.1 measured on this data: the root mean square over components of the
        normalised training x's standard deviation (``loss.sigma_data: auto``, docs/math.md §15.2). Centred:
        the mean that min–max scaling leaves (it centres on the mid-range) does not count; §15.2 says why and
        what was measured against the uncentred second moment and against centring the data."""
        return float(np.sqrt((self.x_norm.forward(self.dataset.train.x).var(axis=0)).mean()))

    def normalise_y(self, y: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Readings as the network takes them: normalised, switched-off ones filled, and for an amortized
        model the noise input of the current level appended (docs/math.md §19.1)."""
        return with_noise_input(network_measurements(self.y_norm, y, mask), self.noise, self.noise_range)

    def noisy(self, y_clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return add_noise(y_clean, self.noise_std, rng)

    def test_measurements(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The first ``n`` test pairs (all for None) in raw units: x, y with fixed seeded noise, mask.

        The noise of every test case is drawn at once, so a case's measurement does not depend on ``n``
        (:func:`diffinv.data.noise.noisy_test_readings`, which the MCMC reference reuses).
        """
        test = self.dataset.test
        y = noisy_test_readings(self.dataset, self.noise_std, self.seed)
        mask = None if test.mask is None else test.mask[:n]
        return test.x[:n], y[:n], mask

    def train_dataloader(self) -> ShuffledBatches:
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        train = self.dataset.train
        x = torch.as_tensor(self.x_norm.forward(train.x), dtype=torch.float32, device=device)
        mask = None if train.mask is None else torch.as_tensor(train.mask, dtype=torch.float32, device=device)

        @functools.lru_cache(maxsize=1)
        def noisy_measurements(draw: int) -> torch.Tensor:
            rng = np.random.default_rng([self.seed, 1, draw])
            if self.noise_range is None:
                y = self.normalise_y(self.noisy(train.y_clean, rng), train.mask)
            else:  # a level per pair, log-uniform over the range (docs/math.md §19.1)
                low, high = np.log(self.noise_range)
                level = np.exp(rng.uniform(low, high, size=(len(train.y_clean), 1)))
                noisy = train.y_clean + level * self.noise_unit * rng.standard_normal(train.y_clean.shape)
                y = with_noise_input(
                    network_measurements(self.y_norm, noisy, train.mask), level, self.noise_range
                )
            return torch.as_tensor(y, dtype=torch.float32, device=device)

        def make_epoch(epoch: int) -> torch.Tensor:
            return noisy_measurements(epoch if self.fresh_noise_each_epoch else 0)

        def epoch() -> int:
            return self.trainer.current_epoch if self.trainer is not None else 0

        rank, world_size = (
            (0, 1) if self.trainer is None else (self.trainer.global_rank, self.trainer.world_size)
        )
        return ShuffledBatches(x, make_epoch, mask, self.batch_size, self.seed, epoch, rank, world_size)

    def state(self) -> dict:
        """Normalisation and noise, stored in the checkpoint so evaluation maps samples back to raw units (and
        an amortized model's range and σ_n per unit level, so readings of any level in it can be given)."""
        state = {"x": self.x_norm.state(), "y": self.y_norm.state(), "noise_std": self.noise_std}
        if self.noise_range is not None:
            state |= {"noise_range": list(self.noise_range), "noise_unit": self.noise_unit}
        return state
