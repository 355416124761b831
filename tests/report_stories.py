"""Three recorded histories for the report, as an operator meets them: healthy, failing, and
recovering after a deploy that the ladder ran.

`story_project(root, name, runs)` writes a project (escalator.toml with a ladder), stores `runs`
runs five minutes apart through the real `ResultStore`, writes the ladder's audit log (and, for
the failing story, a latched state) through the real `LadderStore`, and returns the time at which
the report should be rendered. Used by tests/test_report_browser.py (screenshots in Chromium),
tests/test_reports.py and bench/report.py. Deterministic: the noise comes from a seeded RNG.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

from escalator.ladder.model import LadderState, Latch
from escalator.ladder.store import LadderStore, ladder_dir
from escalator.limits import Limit
from escalator.results import Measurement, Outcome, RunResult, ScenarioResult, Severity, StepResult
from escalator.state import ResultStore

DEPLOY = 1_795_183_320.0     # 2026-11-20 14:02:00 UTC: the recovering story's deploy
STEP = 300.0                 # a run every five minutes, as cron would
ENVIRONMENT = "production"
STORIES = ("healthy", "failing", "recovering")

CONFIG = """\
[environments.production]
base_url = "https://shop.example.test"

[ladder]
[[ladder.level]]
id = "restart"
run = ["ops/restart.sh"]

[[ladder.level]]
id = "deploy"
run = ["ops/deploy.sh"]
"""


@dataclass(frozen=True)
class Story:
    """When things happen in a story, as run numbers (0 is the oldest run)."""

    runs: int
    broken_from: int | None = None     # the home page (failing) or the API p95 (recovering)
    deploy_after: int | None = None    # recovering: the ladder deploys after this run

    def start(self) -> float:
        # The recovering story's deploy falls at 14:02 whatever the number of runs.
        after = self.deploy_after if self.deploy_after is not None else self.runs - 30
        return DEPLOY - STEP * after - 90.0

    def at(self, i: int) -> float:
        """When run `i` was stored."""
        return self.start() + STEP * i


def story(name: str, runs: int = 200) -> Story:
    if name == "healthy":
        return Story(runs)
    if name == "failing":
        return Story(runs, broken_from=runs - 8)
    if name == "recovering":
        return Story(runs, broken_from=runs - 34, deploy_after=runs - 27)
    raise ValueError(f"no story {name!r}: {', '.join(STORIES)}")


def _scenario(feature: str, file: str, line: int, name: str, outcome: Outcome, **kw: object
              ) -> ScenarioResult:
    return ScenarioResult(feature=feature, file=file, line=line, name=name, outcome=outcome,
                          **kw)  # type: ignore[arg-type]


def story_run(tale: Story, name: str, i: int, rng: random.Random) -> RunResult:
    """Run `i` of the shop's suite in story `name`."""
    web, api, dns = "features/web.feature", "features/api.feature", "features/dns.feature"
    home_broken = name == "failing" and tale.broken_from is not None and i >= tale.broken_from
    slow = (name == "recovering" and tale.broken_from is not None
            and tale.deploy_after is not None and tale.broken_from <= i <= tale.deploy_after)
    home_ms = rng.gauss(44, 6) + (260 if home_broken else 0)
    p95 = rng.gauss(910, 40) if slow else rng.gauss(122, 9)
    flap = name != "healthy" and i % 23 == 11
    days = 63.0 - i * STEP / 86400
    age = (i * 37) % 90 + rng.uniform(0, 5)
    home_error = ("'Welcome' not found in 212 B body of https://shop.example.test/ (503, "
                  f"{home_ms:.0f} ms); body: '<h1>Service Unavailable</h1>'")
    scenarios = (
        _scenario("Web shop", web, 3, "Home page welcomes",
                  Outcome.FAILED if home_broken else Outcome.PASSED,
                  tags=("smoke", "escalate.restart"), level="restart", duration=0.21,
                  runbook="https://wiki.example.test/runbooks/home",
                  steps=(StepResult("Then", 'I should see "Welcome"', 5,
                                    "failed" if home_broken else "passed", 0.04,
                                    home_error if home_broken else None),),
                  measurements=(Measurement("response_time", round(home_ms, 1), "ms",
                                            Limit.below(500), warn=Limit.at_most(300)),)),
        _scenario("Web shop", web, 9, "Certificate is not about to expire", Outcome.PASSED,
                  tags=("tls", "warning"), severity=Severity.WARNING, duration=0.09,
                  measurements=(Measurement("days_left", round(days, 1), "", Limit.at_least(14)),)),
        _scenario("JSON API", api, 3, "Search answers fast at the 95th percentile",
                  Outcome.FAILED if slow else Outcome.PASSED, tags=("api", "escalate.deploy"),
                  level="deploy", duration=1.2,
                  reason=f"p95 {p95:.0f} ms is over 500 ms" if slow else None,
                  measurements=(Measurement("response_time_p95", round(p95, 1), "ms",
                                            Limit.below(500)),)),
        _scenario("JSON API", api, 12, "Stock feed is fresh",
                  Outcome.FAILED if flap else Outcome.PASSED, tags=("api", "warning"),
                  severity=Severity.WARNING, duration=0.12,
                  reason="$.updated is 11m old, over 10m" if flap else None,
                  measurements=(Measurement("json_age", round(660 if flap else age, 1), "s",
                                            Limit.at_most(600, start=-math.inf)),)),
        _scenario("DNS", dns, 3, "www resolves to the load balancer", Outcome.PASSED,
                  tags=("dns",), duration=0.01,
                  measurements=(Measurement("lookup_time",
                                            round(2.5 + 1.5 * abs(math.sin(i / 7)), 2), "ms"),)),
    )
    return RunResult(scenarios=scenarios, started=tale.at(i) - 2, duration=1.6,
                     environment=ENVIRONMENT)


def story_project(root: Path, name: str, runs: int = 200) -> float:
    """Write the project and its state; the time to render the report at."""
    tale = story(name, runs)
    (root / "escalator.toml").write_text(CONFIG)
    (root / "ops").mkdir(exist_ok=True)
    for level in ("restart", "deploy"):
        script = root / "ops" / f"{level}.sh"
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
    rng = random.Random(f"{name}-{runs}")
    for i in range(runs):
        ResultStore(root / ".escalator", now=lambda i=i: tale.at(i)).save(
            story_run(tale, name, i, rng))
    _ladder(root, tale, name)
    return tale.at(runs - 1) + 75.0


def ladder_store(root: Path, at: list[float]) -> LadderStore:
    """The ladder's store, with a clock the story moves."""
    return LadderStore(ladder_dir(root / ".escalator", ENVIRONMENT), ENVIRONMENT,
                       now=lambda: at[0])


def _ladder(root: Path, tale: Story, name: str) -> None:
    clock = [0.0]
    store = ladder_store(root, clock)

    def audit(when: float, event: str, reason: str = "", **data: object) -> None:
        clock[0] = when
        store.audit(event, "r1", reason, **data)

    if name == "recovering":
        assert tale.deploy_after is not None
        audit(DEPLOY - 50, "confirmed", "settling 30s")
        audit(DEPLOY - 10, "engaged", "within budget", plan=["deploy"])
        audit(DEPLOY, "step_intent", "running level deploy", level="deploy")
        audit(DEPLOY + 38, "step_finished", "level deploy succeeded", level="deploy",
              status="succeeded", exit_code=0, duration=38.0)
        audit(DEPLOY + 95, "verify", "green", attempt=1, green=True)
        audit(DEPLOY + 110, "recovered", "2 green runs")
    elif name == "failing":
        assert tale.broken_from is not None
        engaged = tale.at(tale.broken_from + 2) + 40
        audit(engaged, "engaged", "within budget", plan=["restart", "deploy"])
        audit(engaged + 5, "step_intent", "running level restart", level="restart")
        audit(engaged + 25, "step_finished", "level restart failed", level="restart",
              status="failed", exit_code=1, duration=20.0)
        reason = "level restart failed (exit 1): the cascade stopped"
        audit(engaged + 30, "latched", reason)
        clock[0] = engaged + 30
        store.save(LadderState(ENVIRONMENT, latch=Latch(reason, engaged + 30, "r1"),
                               engagements=(engaged - 10,)))
