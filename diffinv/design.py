"""``python -m diffinv.design ckpt=PATH k=10``: where to put the sensors (docs/usage.md §19, math.md §20).

Chooses ``k`` of the candidate sensors one at a time by the expected information gain (or, with
``criterion=variance``, the expected variance reduction), estimated from the model's own posteriors under
prior-predictive readings (:class:`diffinv.problems.design.LayoutScorer`), with its Monte-Carlo error.
Writes ``design.json`` (the ranked sensors, counted from 1, with the gain after each and its standard
error; on a linear–Gaussian data file also the closed forms), ``design.csv`` and ``figures/design.png``.
Each finished step is kept in ``design.json``; ``resume=DIR`` continues an interrupted design.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from diffinv.core.design import Step, greedy
from diffinv.data.source import ensure_dataset
from diffinv.problems import design
from diffinv.run.console import quiet_console
from diffinv.run.errors import ConfigError, exits_on_bad_input
from diffinv.run.files import write_json, write_text
from diffinv.run.interrupts import exits_on_interrupt
from diffinv.run.resolvers import register_resolvers
from diffinv.run.resume import discarded_on_failure, start_run_dir
from diffinv.training.checkpoint import load_model

register_resolvers()
log = logging.getLogger("diffinv")


def sensor_indices(key: str, values, m: int) -> list[int]:
    """Sensors given counted from 1 as 0-based indices; a bad one names ``key``."""
    values = [] if values is None else list(values)
    bad = [v for v in values if not (isinstance(v, int) and 1 <= v <= m)]
    if bad or len(set(values)) != len(values):
        raise ConfigError(f"{key}={values}: distinct sensor numbers from 1 to {m}")
    return [v - 1 for v in values]


def without_batch_lines(record: logging.LogRecord) -> bool:
    """A design samples hundreds of small batches, one layout each: its step lines are its progress."""
    return not record.getMessage().startswith("sampling (")


def run_design(cfg: DictConfig) -> dict:
    torch.set_num_threads(cfg.torch_threads)
    log.addFilter(without_batch_lines)
    out = Path(cfg.paths.output_dir)
    with discarded_on_failure(out, cfg.resume):  # everything checked before the run directory is written to
        model = load_model(cfg.ckpt, sampler=OmegaConf.select(cfg, "sampler"))
        datamodule = instantiate(model.config.data, path=str(ensure_dataset(model.config)))
        datamodule.setup("test")
        model.check_data(datamodule)
        level = model.readings_noise(cfg.noise, cfg.noise_std)
        settings = design.DesignSettings(
            criterion=cfg.criterion,
            n_draws=cfg.n_draws,
            n_samples=cfg.n_samples,
            rank_tol=cfg.rank_tol,
            informed_tol=cfg.informed_tol,
            seed=cfg.seed,
            chunk_size=cfg.chunk_size,
        )
        scorer = design.LayoutScorer(model, datamodule, level, settings)
        m = scorer.num_sensors
        candidates = sensor_indices("candidates", cfg.candidates, m) if cfg.candidates else list(range(m))
        fixed = sensor_indices("fixed", cfg.fixed, m)
        if not 1 <= cfg.k <= len(set(candidates) - set(fixed)):
            raise ConfigError(
                f"k={cfg.k}: between 1 and the {len(set(candidates) - set(fixed))} free candidates"
            )
    resuming = start_run_dir(cfg.resume, out, cfg)
    record_path = out / "design.json"
    done = []
    if resuming and record_path.is_file():
        done = [
            Step(r["sensor"] - 1, r["gain"], r["error"], np.inf if r["margin"] is None else r["margin"])
            for r in json.loads(record_path.read_text())["ranked"]
        ]
        log.info("resume: %d of %d steps done", len(done), cfg.k)
    sensors = datamodule.dataset.attrs.get("sensor_coords")
    sensors = None if sensors is None else np.asarray(sensors)
    header = {
        "ckpt": str(Path(cfg.ckpt).resolve()),
        "model": model.label,
        "num_sensors": m,
        "candidates": [c + 1 for c in candidates],
        "fixed": [f + 1 for f in fixed],
    }
    start, taken = time.perf_counter(), []

    def keep(step: Step) -> None:
        taken.append(step)
        steps = done + taken
        write_json(record_path, header | design.design_record(steps, scorer, sensors))
        log.info(
            "design: step %d/%d: sensor %d, gain %.4g ± %.2g (%.1f s.e. ahead of the next best), %.0f s",
            len(steps),
            cfg.k,
            step.sensor + 1,
            step.gain,
            step.error,
            step.margin,
            time.perf_counter() - start,
        )

    steps = greedy(scorer, candidates, cfg.k, fixed, done=done, on_step=keep)
    record = header | design.design_record(steps, scorer, sensors)
    record["design_s"] = time.perf_counter() - start
    record["layouts_scored"] = scorer.calls
    check = None
    if (known := design.linear_gaussian(datamodule)) is not None:
        rng = np.random.default_rng(cfg.seed + 1)
        check = design.exact_check(scorer, steps, fixed, candidates, *known, cfg.check_layouts, rng)
        record["exact"] = check
    write_json(record_path, record)
    rows = [
        "rank,sensor,"
        + ",".join(f"coord{i}" for i in range(0 if sensors is None else sensors.shape[1]))
        + ",gain,error"
    ]
    for r in record["ranked"]:
        rows.append(
            ",".join(str(v) for v in [r["rank"], r["sensor"], *(r["coords"] or []), r["gain"], r["error"]])
        )
    write_text(out / "design.csv", "\n".join(rows) + "\n")
    title = (
        f"{model.label}\n{cfg.criterion}, noise {100 * level:.3g} %, "
        f"{cfg.n_draws} readings x {cfg.n_samples} samples"
    )
    design.plot_design(record, sensors, fixed, out / "figures" / "design.png", title, check)
    print(summary_table(record))
    print(f"results: {out.resolve()} (design.json, design.csv, figures/design.png)")
    return record


def summary_table(record: dict) -> str:
    exact = record.get("exact")
    lines = ["rank  sensor        gain   ± s.e." + ("   exact gain" if exact else "")]
    for i, r in enumerate(record["ranked"]):
        line = f"{r['rank']:>4}  {r['sensor']:>6}  {r['gain']:>10.4g}  {r['error']:>7.2g}"
        if exact:
            line += f"  {exact['greedy_exact_gains'][i]:>11.4g}"
        lines.append(line)
    if exact:
        lines.append(
            f"exact greedy layout: sensors {exact['exact_greedy_sensors']}, "
            f"gain {exact['exact_greedy_gains'][-1]:.4g};"
            f" the chosen layout's exact gain is {exact['greedy_ratio']:.4f} of it"
        )
        if exact["random_layouts"]:
            lines.append(
                f"random layouts: largest |estimate / exact - 1| = {exact['random_max_relative_error']:.4f}"
            )
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path="../conf", config_name="design")
@exits_on_bad_input
@exits_on_interrupt("diffinv.design")
def main(cfg: DictConfig) -> None:
    quiet_console()
    run_design(cfg)


if __name__ == "__main__":
    main()
