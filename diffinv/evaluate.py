"""``python -m diffinv.evaluate ckpt=PATH [sampler=...] [evaluation.n_samples=...] [evaluator.n_test=...]``:
sample and score again from a checkpoint (docs/design.md §3), e.g. with another sampler, into a new run
directory.

The checkpoint is read by :func:`diffinv.training.checkpoint.load_model`. The run's resolved config travels
inside it; ``sampler``, ``evaluation.*`` and ``evaluator.*`` keys given here (not null) replace the run's.
``resume=DIR`` continues a killed evaluation in ``DIR`` (:mod:`diffinv.run.resume`). ``data_file=FILE`` scores
on another file of the same training pairs (its training statistics are checked against the model's), e.g.
the same states under another mask law (docs/usage.md §19).
"""

from __future__ import annotations

from pathlib import Path

import hydra
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from diffinv.data.source import ensure_dataset
from diffinv.problems.evaluator import announce, run_evaluator
from diffinv.run.console import quiet_console
from diffinv.run.errors import exits_on_bad_input
from diffinv.run.files import write_json
from diffinv.run.interrupts import exits_on_interrupt
from diffinv.run.resolvers import register_resolvers
from diffinv.run.resume import completed_metrics, discarded_on_failure, start_run_dir
from diffinv.training.checkpoint import load_model

register_resolvers()


def given(node: DictConfig) -> dict:
    return {k: v for k, v in node.items() if v is not None}


def evaluate(cfg: DictConfig) -> dict:
    overrides = {
        "evaluation": given(cfg.evaluation),
        "problem": {"evaluator": given(cfg.evaluator)} | given({"data_file": cfg.data_file}),
        "torch_threads": cfg.torch_threads,
    }
    out = Path(cfg.paths.output_dir)
    with discarded_on_failure(out, cfg.resume):  # everything checked before the run directory is written to
        model = load_model(cfg.ckpt, sampler=cfg.sampler, overrides=overrides)
        run_cfg = model.config
        run_cfg.paths.output_dir = cfg.paths.output_dir
        torch.set_num_threads(run_cfg.torch_threads)
        datamodule = instantiate(run_cfg.data, path=str(ensure_dataset(run_cfg)))
        datamodule.setup("test")
        model.check_data(datamodule)
    trailer = f"# evaluated from checkpoint: {cfg.ckpt}\n"
    if start_run_dir(cfg.resume, out, run_cfg, trailer) and (done := completed_metrics(out)) is not None:
        announce(run_cfg, done, out)
        return done

    metrics = run_evaluator(run_cfg, model.module, datamodule, out)
    metrics["train/steps"] = float(model.global_step)
    write_json(out / "metrics.json", metrics)
    announce(run_cfg, metrics, out)
    return metrics


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
@exits_on_bad_input
@exits_on_interrupt("diffinv.evaluate")
def main(cfg: DictConfig) -> None:
    quiet_console()
    evaluate(cfg)


if __name__ == "__main__":
    main()
