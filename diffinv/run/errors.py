"""Command-line entry points report a user's mistake as one line, not a traceback (docs/usage.md §10).

Every error this package raises for bad input is a ``ValueError`` naming the file, key or value
(:class:`ConfigError`, :class:`diffinv.data.schema.DatasetError`, ``MeasurementError`` …) or a
``FileNotFoundError``; :func:`exits_on_bad_input` prints it to stderr (and into the run's log file) and
exits with status 2. ``DIFFINV_TRACEBACK=1`` re-raises instead, for debugging.
"""

from __future__ import annotations

import functools
import logging
import os
import sys

from diffinv.run.console import tell

BAD_INPUT = (ValueError, FileNotFoundError)
EXIT_BAD_INPUT = 2


class ConfigError(ValueError):
    """An invalid config value or combination; the message names the key."""


def exits_on_bad_input(task):
    """Wrap a Hydra task function: bad input → ``error: <message>`` on stderr, exit status 2."""

    @functools.wraps(task)
    def wrapper(*args, **kwargs):
        try:
            return task(*args, **kwargs)
        except Exception as raised:
            exc = bad_input(raised)
            if exc is None or os.environ.get("DIFFINV_TRACEBACK"):
                raise
            tell(f"error: {exc}", logging.ERROR)  # the run's log file keeps the reason too
            sys.exit(EXIT_BAD_INPUT)

    return wrapper


def bad_input(exc: BaseException) -> BaseException | None:
    """``exc`` or the first of its causes that is bad input (``instantiate`` wraps them); else None."""
    while exc is not None:
        if isinstance(exc, BAD_INPUT):
            return exc
        exc = exc.__cause__
    return None
