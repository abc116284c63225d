"""A quiet console: what third-party libraries print that is not about this run, filtered in one place.

Every entry point (``diffinv.train``, ``diffinv.evaluate``, ``diffinv.infer``, ``python -m data_gen``) calls
:func:`quiet_console` first. It removes, by message or by module, exactly these and nothing else:

- Lightning's advertising (``💡 Tip: ... litlogger / litmodels``) and its hardware banner (``GPU available:
  False, used: False``, ``TPU available: ...``, ``HPU available: ...``); the accelerator is the config's
  ``trainer.accelerator``;
- deprecation notices raised inside libraries, about their own use of other libraries, that a user of
  diffinv cannot act on: torch's ``LeafSpec`` FutureWarning from ``pytorch_lightning.utilities._pytree``,
  setuptools' ``pkg_resources is deprecated`` (imported by some plugins) and ``DeprecationWarning``\\ s
  reported from inside ``pkg_resources``.

Progress bars, the run's own log lines, Lightning's other messages and warnings (e.g. about data loaders),
and every warning raised in diffinv or data_gen stay visible.
"""

from __future__ import annotations

import logging
import warnings

LIGHTNING_LOGGERS = ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero")
NOT_ABOUT_THIS_RUN = ("💡 Tip:", "GPU available:", "TPU available:", "HPU available:")


class _DropBanners(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(NOT_ABOUT_THIS_RUN)


_FILTER = _DropBanners()


def quiet_console() -> None:
    """Install the filters (idempotent)."""
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
        module=r"pytorch_lightning\.utilities\._pytree",
    )
    warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated as an API", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pkg_resources(\.|$)")
