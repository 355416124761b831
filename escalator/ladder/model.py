"""The ladder's values: configuration, persisted state and decisions, all frozen.

`config.parse_ladder` builds a `LadderConfig`; `store` reads and writes `LadderState`; `decide`
takes both (plus a RunResult) and returns `Plan`s (`plans`) and `Decision`s; the engine acts on
those. A host-scoped level (`Level.scope`) is counted, latched and run per host: the state
keeps those counters and latches per host beside the environment's.
Times are wall-clock seconds since the epoch, because counters must survive restarts; the
engine keeps them with monotonic time within a process and re-bases them across clock steps
(`decide.rebase`), so a clock that jumps neither frees nor freezes the counters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# Plans are values of their own module; the ladder's modules import them from here too.
from escalator.ladder.plans import HostPlan as HostPlan
from escalator.ladder.plans import Plan as Plan
from escalator.ladder.plans import Trigger as Trigger

SCOPES = ("environment", "host")


@dataclass(frozen=True)
class Level:
    """One rung: what to run, how long it may take, and how often it may run."""

    id: str
    run: tuple[str, ...]
    timeout: float
    quiesce: float = 0.0
    cooldown: float = 0.0
    idempotent: bool = False
    scope: str = "environment"  # "host": once per host it is planned for (docs/fleet.md)

    @property
    def per_host(self) -> bool:
        return self.scope == "host"


@dataclass(frozen=True)
class Maintenance:
    """A window [start, end) in which no action runs; checks and decisions go on."""

    start: float
    end: float
    reason: str = ""

    def covers(self, now: float) -> bool:
        return self.start <= now < self.end


@dataclass(frozen=True)
class Webhook:
    """`notify = { webhook = "https://..." }`: the page POSTed as JSON (`escalator.ladder.webhook`).

    Secrets are named, not written: `url_env`, `token_env`, `routing_key_env` and the values of
    `header_envs` are environment variables read when a page is sent. `format` is the body's
    shape: `escalator` (the payload the notify argv gets), `pagerduty` (Events API v2) or
    `alertmanager` (Alertmanager's webhook body).
    """

    url: str = ""
    url_env: str = ""
    format: str = "escalator"
    headers: tuple[tuple[str, str], ...] = ()
    header_envs: tuple[tuple[str, str], ...] = ()
    token_env: str = ""
    routing_key_env: str = ""
    timeout: float = 10.0
    retries: int = 2
    ca_bundle: str | None = None

    @property
    def secret_envs(self) -> tuple[str, ...]:
        """The environment variables whose values are secrets."""
        names = (self.url_env, self.token_env, self.routing_key_env,
                 *(name for _, name in self.header_envs))
        return tuple(name for name in names if name)


@dataclass(frozen=True)
class LadderConfig:
    """`[ladder]` of escalator.toml. `levels` are in ladder order: the first is the deepest."""

    levels: tuple[Level, ...]
    settle: float = 30.0
    confirm: int = 2
    verify: int = 2
    retry_interval: float = 15.0
    max_reconverge: int = 1
    max_actions_per_hour: int = 6
    loop_engagements: int = 3
    loop_window: float = 6 * 3600.0
    max_failing_fraction: float = 0.5
    max_unknown_fraction: float = 0.5
    host_actions_per_hour: int = 6  # [ladder.per_host]: one host's budget and loop breaker
    host_loop_engagements: int = 3
    host_loop_window: float = 6 * 3600.0
    kill_grace: float = 5.0
    notify: tuple[str, ...] = ()
    webhook: Webhook | None = None
    repage: float = 4 * 3600.0
    maintenance: tuple[Maintenance, ...] = ()
    source: Path | None = None
    base_dir: Path | None = None

    @property
    def level_ids(self) -> tuple[str, ...]:
        return tuple(level.id for level in self.levels)

    def level(self, level_id: str) -> Level:
        return next(level for level in self.levels if level.id == level_id)

    def position(self, level_id: str) -> int:
        """1-based position; 1 is the deepest level."""
        return self.level_ids.index(level_id) + 1

    def per_host(self, level_id: str) -> bool:
        """Whether `level_id` is host-scoped (False for a level the ladder lacks)."""
        return any(level.id == level_id and level.per_host for level in self.levels)


@dataclass(frozen=True)
class Latch:
    """Why the ladder stopped acting; only `ladder resume` clears it. A latch of a `host`
    stops the host-scoped levels of that host only."""

    reason: str
    since: float
    run_id: str = ""
    paged: bool = False
    next_step: str = ""  # what the operator must check before resuming, when the reason knows
    host: str = ""

    @property
    def key(self) -> str:
        """Names this latch, not a later one: a resume request is filed for one key."""
        return f"{self.run_id}@{self.since:.6f}" + (f"@{self.host}" if self.host else "")


@dataclass(frozen=True)
class Intent:
    """Written (fsynced) before a level's process starts; removed once its result is stored.

    `pid` (also the level's process group) and `pid_start` (its start time in /proc, so a
    reused pid is never taken for the level) are added once the process runs; `boot` and
    `mono` date it on the monotonic clock, so the rest of its `timeout` survives a clock step.
    `keeper_pid` is the process that runs the level for the engine (`keeper`), and
    `stopped_by` names the signal when the engine stopped the level itself (an orderly stop,
    not a crash).
    """

    run_id: str
    level: str
    idempotent: bool
    started: float
    pid: int | None = None
    pid_start: int | None = None
    timeout: float | None = None
    boot: str = ""
    mono: float | None = None
    engine_pid: int | None = None
    keeper_pid: int | None = None
    stopped_by: str | None = None
    targets: str = ""  # the plan's @target values, for what to check after an interruption
    host: str = ""  # a host-scoped level's host (and its group)
    group: str = ""


@dataclass(frozen=True)
class Page:
    """A problem the ladder paged about and has not resolved yet; kept in the state, so a
    restart neither pages it again before `repage` nor forgets to resolve it.

    `sent` is when the notifier last took it (None: never); `retry` is set when the last send
    failed, so the next run tries again.
    """

    key: str
    kind: str
    since: float
    sent: float | None = None
    run_id: str = ""
    summary: str = ""
    severity: str = "critical"
    retry: bool = False


@dataclass(frozen=True)
class NotifierHealth:
    """How the last page went: `failing_since` is set while the notifier fails."""

    failing_since: float | None = None
    error: str = ""
    last_ok: float | None = None


@dataclass(frozen=True)
class LadderState:
    """What survives restarts: counters, latch, scenario histories, the last engagement.

    `actions` counts every level run (the environment-wide budget); `engagements` those that
    ran a level for the environment as a whole; `level_runs` the runs of a level for the
    environment (its cooldown). Per host: `host_actions` (host, time), `host_engagements`
    (host, time), `host_runs` (level, host, time) and `host_latches`.
    """

    environment: str
    generation: int = 0
    latch: Latch | None = None
    actions: tuple[float, ...] = ()
    engagements: tuple[float, ...] = ()
    level_runs: tuple[tuple[str, float], ...] = ()
    histories: tuple[tuple[str, str], ...] = ()
    flapping: tuple[str, ...] = ()
    last_engagement: tuple[tuple[str, Any], ...] = ()
    pages: tuple[Page, ...] = ()
    notifier: NotifierHealth = NotifierHealth()
    clock: tuple[str, float, float] | None = None  # (boot id, monotonic, ladder time) at save
    host_latches: tuple[Latch, ...] = ()
    host_actions: tuple[tuple[str, float], ...] = ()
    host_engagements: tuple[tuple[str, float], ...] = ()
    host_runs: tuple[tuple[str, str, float], ...] = ()

    def last_run(self, level_id: str, host: str | None = None) -> float | None:
        """When `level_id` last ran for the environment, or for `host`."""
        if host is None:
            times = [t for lid, t in self.level_runs if lid == level_id]
        else:
            times = [t for lid, on, t in self.host_runs if lid == level_id and on == host]
        return max(times) if times else None

    def host_latch(self, host: str) -> Latch | None:
        return next((latch for latch in self.host_latches if latch.host == host), None)

    @property
    def latches(self) -> tuple[Latch, ...]:
        """The environment's latch, if any, then every host's."""
        return ((self.latch,) if self.latch is not None else ()) + self.host_latches

    def page(self, key: str) -> Page | None:
        return next((page for page in self.pages if page.key == key), None)

    def history(self, key: str) -> str:
        return dict(self.histories).get(key, "")

    def with_(self, **changes: Any) -> LadderState:
        return replace(self, **changes)


@dataclass(frozen=True)
class Failing:
    """A scenario that did not pass, as a page shows it. `category` says what the ladder may
    do about it: `actionable`, `flapping`, `no_level` (failed, no ladder level), `latched` (a
    host-scoped level for a latched host) or `unknown`."""

    key: str
    name: str
    location: str
    reason: str
    severity: str
    category: str
    runbook: str | None = None
    level: str | None = None
    host: str | None = None


@dataclass(frozen=True)
class Observation:
    """One run classified for the ladder: counts, what may act, and what may not, and why."""

    total: int
    passed: int
    failed: int
    unknown: int
    actionable: tuple[Trigger, ...] = ()
    flapping: tuple[str, ...] = ()
    untagged: tuple[str, ...] = ()
    degraded: str | None = None
    outcomes: tuple[tuple[str, str, str], ...] = ()  # (key, name, P/F/U) of every scenario
    degraded_kind: str | None = None  # mass_failure, monitor_blind, run_error, no_scenarios
    failing: tuple[Failing, ...] = ()  # every scenario that did not pass, with its reason
    hosts: tuple[tuple[str, str], ...] = ()  # (host, group) of every fan-out scenario, in order
    held: tuple[tuple[str, str], ...] = ()  # (host, why): latched hosts, no host-scoped level

    @property
    def summary(self) -> str:
        """'4 passed, 2 failed, 0 unknown of 6', and why the monitor looks broken if it does."""
        text = (f"{self.passed} passed, {self.failed} failed, {self.unknown} unknown of "
                f"{self.total}")
        return f"{text}; {self.degraded}" if self.degraded else text

    @property
    def nothing_because(self) -> str:
        """Why nothing may act on this run, in the words of the audit log."""
        if self.degraded:
            return f"did nothing because {self.degraded}"
        parts = []
        if self.flapping:
            parts.append(f"flapping: {', '.join(self.flapping)}")
        if self.untagged:
            parts.append(f"no ladder level: {', '.join(self.untagged)}")
        latched = self.of("latched")
        if latched:
            why = dict(self.held)
            hosts = dict.fromkeys(str(f.host) for f in latched)
            parts.append(f"latched: {', '.join(f.name for f in latched)} (" + "; ".join(
                f"host {host} is latched: {why.get(host, '')}" for host in hosts) + ")")
        if self.unknown:
            parts.append(f"{self.unknown} unknown (the check could not be made)")
        return "did nothing because " + ("; ".join(parts) or "no failure may act")

    def details(self, keys: Iterable[str]) -> tuple[Failing, ...]:
        """The failing scenarios among `keys`, in the run's order."""
        wanted = set(keys)
        return tuple(f for f in self.failing if f.key in wanted)

    def of(self, category: str) -> tuple[Failing, ...]:
        return tuple(f for f in self.failing if f.category == category)

    @property
    def green(self) -> bool:
        return self.total > 0 and self.passed == self.total and self.degraded is None

    def verified(self, keys: frozenset[str]) -> bool:
        """Every scenario in `keys` (those a plan was made for) passed, in a sound run."""
        passed = {key for key, _, letter in self.outcomes if letter == "P"}
        return self.degraded is None and bool(keys) and keys <= passed

    def others(self, keys: frozenset[str]) -> tuple[str, ...]:
        """Failing scenarios outside `keys`: reported, never judged by that plan's verify."""
        return tuple(name for key, name, letter in self.outcomes
                     if letter == "F" and key not in keys)


@dataclass(frozen=True)
class Decision:
    """What to do with a plan now: `act`, `suppress` (maintenance), `latch` (the environment),
    `latched` (it is already) or `hold` (every host of the plan latches now), and why.

    `host_latches` are the hosts that may not act now, each with why: they latch, and the
    `plan` to act on is the rest."""

    verdict: str
    reason: str
    plan: Plan | None = None
    data: dict[str, Any] = field(default_factory=dict)
    host_latches: tuple[tuple[str, str], ...] = ()

    @property
    def acts(self) -> bool:
        return self.verdict == "act"
