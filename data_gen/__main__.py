"""``python -m data_gen problem=NAME [key=value ...]``: write one paired dataset (docs/design.md §3).

Generic: the problem's config names its generator under ``problem.generate`` (a ``_target_`` called with
the whole config), so a new problem is one yaml in ``data_gen/conf/problem/`` plus its generator function.
These yamls are the one definition of every dataset: ``diffinv.train`` makes its data from them too
(:mod:`data_gen.build`). The run record (``.hydra/``, ``data_gen.log``) goes where the trainer's goes,
``<paths.log_dir>/data_gen/runs/<date>`` (docs/usage.md §4).
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from diffinv.run.console import quiet_console
from diffinv.run.errors import exits_on_bad_input
from diffinv.run.resolvers import register_resolvers

register_resolvers()
log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
@exits_on_bad_input
def main(cfg: DictConfig) -> None:
    quiet_console()
    if "generate" not in cfg.problem:
        raise ValueError(f"problem={cfg.problem.get('name')}: its config has no 'problem.generate' target")
    if not 0 <= cfg.shard < cfg.num_shards:
        raise ValueError(f"shard={cfg.shard} num_shards={cfg.num_shards}: need 0 <= shard < num_shards")
    hydra.utils.call(cfg.problem.generate, cfg)
    out = Path(cfg.out).resolve()
    if out.is_file():  # a shard of a sharded generator may leave the merge to another
        log.info("dataset written: %s", out)
        print(f"results: {out}")


if __name__ == "__main__":
    main()
