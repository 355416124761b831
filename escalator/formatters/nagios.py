"""The Nagios plugin output of `escalator check`: status line, perfdata, long output.

Line 1 is `LABEL STATE - summary | perfdata` with all perfdata on it (Icinga 2 reads perfdata
on later lines badly); a fleet check's failing hosts are named together there
(`Backup is fresh [db-7, db-12]`). Then one line per fleet check (`escalator.formatters.fleet`:
"Backup is fresh: 2 of 40 db hosts failing: db-7, db-12"), then one block per scenario that did
not pass (and `RETRIED` blocks for those that passed only after a retry), then the run's notices
and errors. `|` never appears in free text, every line is one line, and the whole output fits
Nagios' 8 KiB plugin buffer: blocks are dropped from the end with a note, and measurement
perfdata before the run counters.
Called through `escalator.formatters.render("nagios", ...)`.
"""

from __future__ import annotations

from collections.abc import Iterable

from escalator.formatters import (
    FormatOptions,
    cut,
    detail_lines,
    notable_tags,
    one_line,
    plural,
    reason,
    tally,
)
from escalator.formatters import perfdata as pd
from escalator.options import DEFAULT_LABEL
from escalator.results import Outcome, RunResult, ScenarioResult

# Nagios Core keeps 8192 bytes of plugin output including the terminating NUL.
LIMIT = 8191
# Line 1 may take half: perfdata beyond that would starve the long output that explains it.
LINE1_LIMIT = 4096
# Notices and errors come after the blocks but are kept first; this caps their share.
TRAILER_LIMIT = 2048
_NAMES_SHOWN = 5
_NAME_CHARS = 40
_SUMMARY_CHARS = 200
_LINE_CHARS = 500


def render(run: RunResult, options: FormatOptions) -> str:
    head = f"{_label(options.label)} {run.status.name} - {summary(run)}"
    line1 = _status_line(head, pd.counters(run), pd.iter_measurements(run))
    trailer = _fit([[line] for line in _trailer(run)], TRAILER_LIMIT, "line")
    fleets = _fit([[line] for line in _fleet_lines(run)], TRAILER_LIMIT, "fleet check")
    budget = LIMIT - _size([line1, *fleets, *trailer])
    blocks = [_block(s, options) for s in run.scenarios if _shown(s, options)]
    return "\n".join([line1, *fleets, *_fit(blocks, budget, "scenario"), *trailer]) + "\n"


def _fleet_lines(run: RunResult) -> list[str]:
    """One line per fleet check, passing or not: it says how many hosts were checked."""
    if not any(s.host for s in run.scenarios):
        return []  # no fan-out: its module is not even loaded
    from escalator.formatters import fleet

    return [cut(text(fleet.summary_line(check)), _LINE_CHARS)
            for check in fleet.fleet_checks(run.scenarios)]


def text(value: str) -> str:
    """Free text as Nagios takes it: one line, and `|` (the perfdata separator) made `/`."""
    return one_line(value).replace("|", "/")


def summary(run: RunResult) -> str:
    """The words after `STATE - `: what an operator reads in the notification."""
    if run.errors:
        return cut(text(run.errors[0]), _SUMMARY_CHARS) or "run error"
    if not run.scenarios:
        return "no scenario selected"
    total = len(run.scenarios)
    # Worst first: the names that fit on line 1 should be the ones that set the state.
    failed = sorted((s for s in run.scenarios if s.outcome is Outcome.FAILED),
                    key=lambda s: -s.status.rank)
    unknown = [s for s in run.scenarios if s.outcome is Outcome.UNKNOWN]
    if not failed and not unknown:
        retried = [s for s in run.scenarios if s.retried]
        after = f", {len(retried)} after a retry: {_names(retried)}" if retried else ""
        return f"{plural(total, 'scenario')} passed{after}"
    return tally(plural(total, "scenario"), len(failed), _names(failed) if failed else "",
                 len(unknown), _names(unknown) if unknown else "")


def _hosts(group: list[ScenarioResult]) -> str:
    """` [db-7, db-12]` for a fleet check's failing hosts; "" for a plain scenario."""
    if not group[0].host:
        return ""
    from escalator.formatters import fleet

    return f" [{text(fleet.host_names([s.host for s in group if s.host], _NAMES_SHOWN))}]"


def _names(scenarios: list[ScenarioResult]) -> str:
    """The first names, a fleet check's hosts together: `Backup is fresh [db-7, db-12]`."""
    named: dict[tuple[str, str, int, str], list[ScenarioResult]] = {}
    for s in scenarios:
        named.setdefault((s.check_name, s.file, s.line, s.group or ""), []).append(s)
    items = list(named.values())[:_NAMES_SHOWN]
    shown = [cut(text(group[0].check_name), _NAME_CHARS) + _hosts(group) for group in items]
    more = len(scenarios) - sum(len(group) for group in items)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def _label(label: str) -> str:
    return cut(text(label), 100) or DEFAULT_LABEL


def _status_line(head: str, counters: list[str], measurements: Iterable[str]) -> str:
    line = f"{head} | {' '.join(counters)}"
    size = _size([line])
    for item in measurements:
        size += len(item.encode()) + 1
        if size > LINE1_LIMIT:
            break
        line += " " + item
    return line


def _shown(scenario: ScenarioResult, options: FormatOptions) -> bool:
    return scenario.outcome is not Outcome.PASSED or scenario.retried or options.verbose


def _block(s: ScenarioResult, options: FormatOptions) -> list[str]:
    passed = s.outcome is Outcome.PASSED
    word = "RETRIED" if passed and s.retried else s.status.name
    tags = "".join(f" {t}" for t in notable_tags(s)).replace("|", "/")
    lines = [f"{word} {cut(text(s.name), _LINE_CHARS)} ({text(s.location)}){tags}"]
    if not passed:
        lines.append("  " + cut(text(reason(s)), _LINE_CHARS))
    elif s.retried:
        lines.append(f"  passed on attempt {s.attempts}")
    for n, failure in enumerate(s.earlier_failures, 1):
        lines.append(f"  attempt {n} failed: {cut(text(failure), _LINE_CHARS)}")
    if s.runbook:
        lines.append(f"  runbook: {cut(text(s.runbook), _LINE_CHARS)}")
    if options.verbose:
        lines.extend(f"    {cut(text(line), 200)}" for line in detail_lines(s))
    return lines


def _trailer(run: RunResult) -> list[str]:
    notices = [f"notice: {cut(text(n), _LINE_CHARS)}" for n in run.notices]
    return notices + [f"error: {cut(text(e), _LINE_CHARS)}" for e in run.errors]


def _fit(groups: list[list[str]], budget: int, noun: str) -> list[str]:
    """The groups of lines that fit in `budget` bytes, then a note counting those that did not."""
    out: list[str] = []
    used = 0
    for i, group in enumerate(groups):
        rest = len(groups) - i - 1
        needed = _size(group) + (_size([_note(rest, noun)]) if rest else 0)
        if used + needed > budget:
            return [*out, _note(len(groups) - i, noun)]
        out.extend(group)
        used += _size(group)
    return out


def _note(count: int, noun: str) -> str:
    return f"... {count} more {noun if count == 1 else noun + 's'} not shown"


def _size(lines: list[str]) -> int:
    """Bytes these lines take in the output, each with its newline."""
    return sum(len(line.encode()) + 1 for line in lines)
