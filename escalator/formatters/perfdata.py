"""Nagios performance data: the counters of a run and the measurements its steps took.

Owns the plugin-guidelines grammar `'label'=value[UOM];[warn];[crit];[min];[max]`: label
cleaning and quoting, unique labels, the allowed units and number rounding. The ranges are the
measurements' own `Limit`s, written as they judged (`@500:` for "less than 500"); a limit
stated alone goes in the slot of the scenario's severity, a pair in warn;crit. A measurement
without a value (no answer to time) is written "U". Called by the nagios formatter, which
decides how many items fit on line 1. `limits()` is the one place that reads a measurement's
thresholds and the state each stands for (perfdata slots, Prometheus, the report's charts), and
`base_unit()` the one that turns its unit into a base unit (Prometheus, Graphite).

>>> number(1.2300000001), number(0.000123456), number(float("nan")), number(-0.0)
('1.23', '0.000123', 'U', '0')
>>> item("Home page renders response_time", 12.5, "ms", crit="@500:")
"'Home page renders response_time'=12.5ms;;@500:"
>>> item("passed", 12, min_=0), item("t", None, "ms", crit="500")
('passed=12;;;0', 't=U;;500')
>>> label("A scenario whose name is far too long to keep", "response_time_p99")
'A scenario whose name is far t... response_time_p99'
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from escalator.formatters import cut
from escalator.limits import Limit
from escalator.results import Measurement, Outcome, RunResult, ScenarioResult, Severity
from escalator.status import Status
from escalator.text import one_line

# The units the plugin guidelines name that our graphers (PNP4Nagios, Icinga 2 writers) accept;
# anything else breaks some writer, so the value goes out without a unit instead.
UNITS = frozenset({"s", "ms", "%", "B", "KB", "MB", "c"})

_PLAIN_LABEL = re.compile(r"[A-Za-z0-9_.-]+")
# Unit -> (base unit, factor), per the Prometheus naming guide; "c" (a count) and "" have none.
# KB/MB/... are powers of 1024, as the monitoring plugins write them.
_BASE_UNITS = {"s": ("seconds", 1.0), "ms": ("seconds", 1e-3), "us": ("seconds", 1e-6),
               "%": ("ratio", 0.01), "B": ("bytes", 1.0), "KB": ("bytes", 1024.0),
               "MB": ("bytes", 1024.0 ** 2), "GB": ("bytes", 1024.0 ** 3),
               "TB": ("bytes", 1024.0 ** 4)}
_LABEL_MAX = 60
_SCENARIO_MIN = 12  # characters of the scenario's name kept however long the measurement's is


def number(value: float | None) -> str:
    """`value` in `[-0-9.]` form, rounded for people: 3 decimals, 3 significant digits below 1;
    "U" when it could not be determined."""
    if value is None or not math.isfinite(value):
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
    return cut(_clean(text), _LABEL_MAX) or "value"


def _clean(text: str) -> str:
    text = text.replace("'", "").replace("=", "").replace("|", "/")
    return one_line(text)


def label(scenario: str, measurement: str, host: str | None = None) -> str:
    """`scenario measurement`, bounded: the scenario's part is shortened, never the
    measurement's name, which says what the number is, nor a fan-out run's host, which says
    whose it is (`Backup is... [db-7] age`).

    >>> label("Backup is younger than a day", "age /var/backups/db.dump", "db-7")
    'Backup is younger th... [db-7] age /var/backups/db.dump'
    """
    name = clean_label(measurement)
    tail = f" [{_clean(host)}]" if host else ""
    room = max(_SCENARIO_MIN, _LABEL_MAX - len(name) - len(tail) - 1)
    return clean_label(f"{cut(_clean(scenario), room)}{tail} {name}")


def quote(label: str) -> str:
    return label if _PLAIN_LABEL.fullmatch(label) else f"'{label}'"


@dataclass(frozen=True)
class Threshold:
    """One limit of a measurement and the state its breach stands for.

    >>> Threshold(Status.WARNING, Limit.at_least(14)).alerts(13), str(Limit.below(500))
    (True, '@500:')
    """

    level: Status
    limit: Limit

    def alerts(self, value: float) -> bool:
        return self.limit.alerts(value)


def limits(scenario: ScenarioResult, measurement: Measurement) -> tuple[Threshold, ...]:
    """The thresholds of `measurement`, warning first. A limit stated alone (`crit` without
    `warn`) is the one whose breach fails the step: it stands for the scenario's severity.
    Every reader of thresholds goes through here."""
    alone = measurement.warn is None and scenario.severity is Severity.WARNING
    found = []
    if measurement.warn is not None:
        found.append(Threshold(Status.WARNING, measurement.warn))
    if measurement.crit is not None:
        found.append(Threshold(Status.WARNING if alone else Status.CRITICAL, measurement.crit))
    return tuple(found)


def slots(scenario: ScenarioResult, measurement: Measurement) -> tuple[str, str]:
    """The (warn, crit) perfdata fields of `measurement`, as `limits()` places them."""
    found = {t.level: str(t.limit) for t in limits(scenario, measurement)}
    return found.get(Status.WARNING, ""), found.get(Status.CRITICAL, "")


def base_unit(uom: str) -> tuple[str, float]:
    """The base unit a measurement's unit converts to, and the factor; ("", 1.0) for none.

    >>> base_unit("ms"), base_unit("%"), base_unit("")
    (('seconds', 0.001), ('ratio', 0.01), ('', 1.0))
    """
    return _BASE_UNITS.get(uom, ("", 1.0))


def item(label: str, value: float | None, uom: str = "", warn: str = "", crit: str = "",
         min_: float | None = None, max_: float | None = None) -> str:
    """One perfdata item; trailing empty fields are dropped (the guidelines allow it)."""
    # Only the value may be "U"; an undeterminable limit is simply left out.
    limits = ["" if x is None or not math.isfinite(x) else number(x) for x in (min_, max_)]
    fields = [warn, crit, *limits]
    shown = number(value)
    unit = uom if uom in UNITS and shown != "U" else ""  # "U" stands alone, as the guidelines
    text = f"{quote(label)}={shown}{unit};" + ";".join(fields)
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
    """Every step measurement, with its limits in the warn and crit slots."""
    return list(iter_measurements(run))


def iter_measurements(run: RunResult) -> Iterator[str]:
    """`measurements`, each made as it is taken: line 1 holds a few dozen of the 5,000 a
    5,000-scenario run has."""
    taken = set(_COUNTER_LABELS)
    for scenario in run.scenarios:
        for m in scenario.measurements:
            warn, crit = slots(scenario, m)
            yield item(_unique(scenario, m.name, taken), m.value, m.uom, warn, crit, m.minimum,
                       m.maximum)


def _unique(scenario: ScenarioResult, measurement: str, taken: set[str]) -> str:
    """A label no other item has: a repeated one gets `_2`, `_3`... on the measurement's name
    (the suffix `escalator.steps.support.record` uses within a scenario)."""
    name, host = (scenario.check_name, scenario.host) if scenario.host else (scenario.name, None)
    candidate, n = label(name, measurement, host), 2
    while candidate in taken:
        candidate, n = label(name, f"{measurement}_{n}", host), n + 1
    taken.add(candidate)
    return candidate
