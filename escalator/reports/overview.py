"""The overview of a project's environments: `reports/index.html` and `reports/metrics.prom`.

`escalator report` builds one `Summary` per configured environment (from its latest stored
run, its history and its ladder) and calls `render_all`; pure. Each environment's own reports
live in its directory (`reports/<environment>/`); the overview links to them, shows each one's
state, availability and last 24 hours of runs, and says when its ladder is latched or in a
maintenance window. `metrics.prom` holds every environment's series in one file, so
node_exporter's textfile collector keeps pointing at `reports/`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from markupsafe import Markup

from escalator.reports import availability, charts
from escalator.reports.availability import Share
from escalator.reports.ladder_view import LadderView
from escalator.state import HistoryEntry, StoredRun

DAY = 86400.0


@dataclass(frozen=True)
class Summary:
    """One environment on the overview; `stored` is None before its first stored run."""

    name: str
    href: str
    stored: StoredRun | None
    shares: tuple[Share, ...]
    failing: int
    ladder: LadderView
    ribbon: Markup
    configured: bool = False  # the project has a ladder: its series go into metrics.prom


def summary(name: str, directory: str, stored: StoredRun | None,
            history: Sequence[HistoryEntry], ladder: LadderView | None, now: float) -> Summary:
    configured = ladder is not None
    ladder = ladder or LadderView()
    axis = charts.Axis(now - DAY, now)
    runs = [(e.stored_at, e.status) for e in history if axis.covers(e.stored_at)]
    ribbon = charts.timeline(runs, axis, ladder.events, ident=f"timeline-{directory}",
                             title=f"{name}: runs in the last 24 hours", total=600)
    failing = len(stored.run.failing) if stored is not None else 0
    return Summary(name, f"{quote(directory, safe='')}/index.html", stored,
                   availability.run_shares(history, now), failing, ladder, ribbon,
                   configured)


def render_all(summaries: Sequence[Summary], now: float) -> dict[str, str]:
    """File name -> text: the overview page and every environment's metrics in one file."""
    from escalator.formatters.prometheus import render_many
    from escalator.reports.html import environment

    page = environment().get_template("overview.html.j2").render(
        summaries=summaries, now=now, worst=_worst(summaries))
    from escalator.reports.ladder_view import samples

    runs = [s.stored.run for s in summaries if s.stored is not None]
    extra = [sample for s in summaries if s.configured for sample in samples(s.name, s.ladder)]
    return {"index.html": page, "metrics.prom": render_many(runs, extra)}


def _worst(summaries: Sequence[Summary]) -> str:
    from escalator.status import worst

    stored = [s.stored.run.status for s in summaries if s.stored is not None]
    return worst(stored).name if stored else "UNKNOWN"
