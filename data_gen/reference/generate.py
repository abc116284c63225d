"""``python -m data_gen.reference``: MCMC reference posteriors of a dataset's first test cases
(docs/math.md §18).

For each case: the run's noisy test readings and σ_n (:mod:`diffinv.data.noise`, exactly as a training run
with ``data.noise`` and ``seed`` scores them), the MAP and Laplace covariance (:mod:`.laplace`), gpCN chains
until R̂/ESS are met (:mod:`.gpcn`), thinned samples saved as the case's own file (:mod:`.cases`). The cases
of this shard run in ``workers`` spawned processes, each building the forward model once. When every case is
on disk the run that notices merges them into ``out`` (:func:`diffinv.data.reference.write_reference`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from data_gen.fem.chunks import fingerprint
from data_gen.reference.cases import CaseStore
from data_gen.reference.forward import LinearForward
from data_gen.reference.gpcn import ChainSettings, diagnostics, run_chains, thin
from data_gen.reference.laplace import laplace
from data_gen.reference.posterior import LatentPosterior
from diffinv.data.noise import noise_std, noisy_test_readings
from diffinv.data.reference import ARRAYS, file_sha256, write_reference
from diffinv.data.schema import Dataset, read_dataset

FORWARDS = ("solver", "data_file")
log = logging.getLogger(__name__)

_worker: dict = {}  # per process: the forward model and the case inputs, built once by _start_worker


def generate(cfg: DictConfig) -> None:
    """Sample this shard's missing cases, then merge into ``cfg.out`` once every case is on disk."""
    dataset = read_dataset(cfg.data_file)
    _check_matches(cfg, dataset)
    digest = file_sha256(cfg.data_file)
    std = noise_std(dataset.train.y_clean, cfg.noise)
    cases = range(int(cfg.n_cases))
    out = Path(cfg.out)
    store = CaseStore(out.parent / f"{out.name}.parts", _fingerprint(cfg, digest))
    mine = [case for case in cases if case % int(cfg.num_shards) == int(cfg.shard)]
    todo = [case for case in mine if not store.is_done(case)]
    log.info(
        "%s noise %g (σ_n = %.4g): shard %d/%d has %d cases, %d done, %d to sample",
        dataset.attrs["problem"], cfg.noise, std, cfg.shard, cfg.num_shards, len(mine), len(mine) - len(todo),
        len(todo),
    )  # fmt: skip
    if todo:
        _sample_cases(cfg, store, todo)
    missing = store.missing(cases)
    if missing:
        log.info("%d cases of other shards still missing; the last shard to finish merges", len(missing))
        return
    arrays = _merge(store, cases)
    attrs = {
        "problem": dataset.attrs["problem"],
        "noise": float(cfg.noise),
        "noise_std": std,
        "data_seed": int(cfg.data_seed),
        "data_file": str(cfg.data_file),
        "data_sha256": digest,
        "mesh": str(cfg.problem.mesh) if cfg.forward == "solver" else "",
        "forward": str(cfg.forward),
        "sampler": OmegaConf.to_yaml(cfg.sampler, resolve=True),
        "config": OmegaConf.to_yaml(cfg, resolve=True),
    }
    log.info("merged %d cases -> %s", len(cases), write_reference(out, arrays, attrs))
    unconverged = [int(c) for c, ok in zip(arrays["case_index"], arrays["converged"], strict=True) if not ok]
    if unconverged:
        log.warning("cases %s did not meet R̂/ESS within sampler.max_steps (see 'converged')", unconverged)


def _check_matches(cfg: DictConfig, dataset: Dataset) -> None:
    """The config and the data file describe the same problem, mesh and case count."""
    if cfg.forward not in FORWARDS:
        raise ValueError(f"forward={cfg.forward!r}: choose one of {FORWARDS}")
    if dataset.attrs.get("problem") != cfg.problem.name:
        raise ValueError(f"data_file={cfg.data_file}: holds problem {dataset.attrs.get('problem')!r}, "
                         f"not problem={cfg.problem.name}")  # fmt: skip
    if cfg.forward == "solver" and dataset.attrs.get("mesh") != cfg.problem.mesh:
        raise ValueError(f"data_file={cfg.data_file}: made on mesh {dataset.attrs.get('mesh')}, "
                         f"the forward model would use problem.mesh={cfg.problem.mesh}")  # fmt: skip
    if not 1 <= cfg.n_cases <= len(dataset.test):
        raise ValueError(
            f"n_cases={cfg.n_cases}: need 1 … {len(dataset.test)} (the test cases of {cfg.data_file})"
        )
    if not cfg.noise > 0:
        raise ValueError(f"noise={cfg.noise}: a reference posterior needs noisy readings (noise > 0)")


def _fingerprint(cfg: DictConfig, digest: str) -> str:
    solver = OmegaConf.to_yaml(cfg.problem.solver, resolve=True) if cfg.forward == "solver" else "forward_map"
    sampler = OmegaConf.to_yaml(cfg.sampler, resolve=True)
    return fingerprint(digest, str(float(cfg.noise)), str(cfg.data_seed), solver, sampler)


def _sample_cases(cfg: DictConfig, store: CaseStore, todo: list[int]) -> None:
    workers = int(cfg.workers) if cfg.workers is not None else len(os.sched_getaffinity(0))
    if workers < 1:
        raise ValueError(f"workers={workers}: need at least one worker process")
    setup = {
        "data_file": str(cfg.data_file),
        "forward": str(cfg.forward),
        "solver": OmegaConf.to_container(cfg.problem.solver, resolve=True),
        "noise": float(cfg.noise),
        "data_seed": int(cfg.data_seed),
        "sampler": OmegaConf.to_container(cfg.sampler, resolve=True),
    }
    tasks = [(case, store) for case in todo]
    if workers == 1:
        _start_worker(setup)
        results = map(_sample_and_save, tasks)
        _log_all(results)
        return
    pool = multiprocessing.get_context("spawn").Pool(min(workers, len(todo)), _start_worker, (setup,))
    try:
        _log_all(pool.imap_unordered(_sample_and_save, tasks))
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def _log_all(results) -> None:
    for case, arrays in results:
        log.info(
            "case %d: %s after %d steps, %d forward solves, %.1f s (%.1f CPU s); acceptance %.2f, "
            "max R̂ %.4f, min ESS %.0f",
            case, "converged" if arrays["converged"] else "NOT converged", arrays["steps"],
            arrays["forward_solves"], arrays["wall_s"], arrays["cpu_s"], arrays["acceptance"],
            arrays["rhat"].max(), arrays["ess_bulk"].min(),
        )  # fmt: skip


def _start_worker(setup: dict) -> None:
    dataset = read_dataset(setup["data_file"])
    std = noise_std(dataset.train.y_clean, setup["noise"])
    if setup["forward"] == "data_file":
        forward = LinearForward(dataset.attrs["forward_map"])
    else:
        forward = instantiate(setup["solver"])
        if not hasattr(forward, "readings_and_jacobian"):
            raise ValueError(
                f"problem.solver={setup['solver']['_target_']} has no readings_and_jacobian: use "
                "forward=data_file (a linear problem's stored forward map)"
            )
    _worker.update(
        forward=forward,
        dataset=dataset,
        noise_std=std,
        y=noisy_test_readings(dataset, std, setup["data_seed"]),
        settings=ChainSettings.from_config(setup["sampler"]),
        seed=int(setup["sampler"]["seed"]),
    )


def _sample_and_save(task: tuple[int, CaseStore]) -> tuple[int, dict]:
    case, store = task
    w = _worker
    test = w["dataset"].test
    mask = None if test.mask is None else test.mask[case]
    arrays = sample_case(
        w["forward"], w["dataset"].attrs, w["y"][case], mask, w["noise_std"], w["settings"],
        np.random.default_rng([w["seed"], case]),
    )  # fmt: skip
    arrays |= {
        "truth": test.x[case],
        "y": w["y"][case],
        "mask": np.ones(len(w["y"][case]), bool) if mask is None else mask,
    }
    store.write(case, arrays)
    return case, arrays


def sample_case(forward, attrs: dict, y, mask, std: float, settings: ChainSettings, rng) -> dict:
    """One case's reference posterior: MAP, Laplace, gpCN chains, diagnostics, thinned physical samples."""
    start, cpu_start = time.perf_counter(), time.process_time()
    posterior = LatentPosterior(
        forward, attrs["prior_mean"], attrs["prior_cov"], y, std, bool(attrs["clip"]), mask
    )
    approx = laplace(posterior)
    chains = run_chains(posterior.log_prob, approx.mean, approx.cov, settings, rng, monitor=posterior.latent)
    physical = posterior.physical(chains.draws)
    rhat_physical, ess_physical = diagnostics(physical)
    return {
        "samples": posterior.physical(thin(chains.draws, settings.n_keep)).astype(np.float32),
        "map": posterior.physical(approx.mean),
        "rhat": chains.rhat,
        "ess_bulk": chains.ess,
        "rhat_physical": rhat_physical,
        "ess_bulk_physical": ess_physical,
        "converged": chains.converged,
        "steps": chains.steps,
        "forward_solves": posterior.solves,
        "acceptance": chains.acceptance,
        "wall_s": time.perf_counter() - start,
        "cpu_s": time.process_time() - cpu_start,
    }


def _merge(store: CaseStore, cases: range) -> dict:
    per_case = [store.load(case) for case in cases]
    return {name: np.stack([np.asarray(arrays[name]) for arrays in per_case]) for name in ARRAYS}
