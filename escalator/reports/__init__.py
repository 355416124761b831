"""The reports: what people and tools read about the latest run of an environment.

`escalator report` calls `render_all(stored, history, now)` and writes each text into the
report directory; nothing here writes files. The files:

- `index.html`   the living document (`escalator.reports.html`)
- `summary.txt`  plain tables (`escalator.reports.tables`)
- `metrics.prom` node_exporter textfile (the prometheus formatter)
- `junit.xml`, `results.json`  the junit and json formatters, from the stored run
"""

from __future__ import annotations

from collections.abc import Sequence

from escalator.state import HistoryEntry, StoredRun

FILES = ("index.html", "summary.txt", "metrics.prom", "junit.xml", "results.json")


def render_all(stored: StoredRun, history: Sequence[HistoryEntry], now: float
               ) -> dict[str, str]:
    """File name -> text for every report of the stored run."""
    from escalator.formatters import render
    from escalator.reports import html, tables

    return {
        "index.html": html.render(stored, history, now),
        "summary.txt": tables.render(stored, history, now),
        "metrics.prom": render("prometheus", stored.run),
        "junit.xml": render("junit", stored.run),
        "results.json": render("json", stored.run),
    }
