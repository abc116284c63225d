"""``python -m diffinv.infer ckpt=PATH measurement=FILE``: posterior samples for your own measurements
(docs/usage.md §6)::

    python -m diffinv.infer ckpt=outputs/train/runs/<date>/checkpoints/final.ckpt measurement=readings.csv
        [n_samples=1000] [sampler=sde] [seed=0]        (default sampler: the run's own, first one)
        [log_prob=true]                                 (also log q of every sample)

writes ``samples.h5`` (docs/design.md §6: the measurements, their masks, per sampler the posterior mean, std
and every sample, physical units; with ``log_prob=true`` also the model's log-density of each sample,
docs/math.md §17), ``figures/posterior.png`` (drawn by the problem's evaluator) and
``summary.json`` (docs/usage.md §6) into the run directory. The checkpoint and the readings are checked
before anything is written; a call that stops on bad input leaves no run directory. In Python (the same
path)::

    from diffinv import load_model, posterior_samples, read_measurement
    model = load_model("…/final.ckpt")
    x = posterior_samples(model, read_measurement("readings.csv"), n_samples=1000)   # (n, 1000, d)

A NaN reading means "this sensor is off": a many-operator model (trained with masks, docs/math.md §8)
conditions on the others; a single-operator model refuses it. Readings must carry the noise level the model
was trained for (``data.noise`` of its run); the command logs it in both units, ``noise 5 % (σ_n = 5.88)``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from diffinv.data.measurements import average_repeats, read_measurement
from diffinv.run.console import quiet_console
from diffinv.run.errors import exits_on_bad_input
from diffinv.run.files import write_json
from diffinv.run.interrupts import exits_on_interrupt
from diffinv.run.resolvers import register_resolvers
from diffinv.run.resume import completed_metrics, discarded_on_failure, start_run_dir
from diffinv.training.checkpoint import load_model
from diffinv.training.density import DensityOptions
from diffinv.training.posterior import (
    CHUNK_DIR,
    check_measurement,
    posterior_log_prob,
    posterior_samples,
    write_samples,
)

log = logging.getLogger(__name__)
register_resolvers()
N_FIGURE_MEASUREMENTS = 4  # measurements drawn in figures/posterior.png


def infer(cfg: DictConfig) -> dict:
    """The command line: check, read, sample, write ``samples.h5``, ``figures/posterior.png``,
    ``summary.json``."""
    torch.set_num_threads(cfg.torch_threads)
    out = Path(cfg.paths.output_dir)
    with discarded_on_failure(out, cfg.resume):  # everything checked before the run directory is written to
        model = load_model(cfg.ckpt, sampler=OmegaConf.select(cfg, "sampler"))
        options = DensityOptions(**cfg.density)  # checked before anything is written
        readings = read_measurement(cfg.measurement, cfg.measurement_key)
        level = model.readings_noise(cfg.noise, cfg.noise_std)  # an amortized model's input (math §19)
        if cfg.repeats != 1:  # r readings of each state: their mean at the level / √r (math §19.2)
            readings = average_repeats(readings, cfg.repeats)
            level = model.readings_noise(level / np.sqrt(cfg.repeats))
        y, mask = check_measurement(model, readings, source=f"measurement: {cfg.measurement}")
    if start_run_dir(cfg.resume, out, cfg) and (done := completed_metrics(out, "summary.json")) is not None:
        return done
    if model.noise_range is None:
        log.info(
            "model: %s, trained on readings with %s: yours should carry the same",
            model.label,
            model.noise_label,
        )
    else:
        log.info(
            "model: %s, trained over %s; your readings: noise %.3g %%",
            model.label,
            model.noise_label,
            100 * level,
        )
    sampler_name = next(iter(model.module.samplers))
    chunks = out / CHUNK_DIR / sampler_name
    x = posterior_samples(model, y, cfg.n_samples, cfg.seed, cfg.chunk_size, chunk_dir=chunks, noise=level)
    attrs = {"ckpt": model.source, "problem": model.config.problem.name}
    sigma = model.noise_std if model.noise_range is None else level * model.noise_unit
    attrs |= {"noise": level, "noise_std": sigma}
    log_q = None
    if cfg.log_prob:
        log_q = {sampler_name: posterior_log_prob(model, x, y, options, noise=level)}
    write_samples(out, y, {sampler_name: x}, np.arange(len(y)), mask, attrs=attrs, log_q=log_q)
    title = f"{model.label}\nposterior given {Path(cfg.measurement).name}; trained for {model.noise_label}"
    shown = slice(0, N_FIGURE_MEASUREMENTS)
    evaluator = instantiate(model.config.problem.evaluator)
    evaluator.posterior_figure(
        x[shown], out / "figures" / "posterior.png", title, mask=None if mask is None else mask[shown]
    )
    summary = {
        "ckpt": str(Path(model.source).resolve()),
        "problem": model.config.problem.name,
        "measurement": str(Path(cfg.measurement).resolve()),
        "n_measurements": len(y),
        "n_samples": cfg.n_samples,
        "sampler": sampler_name,
        "trained_noise": OmegaConf.to_container(model.config.data).get("noise"),  # a number or a range
        "trained_noise_std": model.noise_std,
        "readings_noise": level,
        "repeats": cfg.repeats,
        "log_prob": bool(cfg.log_prob),
    }
    write_json(out / "summary.json", summary)
    print(f"results: {out.resolve()} (samples.h5, figures/posterior.png, summary.json)")
    return summary


@hydra.main(version_base="1.3", config_path="../conf", config_name="infer")
@exits_on_bad_input
@exits_on_interrupt("diffinv.infer")
def main(cfg: DictConfig) -> None:
    quiet_console()
    infer(cfg)


if __name__ == "__main__":
    main()
