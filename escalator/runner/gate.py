"""The deploy gate: re-run what has not passed yet until every selected scenario has, or time is up.

`run --until-green` and `check --until-green` call `until_green(options, env, policy, say)`.
Round 1 runs the selection. Each later round, `every` after the start of the one before, runs
only the scenarios still red, selected by `file:line`, so a round costs what they cost; every
round is bounded by what is left of `within` (the runner kills it at the gate's deadline). A
result cut off by that deadline does not replace the scenario's last real verdict.

One line goes to `say` each time a scenario turns green ("green after 4.1s: The API answers";
one line for them all when more than five do in one round, as in the first round of a large
suite) or red again after it was green ("red again after 7.3s: ..."), and one per round naming
the ones still red (a reason only when it is new, so a long gate does not flood a CI log).

Green is proved, not assembled: when the last red scenario turns green, a confirmation round
re-runs every scenario that turned green in an earlier round, so each one passed in one of the
last two rounds. One that fails there turned red again (a flap: reported, and red until it
passes again, when another confirmation follows).

The gate cannot run (exit 2 at once) when a round has run errors (parse, load, nothing
selected) or a scenario has an undefined or pending step: waiting changes neither. Any other
verdict is retried until the deadline. The result is one `RunResult` of the final state (each
scenario's latest verdict) with the gate's record in `extra`: `origin` (what made this run,
read by the result store's history and the deployment report), `green_after` (seconds from
the start of the gate to each scenario's turn to green) and `gate` (verdict, rounds, flaps).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from escalator.durations import format_duration
from escalator.exit_codes import ExitCode
from escalator.results import Outcome, RunResult, ScenarioResult
from escalator.text import one_line

if TYPE_CHECKING:
    from escalator.env import Env
    from escalator.options import RunOptions

Runner = Callable[..., RunResult]  # escalator.runner.run_suite(options, env, progress=...)
GREEN, DEADLINE, CANNOT_RUN = "green", "deadline", "cannot_run"
REASON_CHARS = 100  # of one scenario's reason in a round's line
NAMED = 5  # scenarios a round's line names; the rest are counted
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


@dataclass(frozen=True)
class GatePolicy:
    """`--within` (the whole gate), `--every` (from the start of one round to the next) and
    `--deploy` (what the gate waits for, e.g. a release: named in the report)."""

    within: float
    every: float = 5.0
    deploy: str = ""


@dataclass(frozen=True)
class GateResult:
    """The final state (`run`) and how the gate ended: green, deadline or cannot_run."""

    run: RunResult
    verdict: str

    @property
    def exit_code(self) -> int:
        """`run --until-green`: 0 all green, 1 the deadline came first, 2 it could not run."""
        if self.verdict == GREEN:
            return ExitCode.OK
        return ExitCode.NOT_RUN if self.verdict == CANNOT_RUN else ExitCode.FAILED


def until_green(options: RunOptions, env: Env, policy: GatePolicy, say: Callable[[str], None],
                runner: Runner | None = None) -> GateResult:
    """Run the gate; `runner` is `run_suite` unless a test scripts the rounds."""
    if runner is None:
        from escalator.runner import run_suite

        runner = run_suite
    return _Gate(options, env, policy, say, runner).run()


@dataclass
class _Round:
    run: RunResult
    heard: dict[str, float]  # key -> seconds into the gate when its result arrived
    cut: bool  # the gate's deadline ended it


@dataclass
class _Gate:
    options: RunOptions
    env: Env
    policy: GatePolicy
    say: Callable[[str], None]
    runner: Runner
    order: list[str] = field(default_factory=list)
    known: dict[str, ScenarioResult] = field(default_factory=dict)
    green: dict[str, float] = field(default_factory=dict)  # key -> when it (last) turned green
    flaps: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    told: dict[str, str] = field(default_factory=dict)  # the reason last printed per key
    unconfirmed: set[str] = field(default_factory=set)
    notices: list[str] = field(default_factory=list)
    rounds: int = 0
    confirmed: bool = False  # a confirmation round ran

    def __post_init__(self) -> None:
        self.began, self.t0 = self.env.now(), self.env.monotonic()
        self.deadline = self.t0 + self.policy.within

    def elapsed(self) -> float:
        return self.env.monotonic() - self.t0

    def run(self) -> GateResult:
        paths, confirming = self.options.paths, False
        while self.env.monotonic() < self.deadline:
            started = self.env.monotonic()
            done = self._round(paths)
            problem = self._cannot_run(done)
            ran = self._merge(done, announce=problem is None)
            if problem is not None:
                return self._finish(CANNOT_RUN, problem, done.run.errors)
            if not self.order:
                continue  # the deadline cut the suite's loading: nothing is known yet
            red = [key for key in self.order if key not in self.green]
            if red:
                self.unconfirmed.clear()
                self._say_red(red)
                pause = min(started + self.policy.every, self.deadline) - self.env.monotonic()
                if pause > 0:
                    self.env.sleep(pause)
                paths, confirming = self._locations(red), False
                continue
            # All green. Those that passed in an earlier round are re-run at once (a
            # confirmation round); green only once each passed in one of the last two rounds.
            self.unconfirmed = (self.unconfirmed if confirming else set(self.order)) - ran
            if not self.unconfirmed:
                return self._finish(GREEN)
            paths, confirming = self._locations(self.unconfirmed), True
            self.confirmed = True
        return self._finish(DEADLINE)

    # -- one round ---------------------------------------------------------------------------
    def _round(self, paths: tuple[str, ...]) -> _Round:
        self.rounds += 1
        heard: dict[str, float] = {}
        left = self.deadline - self.env.monotonic()
        options = dataclasses.replace(self.options, paths=paths,
                                      timeout=min(self.options.timeout, left))

        def arrived(result: ScenarioResult, done: int, total: int) -> None:
            heard[result.key] = self.elapsed()

        run = self.runner(options, self.env, progress=arrived)
        self.notices += [n for n in run.notices if n not in self.notices]
        return _Round(run, heard, cut=self.env.monotonic() >= self.deadline)

    def _cannot_run(self, done: _Round) -> str | None:
        """Why waiting cannot help, or None. A round the deadline cut while loading is only
        late: the deadline ends the gate."""
        run = done.run
        if run.errors and not done.cut:
            return run.errors[0]
        if not run.errors and not run.scenarios and not self.order:
            return "no scenario selected"
        for scenario in run.scenarios:
            if scenario.key in done.heard and _undefined(scenario):
                return f"{scenario.location}: {_reason(scenario)}"
        return None

    def _merge(self, done: _Round, announce: bool = True) -> set[str]:
        """Take the round's verdicts, say who turned green or red again; the keys it ran."""
        ran, turned = set(), []
        for scenario in done.run.scenarios:
            key = scenario.key
            if done.cut and key not in done.heard and key in self.known:
                continue  # cut off by the gate's deadline: keep the last real verdict
            if key not in self.known:
                self.order.append(key)
            self.known[key], at = scenario, done.heard.get(key, self.elapsed())
            ran.add(key)
            if not announce:
                continue
            if scenario.outcome is Outcome.PASSED and key not in self.green:
                self.green[key] = at
                turned.append(scenario)
            elif scenario.outcome is not Outcome.PASSED and key in self.green:
                self.flaps.setdefault(key, []).append((self.green.pop(key), at))
                self.told[key] = _reason(scenario)
                self.say(f"red again after {clock(at)}: {scenario.name} (green after "
                         f"{clock(self.flaps[key][-1][0])}): {self.told[key]}")
        self._say_green(turned)
        return ran

    def _say_green(self, turned: list[ScenarioResult]) -> None:
        """A line for each scenario that turned green; one for them all when they are many
        (the first round of a large suite), so a CI log stays readable."""
        if len(turned) <= NAMED:
            for scenario in turned:
                self.say(f"green after {clock(self.green[scenario.key])}: {scenario.name}")
            return
        at = max(self.green[scenario.key] for scenario in turned)
        names = ", ".join(scenario.name for scenario in turned[:NAMED])
        self.say(f"green after {clock(at)}: {len(turned)} scenarios: {names} and "
                 f"{len(turned) - NAMED} more")

    def _say_red(self, red: list[str]) -> None:
        """One line: the scenarios still red, each with its reason when that is news."""
        parts = []
        for key in red[:NAMED]:
            scenario, why = self.known[key], _reason(self.known[key])
            # "answered 503 in 5 ms" then "in 7 ms" is no news: numbers aside, it is the same
            news = _shape(self.told.get(key, "")) != _shape(why)
            self.told[key] = why
            parts.append(f"{scenario.name}: {why}" if news else scenario.name)
        more = f"; and {len(red) - NAMED} more" if len(red) > NAMED else ""
        self.say(f"still red after {clock(self.elapsed())} (round {self.rounds}), "
                 f"{len(red)} of {len(self.order)}: {'; '.join(parts)}{more}")

    def _locations(self, keys: set[str] | list[str]) -> tuple[str, ...]:
        """`file:line` of each scenario, in file and line order, each once."""
        spots = {(self.known[key].file, self.known[key].line) for key in keys}
        return tuple(f"{file}:{line}" for file, line in sorted(spots))

    # -- the end -----------------------------------------------------------------------------
    def _finish(self, verdict: str, problem: str = "", errors: tuple[str, ...] = ()
                ) -> GateResult:
        took = self.elapsed()
        scenarios = [self._final(key) for key in self.order]
        red = [s for s in scenarios if s.outcome is not Outcome.PASSED]
        if verdict == GREEN:
            confirmed = ", confirmed" if self.confirmed else ""
            summary = (f"gate: green after {clock(took)}, {len(scenarios)} of "
                       f"{len(scenarios)} scenarios pass ({_rounds(self.rounds)}{confirmed})")
        elif verdict == DEADLINE:
            summary = (f"gate: deadline ({format_duration(self.policy.within)}) reached after "
                       f"{clock(took)}: {len(red)} of {len(scenarios)} still red"
                       + (": " + ", ".join(s.name for s in red) if red else ""))
        else:
            summary = f"gate: cannot run: {one_line(problem)}"
        if verdict == DEADLINE and not scenarios:  # the deadline came while the suite loaded
            errors = (f"gate: deadline ({format_duration(self.policy.within)}) reached "
                      "before the suite had loaded",)
            summary = f"{errors[0]} after {clock(took)}"
        self.say(summary)
        if verdict == DEADLINE:
            for scenario in red:
                self.say(f"  still red: {scenario.name} ({scenario.location}): "
                         f"{_reason(scenario)}")
        flapped = [f"gate: {self.known[key].name} turned red again after {clock(red_at)} "
                   f"(it had passed after {clock(green_at)})"
                   for key in self.order for green_at, red_at in self.flaps.get(key, ())]
        run = RunResult(
            scenarios=tuple(scenarios), errors=errors,
            notices=(summary, *flapped, *self.notices), started=self.began, duration=took,
            timeout=self.policy.within, environment=self.options.environment,
            selected=len(scenarios), extra=self._record(verdict))
        return GateResult(run, verdict)

    def _final(self, key: str) -> ScenarioResult:
        """The scenario's latest verdict; one the confirmation did not reach is unknown."""
        scenario = self.known[key]
        if key not in self.unconfirmed:
            return scenario
        return dataclasses.replace(
            scenario, outcome=Outcome.UNKNOWN,
            reason=f"passed after {clock(self.green[key])}, but the deadline came before the "
                   "confirmation round re-checked it")

    def _record(self, verdict: str) -> dict[str, Any]:
        return {
            "origin": {"kind": "gate", "by": self.policy.deploy, "began": self.began},
            "green_after": {key: round(at, 3) for key, at in self.green.items()
                            if key not in self.unconfirmed},
            "gate": {"verdict": verdict, "within": self.policy.within,
                     "every": self.policy.every, "rounds": self.rounds,
                     "red": [key for key in self.order if key not in self.green],
                     "flapped": {key: [[round(g, 3), round(r, 3)] for g, r in times]
                                 for key, times in self.flaps.items()}},
        }


def clock(seconds: float) -> str:
    """Time into the gate as its lines say it.

    >>> clock(4.123), clock(59.96), clock(125.4)
    ('4.1s', '60.0s', '2m5s')
    """
    return f"{seconds:.1f}s" if seconds < 60 else format_duration(round(seconds))


def _rounds(n: int) -> str:
    return "1 round" if n == 1 else f"{n} rounds"


def _reason(scenario: ScenarioResult) -> str:
    """Why it is red, short: the failing step's error without the step's text (the full
    reason is in the outputs at the end)."""
    step = scenario.failing_step
    why = (step.error if step is not None else None) or scenario.reason or scenario.outcome
    return one_line(why, REASON_CHARS)


def _shape(reason: str) -> str:
    """A reason with its numbers blanked: what changes when the failure does.

    >>> _shape("GET /shop answered 503 in 5 ms") == _shape("GET /shop answered 503 in 12 ms")
    True
    """
    return _NUMBER.sub("#", reason)


def _undefined(scenario: ScenarioResult) -> bool:
    """An undefined or pending step: the suite's text is wrong, and no wait changes it."""
    return scenario.outcome is Outcome.UNKNOWN and any(
        step.status in ("undefined", "pending") for step in scenario.steps)
