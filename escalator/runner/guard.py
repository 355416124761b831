"""The in-process step timeout: every step function runs under a SIGALRM guard.

Installed by the coordinator on the step registry before it forks workers. The alarm raises a
private BaseException so no library's `except Exception` retry loop can swallow it (dnspython
does); the wrapper turns it into `StepTimeout`, an AssertionError, because a target that does not
answer in time is broken: the scenario fails with its severity. A step stuck in C code that
ignores the alarm is killed by the coordinator a second later.

Every step passes through here, so this is also where numeric arguments written `${name}`
(escalator.steps.types) are resolved against the environment, and where a step that asks for
more time (`Session.extend`, e.g. a hundred requests) gets its alarm re-armed (`rearm`).
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable
from typing import Any

from escalator.durations import format_duration
from escalator.variables import resolve


class _Alarm(BaseException):
    pass


class StepTimeout(AssertionError):
    pass


def _on_alarm(signum: int, frame: object) -> None:
    raise _Alarm()


def with_timeout(func: Callable[..., Any], default: float) -> Callable[..., Any]:
    @functools.wraps(func)
    def guarded(context: Any, *args: Any, **kwargs: Any) -> Any:
        session = getattr(context, "escalator", None)
        limit = getattr(session, "step_timeout", default)
        if session is not None:
            session.step_deadline = session.clock() + limit  # clients budget within it
            session.step_limit = limit
            session.doing = None
            kwargs = resolve(kwargs, session.variables)
        try:
            previous = signal.getsignal(signal.SIGALRM)
            if previous is not _on_alarm:
                signal.signal(signal.SIGALRM, _on_alarm)
            signal.setitimer(signal.ITIMER_REAL, limit)
            try:
                return func(context, *args, **kwargs)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                if previous is not _on_alarm:
                    signal.signal(signal.SIGALRM, previous)
        except _Alarm:
            limit = getattr(session, "step_limit", None) or limit
            doing = getattr(session, "doing", None)
            during = f" during {doing}" if doing else ""
            raise StepTimeout(f"step timed out after {format_duration(limit)}{during}") from None

    guarded.escalator_guarded = True  # type: ignore[attr-defined]
    return guarded


def hold() -> None:
    """Keep the alarm's handler installed in this process between steps (a worker: nothing
    else in it uses SIGALRM), rather than installing and restoring it around each step: two
    system calls a step, 4 us."""
    signal.signal(signal.SIGALRM, _on_alarm)


def rearm(seconds: float) -> None:
    """Move the running step's alarm to `seconds` from now (Session.extend calls this)."""
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))


def install(registry: Any, default: float) -> None:
    """Wrap every step definition in `registry` (behave's StepRegistry) once."""
    for matchers in registry.steps.values():
        for matcher in matchers:
            if not getattr(matcher.func, "escalator_guarded", False):
                matcher.func = with_timeout(matcher.func, default)
