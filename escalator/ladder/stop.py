"""Stopping an engine cleanly: SIGTERM, SIGHUP and SIGINT become one `Stopped` exception.

`escalate` and `watch` run their work inside `handling()`. The first signal raises `Stopped` where
the engine is, so a sleep or a check ends at once and a running level is killed with its process
group (`actions.run_action`); later signals are ignored while the engine cleans up. Inside
`deferred()` (the few milliseconds in which a level's intent is written and its process spawned)
the signal is only noted: the code that owns the child raises it with `raise_pending()` once the
pid is on record, so no level can start that nobody will stop. Outside `handling()` (tests that
drive an engine in-process, `ladder` commands) nothing here changes a signal's default.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class Stopped(BaseException):
    """The engine was asked to stop; `name` is the signal's (SIGTERM, SIGHUP, SIGINT).

    A BaseException, so `except Exception` in the code it unwinds through cannot swallow it.
    """

    def __init__(self, signum: int) -> None:
        self.signum, self.name = signum, signal.Signals(signum).name
        super().__init__(self.name)
        self.engagement: object | None = None  # how the interrupted engagement ended


class _State:
    def __init__(self) -> None:
        self.active = False  # handlers installed by handling()
        self.deferring = 0
        self.pending: int | None = None  # a signal noted inside deferred()
        self.raised = False  # Stopped was raised once: the engine is cleaning up


_state = _State()


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state.raised or _state.pending is not None:
        return
    if _state.deferring:
        _state.pending = signum
        return
    _state.raised = True
    raise Stopped(signum)


@contextlib.contextmanager
def handling() -> Iterator[None]:
    """Turn the stop signals into `Stopped` for the duration; restores the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    _state.__init__()  # type: ignore[misc]
    _state.active = True
    for signum in SIGNALS:
        signal.signal(signum, _handler)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _state.active = False


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A stop signal arriving inside is noted, not raised; see `raise_pending`."""
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1


def requested() -> int | None:
    """The stop signal noted inside `deferred()`, if any."""
    return _state.pending


def raise_pending() -> None:
    """Raise the `Stopped` that was deferred, if any (outside `deferred()` only)."""
    signum = _state.pending
    if signum is not None and not _state.deferring and not _state.raised:
        _state.raised = True
        raise Stopped(signum)
