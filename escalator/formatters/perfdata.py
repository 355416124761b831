"""Nagios performance data: the counters of a run and the measurements its steps took.

Owns the plugin-guidelines grammar `'label'=value[UOM];[warn];[crit];[min];[max]`: label
cleaning and quoting, unique labels, the allowed units, number rounding and threshold ranges.
Called by the nagios formatter, which decides how many items fit on line 1.

>>> number(1.2300000001), number(0.000123456), number(float("nan")), number(-0.0)
('1.23', '0.000123', 'U', '0')
>>> item("Home page renders response_time", 12.5, "ms", crit="500")
"'Home page renders response_time'=12.5ms;;500"
>>> item("passed", 12, min_=0)
'passed=12;;;0'
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from decimal import Decimal

from escalator.results import Outcome, RunResult, ScenarioResult, Severity
from escalator.text import one_line

# The units the plugin guidelines name that our graphers (PNP4Nagios, Icinga 2 writers) accept;
# anything else breaks some writer, so the value goes out without a unit instead.
UNITS = frozenset({"s", "ms", "%", "B", "KB", "MB", "c"})

# A Nagios range: [@][start:]end, start may be "~" (minus infinity), end may be empty after ":".
_NUM = r"-?(?:\d+(?:\.\d*)?|\.\d+)"
RANGE = re.compile(rf"@?(?:(?:~|{_NUM}):(?:{_NUM})?|{_NUM})")
_PLAIN_LABEL = re.compile(r"[A-Za-z0-9_.-]+")
_LABEL_MAX = 60


def number(value: float) -> str:
    """`value` in `[-0-9.]` form, rounded for people: 3 decimals, 3 significant digits below 1."""
    if not math.isfinite(value):
        return "U"
    if abs(value) >= 1:
        rounded = Decimal(repr(round(value, 3)))
    else:
        # Below 1 a fixed number of decimals would erase small timings; below a millionth
        # nothing an operator graphs is left, and it keeps exponents out of the text.
        rounded = Decimal(f"{round(value, 6):.3g}")
    text = format(rounded, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def clean_label(text: str) -> str:
    """A label Nagios can parse: no quote or equals sign, one line, no `|`, bounded."""
    text = text.replace("'", "").replace("=", "").replace("|", "/")
    text = one_line(text)
    if len(text) > _LABEL_MAX:
        text = text[: _LABEL_MAX - 3].rstrip() + "..."
    return text or "value"


def quote(label: str) -> str:
    return label if _PLAIN_LABEL.fullmatch(label) else f"'{label}'"


def threshold(text: str | None) -> str:
    """The range if it follows the grammar, else empty (a bad range must not break parsers)."""
    if text is None:
        return ""
    text = text.strip()
    return text if RANGE.fullmatch(text) else ""


def item(label: str, value: float, uom: str = "", warn: str = "", crit: str = "",
         min_: float | None = None, max_: float | None = None) -> str:
    """One perfdata item; trailing empty fields are dropped (the guidelines allow it)."""
    # Only the value may be "U"; an undeterminable limit is simply left out.
    limits = ["" if x is None or not math.isfinite(x) else number(x) for x in (min_, max_)]
    fields = [warn, crit, *limits]
    unit = uom if uom in UNITS else ""
    text = f"{quote(label)}={number(value)}{unit};" + ";".join(fields)
    return text.rstrip(";")


def counters(run: RunResult) -> list[str]:
    """The run's own numbers: always present, so graphs never lose their series."""
    total = len(run.scenarios)
    crit = "" if run.timeout is None else number(run.timeout)
    items = [
        item("scenarios", total, min_=0),
        item("passed", run.count(Outcome.PASSED), min_=0),
        item("failed", run.count(Outcome.FAILED), min_=0),
        item("unknown", run.count(Outcome.UNKNOWN), min_=0),
        item("time", round(run.duration, 3), "s", crit=crit, min_=0),
    ]
    retried = sum(1 for s in run.scenarios if s.retried)
    if retried:
        items.append(item("retried", retried, min_=0))
    return items


_COUNTER_LABELS = ("scenarios", "passed", "failed", "unknown", "time", "retried")


def measurements(run: RunResult) -> list[str]:
    """Every step measurement, with its threshold in the slot the scenario's severity names."""
    return list(iter_measurements(run))


def iter_measurements(run: RunResult) -> Iterator[str]:
    """`measurements`, each made as it is taken: line 1 holds a few dozen of the 5,000 a
    5,000-scenario run has."""
    taken = set(_COUNTER_LABELS)
    for scenario in run.scenarios:
        for m in scenario.measurements:
            label = _unique(clean_label(f"{scenario.name} {m.name}"), taken)
            warn, crit = _slots(scenario, threshold(m.threshold))
            yield item(label, m.value, m.uom, warn, crit, m.minimum, m.maximum)


def _slots(scenario: ScenarioResult, limit: str) -> tuple[str, str]:
    return (limit, "") if scenario.severity is Severity.WARNING else ("", limit)


def _unique(label: str, taken: set[str]) -> str:
    candidate, n = label, 2
    while candidate in taken:
        candidate, n = f"{label} {n}", n + 1
    taken.add(candidate)
    return candidate
