"""A forward model run over chunks of inputs, in this process or in spawned worker processes, each chunk
saved as it finishes (:mod:`data_gen.fem.chunks`): what every sharded, resumable generator shares
(docs/design.md §3).

Each worker builds the model once from its config (a DOLFINx model compiles its mesh, spaces and forms
then) and calls ``solve(model, x_chunk) -> (y_chunk, stats)`` per chunk, a module-level function so that it
pickles; ``stats`` is whatever the caller wants back per chunk (Newton counts, say).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from data_gen.fem.chunks import ChunkPlan, fingerprint
from diffinv.run.console import Progress

log = logging.getLogger(__name__)
_worker: dict = {}  # the per-process model and solve function, set by _start_worker


def plan_shard(cfg: DictConfig, x: np.ndarray) -> tuple[ChunkPlan, list[int]]:
    """The chunks of the inputs ``x`` (next to ``cfg.out``, fingerprinted by ``cfg.problem`` and the seed) and
    those of this shard (``cfg.shard`` of ``cfg.num_shards``) not yet on disk."""
    out = Path(cfg.out)
    plan = ChunkPlan(
        directory=out.parent / f"{out.name}.parts",
        fingerprint=fingerprint(OmegaConf.to_yaml(cfg.problem, resolve=True), str(cfg.seed)),
        total=len(x),
        size=int(cfg.chunk_size),
    )
    mine = plan.shard(int(cfg.shard), int(cfg.num_shards))
    todo = [i for i in mine if not plan.is_done(i, x[slice(*plan.bounds(i))])]
    log.info(
        "%s shard %d/%d: %d chunks of %d samples, %d already done, %d to solve",
        cfg.problem.name, cfg.shard, cfg.num_shards, len(mine), plan.size, len(mine) - len(todo), len(todo),
    )  # fmt: skip
    return plan, todo


def merged(plan: ChunkPlan, x: np.ndarray) -> np.ndarray | None:
    """Every chunk's outputs in order, once all shards' chunks are on disk; None (logged) until then."""
    if missing := plan.missing():
        log.info("%d chunks of other shards still missing; the last shard to finish merges", len(missing))
        return None
    return plan.merge(x)


def solve_chunks(
    plan: ChunkPlan,
    x: np.ndarray,
    todo: list[int],
    model_cfg: dict,
    solve: Callable,
    workers: int | None,
    label: str,
) -> tuple[list, float, int]:
    """Solve and save the chunks ``todo`` of ``x``; ``(stats of each chunk, CPU seconds, workers used)``.
    ``workers`` None: every core this process may use; 1: in this process, no spawning."""
    workers = len(os.sched_getaffinity(0)) if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers={workers}: need at least one worker process")
    workers = min(workers, len(todo))
    tasks = [(i, x[slice(*plan.bounds(i))], plan) for i in todo]
    results = []
    with Progress(sum(len(t[1]) for t in tasks), label, "samples") as bar:
        if workers == 1:
            _start_worker(model_cfg, solve)
            for task in tasks:
                results.append(_solve_chunk(task))
                bar.update(results[-1][0])
        else:
            pool = multiprocessing.get_context("spawn").Pool(
                workers, initializer=_start_worker, initargs=(model_cfg, solve)
            )
            try:
                for result in pool.imap_unordered(_solve_chunk, tasks):
                    results.append(result)
                    bar.update(result[0])
                pool.close()  # workers exit on their own: terminating them makes PETSc print a trace
            except BaseException:
                pool.terminate()
                raise
            finally:
                pool.join()
    return [r[1] for r in results], sum(r[2] for r in results), workers


def _start_worker(model_cfg: dict, solve: Callable) -> None:
    _worker["model"], _worker["solve"] = instantiate(model_cfg), solve


def _solve_chunk(task: tuple[int, np.ndarray, ChunkPlan]) -> tuple[int, object, float]:
    index, x, plan = task
    cpu_start = time.process_time()
    try:
        y, stats = _worker["solve"](_worker["model"], x)
    except RuntimeError as exc:
        raise RuntimeError(f"chunk {index} (samples {plan.bounds(index)}): {exc}") from exc
    plan.write(index, x, np.asarray(y, dtype=np.float64))
    return len(x), stats, time.process_time() - cpu_start
