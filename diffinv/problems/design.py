"""Sensor layouts chosen with a mask-conditioned model's own posteriors (docs/math.md §20, docs/usage.md §19).

:class:`LayoutScorer` rates layouts by the expected information gain (or variance reduction) under readings
drawn from the prior predictive: the first ``n_draws`` test pairs of the run's data file are draws of the
prior and their clean readings; Gaussian noise at the design's level is added once, and each layout switches
off every other sensor. Every layout of a greedy step shares these readings and the sampler's seed (common
random numbers, math §20.4). On a linear–Gaussian file the closed forms come along (:func:`exact_check`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from diffinv.core import design  # noqa: E402
from diffinv.run.files import save_figure  # noqa: E402
from diffinv.training.checkpoint import TrainedModel  # noqa: E402
from diffinv.training.posterior import posterior_samples  # noqa: E402


@dataclass(frozen=True)
class DesignSettings:
    """The estimate's sizes (conf/design.yaml)."""

    criterion: str = "information"
    n_draws: int = 32  # prior-predictive readings per layout
    n_samples: int = 256  # posterior samples per reading
    rank_tol: float = 1e-4  # prior directions kept: variance ≥ rank_tol × the largest (math §20.2)
    informed_tol: float = 0.01  # directions counted: linearised information μ ≥ this (math §20.2)
    seed: int = 0
    chunk_size: int = 10_000


class LayoutScorer:
    """``scorer(layouts) -> gains (n_layouts, n_draws)`` for lists of 0-based sensor tuples, per
    prior-predictive draw (:func:`diffinv.core.design.greedy`)."""

    def __init__(self, model: TrainedModel, datamodule, level: float, settings: DesignSettings):
        if not model.takes_masks:
            raise ValueError(
                f"ckpt: {model.source} was trained with every sensor on; choosing sensors needs a model "
                "trained with sensor masks (problem=advdiff_design, or problem.simulator.mask_rate=uniform)"
            )
        if settings.criterion not in design.CRITERIA:
            raise ValueError(f"criterion={settings.criterion!r}: one of {list(design.CRITERIA)}")
        dataset = datamodule.dataset
        if not 2 <= settings.n_draws <= len(dataset.test):
            raise ValueError(
                f"n_draws={settings.n_draws}: between 2 and the {len(dataset.test)} test pairs of "
                f"{dataset.path}"
            )
        self.model, self.level, self.settings = model, level, settings
        datamodule.use_noise(level)
        self.noise_std = datamodule.noise_std
        rng = np.random.default_rng(settings.seed)
        self.readings = datamodule.noisy(dataset.test.y_clean[: settings.n_draws], rng)
        attrs = dataset.attrs
        self.prior_cov = (
            np.asarray(attrs["prior_cov"]) if "prior_cov" in attrs else np.cov(dataset.train.x, rowvar=False)
        )
        self.whitening = design.prior_whitening(self.prior_cov, settings.rank_tol)
        self.calls = 0
        # prior-predictive pairs in whitened coordinates: which directions a layout informs (math §20.2)
        self.z_train = dataset.train.x @ self.whitening.T
        self.y_train = dataset.train.y_clean
        self.left_out = 0.0  # the largest linearised information left out of any layout scored

    @property
    def num_sensors(self) -> int:
        return self.readings.shape[1]

    def __call__(self, layouts: list[tuple[int, ...]]) -> np.ndarray:
        s = self.settings
        gains = np.empty((len(layouts), s.n_draws))
        for i, on in enumerate(layouts):  # a call per layout, all with the same seed: common random numbers
            basis = self.basis(on) if s.criterion == "information" else None  # the variance needs none
            gains[i] = design.estimated_gains(self._samples(on), s.criterion, self.prior_cov, basis)
        self.calls += len(layouts)
        return gains

    def basis(self, on: tuple[int, ...]) -> np.ndarray:
        """(d, k): the whitened prior directions the readings of ``on`` inform, as a map of ``x``."""
        directions, left_out = design.informed_directions(
            self.z_train, self.y_train[:, list(on)], self.noise_std, self.settings.informed_tol
        )
        self.left_out = max(self.left_out, left_out)
        return self.whitening.T @ directions

    def _samples(self, on: tuple[int, ...]) -> np.ndarray:
        """Posterior samples (n_draws, n_samples, d) of the readings with only the sensors ``on``."""
        s = self.settings
        rows = np.full_like(self.readings, np.nan)
        rows[:, list(on)] = self.readings[:, list(on)]
        return posterior_samples(
            self.model, rows, n_samples=s.n_samples, seed=s.seed, chunk_size=s.chunk_size, noise=self.level
        )


def linear_gaussian(datamodule) -> tuple[np.ndarray, np.ndarray] | None:
    """The file's forward map and prior covariance where its problem is linear–Gaussian (no clipping)."""
    attrs = datamodule.dataset.attrs
    if {"forward_map", "prior_cov"} <= set(attrs) and not attrs.get("clip", False):
        return np.asarray(attrs["forward_map"]), np.asarray(attrs["prior_cov"])
    return None


def exact_check(scorer: LayoutScorer, steps, fixed, candidates, forward_map, prior_cov, random_layouts, rng):
    """The closed forms against the estimates (math §20.1): the exact gain of each greedy layout, the exact
    greedy layout's, and ``random_layouts`` random layouts of 5–25 sensors estimated and exact."""
    criterion, sigma = scorer.settings.criterion, scorer.noise_std

    def exact(on) -> float:
        return design.exact_gain(criterion, forward_map, prior_cov, sigma, on)

    def exact_score(layouts):
        return np.array([[exact(on)] for on in layouts])

    chosen = list(fixed) + [step.sensor for step in steps]
    exact_greedy = design.greedy(exact_score, candidates, len(steps), fixed)
    sizes = rng.integers(5, min(25, len(candidates)) + 1, size=random_layouts)
    layouts = [tuple(sorted(rng.choice(candidates, size=n, replace=False).tolist())) for n in sizes]
    estimated, errors = design.mean_and_error(scorer(layouts)) if layouts else (np.zeros(0), np.zeros(0))
    exact_random = np.array([exact(on) for on in layouts])
    return {
        "greedy_exact_gains": [exact(chosen[: len(fixed) + i + 1]) for i in range(len(steps))],
        "exact_greedy_sensors": [step.sensor + 1 for step in exact_greedy],
        "exact_greedy_gains": [step.gain for step in exact_greedy],
        "greedy_ratio": exact(chosen) / exact_greedy[-1].gain,
        "random_layouts": [
            {"sensors": [j + 1 for j in on], "estimate": float(e), "error": float(se), "exact": float(x)}
            for on, e, se, x in zip(layouts, estimated, errors, exact_random, strict=True)
        ],
        "random_max_relative_error": float(np.max(np.abs(estimated / exact_random - 1))) if layouts else None,
    }


def design_record(steps, scorer: LayoutScorer, sensors: np.ndarray | None) -> dict:
    """What ``design.json`` holds of the greedy choice: sensors counted from 1, as everywhere."""
    return {
        "settings": asdict(scorer.settings),
        "noise": scorer.level,
        "directions": len(scorer.whitening),
        "information_left_out": scorer.left_out,
        "ranked": [
            {
                "rank": i + 1,
                "sensor": step.sensor + 1,
                "coords": None if sensors is None else sensors[step.sensor].tolist(),
                "gain": step.gain,
                "error": step.error,
                "margin": None if np.isinf(step.margin) else step.margin,
            }
            for i, step in enumerate(steps)
        ],
    }


def plot_design(record: dict, sensors: np.ndarray | None, fixed, path: Path, title: str, check=None) -> Path:
    """Two panels: the gain against the number of sensors chosen (± 2 Monte-Carlo standard errors; the exact
    curves where known), and the candidate sensors with the chosen ones numbered by rank."""
    ranked = record["ranked"]
    unit = "nats" if record["settings"]["criterion"] == "information" else "fraction of prior variance"
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1, 1.6]})
    k = np.arange(1, len(ranked) + 1)
    gains, errors = (np.array([r[key] for r in ranked]) for key in ("gain", "error"))
    left.errorbar(k, gains, yerr=2 * errors, fmt="o-", ms=3, capsize=2, label="estimated (±2 s.e.)")
    if check is not None:
        left.plot(k, check["greedy_exact_gains"], "s--", ms=3, label="exact, same layouts")
        left.plot(k, check["exact_greedy_gains"], "k:", label="exact greedy")
    left.set(xlabel="sensors chosen", ylabel=f"gain ({unit})", xticks=k)
    left.legend(fontsize=7)
    if sensors is not None and sensors.shape[1] == 2:
        right.plot(sensors[:, 0], sensors[:, 1], "o", color="0.75", ms=6, label="candidates")
        if len(fixed):
            right.plot(sensors[fixed, 0], sensors[fixed, 1], "ks", ms=6, label="fixed")
        for r in ranked:
            xy = sensors[r["sensor"] - 1]
            right.plot(*xy, "o", color="C3", ms=9)
            right.annotate(str(r["rank"]), xy, ha="center", va="center", color="w", fontsize=7)
        right.set(xlabel="x", ylabel="y", aspect="equal")
    else:
        m = record["num_sensors"]
        right.plot(np.arange(1, m + 1), np.zeros(m), "o", color="0.75")
        for r in ranked:
            right.plot(r["sensor"], 0, "o", color="C3", ms=9)
            right.annotate(str(r["rank"]), (r["sensor"], 0), ha="center", va="center", color="w", fontsize=7)
        right.set(xlabel="sensor", yticks=[])
    right.set_title("chosen sensors, numbered in the order chosen", fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)
