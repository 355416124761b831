"""Text for people about a converge (escalator/ladder/converge.py): its plan, its progression.

Pure functions from values to strings; the `converge` command and the converge loop's `say`
write them out. A progression line says which requirements turned green after which level:

>>> from escalator.ladder.actions import ActionResult
>>> from escalator.ladder.model import Observation
>>> obs = Observation(4, 2, 2, 0, outcomes=(("k1", "Net", "P"), ("k2", "DNS", "P")))
>>> print(progress("core-network", ActionResult(("x",), 0, 1.25), obs, ["Net", "DNS"], []))
after level core-network (succeeded in 1.2s): 2 of 4 pass; green now: Net, DNS
"""

from __future__ import annotations

from tabulate import tabulate

from escalator.durations import format_duration
from escalator.ladder.actions import ActionResult
from escalator.ladder.model import LadderConfig, Observation, Plan
from escalator.results import RunResult

LINE = 400  # characters of one progression line: a long list of names is cut


def counts(obs: Observation) -> str:
    return f"{obs.passed} of {obs.total} scenarios pass"


def start_line(environment: str, within: float, obs: Observation) -> str:
    """The first line: where converge starts from."""
    nothing = " (nothing exists yet: the whole ladder)" if obs.total and not obs.passed else ""
    return f"{environment}: converge within {format_duration(within)}: {counts(obs)}{nothing}"


def plan_reason(obs: Observation, plan: Plan) -> str:
    """Why a plan starts where it does (audited with it)."""
    if obs.passed == 0:
        return f"nothing exists: no scenario passes ({obs.failed} failed, {obs.unknown} " \
               f"unknown of {obs.total}): the whole ladder"
    names = ", ".join(t.name for t in plan.triggers)
    return f"deepest failing level {plan.start}, named by {names}"


def plan_line(environment: str, number: int, plan: Plan, reason: str) -> str:
    return cut(f"{environment}: plan {number}: {plan.describe()} ({reason})")


def progress(level: str, result: ActionResult, obs: Observation, turned: list[str],
             lost: list[str]) -> str:
    """What one level did: its end, how many pass now, which turned green or red again."""
    took = f"{result.duration:.1f}s" if result.duration < 60 else format_duration(
        round(result.duration))
    text = f"after level {level} ({result.status} in {took}): {obs.passed} of {obs.total} pass"
    if turned:
        text += f"; green now: {', '.join(turned)}"
    if lost:
        text += f"; red again: {', '.join(lost)}"
    return cut(text)


def nothing_to_plan(run: RunResult, obs: Observation) -> str:
    """Why converge can make no plan from `run`."""
    if run.errors:
        return f"did nothing because the run could not be made: {run.errors[0]}"
    if not run.scenarios:
        return "did nothing because no scenario ran"
    if obs.green:
        return "all scenarios pass: nothing to converge"
    unknown = f" ({obs.unknown} unknown: the check could not be made)" if obs.unknown else ""
    return f"no failing scenario names a ladder level{unknown}"


def plan_text(environment: str, config: LadderConfig, run: RunResult, obs: Observation,
              plan: Plan | None, within: float | None, plans: int) -> str:
    """What `converge --dry-run` shows: the plan from one fresh run, each level with the
    failing scenarios that name it, and what would follow."""
    if plan is None:
        return f"{environment}: {counts(obs)}: {nothing_to_plan(run, obs)}\n"
    failing: dict[str, list[str]] = {}
    for trigger in obs.actionable:
        failing.setdefault(trigger.level, []).append(trigger.name)
    hosts: dict[str, list[str]] = {}
    for level_id, host in plan.sequence:
        hosts.setdefault(level_id, []).extend([host] if host else [])
    rows = [(i, level.id, *([", ".join(hosts[level.id]) or "-"] if plan.hosts else []),
             format_duration(level.timeout),
             format_duration(level.quiesce) if level.quiesce else "none",
             ", ".join(failing.get(level.id, ())) or "-")
            for i, level in enumerate((config.level(lid) for lid in plan.levels), 1)]
    table = tabulate(rows, headers=("#", "level", *(["hosts"] if plan.hosts else []),
                                    "timeout", "quiesce", "failing scenarios"))
    bound = f" within {format_duration(within)}" if within else ""
    return (f"{environment}: converge plan from level {plan.start}: "
            f"{plan_reason(obs, plan)}\n{table}\n"
            f"then: the checks after each level; plans again from the deepest failing level "
            f"at most {plans} more time(s){bound}, until every scenario passes\n")


def cut(text: str) -> str:
    return text if len(text) <= LINE else text[: LINE - 3] + "..."
