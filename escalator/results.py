"""The result of a run: what every formatter, the state store, the reports and the ladder read.

Results are frozen values with no behaviour beyond derived properties, and they round-trip
through plain dicts (`to_dict` / `from_dict`) for the JSON formatter, the state directory and the
pipe between the runner's processes.

>>> m = Measurement("response_time", 12.5, "ms", crit=Limit.below(500))
>>> s = ScenarioResult(feature="Web", file="features/web.feature", line=3, name="Home page",
...                    outcome=Outcome.FAILED, severity=Severity.WARNING, reason="too slow",
...                    measurements=(m,))
>>> s.status.name
'WARNING'
>>> ScenarioResult.from_dict(s.to_dict()) == s
True
>>> s.to_dict()["measurements"][0]["crit"]
'@500:'
>>> RunResult(scenarios=(s,)).status.name
'WARNING'
>>> RunResult(scenarios=()).status.name
'UNKNOWN'
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from escalator.limits import Limit
from escalator.status import Status, worst


class Outcome(enum.StrEnum):
    """How a scenario ended. `unknown`: the check itself could not be made."""

    PASSED = "passed"
    FAILED = "failed"
    UNKNOWN = "unknown"


class Severity(enum.StrEnum):
    """What a failure of a scenario means; from its tags, never from step code (a measurement
    that crosses only its warning limit lowers one failure to WARNING: `warning_only`)."""

    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Measurement:
    """A number a step measured, with the limits the step stated.

    `crit` is the limit whose breach fails the step, `warn` the one whose breach only warns
    (`escalator.limits.Limit`); the perfdata renderer writes them as Nagios ranges. A value of
    None marks a measurement that could not be taken (a refused connection has no response
    time): perfdata writes "U" for it, never a number.

    >>> Measurement.from_dict({"name": "t", "value": 2, "threshold": "14:"}).crit
    Limit(start=14.0, end=inf, inside=False)
    """

    name: str
    value: float | None
    uom: str = ""
    crit: Limit | None = None
    minimum: float | None = None
    maximum: float | None = None
    warn: Limit | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "uom": self.uom,
                "warn": _range(self.warn), "crit": _range(self.crit),
                "minimum": self.minimum, "maximum": self.maximum}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        """Also reads results stored before there were two limits: their `threshold` was the
        limit that failed the step, now `crit`."""
        value = data.get("value")
        return cls(name=data["name"], value=None if value is None else float(value),
                   uom=data.get("uom", ""), warn=_limit(data.get("warn")),
                   crit=_limit(data.get("crit", data.get("threshold"))),
                   minimum=data.get("minimum"), maximum=data.get("maximum"))


def _range(limit: Limit | None) -> str | None:
    return None if limit is None else str(limit)


def _limit(text: str | None) -> Limit | None:
    """A stored range; one that no longer parses is dropped rather than breaking a report."""
    if not text:
        return None
    try:
        return Limit.parse(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class StepResult:
    """One step as it ran. `error` is one line for operators; `detail` (tracebacks) is for -v.
    `status` is behave's (passed, failed, error, skipped, undefined...) or `warning`: the step
    passed but its measurement crossed its warning limit (`error` says how)."""

    keyword: str
    text: str
    line: int
    status: str
    duration: float = 0.0
    error: str | None = None
    detail: str | None = None

    @property
    def title(self) -> str:
        return f"{self.keyword} {self.text}"


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario (or one row of an outline) with its verdict.

    `severity` comes from the tags. `warning_only` marks a failure that is only a measurement
    beyond its warning limit (as a plugin's -w without -c): such a scenario is WARNING even
    when its tags say critical, the value decides, as in every Nagios plugin.

    >>> s = ScenarioResult("Web", "web.feature", 3, "Home", Outcome.FAILED, warning_only=True)
    >>> s.status.name, s.failure_severity.value
    ('WARNING', 'warning')
    """

    feature: str
    file: str
    line: int
    name: str
    outcome: Outcome
    severity: Severity = Severity.CRITICAL
    tags: tuple[str, ...] = ()
    level: str | None = None
    runbook: str | None = None
    steps: tuple[StepResult, ...] = ()
    reason: str | None = None
    measurements: tuple[Measurement, ...] = ()
    duration: float = 0.0
    attempts: int = 1
    earlier_failures: tuple[str, ...] = ()
    warning_only: bool = False
    # A fan-out run (`@each.<group>`): the host it checked and the group, as data, so the
    # ladder and the per-host results need not parse them out of `name` ("Backup [db-7]").
    host: str | None = None
    group: str | None = None

    @property
    def failure_severity(self) -> Severity:
        """What a failure of this scenario counts as: its tags' severity, or WARNING when the
        failure is only a warning limit."""
        return Severity.WARNING if self.warning_only else self.severity

    @property
    def status(self) -> Status:
        if self.outcome is Outcome.PASSED:
            return Status.OK
        if self.outcome is Outcome.UNKNOWN:
            return Status.UNKNOWN
        return Status.WARNING if self.failure_severity is Severity.WARNING else Status.CRITICAL

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def key(self) -> str:
        """Identity across runs (lines move when files are edited; names rarely do)."""
        return f"{self.file}::{self.name}"

    @property
    def failing_step(self) -> StepResult | None:
        """The step that decided the verdict: the first that failed, else the first warning."""
        problems = [s for s in self.steps if s.status not in ("passed", "skipped", "untested")]
        return next((s for s in problems if s.status != "warning"),
                    problems[0] if problems else None)

    @property
    def check_name(self) -> str:
        """The scenario's own name: `name` without the ` [<host>]` of a fan-out run."""
        suffix = f" [{self.host}]"
        return self.name.removesuffix(suffix) if self.host else self.name

    @property
    def retried(self) -> bool:
        return self.attempts > 1

    def to_dict(self) -> dict[str, Any]:
        data = _plain(self)
        data["steps"] = tuple(_plain(s) for s in self.steps)
        data["measurements"] = [m.to_dict() for m in self.measurements]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScenarioResult:
        values = dict(data)
        values["outcome"] = Outcome(values["outcome"])
        values["severity"] = Severity(values["severity"])
        values["tags"] = tuple(values.get("tags", ()))
        values["steps"] = tuple(StepResult(**s) for s in values.get("steps", ()))
        values["measurements"] = tuple(Measurement.from_dict(m)
                                       for m in values.get("measurements", ()))
        values["earlier_failures"] = tuple(values.get("earlier_failures", ()))
        return cls(**values)


@dataclass(frozen=True)
class RunResult:
    """A whole run. `errors` are run-level problems (parse, config, load): each makes it UNKNOWN."""

    scenarios: tuple[ScenarioResult, ...]
    errors: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()
    started: float = 0.0
    duration: float = 0.0
    timeout: float | None = None
    environment: str | None = None
    selected: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        if self.errors or not self.scenarios:
            return Status.UNKNOWN
        return worst(s.status for s in self.scenarios)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for s in self.scenarios if s.outcome is outcome)

    @property
    def failing(self) -> tuple[ScenarioResult, ...]:
        return tuple(s for s in self.scenarios if s.outcome is not Outcome.PASSED)

    def to_dict(self) -> dict[str, Any]:
        data = _plain(self)
        data["scenarios"] = [s.to_dict() for s in self.scenarios]
        data["extra"] = dict(self.extra)
        data["status"] = self.status.name
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResult:
        return cls(
            scenarios=tuple(ScenarioResult.from_dict(s) for s in data.get("scenarios", ())),
            errors=tuple(data.get("errors", ())),
            notices=tuple(data.get("notices", ())),
            started=float(data.get("started", 0.0)),
            duration=float(data.get("duration", 0.0)),
            timeout=data.get("timeout"),
            environment=data.get("environment"),
            selected=data.get("selected"),
            extra=dict(data.get("extra", {})),
        )


def _plain(value: Any) -> dict[str, Any]:
    """A frozen result's fields as a dict, each value as it is (str, number, enum, tuple).

    What `dataclasses.asdict` gives, without its deep copy of every value: results are
    immutable, and the copies made storing a 5,000-scenario run cost more than the rest of it.
    """
    names = _FIELD_NAMES.get(type(value))
    if names is None:
        names = _FIELD_NAMES[type(value)] = tuple(f.name for f in dataclasses.fields(value))
    return {name: getattr(value, name) for name in names}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
