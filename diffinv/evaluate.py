"""``python -m diffinv.evaluate ckpt=PATH [sampler=...] [evaluation.n_samples=...]``: sample and score again
from a checkpoint (docs/design.md §3), e.g. with another sampler, into a new run directory.

The checkpoint is read with ``torch.load(weights_only=True)``: tensors and plain containers only. The run's
resolved config travels inside it (``checkpoint["diffinv"]``); ``sampler`` and ``evaluation`` keys given
here replace the run's. ``resume=DIR`` continues a killed evaluation in ``DIR`` (:mod:`diffinv.run.resume`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from diffinv.run.console import quiet_console
from diffinv.run.errors import ConfigError, exits_on_bad_input
from diffinv.run.files import write_json
from diffinv.run.resume import completed_metrics, start_run_dir
from diffinv.run.validation import validate
from diffinv.train import build_module, ensure_dataset, sample_and_score
from diffinv.training.module import read_checkpoint

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict:
    checkpoint = read_checkpoint(cfg.ckpt)
    run_cfg = OmegaConf.create(checkpoint["diffinv"]["config"])
    run_cfg.sampler = cfg.sampler
    given = {k: v for k, v in cfg.evaluation.items() if v is not None}
    run_cfg.evaluation = OmegaConf.merge(run_cfg.evaluation, given)
    run_cfg.torch_threads = cfg.torch_threads
    run_cfg.paths.output_dir = cfg.paths.output_dir
    validate(run_cfg)
    torch.set_num_threads(run_cfg.torch_threads)
    out = Path(cfg.paths.output_dir)
    trailer = f"# evaluated from checkpoint: {cfg.ckpt}\n"
    if start_run_dir(cfg.resume, out, run_cfg, trailer) and (done := completed_metrics(out)) is not None:
        return done

    datamodule = instantiate(run_cfg.data, path=str(ensure_dataset(run_cfg)))
    datamodule.setup("test")
    data = datamodule.dataset
    trained_on = checkpoint["diffinv"]["normalisation"]
    module = build_module(run_cfg)
    net = module.network
    for key, data_dim, net_dim in (("x", data.x_dim, net.x_dim), ("y", data.y_dim, net.y_dim)):
        if data_dim != net_dim:
            raise ConfigError(
                f"data: {data.path} has {key} of dimension {data_dim}; the network of {cfg.ckpt} "
                f"takes {net_dim}"
            )
    for key in ("x", "y"):
        now = getattr(datamodule, f"{key}_norm").state()
        if not all(np.allclose(now[k], trained_on[key][k]) for k in now):
            raise ConfigError(
                f"data: the dataset's {key} statistics differ from those the model was trained on"
            )
    module.load_state_dict(checkpoint["state_dict"])
    metrics = sample_and_score(run_cfg, module, datamodule, out)
    metrics["train/steps"] = float(checkpoint["global_step"])
    write_json(out / "metrics.json", metrics)
    print(f"results: {out.resolve()}")
    return metrics


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
@exits_on_bad_input
def main(cfg: DictConfig) -> None:
    quiet_console()
    evaluate(cfg)


if __name__ == "__main__":
    main()
