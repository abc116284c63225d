"""``python -m data_gen.reference problem=adr noise=0.05 n_cases=10 [num_shards=N shard=i]``: MCMC reference
posteriors (docs/math.md §18), written to ``out`` (docs/design.md §6); resumable and sharded
(data_gen/README.md).
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from data_gen.reference.generate import generate
from diffinv.run.console import quiet_console
from diffinv.run.errors import exits_on_bad_input
from diffinv.run.resolvers import register_resolvers

register_resolvers()
log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path="../conf", config_name="reference")
@exits_on_bad_input
def main(cfg: DictConfig) -> None:
    quiet_console()
    if not 0 <= cfg.shard < cfg.num_shards:
        raise ValueError(f"shard={cfg.shard} num_shards={cfg.num_shards}: need 0 <= shard < num_shards")
    generate(cfg)
    out = Path(cfg.out).resolve()
    if out.is_file():  # a shard may leave the merge to another
        log.info("reference written: %s", out)
        print(f"results: {out}")


if __name__ == "__main__":
    main()
