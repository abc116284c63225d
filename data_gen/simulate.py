"""The generator of a problem of one's own (docs/design.md §9, docs/your_problem.md): a prior, a forward model
and an observation model, given in ``problem.simulator``, make the paired file of docs/design.md §6.

``python -m data_gen --config-dir DIR problem=NAME`` (or ``diffinv.train`` on first use) calls
:func:`generate`. The unknowns are drawn from the prior with one seed (:class:`numpy.random.SeedSequence`
``(seed)`` split into the draws' and the masks' streams, as for the paper's problems). The forward model is
first probed on the zero vector, the unit vectors and two prior draws: when it is linear (``y = A x``
within round-off) and ``simulator.linear`` is ``auto`` or ``true``, ``A`` is stored as ``forward_map`` and,
with ``method=superposition``, gives every reading as ``A x``; otherwise (or with ``method=direct``) each
chunk of samples is solved by the model, in this process or in ``workers`` spawned ones, chunk by chunk,
resumable and sharded (:mod:`data_gen.parallel`). A Gaussian prior (one with ``mean`` and ``cov``) and a
linear model make the exact posterior available to the evaluator (docs/math.md §9).
"""

from __future__ import annotations

import logging
import time

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from data_gen.fem.masks import sample_masks
from data_gen.parallel import merged, plan_shard, solve_chunks
from data_gen.priors import as_prior
from diffinv.data.schema import Split, write_dataset

log = logging.getLogger(__name__)

LINEAR_RTOL = 1e-8  # |f(x) - A x| <= LINEAR_RTOL · max(|f(x)|, |A||x|) on the probes: linear


def generate(cfg: DictConfig) -> None:
    """Write ``cfg.out`` for ``problem.simulator`` (called by ``python -m data_gen``)."""
    sim = cfg.problem.simulator
    if sim.noise != "gaussian":
        raise ValueError(f"problem.simulator.noise={sim.noise!r}: the one noise law is 'gaussian'")
    model_cfg = OmegaConf.to_container(sim.forward_model, resolve=True)
    model = _build("forward_model", model_cfg)
    prior = as_prior(_build("prior", sim.prior))
    x_seq, mask_seq = np.random.SeedSequence(int(cfg.seed)).spawn(2)
    x_rng, mask_rng = np.random.default_rng(x_seq), np.random.default_rng(mask_seq)
    sizes = {split: _count(sim, split) for split in ("train", "test")}
    x = {split: _draw(prior, x_rng, n) for split, n in sizes.items()}
    d = x["train"].shape[1]
    forward_map = linear_map(model, x["train"][:2], sim.linear)
    m = forward_map.shape[0] if forward_map is not None else _evaluate(model, x["train"][:1]).shape[1]
    masks = {split: None for split in sizes}
    if sim.mask_rate is not None:
        masks = {split: sample_masks(mask_rng, n, m, sim.mask_rate) for split, n in sizes.items()}
    both = np.concatenate([x["train"], x["test"]])
    start = time.perf_counter()
    if forward_map is not None and cfg.method == "superposition":
        y = both @ forward_map.T
    else:
        y = _solve(cfg, model_cfg, both)
        if y is None:
            return
    log.info(
        "%s: %d readings of %d unknowns in %.1f s", cfg.problem.name, len(y), d, time.perf_counter() - start
    )
    n_train = sizes["train"]
    splits = {
        "train": Split(x=x["train"], y_clean=y[:n_train], mask=masks["train"]),
        "test": Split(x=x["test"], y_clean=y[n_train:], mask=masks["test"]),
    }
    attrs = file_attrs(cfg, prior, model, forward_map)
    log.info("dataset written: %s", write_dataset(cfg.out, splits, attrs))


def linear_map(model, probes: np.ndarray, linear) -> np.ndarray | None:
    """``A`` (m, d) when ``model`` is linear on the probes (zero, the unit vectors, ``probes``), else None;
    ``linear``: ``auto`` (test), ``true`` (test; an error if not linear) or ``false`` (no test, None)."""
    if linear not in ("auto", True, False):
        raise ValueError(f"problem.simulator.linear={linear!r}: choose auto, true or false")
    if linear is False:
        return None
    d = probes.shape[1]
    out = _evaluate(model, np.concatenate([np.zeros((1, d)), np.eye(d), probes]))
    offset, forward_map, at_probes = out[0], (out[1 : d + 1] - out[0]).T, out[d + 1 :]
    predicted = probes @ forward_map.T
    scale = max(np.abs(at_probes).max(), np.abs(predicted).max(), np.finfo(float).tiny)
    worst = max(np.abs(offset).max(), np.abs(at_probes - predicted).max()) / scale
    if worst <= LINEAR_RTOL:
        log.info("forward model linear (relative deviation %.1e on the probes): forward_map stored", worst)
        return forward_map
    if linear is True:
        raise ValueError(
            f"problem.simulator.linear=true, but the forward model is not linear: f(0) or f(x) - A x is "
            f"{worst:.2e} of the readings' size (tolerance {LINEAR_RTOL})"
        )
    log.info("forward model not linear (relative deviation %.1e): no exact posterior", worst)
    return None


def file_attrs(cfg: DictConfig, prior, model, forward_map: np.ndarray | None) -> dict:
    """What the file records besides the pairs (docs/design.md §6): the config, the unknown's coordinates
    and grid shape (the prior's ``coords`` and ``shape``), the sensors (``simulator.sensors``, else the
    model's ``sensors`` attribute), and for the exact posterior the prior's moments and the forward map."""
    sim = cfg.problem.simulator
    attrs = {
        "problem": cfg.problem.name,
        "config": OmegaConf.to_yaml(cfg, resolve=True),
        "seed": int(cfg.seed),
        "noise_free": True,
        "clip": False,
    }
    if getattr(prior, "coords", None) is not None:
        attrs["x_coords"] = np.asarray(prior.coords, dtype=np.float64)
    if getattr(prior, "shape", None) is not None:
        attrs["x_shape"] = np.asarray(prior.shape, dtype=np.int64)
    sensors = (
        OmegaConf.to_container(sim.sensors) if sim.sensors is not None else getattr(model, "sensors", None)
    )
    if sensors is not None:
        attrs["sensor_coords"] = np.asarray(sensors, dtype=np.float64)
    if getattr(prior, "mean", None) is not None and getattr(prior, "cov", None) is not None:
        attrs["prior_mean"], attrs["prior_cov"] = np.asarray(prior.mean), np.asarray(prior.cov)
    if forward_map is not None:
        attrs["forward_map"] = forward_map
    return attrs


def _solve(cfg: DictConfig, model_cfg: dict, x: np.ndarray) -> np.ndarray | None:
    """Every reading by the model, chunk by chunk; None while other shards' chunks are missing."""
    plan, todo = plan_shard(cfg, x)
    if todo:
        solve_chunks(plan, x, todo, model_cfg, solve_batch, cfg.workers, cfg.problem.name)
    return merged(plan, x)


def solve_batch(model, x: np.ndarray) -> tuple[np.ndarray, None]:
    """A chunk's readings by the model's batched call (:func:`data_gen.parallel.solve_chunks`)."""
    return _evaluate(model, x), None


def _evaluate(model, x: np.ndarray) -> np.ndarray:
    y = np.asarray(model(x), dtype=np.float64)
    if y.ndim != 2 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"problem.simulator.forward_model: for x of shape {x.shape} it returned shape {y.shape}; "
            f"need (n, m): one row of clean readings per row of x"
        )
    if not np.all(np.isfinite(y)):
        raise ValueError("problem.simulator.forward_model: returned non-finite readings")
    return y


def _build(key: str, node):
    """``problem.simulator.<key>`` instantiated; what its constructor refuses as an error naming the key."""
    try:
        return instantiate(node)
    except Exception as exc:  # Hydra wraps the constructor's error
        cause = exc
        while cause.__cause__ is not None:
            cause = cause.__cause__
        raise ValueError(f"problem.simulator.{key}: {cause}") from exc


def _count(sim: DictConfig, split: str) -> int:
    n = sim[f"n_{split}"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"problem.simulator.n_{split}={n}: need an integer >= 1")
    return n


def _draw(prior, rng: np.random.Generator, n: int) -> np.ndarray:
    x = np.asarray(prior.sample(rng, n), dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != n:
        raise ValueError(f"problem.simulator.prior: sample(rng, {n}) returned shape {x.shape}, need ({n}, d)")
    return x
