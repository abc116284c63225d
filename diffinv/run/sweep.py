"""The end of a multirun (``-m``): the command that reports it (docs/usage.md §2).

Registered for every entry point in ``conf/hydra/default.yaml`` (``hydra.callbacks``). A sweep whose runs
wrote ``metrics.json`` (``diffinv.train``, ``diffinv.evaluate``) ends with its directory and the exact
``python -m diffinv.report <sweep dir>`` line; a sweep of ``diffinv.infer`` has nothing to report.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class ReportCommand(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep = Path(config.hydra.sweep.dir).resolve()
        if any(sweep.glob("*/metrics.json")):
            print(f"results: {sweep}\nreport: python -m diffinv.report {shlex.quote(str(sweep))}")
