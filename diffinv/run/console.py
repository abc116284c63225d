"""A quiet console: what third-party libraries print that is not about this run, filtered in one place.

Every entry point (``diffinv.train``, ``diffinv.evaluate``, ``diffinv.infer``, ``python -m data_gen``) calls
:func:`quiet_console` first. It removes, by message or by module, exactly these and nothing else:

- Lightning's advertising (``💡 Tip: ... litlogger / litmodels``) and its hardware banner (``GPU available:
  False, used: False``, ``TPU available: ...``, ``HPU available: ...``); the accelerator is the config's
  ``trainer.accelerator``; and its ``Loading `train_dataloader` to estimate number of stepping batches``, said
  when the learning-rate schedule asks for the run's length (docs/math.md §15.1);
- deprecation notices raised inside libraries, about their own use of other libraries, that a user of
  diffinv cannot act on: torch's ``LeafSpec`` FutureWarning from ``pytorch_lightning.utilities._pytree``,
  setuptools' ``pkg_resources is deprecated`` (imported by some plugins) and ``DeprecationWarning``\\ s
  reported from inside ``pkg_resources``.

Progress bars, the run's own log lines, Lightning's other messages and warnings (e.g. about data loaders),
and every warning raised in diffinv or data_gen stay visible.

Also here: :class:`Progress` (a tqdm bar on a terminal, plain log lines in files and pipes) and :func:`tell`
(a message on stderr that the run's log file keeps too).
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Iterator, Sequence

from tqdm import tqdm

LIGHTNING_LOGGERS = ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero")
NOT_ABOUT_THIS_RUN = (
    "💡 Tip:",
    "GPU available:",
    "TPU available:",
    "HPU available:",
    "Loading `train_dataloader` to estimate number of stepping batches",  # the lr schedule asking its length
)


class _DropBanners(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(NOT_ABOUT_THIS_RUN)


_FILTER = _DropBanners()
PLAIN_EVERY_S = 10.0  # seconds between two plain progress lines (docs/usage.md §12)
log = logging.getLogger("diffinv")


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


def tell(message: str, level: int = logging.INFO) -> None:
    """``message`` on stderr, and as a record of ``level`` in the run's log file (Hydra's file handler; the
    console handler is skipped, so the console shows it once)."""
    print(message, file=sys.stderr)
    record = log.makeRecord(log.name, level, __file__, 0, message, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def on_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """A loop's progress, fit for terminals and for files (docs/usage.md §12).

    On a terminal (``stream`` a TTY) a tqdm bar on ``stream``. Elsewhere (a file, a pipe) plain log lines,
    ``<desc>: <n>/<total> <unit>, <note> (<elapsed>, <left> left)``, at the first update, then at most every
    ``every_s`` seconds, at the last, and where the loop stopped early (an interruption): no carriage
    returns, a few lines however long the loop. ``initial``: the units already done (a resumed run).
    """

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str,
        initial: int = 0,
        every_s: float = PLAIN_EVERY_S,
        stream=None,
    ):
        stream = sys.stderr if stream is None else stream
        self.total, self.desc, self.unit, self.every_s = total, desc, unit, every_s
        self.n = self.first = self.logged = initial
        self.note = ""
        self.start = time.monotonic()
        self.last_line: float | None = None
        self.bar = (
            tqdm(total=total, desc=desc, unit=unit, initial=initial, file=stream)
            if on_terminal(stream)
            else None
        )

    def update(self, n: int = 1, note: str = "") -> None:
        self.n, self.note = self.n + n, note
        if self.bar is not None:
            if note:
                self.bar.set_postfix_str(note, refresh=False)
            self.bar.update(n)
            return
        now = time.monotonic()
        if self.last_line is None or now - self.last_line >= self.every_s or self.n >= self.total:
            self.last_line = now
            self._line(now, final=self.n >= self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.logged != self.n:  # stopped between two lines
            self._line(time.monotonic(), final=True)

    def _line(self, now: float, final: bool) -> None:
        elapsed = now - self.start
        timing = _duration(elapsed)
        if not final:
            timing += f", {_duration(elapsed / max(self.n - self.first, 1) * (self.total - self.n))} left"
        note = f", {self.note}" if self.note else ""
        log.info("%s: %d/%d %s%s (%s)", self.desc, self.n, self.total, self.unit, note, timing)
        self.logged = self.n

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(items: Sequence, desc: str, unit: str, **kwargs) -> Iterator:
    """Iterate over ``items`` with a :class:`Progress` (an item counts once the loop's body is done)."""
    with Progress(len(items), desc, unit, **kwargs) as bar:
        for item in items:
            yield item
            bar.update()


def _duration(seconds: float) -> str:
    if seconds < 100:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 100 else f"{minutes / 60:.1f} h"
