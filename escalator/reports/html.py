"""The living document: `index.html`, every requirement with its state, since when and its past.

`escalator report` calls `render(stored, history, now, ladder)` and writes the text; this module
never writes. The page is one self-contained file (inline CSS, inline SVG charts made by
`escalator.reports.charts`, and a few lines of JS for filtering by state and tag and for the
larger chart on click; no external assets), so it works from file://, can be archived as a CI
artefact or mailed. Jinja2 autoescapes everything: scenario names, reasons and step errors quote
what targets sent back; the charts escape their own text.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import jinja2

from escalator import timestamps
from escalator.durations import format_duration
from escalator.formatters import reason
from escalator.reports import DRAWN_RUNS
from escalator.reports import page as model
from escalator.reports.ladder_view import LadderView
from escalator.reports.timeline import Row
from escalator.results import Outcome
from escalator.state import HistoryEntry, StoredRun

TEMPLATES = Path(__file__).parent / "templates"
STATES = ("CRITICAL", "WARNING", "UNKNOWN", "OK")
LADDER_LOG = 15  # the ladder's latest events listed under the table


def render(stored: StoredRun, history: Sequence[HistoryEntry], now: float,
           ladder: LadderView | None = None, drawn: int = DRAWN_RUNS) -> str:
    """The whole page for the stored run of one environment, as of `now`.

    `ladder`: the ladder's latch, maintenance window and events, when it is configured;
    `drawn`: how many of the latest runs the charts draw.
    """
    page = model.build(stored, history, now, ladder, drawn)
    table = [view.row for view in page.scenarios]
    return environment().get_template("index.html.j2").render(
        page=page, stored=stored, run=stored.run, now=now, states=STATES,
        tags=sorted({t for r in table for t in _tags(r)}),
        counts={s: sum(1 for r in table if r.scenario.status.name == s) for s in STATES},
        ladder_log=list(reversed(page.ladder.events[-LADDER_LOG:])),
    )


def environment() -> jinja2.Environment:
    """The report templates' Jinja2 environment: autoescaping, strict, with our filters."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(utc=utc, duration=duration, ago=ago, safe_url=safe_url, until=until)
    env.globals.update(reason_of=_reason, tags_of=_tags)
    return env


def _tags(row: Row) -> list[str]:
    return [f"@{t.lstrip('@')}" for t in row.scenario.tags]


def _reason(row: Row) -> str:
    return "" if row.scenario.outcome is Outcome.PASSED else reason(row.scenario)


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


def until(epoch: float, now: float) -> str:
    """How long after `now`, rounded to the minute.

    >>> until(7300.0, 100.0), until(50.0, 100.0)
    ('in 2h', 'now')
    """
    seconds = round((epoch - now) / 60) * 60
    return f"in {format_duration(seconds)}" if seconds > 0 else "now"


def safe_url(url: str | None) -> str | None:
    """Runbook links only for http(s): autoescaping does not stop a `javascript:` href.

    >>> safe_url("https://wiki/runbook"), safe_url("javascript:alert(1)")
    ('https://wiki/runbook', None)
    """
    if not url:
        return None
    return url if urlsplit(url).scheme in ("http", "https") else None

