"""What every step module uses: the scenario's session, `${name}` expansion, measurements.

The runner attaches one `Session` to each scenario's behave context as `context.escalator`.
Steps read variables and settings from it, keep per-scenario clients in it (closed when the
scenario ends) and record measurements into it. A step that states a limit records it with the
measurement (`record(..., crit=Limit...)`) and lets `judge` give the verdict, so the verdict and
the perfdata range come from the same `escalator.limits.Limit`. Steps never print.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin

from escalator import variables as env_variables
from escalator.errors import SetupError
from escalator.limits import Limit
from escalator.redact import Redactor, redactor_for
from escalator.results import Measurement

T = TypeVar("T")

_FALSE = {"0", "false", "no", "off"}
_AGE_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


class StepSetupError(SetupError):
    """Our side is wrong (unknown variable, bad argument): the scenario is UNKNOWN, not failed."""


@dataclass
class Session:
    """Per-scenario state shared by the steps of one scenario, in one worker process."""

    variables: Mapping[str, str] = field(default_factory=dict)
    step_timeout: float = 10.0
    step_deadline: float | None = None  # monotonic; set by the runner's guard as a step starts
    step_limit: float | None = None  # the running step's limit: step_timeout unless extended
    run_deadline: float | None = None  # monotonic; when the runner ends the whole run
    on_extend: Callable[[float], None] | None = None  # the runner's: re-arm the step's alarm
    doing: str | None = None  # what the step is waiting on; named if its time runs out
    environment: str | None = None
    secrets: tuple[str, ...] = ()  # values masked in everything the scenario reports
    measurements: list[Measurement] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # limits crossed only as far as warning
    warnings_seen: int = 0  # how many of them `step_warning` has handed out
    notices: list[str] = field(default_factory=list)
    resources: dict[str, Any] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic  # the step deadline's clock; tests pass a fake
    _redactor: Redactor | None = field(default=None, repr=False)

    @property
    def redactor(self) -> Redactor:
        """Masks the secrets (and what `hide` added) in text the scenario reports."""
        if self._redactor is None:
            self._redactor = redactor_for(self.secrets)
        return self._redactor

    def hide(self, *values: str) -> None:
        """Mask these values too: something derived from a secret (a basic-auth token)."""
        self.secrets = (*self.secrets, *(v for v in values if v))
        self._redactor = None

    @property
    def client_timeout(self) -> float:
        """What a client call may still take: what is left of the step's limit, less a margin.

        The margin (a quarter of the limit, between 0.25 s and 1 s) leaves the probe time to
        say *why* it gave up (no answer, no banner, no end of the key exchange) before the
        step's alarm would replace that with a bare "step timed out" on a busy machine.
        """
        return max(0.2, self.time_left())

    def time_left(self) -> float:
        """What is left of the running step less the margin (negative once it is used up)."""
        margin = min(1.0, max(0.25, self.step_timeout * 0.25))
        left = (self.step_timeout if self.step_deadline is None
                else self.step_deadline - self.clock())
        return left - margin

    def run_left(self, margin: float = 1.0) -> float | None:
        """Seconds until the run's deadline less `margin` (for the result to get out), or None
        when the run has none."""
        if self.run_deadline is None:
            return None
        return max(0.0, self.run_deadline - self.clock() - margin)

    def extend(self, limit: float) -> float:
        """Give the running step `limit` seconds from its start instead of the step timeout (a
        step that sends many requests); capped by the run's deadline. Returns the limit set."""
        if self.step_deadline is None or self.step_limit is None:
            return self.step_timeout  # not under the runner's guard: nothing to extend
        started = self.step_deadline - self.step_limit
        left = self.run_left()
        if left is not None:
            limit = min(limit, self.clock() - started + left)
        limit = max(limit, self.step_limit)
        if limit > self.step_limit:
            self.step_limit, self.step_deadline = limit, started + limit
            if self.on_extend is not None:
                self.on_extend(self.step_deadline - self.clock())
        return limit

    def step_warning(self) -> str | None:
        """The first warning given since the last call, or None: asked as each step ends (by
        the runner's step tracker and plain behave's `after_step` hook alike), it is that
        step's, which makes it a `warning` step in the result."""
        new = self.warnings[self.warnings_seen:]
        self.warnings_seen = len(self.warnings)
        return new[0] if new else None

    @contextlib.contextmanager
    def busy(self, what: str) -> Iterator[None]:
        """Name what the step waits on ("GET https://shop/"), so that a step cut by its
        timeout says what it was doing. Left set when the wait ends in an exception: the
        runner's guard reads it after the alarm and clears it as the next step starts."""
        previous, self.doing = self.doing, what
        yield
        self.doing = previous

    def setting(self, name: str, default: bool) -> bool:
        """An on/off setting of the environment (e.g. `tls_verify`)."""
        value = self.variables.get(name)
        if value is None:
            return default
        return value.strip().lower() not in _FALSE

    def resource(self, key: str, factory: Callable[[], T], close: Callable[[T], None] | None = None
                 ) -> T:
        """The scenario's client for `key`, made on first use and closed when the scenario ends."""
        if key not in self.resources:
            value = factory()
            self.resources[key] = value
            if close is not None:
                self.closers.append(lambda: close(value))
        return self.resources[key]  # type: ignore[no-any-return]

    def close(self) -> None:
        while self.closers:
            # Closing a client must not change a verdict.
            with contextlib.suppress(Exception):
                self.closers.pop()()


def session(context: Any) -> Session:
    """The scenario's session; a clear error when a step runs outside escalator."""
    found = getattr(context, "escalator", None)
    if not isinstance(found, Session):
        raise StepSetupError("escalator steps must run under `escalator run` or `escalator check`")
    return found


def earlier(context: Any, name: str, missing: str) -> Any:
    """What an earlier step of the scenario left on the context as `name` (a Then step reads
    the When step's result); StepSetupError saying `missing` when no step did."""
    found = getattr(context, name, None)
    if found is None:
        raise StepSetupError(missing)
    return found


def expand(context: Any, text: str) -> str:
    """Replace `${name}` with the environment's variable (`$${name}` stays `${name}`); an
    unknown name or an unset secret is our error (VariableError: the scenario is UNKNOWN)."""
    return env_variables.expand(text, session(context).variables)


def shown(context: Any, text: str, limit: int, tail: bool = False) -> str:
    """`text` for a reason: secrets masked, on one line, cut to `limit` characters with "..."
    (`tail` keeps the end). Masking comes first: a secret cut in half cannot be recognised."""
    redactor = session(context).redactor
    return redactor.shorten(" ".join(redactor.text(text).split()), limit, tail)


def resolve_url(context: Any, text: str) -> str:
    """Expand variables; a path ("/health") resolves against the environment's `base_url`."""
    url = expand(context, text).strip()
    if "://" in url:
        return url
    base = session(context).variables.get("base_url")
    if not base:
        raise StepSetupError(f"relative URL {url!r} needs `base_url` in the environment")
    return urljoin(base.rstrip("/") + "/", url.lstrip("/"))


def record(context: Any, name: str, value: float | None, uom: str = "",
           crit: Limit | None = None, minimum: float | None = None,
           maximum: float | None = None, warn: Limit | None = None) -> Measurement:
    """Keep a measurement for perfdata, JSON and reports; the name is unique in the scenario.
    `value` None marks a measurement that failed (no answer to time): perfdata shows "U"."""
    measurements = session(context).measurements
    taken = {m.name for m in measurements}
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}_{n}", n + 1
    measurement = Measurement(unique, None if value is None else float(value), uom, crit,
                              minimum, maximum, warn)
    measurements.append(measurement)
    return measurement


def restate(context: Any, measurement: Measurement, crit: Limit, warn: Limit | None = None
            ) -> Measurement:
    """Give a measurement an earlier step recorded the limits this step states (a response
    time, then "should be less than 500 ms"), in place: perfdata shows it once, with them."""
    limited = dataclasses.replace(measurement, crit=crit, warn=warn)
    measurements = session(context).measurements
    for index, existing in enumerate(measurements):
        if existing is measurement:
            measurements[index] = limited
    return limited


def stated(crit: Limit, warn: Limit | None, unit: str = "", scale: float = 1.0
           ) -> tuple[Limit, Limit | None]:
    """The limits a phrase stated; StepSetupError when the warning would never come first
    ("less than 500 ms, warning above 600 ms")."""
    edge = crit.start if crit.end == float("inf") else crit.end
    if warn is not None and not warn.alerts(edge):
        raise StepSetupError(f"the warning limit ({warn.violation(unit, scale)}) must be crossed "
                             f"before the critical one ({crit.describe(unit, scale)})")
    return crit, warn


def age_limit(n: float, unit: str) -> tuple[Limit, float]:
    """"Within the last N <unit>" as a limit on an age in seconds (which may be negative: a
    clock ahead of ours), and the seconds in one <unit>, to word the limit back.

    >>> limit, size = age_limit(24, "hours")
    >>> str(limit), limit.describe("hours", size)
    ('~:86400', 'at most 24 hours')
    """
    size = _AGE_UNITS.get(unit.strip().lower().removesuffix("s"))
    if size is None:
        raise StepSetupError(f"unknown unit {unit!r}: use seconds, minutes, hours or days")
    return Limit.at_most(n * size, start=float("-inf")), size


def judge(context: Any, measurement: Measurement, said: str, detail: str = "",
          unit: str | None = None, scale: float = 1.0, wanted: str | None = None) -> None:
    """The verdict on a measurement: past its critical limit the step fails (AssertionError,
    "took 612 ms, wanted less than 500 ms"); past only its warning limit the scenario goes on
    and ends WARNING unless something worse happens ("took 350 ms, warning above 300 ms").
    `said` states the value, `detail` follows after a colon; `unit` and `scale` word the limit
    (a limit kept in seconds said in hours), or `wanted` words the critical one as the phrase
    did ("within the last 24 hours"). The recorded value is what is judged: record it no
    rounder than perfdata writes it (3 decimals), or the edge would move."""
    value = measurement.value
    if value is None:
        raise AssertionError(f"{said}: {detail}" if detail else said)
    words = measurement.uom if unit is None else unit
    tail = f": {detail}" if detail else ""
    if measurement.crit is not None and measurement.crit.alerts(value):
        wanted = wanted or measurement.crit.describe(words, scale)
        raise AssertionError(f"{said}, wanted {wanted}{tail}")
    if measurement.warn is not None and measurement.warn.alerts(value):
        session(context).warnings.append(
            f"{said}, warning {measurement.warn.violation(words, scale)}{tail}")
