"""Interruptions keep the work (docs/usage.md §8): SIGINT (Ctrl-C), SIGTERM (a scheduler's stop, Slurm's
pre-emption) and SIGUSR1 (Slurm's ``--signal=USR1@<seconds>`` warning before the time limit) end a run
cleanly instead of killing it.

:func:`exits_on_interrupt` wraps an entry point. While it runs, :class:`SignalCatcher` answers these signals
by raising :class:`Interrupted` at once, except during training epochs, when
:class:`diffinv.training.interruption.StopOnSignal` defers the first signal to the end of the epoch and
saves that epoch's checkpoint (a second Ctrl-C raises at once). Raised at once, it loses the work since the
newest checkpoint or finished batch of posterior samples, which a resumed run redoes identically. The
wrapper then prints the command that continues the run, ``resume=DIR`` added (for a multirun, its sweep
directory), on stderr and into the run's log file, and exits with status 128 + the signal's number: 130 for
SIGINT, 143 for SIGTERM, 138 for SIGUSR1.
"""

from __future__ import annotations

import functools
import logging
import shlex
import signal
import sys
import threading
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from diffinv.run.console import tell

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)
# Command-line keys the printed command replaces by `resume=DIR` (which sets the run and sweep directories).
REPLACED_KEYS = ("resume", "hydra.run.dir", "hydra.sweep.dir")

log = logging.getLogger(__name__)
_active: SignalCatcher | None = None


class Interrupted(BaseException):
    """A run stopped by ``signum``. A ``BaseException``, like ``KeyboardInterrupt``: no ``except Exception``
    (Hydra's multirun keeps going after a job's ``Exception``) swallows it."""

    def __init__(self, signum: int):
        self.signum = int(signum)
        self.name = signal.Signals(self.signum).name
        super().__init__(self.name)

    @property
    def status(self) -> int:
        """The conventional exit status of a process ended by this signal: 128 + its number."""
        return 128 + self.signum


class SignalCatcher:
    """The handler of :data:`SIGNALS` while an entry point runs: raises :class:`Interrupted` at once, or,
    while ``deferring``, records the first signal in ``received``; then a second SIGINT (Ctrl-C twice)
    raises at once, while a repeated SIGTERM or SIGUSR1 is ignored (Slurm's pre-emption with no grace time
    sends SIGTERM twice in a row, and SIGKILL after ``KillWait``)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.deferring = False
        self._previous: dict[int, object] = {}

    def install(self) -> None:
        """Become the handler of :data:`SIGNALS` (again, after a library replaced it)."""
        for signum in SIGNALS:
            self._previous.setdefault(signum, signal.signal(signum, self._handle))

    def restore(self) -> None:
        """Put back the handlers found by the first :meth:`install`."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _handle(self, signum: int, frame) -> None:
        if self.deferring and self.received is None:
            self.received = signum
            log.warning(
                "%s received: stopping at the end of this epoch (Ctrl-C again to stop at once)",
                signal.Signals(signum).name,
            )
            return
        if self.deferring and signum != signal.SIGINT:  # a scheduler's repeated SIGTERM: SIGKILL will follow
            return
        raise Interrupted(signum)


def active_catcher() -> SignalCatcher | None:
    """The catcher of the running entry point (None outside :func:`exits_on_interrupt`)."""
    return _active


def exits_on_interrupt(module: str):
    """Wrap the Hydra task function of ``python -m <module>``: see the module docstring."""

    def decorate(task):
        @functools.wraps(task)
        def wrapper(*args, **kwargs):
            global _active
            if threading.current_thread() is not threading.main_thread():  # signals reach the main thread
                return task(*args, **kwargs)
            _active = catcher = SignalCatcher()
            catcher.install()
            try:
                return task(*args, **kwargs)
            except Interrupted as stop:
                tell(
                    f"interrupted by {stop.name}; continue with:\n  {resume_command(module)}", logging.WARNING
                )
                sys.exit(stop.status)
            finally:
                _active = None
                catcher.restore()

        return wrapper

    return decorate


def resume_command(module: str) -> str:
    """The command that continues this run (or this multirun's sweep): the command line that started it,
    with ``resume=<its directory>`` in place of any ``resume``, ``hydra.run.dir`` or ``hydra.sweep.dir``."""
    hydra = HydraConfig.get()
    multirun = hydra.mode == RunMode.MULTIRUN
    directory = Path(hydra.sweep.dir if multirun else hydra.runtime.output_dir).resolve()
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if main_spec is None or main_spec.name != module:  # a launcher's job process: not the user's command line
        return f"the {'sweep' if multirun else 'run'}'s command with resume={directory}"
    kept = [arg for arg in sys.argv[1:] if arg.lstrip("+~").split("=", 1)[0] not in REPLACED_KEYS]
    return shlex.join(["python", "-m", module, *kept, f"resume={directory}"])
