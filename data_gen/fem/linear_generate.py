"""Dataset generator for the linear problems ``advdiff`` and ``advdiff_multiop`` (docs/problems.md §2–3).

``method=superposition`` (default): one factorisation, 30 unit-flux solves, ``y_clean = A q`` for every
sample. ``method=direct``: one full solve per sample (slow; for verification and timing). Either way the
file stores ``forward_map`` = ``A``, ``prior_mean`` and ``prior_cov`` for the exact linear–Gaussian
posterior (docs/math.md §9).
"""

from __future__ import annotations

import logging
import time

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig

from data_gen.fem.draws import draw_inputs, file_attrs
from diffinv.data.schema import Split, write_dataset
from diffinv.run.console import progress

METHODS = ("superposition", "direct")
log = logging.getLogger(__name__)


def generate(cfg: DictConfig) -> None:
    """Write ``cfg.out`` for a linear flux problem (called by ``python -m data_gen``)."""
    if cfg.method not in METHODS:
        raise ValueError(f"method={cfg.method!r}: choose one of {METHODS}")
    if cfg.num_shards != 1:
        raise ValueError(f"num_shards={cfg.num_shards}: problem={cfg.problem.name} is generated in one piece")
    start = time.perf_counter()
    solver = instantiate(cfg.problem.solver)
    draws = draw_inputs(cfg.problem, cfg.seed)
    built = time.perf_counter()
    forward_map = solver.forward_map()
    mapped = time.perf_counter()
    splits = {}
    for name, (q, mask) in draws.items():
        if cfg.method == "superposition":
            y_clean = q @ forward_map.T
        else:
            y_clean = np.array(
                [solver.readings(qi)[0] for qi in progress(q, desc=f"{name} (direct)", unit="samples")]
            )
        splits[name] = Split(x=q, y_clean=y_clean, mask=mask)
    solved = time.perf_counter()
    attrs = file_attrs(cfg, solver.disc.mesh_label) | {"forward_map": forward_map}
    path = write_dataset(cfg.out, splits, attrs)
    log.info(
        "%s: %d + %d pairs at %s -> %s | mesh+forms %.2f s, forward map %.2f s, %s %.2f s, total %.2f s",
        cfg.problem.name,
        len(splits["train"]),
        len(splits["test"]),
        solver.disc.mesh_label,
        path,
        built - start,
        mapped - built,
        cfg.method,
        solved - mapped,
        time.perf_counter() - start,
    )
