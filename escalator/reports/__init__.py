"""The reports: what people and tools read about the latest run of an environment.

`escalator report` calls `render_all(stored, history, now, ladder)` for each environment and
writes each text into that environment's report directory, then `overview.render_all(...)` when
the project has several environments; nothing here writes files. The files:

- `index.html`   the living document (`escalator.reports.html`: page model in `page`, charts in
                 `charts`, availability in `availability`, the ladder's part in `ladder_view`)
- `summary.txt`  plain tables (`escalator.reports.tables`)
- `metrics.prom` node_exporter textfile (the prometheus formatter, with the ladder's series)
- `junit.xml`, `results.json`  the junit and json formatters, from the stored run
- `deployment.html`  when each requirement first turned green and what made it, which are
                 still red (`escalator.reports.deployment`)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from escalator.state import HistoryEntry, StoredRun

if TYPE_CHECKING:
    from escalator.reports.ladder_view import LadderView

FILES = ("index.html", "summary.txt", "metrics.prom", "junit.xml", "results.json",
         "deployment.html")
DRAWN_RUNS = 300  # the latest runs the charts draw (escalator.reports.page uses the same)


def render_all(stored: StoredRun, history: Sequence[HistoryEntry], now: float,
               ladder: LadderView | None = None, drawn: int = DRAWN_RUNS) -> dict[str, str]:
    """File name -> text for every report of the stored run."""
    from escalator.formatters import render
    from escalator.formatters.prometheus import render_many
    from escalator.reports import deployment, html, tables
    from escalator.reports.ladder_view import samples

    extra = samples(stored.environment, ladder) if ladder is not None else []
    return {
        "index.html": html.render(stored, history, now, ladder, drawn),
        "summary.txt": tables.render(stored, history, now),
        "metrics.prom": render_many([stored.run], extra),
        "junit.xml": render("junit", stored.run),
        "results.json": render("json", stored.run),
        "deployment.html": deployment.render(stored, history, now, ladder),
    }
