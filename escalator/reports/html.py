"""The living document: `index.html`, every requirement with its state, since when and its past.

`escalator report` calls `render(stored, history, now)` and writes the text; this module never
writes. The page is one self-contained file (inline CSS and a few lines of JS for filtering by
state and tag, no external assets), so it can be archived as a CI artefact or mailed. Jinja2
autoescapes everything: scenario names, reasons and step errors quote what targets sent back.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import jinja2

from escalator import timestamps
from escalator.durations import format_duration
from escalator.formatters import reason
from escalator.reports.timeline import Row, rows
from escalator.results import Outcome
from escalator.state import HistoryEntry, StoredRun
from escalator.status import Status

TEMPLATES = Path(__file__).parent / "templates"
STATES = ("CRITICAL", "WARNING", "UNKNOWN", "OK")


def render(stored: StoredRun, history: Sequence[HistoryEntry], now: float) -> str:
    """The whole page for the stored run of one environment, as of `now`."""
    table = rows(stored, history)
    run = stored.run
    return _environment().get_template("index.html.j2").render(
        stored=stored, run=run, features=_by_feature(table), now=now,
        states=STATES, tags=sorted({t for r in table for t in _tags(r)}),
        counts={s: sum(1 for r in table if r.scenario.status.name == s) for s in STATES},
    )


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(utc=utc, duration=duration, ago=ago, safe_url=safe_url)
    env.globals.update(reason_of=_reason, tags_of=_tags, status_name=_status_name)
    return env


def _by_feature(table: list[Row]) -> list[tuple[str, list[Row]]]:
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in table:
        groups.setdefault((row.scenario.file, row.scenario.feature), []).append(row)
    return [(feature, members) for (_, feature), members in groups.items()]


def _tags(row: Row) -> list[str]:
    return [f"@{t.lstrip('@')}" for t in row.scenario.tags]


def _reason(row: Row) -> str:
    return "" if row.scenario.outcome is Outcome.PASSED else reason(row.scenario)


def _status_name(status: Status | None) -> str:
    return status.name if status is not None else "NONE"


def utc(epoch: float) -> str:
    """Epoch seconds as a UTC time an operator in any zone reads the same way.

    >>> utc(0)
    '1970-01-01 00:00:00 UTC'
    """
    return timestamps.utc(epoch, timestamps.PAGE)


def duration(seconds: float) -> str:
    """A scenario or run duration, short.

    >>> duration(1.23456), duration(0.0424), duration(95)
    ('1.23s', '42ms', '1m35s')
    """
    return format_duration(seconds) if seconds < 1 or seconds >= 60 else f"{seconds:.2f}s"


def ago(epoch: float, now: float) -> str:
    """How long before `now`, rounded to the second.

    >>> ago(100.0, 3700.0), ago(5.0, 5.2)
    ('1h ago', 'just now')
    """
    seconds = max(0, round(now - epoch))
    return "just now" if seconds < 1 else f"{format_duration(seconds)} ago"


def safe_url(url: str | None) -> str | None:
    """Runbook links only for http(s): autoescaping does not stop a `javascript:` href.

    >>> safe_url("https://wiki/runbook"), safe_url("javascript:alert(1)")
    ('https://wiki/runbook', None)
    """
    if not url:
        return None
    return url if urlsplit(url).scheme in ("http", "https") else None

