"""Shared rig for the ladder tests (no tests here): a fake clock, scripted runs, and a ladder
whose levels are real shell scripts that record what ran into ran.log."""

from __future__ import annotations

import json
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path

from escalator.env import Env
from escalator.ladder.config import parse_ladder
from escalator.ladder.engine import Engine
from escalator.ladder.model import LadderConfig
from escalator.ladder.store import LadderStore
from escalator.results import RunResult
from tests.builders import run_of, scenario
from tests.project import ladder_level, ladder_toml

START = 1_800_000_000.0
LEVEL_SCRIPT = """#!/bin/sh
echo "$ESCALATOR_LEVEL plan=[$ESCALATOR_PLAN] targets=[$ESCALATOR_TARGETS] env=$ESCALATOR_ENV" \
    >> "{log}"
{extra}
"""
PAGE_SCRIPT = """#!/bin/sh
cat >> "{log}"
echo >> "{log}"
"""


class Clock:
    """Wall and monotonic time that only `sleep` moves; records every sleep."""

    def __init__(self, start: float = START) -> None:
        self.t, self.sleeps = start, []  # type: ignore[var-annotated]

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t - START

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def state_of(ping: str = "P", smoke: str = "P", extra: str = "PPPP") -> RunResult:
    """A run of six scenarios: ping (@escalate.vm), smoke (@escalate.deploy), four others."""
    letters = {"P": "passed", "F": "failed", "U": "unknown"}
    wanted = [("ping", ping, "vm"), ("smoke", smoke, "deploy"),
              *((f"other{i}", c, None) for i, c in enumerate(extra))]
    return run_of(*(scenario(name, letters[c], level, (f"target.{name}-1",), feature="F",
                             file="features/f.feature", line=1) for name, c, level in wanted))


GREEN = state_of()


class Script:
    """Scripted runs, consumed in order; running past the end is a test failure."""

    def __init__(self, *runs: RunResult) -> None:
        self.runs, self.used = list(runs), 0

    def __call__(self) -> RunResult:
        assert self.used < len(self.runs), f"the engine ran the checks more than {self.used} times"
        self.used += 1
        return self.runs[self.used - 1]


class Rig:
    """A ladder of vm -> converge -> deploy in `root`, with a pager that appends to pages.log."""

    def __init__(self, root: Path, toml: str = "", scripts: dict[str, str] | None = None,
                 secrets: tuple[str, ...] = ()) -> None:
        self.root, self.clock, self.secrets = root, Clock(), secrets
        self.ran_log, self.page_log = root / "ran.log", root / "pages.log"
        (root / "ops").mkdir(parents=True, exist_ok=True)
        for name in ("vm", "converge", "deploy"):
            extra = (scripts or {}).get(name, "")
            self.write_script(f"ops/{name}.sh", LEVEL_SCRIPT.format(log=self.ran_log,
                                                                   extra=extra))
        self.write_script("ops/page.sh", PAGE_SCRIPT.format(log=self.page_log))
        text = textwrap.dedent(toml) or DEFAULT_TOML
        self.config: LadderConfig = parse_ladder(tomllib.loads(text)["ladder"],
                                                 root / "escalator.toml", root)
        self.env = Env(environ={"PATH": "/usr/bin:/bin", "HOME": str(root)}, cwd=root,
                       now=self.clock.now, monotonic=self.clock.monotonic,
                       sleep=self.clock.sleep)
        self.store = LadderStore(root / ".escalator" / "ladder" / "test", "test", secrets,
                                 now=self.clock.now)

    def write_script(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text)
        path.chmod(0o755)
        return path

    def engine(self, *runs: RunResult) -> Engine:
        return Engine(self.config, self.store, Script(*runs), self.env)

    @property
    def ran(self) -> list[str]:
        return self.ran_log.read_text().splitlines() if self.ran_log.exists() else []

    @property
    def pages(self) -> list[dict[str, object]]:
        if not self.page_log.exists():
            return []
        return [json.loads(line) for line in self.page_log.read_text().splitlines() if line]

    def events(self) -> list[str]:
        return [r["event"] for r in self.store.read_audit()]

    def audit(self, event: str) -> Iterator[dict[str, object]]:
        return (r for r in self.store.read_audit() if r["event"] == event)


DEFAULT_TOML = ladder_toml(
    ladder_level("vm", timeout="10s", quiesce="2m", cooldown="30m"),
    ladder_level("converge", timeout="10s", quiesce="1m", idempotent=True),
    ladder_level("deploy", timeout="10s", quiesce="30s", idempotent=True),
    settle="30s", confirm=2, verify=2, retry_interval="10s", max_reconverge=1,
    max_actions_per_hour=6, loop_breaker={"engagements": 3, "window": "6h"},
    notify=["ops/page.sh"])
