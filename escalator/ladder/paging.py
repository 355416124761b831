"""What the ladder pages about and when: problems, their dedup keys, the page, and each round's
sends, repeats and resolves.

Pure: values in, values out; `pager` sends what a round asks for and records it. A *problem* is
one thing a human must look at. Its dedup key comes from its kind and the scenarios involved
(`escalator/<env>/<kind>/<digest of their keys>`), so a later, different problem opens another
incident; a broken monitor (mass failure, blind, a run that could not be made) is one problem
whatever scenarios it takes down (`escalator/<env>/<kind>`), a latch is one problem until it is
resumed (`escalator/<env>/latched/<since>`; a host's `escalator/<env>/latched/<host>/<since>`,
so each latched host is its own incident), and what a converge left red is `still_red`. An
open problem is paged once, again only after `repage`, and resolved when a sound run no longer
shows it (a latch: when it is resumed).

>>> from escalator.ladder.model import Failing
>>> f = Failing("f.feature::Home", "Home", "f.feature:3", "Then x: boom", "warning", "no_level")
>>> obs = Observation(2, 1, 1, 0, failing=(f,), untagged=("Home",))
>>> [(p.kind, p.key, p.severity) for p in problems_of(obs, "prod")]
[('no_level', 'escalator/prod/no_level/b53dcf2040e7', 'warning')]
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from escalator.formatters import cut
from escalator.ladder.model import Failing, Latch, Observation, Page, Plan
from escalator.timestamps import utc

SCENARIOS_SHOWN = 20  # a page names at most this many scenarios (a mass failure has many)
SUMMARY_CHARS = 1024  # PagerDuty's limit for a summary
DEGRADED = frozenset({"mass_failure", "monitor_blind", "run_error", "no_scenarios"})

_NEXT = {
    "mass_failure": "check the monitor host's network and what the failing scenarios share "
                    "(DNS, a load balancer, a database): the ladder never acts on a mass failure",
    "monitor_blind": "find out why the checks cannot be made: escalator check -e {env} -v",
    "run_error": "fix the suite or its configuration: escalator check -e {env} shows the error",
    "no_scenarios": "check which scenarios the ladder runs (paths, tags): none ran",
    "flapping": "look at the flapping scenarios by hand; the ladder acts on them again once "
                "they are steady (below 25% state change)",
    "no_level": "repair by hand, or tag the scenarios @escalate.<level> if a ladder level "
                "repairs them",
}
_WORDS = {"flapping": "flapping", "no_level": "failing without a ladder level"}


@dataclass(frozen=True)
class Problem:
    """One thing a human must look at, with everything its page says."""

    kind: str
    key: str
    reason: str
    severity: str  # critical | warning (PagerDuty's words)
    scenarios: tuple[Failing, ...]
    next_step: str
    since: float | None = None  # a latch's moment; others start when first seen
    host: str = ""  # a host's latch


@dataclass(frozen=True)
class Round:
    """What one engagement's end sends: problems to page (new, due again or not delivered
    yet) and open pages whose problem is gone."""

    send: tuple[Problem, ...] = ()
    resolve: tuple[Page, ...] = ()


def dedup_key(environment: str, kind: str, keys: Iterable[str] = ()) -> str:
    """`escalator/<env>/<kind>[/<12 hex digits of the sorted scenario keys>]` (PagerDuty takes
    255 characters; scenario names can be long)."""
    unique = sorted(set(keys))
    if not unique:
        return f"escalator/{environment}/{kind}"
    digest = hashlib.sha256("\n".join(unique).encode()).hexdigest()[:12]
    return f"escalator/{environment}/{kind}/{digest}"


def problems_of(obs: Observation, environment: str) -> tuple[Problem, ...]:
    """What a run that nothing may act on pages about: a broken monitor, or flapping
    scenarios and failing scenarios without a level (one problem each). Unknown scenarios
    alone page nothing: too many of them is a blind monitor."""
    env = environment
    if obs.degraded is not None:
        kind = obs.degraded_kind or "run_error"
        return (Problem(kind, dedup_key(env, kind), obs.degraded, "critical", obs.failing,
                        _NEXT.get(kind, _NEXT["run_error"]).format(env=env)),)
    problems = []
    for kind in ("flapping", "no_level"):
        involved = obs.of(kind)
        if involved:
            names = ", ".join(f.name for f in involved)
            problems.append(Problem(kind, dedup_key(env, kind, (f.key for f in involved)),
                                    f"{_WORDS[kind]}: {names}", _severity(involved), involved,
                                    _NEXT[kind]))
    return tuple(problems)


def latch_problem(latch: Latch, environment: str, obs: Observation | None,
                  plan: Plan | None) -> Problem:
    """The latch as a problem: critical, keyed by its moment, naming the plan's scenarios (a
    host's latch: that host's failing scenarios)."""
    involved: tuple[Failing, ...] = ()
    if obs is not None and latch.host:
        involved = tuple(f for f in obs.failing if f.host == latch.host
                         and f.category != "unknown")
    elif obs is not None:
        involved = (obs.details(plan.keys) if plan is not None else ()) or obs.of("actionable")
    return Problem("latched", latch_key(environment, latch), latch.reason,
                   "critical", involved, latch.next_step or resume_hint(environment, latch),
                   latch.since, latch.host)


def still_red(obs: Observation, environment: str, reason: str) -> Problem:
    """What an `escalator converge` could not bring up (`reason` says why it stopped)."""
    return Problem("still_red", dedup_key(environment, "still_red", (f.key for f in obs.failing)),
                   reason, "critical", obs.failing,
                   f"repair what is still red by hand, or fix a level and run escalator "
                   f"converge -e {environment} again")


def latch_key(environment: str, latch: Latch) -> str:
    host = f"{latch.host}/" if latch.host else ""
    return f"escalator/{environment}/latched/{host}{int(latch.since)}"


def resume_hint(environment: str, latch: Latch) -> str:
    """The next step for a latch whose reason does not say more."""
    hint = (f"find out why (escalator ladder history -e {environment}); when it is safe to "
            f"act again: escalator ladder resume -e {environment}{_host_option(latch.host)} "
            "--reason TEXT")
    if latch.reason.startswith(("loop breaker", "hourly budget")):
        hint += " --reset-counters (else the next failure latches again at once)"
    return hint


def interrupted_hint(environment: str, level: str, program: str, targets: str,
                     host: str = "") -> str:
    """What to check after a level that is not idempotent was cut short."""
    on = f" to {host}" if host else f" to {targets}" if targets else ""
    return (f"check what level {level} ({program}) did{on} before it was cut short (its "
            f"output: escalator ladder history -e {environment}); finish or undo it by hand, "
            f"then: escalator ladder resume -e {environment}{_host_option(host)} --reason TEXT")


def _host_option(host: str) -> str:
    return f" --host {host}" if host else ""


def plan_round(pages: tuple[Page, ...], firing: tuple[Problem, ...], present: set[str],
               now: float, repage: float) -> Round:
    """Which problems to page now and which open pages to resolve.

    `firing`: the problems this engagement pages about; `present`: keys of every problem
    still there (firing or not), so that its page stays open.
    """
    open_pages = {page.key: page for page in pages}
    send = tuple(p for p in firing if _due(open_pages.get(p.key), now, repage))
    resolve = tuple(page for page in pages if page.key not in present)
    return Round(send, resolve)


def present_keys(pages: tuple[Page, ...], firing: tuple[Problem, ...], obs: Observation | None,
                 environment: str) -> set[str]:
    """The problems still there: those firing, and those a sound run still shows. A run that
    cannot see (degraded, or none) keeps every open page but a latch's."""
    keys = {p.key for p in firing}
    if obs is None or obs.degraded is not None:
        return keys | {page.key for page in pages if page.kind != "latched"}
    return keys | {p.key for p in problems_of(obs, environment)}


def _due(page: Page | None, now: float, repage: float) -> bool:
    return page is None or page.retry or page.sent is None or now - page.sent >= repage


def _severity(involved: tuple[Failing, ...]) -> str:
    return "critical" if any(f.severity == "critical" for f in involved) else "warning"


def payload(problem: Problem, environment: str, run_id: str, since: float, did: str,
            plan: Plan | None) -> dict[str, Any]:
    """The page as the notifier gets it (JSON on the notify argv's stdin, or POSTed)."""
    shown = problem.scenarios[:SCENARIOS_SHOWN]
    runbooks = list(dict.fromkeys(f.runbook for f in problem.scenarios if f.runbook))
    body: dict[str, Any] = {
        "event": problem.kind if problem.kind in ("latched", "still_red") else "unactionable",
        "kind": problem.kind, "environment": environment, "run_id": run_id,
        "dedup_key": problem.key, "severity": problem.severity,
        "summary": cut(f"{environment}: "
                       f"{headline(problem.kind, problem.reason, problem.host)}",
                       SUMMARY_CHARS),
        "reason": problem.reason, "since": utc(since),
        "scenarios": [_scenario(f) for f in shown], "runbooks": runbooks,
        "plan": list(plan.levels) if plan else [], "did": did,
        "next_step": problem.next_step,
    }
    if len(problem.scenarios) > len(shown):
        body["more_scenarios"] = len(problem.scenarios) - len(shown)
    if problem.host:
        body["host"] = problem.host
    return body


def resolved_payload(page: Page, environment: str, run_id: str, now: float,
                     why: str) -> dict[str, Any]:
    """The event that closes `page`'s incident (same dedup key)."""
    return {"event": "resolved", "kind": page.kind, "environment": environment,
            "run_id": run_id, "dedup_key": page.key, "severity": page.severity,
            "summary": cut(f"{environment}: resolved: {page.summary}", SUMMARY_CHARS),
            "reason": why, "since": utc(page.since), "resolved": utc(now), "scenarios": [],
            "runbooks": [], "plan": [], "did": "", "next_step": ""}


def headline(kind: str, reason: str, host: str = "") -> str:
    """The one line a pager shows: the reason, and for a latch that it is one (and whose)."""
    if kind != "latched":
        return reason
    return f"latched {host}: {reason}" if host else f"latched: {reason}"


def _scenario(f: Failing) -> dict[str, Any]:
    shown = {"name": f.name, "location": f.location, "reason": f.reason,
             "severity": f.severity, "runbook": f.runbook, "level": f.level}
    return {**shown, "host": f.host} if f.host else shown

