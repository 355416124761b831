"""What every step module uses: the scenario's session, `${name}` expansion, measurements.

The runner attaches one `Session` to each scenario's behave context as `context.escalator`.
Steps read variables and settings from it, keep per-scenario clients in it (closed when the
scenario ends) and record measurements into it. Steps never print.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin

from escalator.errors import SetupError
from escalator.redact import Redactor, redactor_for
from escalator.results import Measurement

T = TypeVar("T")

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
_FALSE = {"0", "false", "no", "off"}


class StepSetupError(SetupError):
    """Our side is wrong (unknown variable, bad argument): the scenario is UNKNOWN, not failed."""


@dataclass
class Session:
    """Per-scenario state shared by the steps of one scenario, in one worker process."""

    variables: Mapping[str, str] = field(default_factory=dict)
    step_timeout: float = 10.0
    step_deadline: float | None = None  # monotonic; set by the runner's guard as a step starts
    doing: str | None = None  # what the step is waiting on; named if its time runs out
    environment: str | None = None
    secrets: tuple[str, ...] = ()  # values masked in everything the scenario reports
    measurements: list[Measurement] = field(default_factory=list)
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
        margin = min(1.0, max(0.25, self.step_timeout * 0.25))
        left = (self.step_timeout if self.step_deadline is None
                else self.step_deadline - self.clock())
        return max(0.2, left - margin)

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
    """Replace `${name}` with the environment's variable; an unknown name is our error."""
    variables = session(context).variables

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            known = ", ".join(sorted(variables)) or "none"
            raise StepSetupError(f"unknown variable ${{{name}}} (known: {known})")
        return variables[name]

    return _VARIABLE.sub(value, text)


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


def record(context: Any, name: str, value: float, uom: str = "", threshold: str | None = None,
           minimum: float | None = None, maximum: float | None = None) -> Measurement:
    """Keep a measurement for perfdata, JSON and reports; the name is unique in the scenario."""
    measurements = session(context).measurements
    taken = {m.name for m in measurements}
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}_{n}", n + 1
    measurement = Measurement(unique, float(value), uom, threshold, minimum, maximum)
    measurements.append(measurement)
    return measurement
