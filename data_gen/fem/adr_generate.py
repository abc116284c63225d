"""Parallel, sharded, resumable generator for the nonlinear problem ``adr`` (docs/problems.md §4).

The fluxes are drawn up front from the seed (cheap), cut into chunks of ``chunk_size`` samples
(:mod:`data_gen.fem.chunks`), and the chunks of this shard that are not on disk yet are solved by
``workers`` spawned processes (:mod:`data_gen.parallel`), each holding one mesh, one compiled form and one
linear predictor (:class:`data_gen.fem.adr.NonlinearADR`). Each chunk is saved atomically by the worker
that solved it, so a killed run loses at most the chunks in flight. When every chunk of every shard is on
disk, the run that notices merges them into ``out`` through :func:`diffinv.data.schema.write_dataset`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import numpy as np
from omegaconf import DictConfig, OmegaConf

from data_gen.fem.chunks import ChunkPlan
from data_gen.fem.draws import draw_inputs, file_attrs
from data_gen.parallel import merged, plan_shard, solve_chunks
from diffinv.data.schema import Split, write_dataset
from diffinv.problems.flux.geometry import parse_resolution

log = logging.getLogger(__name__)


def generate(cfg: DictConfig) -> None:
    """Solve this shard's missing chunks, then merge into ``cfg.out`` if all shards are complete."""
    draws = draw_inputs(cfg.problem, cfg.seed)
    q = np.concatenate([draws["train"][0], draws["test"][0]])
    plan, todo = plan_shard(cfg, q)
    if todo:
        _solve_chunks(cfg, plan, q, todo)
    y = merged(plan, q)
    if y is None:
        return
    n_train = len(draws["train"][0])
    splits = {
        "train": Split(x=q[:n_train], y_clean=y[:n_train], mask=draws["train"][1]),
        "test": Split(x=q[n_train:], y_clean=y[n_train:], mask=draws["test"][1]),
    }
    nx, ny = parse_resolution(cfg.problem.mesh)
    path = write_dataset(cfg.out, splits, file_attrs(cfg, f"{nx}x{ny}"))
    log.info("merged %d chunks -> %s", plan.num_chunks, path)


def _solve_chunks(cfg: DictConfig, plan: ChunkPlan, q: np.ndarray, todo: list[int]) -> None:
    solver_cfg = OmegaConf.to_container(cfg.problem.solver, resolve=True)
    start = time.perf_counter()
    stats, cpu_seconds, workers = solve_chunks(
        plan, q, todo, solver_cfg, _solve_readings, cfg.workers, cfg.problem.name
    )
    elapsed = time.perf_counter() - start
    attempts = sum((chunk_attempts for chunk_attempts, _ in stats), Counter())
    most_iterations = max(iterations for _, iterations in stats)
    n = sum(attempts.values())
    log.info(
        "solved %d samples in %.1f s (%.2f samples/s, %d workers; %.4f CPU s per sample); Newton converged "
        "on attempt 0 (predictor) %d, 1 (damped) %d, 2 (from prior-mean solution) %d; at most %d iterations",
        n, elapsed, n / elapsed, workers, cpu_seconds / n,
        attempts[0], attempts[1], attempts[2], most_iterations,
    )  # fmt: skip


def _solve_readings(solver, q: np.ndarray) -> tuple[np.ndarray, tuple[Counter, int]]:
    """The sensor readings of the fluxes ``q`` (n, 30), one Newton solve each (:mod:`data_gen.parallel`);
    the stats are the attempts that converged and the most Newton iterations."""
    readings, attempts, most_iterations = [], Counter(), 0
    for k, qk in enumerate(q):
        try:
            c, report = solver.solve(qk)
        except RuntimeError as exc:
            raise RuntimeError(f"sample {k} of the chunk: {exc}") from exc
        readings.append(solver.disc.sensors @ c)
        attempts[report.attempt] += 1
        most_iterations = max(most_iterations, report.iterations)
    return np.array(readings), (attempts, most_iterations)
