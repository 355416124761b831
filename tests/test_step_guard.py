"""The step guard and the client budget it sets: a client call gets what is left of the step
less a margin, and a step cut by its timeout names what it was waiting on."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from escalator.runner.guard import StepTimeout, with_timeout
from escalator.steps.support import Session


@pytest.mark.parametrize(("step_timeout", "budget"), [
    (10.0, 9.0),    # margin capped at 1 s
    (2.0, 1.5),     # a quarter of the step
    (0.5, 0.25),    # at least 0.25 s of margin
    (0.3, 0.2),     # and never under 0.2 s for the call itself
])
def test_budget_before_any_step_starts(step_timeout: float, budget: float) -> None:
    assert Session(step_timeout=step_timeout).client_timeout == budget


class Clock:
    """Monotonic time that moves only when a test says so."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_budget_counts_from_the_start_of_the_step() -> None:
    clock = Clock()
    seen: list[float] = []

    def step(context: Any) -> None:
        seen.append(context.escalator.client_timeout)
        clock.t += 0.5  # the first call took half a second
        seen.append(context.escalator.client_timeout)

    context = SimpleNamespace(escalator=Session(step_timeout=4.0, clock=clock))
    with_timeout(step, 10.0)(context)
    # 4 s less the 1 s margin, then what is left: not a fresh 3 s for the second call
    assert seen == [3.0, 2.5]


def _waits(what: str | None) -> Any:
    def step(context: Any) -> None:
        if what is None:
            time.sleep(5)
            return
        with context.escalator.busy(what):
            time.sleep(5)

    return step


def test_a_cut_step_names_what_it_waited_on() -> None:
    context = SimpleNamespace(escalator=Session(step_timeout=0.2))
    with pytest.raises(StepTimeout) as cut:
        with_timeout(_waits("GET http://127.0.0.1:9/slow"), 10.0)(context)
    assert str(cut.value) == "step timed out after 200ms during GET http://127.0.0.1:9/slow"


def test_what_a_cut_step_waited_on_is_not_blamed_on_the_next() -> None:
    context = SimpleNamespace(escalator=Session(step_timeout=0.2))
    with pytest.raises(StepTimeout):
        with_timeout(_waits("ssh to db1:22"), 10.0)(context)
    with pytest.raises(StepTimeout) as cut:
        with_timeout(_waits(None), 10.0)(context)
    assert str(cut.value) == "step timed out after 200ms"


def test_busy_ends_with_its_wait() -> None:
    session = Session()
    with session.busy("outer"):
        with session.busy("inner"):
            assert session.doing == "inner"
        assert session.doing == "outer"
    assert session.doing is None


def test_the_alarm_handler_is_put_back_unless_held() -> None:
    """Around each step the guard installs its SIGALRM handler and puts back the one it found
    (a site's own, here); a worker holds the guard's handler for good (guard.hold), and its
    steps still time out."""
    import signal

    from escalator.runner import guard

    def site_handler(signum: int, frame: object) -> None: ...

    seen: list[Any] = []

    def step(context: Any) -> None:
        seen.append(signal.getsignal(signal.SIGALRM))

    context = SimpleNamespace(escalator=Session(step_timeout=0.2))
    found = signal.signal(signal.SIGALRM, site_handler)
    try:
        with_timeout(step, 10.0)(context)
        after_step = signal.getsignal(signal.SIGALRM)
        guard.hold()
        with_timeout(step, 10.0)(context)
        held = signal.getsignal(signal.SIGALRM)
        with pytest.raises(StepTimeout):
            with_timeout(_waits(None), 10.0)(context)
    finally:
        signal.signal(signal.SIGALRM, found)
    assert seen == [guard._on_alarm, guard._on_alarm]
    assert after_step is site_handler
    assert held is guard._on_alarm
