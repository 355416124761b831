"""The output formats: pure renderers from a `RunResult` to text, and what they share.

The CLI (`run`/`check` with `-f`) and the report command call `render(name, run, options)`.
Each format lives in its own module with `render(run, options) -> str`, imported only when that
format is asked for, so start-up stays light and a format whose module is missing (prometheus,
until it lands) fails only when it is requested. Renderers never write: the caller does.

>>> from escalator.results import Outcome, RunResult, ScenarioResult
>>> s = ScenarioResult("Web", "features/web.feature", 3, "Home", Outcome.PASSED, duration=0.2)
>>> print(render("progress", RunResult(scenarios=(s,), duration=0.25)), end="")
.
<BLANKLINE>
1 scenario (1 passed) in 0.25s
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from escalator.errors import UsageError
from escalator.options import DEFAULT_LABEL
from escalator.text import one_line as one_line  # shared by the formats

if TYPE_CHECKING:
    from escalator.results import Measurement, RunResult, ScenarioResult


@dataclass(frozen=True)
class FormatOptions:
    """How to render: the Nagios service prefix, detail for -v, colour for a terminal, and the
    first nodes of every Graphite path."""

    label: str = DEFAULT_LABEL
    verbose: bool = False
    color: bool = False
    graphite_prefix: str = "escalator"


FORMATS: tuple[str, ...] = ("pretty", "progress", "json", "junit", "nagios", "prometheus",
                            "graphite")

# Format name -> module under escalator.formatters (json would shadow the standard library).
_MODULES = {"json": "jsonout"}


def render(name: str, run: RunResult, options: FormatOptions = FormatOptions()) -> str:
    """`run` as text in format `name`; UsageError for a format that does not exist."""
    text: str = load(name).render(run, options)
    return text


def load(name: str) -> ModuleType:
    """The module of format `name`, imported on first use; UsageError for an unknown one."""
    if name not in FORMATS:
        raise UsageError(f"unknown output format {name!r}: choose from {', '.join(FORMATS)}")
    module_name = f"{__name__}.{_MODULES.get(name, name)}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise UsageError(f"output format {name!r} is not available in this installation") from exc


# ---- shared by the formats ------------------------------------------------------------------

def unknown_line(label: str, reason: str, perfdata: str = "") -> str:
    """The plugin's whole answer when there is no run to render: a valid UNKNOWN line 1.

    >>> unknown_line("ESCALATOR", "bad|config\\nhere", "age=5s;;60;0")
    'ESCALATOR UNKNOWN - bad/config here | age=5s;;60;0\\n'
    """
    line = f"{one_line(label)} UNKNOWN - {one_line(reason)}".replace("|", "/")
    return f"{line} | {perfdata}\n" if perfdata else f"{line}\n"


def cut(text: str, limit: int) -> str:
    """`text` shortened to `limit` characters with "..." when longer.

    >>> cut("Home page renders", 10)
    'Home pa...'
    """
    return text if len(text) <= limit else text[: max(limit - 3, 0)].rstrip() + "..."


def tally(total: str, failed: int, failed_names: str, unknown: int, unknown_names: str) -> str:
    """The failing and unknown part of a summary, out of `total` ("7 scenarios").

    >>> tally("7 scenarios", 2, "a, b", 1, "c")
    '2 of 7 scenarios failing: a, b, 1 unknown: c'
    >>> tally("40 db hosts", 0, "", 1, "db-9")
    '1 of 40 db hosts unknown: db-9'
    """
    parts = []
    if failed:
        parts.append(f"{failed} of {total} failing: {failed_names}")
    if unknown:
        of = "" if failed else f" of {total}"
        parts.append(f"{unknown}{of} unknown: {unknown_names}")
    return ", ".join(parts)


def plural(n: int, noun: str) -> str:
    """`n` and `noun`, with an s unless n is 1.

    >>> plural(1, "scenario"), plural(2, "scenario")
    ('1 scenario', '2 scenarios')
    """
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def reason(scenario: ScenarioResult) -> str:
    """Why a scenario did not pass, in one line: the failing step and its error, or the reason."""
    step = scenario.failing_step
    why = (step.error if step is not None and step.error else None) or scenario.reason
    why = one_line(why) if why else scenario.outcome.value
    return f"{one_line(step.title)}: {why}" if step is not None else why


def notable_tags(scenario: ScenarioResult) -> list[str]:
    """The tags an operator acts on: the escalation level and a lowered severity."""
    names = [t.lstrip("@") for t in scenario.tags]
    shown = [t for t in names if t.startswith("escalate.") or t == "warning"]
    if scenario.level and f"escalate.{scenario.level}" not in shown:
        shown.append(f"escalate.{scenario.level}")
    return [f"@{one_line(t)}" for t in dict.fromkeys(shown)]


def measured(m: Measurement) -> str:
    """A measurement and its limits for people (pretty -v, JUnit system-out).

    >>> from escalator.limits import Limit
    >>> from escalator.results import Measurement
    >>> measured(Measurement("t", 12.5, "ms", Limit.below(500), warn=Limit.at_most(300)))
    't = 12.5ms (wanted less than 500 ms, warning above 300 ms)'
    >>> measured(Measurement("days_left", None))
    'days_left = none (not measured)'
    """
    value = "none (not measured)" if m.value is None else f"{m.value:g}{m.uom}"
    limits = [f"wanted {m.crit.describe(m.uom)}"] if m.crit is not None else []
    if m.warn is not None:
        limits.append(f"warning {m.warn.violation(m.uom)}")
    return f"{m.name} = {value}" + (f" ({', '.join(limits)})" if limits else "")


def detail_lines(scenario: ScenarioResult, keep: int = 20) -> list[str]:
    """The last `keep` lines of the failing step's traceback (the end names the cause)."""
    step = scenario.failing_step
    if step is None or not step.detail:
        return []
    lines = [line for line in step.detail.splitlines() if line.strip()]
    return lines[-keep:]
