"""`escalator ladder status|history|resume`, `escalate` refusals and `watch`, in-process with
whole-output comparisons (a fixed clock where the output shows times)."""

from __future__ import annotations

import io
from pathlib import Path

from escalator.cli import main
from escalator.env import Env
from escalator.ladder.model import LadderState, Latch
from escalator.ladder.store import LadderStore, ladder_dir
from tests.project import run_cli
from tests.test_ladder_process import project, verdicts

NOW = 1_800_000_000.0  # 2027-01-15 08:00:00Z


def cli(argv: list[str], root: Path, user: str = "alice") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env = Env(stdout=out, stderr=err, environ={"USER": user, "PATH": "/usr/bin:/bin"},
              cwd=root, now=lambda: NOW)
    code = main(argv, env)
    return code, out.getvalue(), err.getvalue()


def store(root: Path) -> LadderStore:
    return LadderStore(ladder_dir(root / ".escalator", "test"), "test", now=lambda: NOW)


def test_status_shows_latch_counters_and_cooldowns(tmp_path: Path) -> None:
    root = project(tmp_path)
    store(root).save(LadderState(
        "test", latch=Latch("hourly budget: 6 actions in the last hour", NOW - 120, "r9"),
        actions=(NOW - 4000, NOW - 600, NOW - 300), engagements=(NOW - 600,),
        level_runs=(("converge", NOW - 600), ("deploy", NOW - 300)),
        last_engagement=(("run_id", "r9"), ("started", NOW - 600),
                         ("plan", ["converge", "deploy"]), ("verdict", "latched"))))
    hint = ("find out why (escalator ladder history -e test); when it is safe to act again: "
            "escalator ladder resume -e test --reason TEXT --reset-counters (else the next "
            "failure latches again at once)")
    assert cli(["ladder", "status", "-e", "test"], root) == (0, f"""\
environment               test
state                     LATCHED
latched because           hourly budget: 6 actions in the last hour
latched since             2027-01-15 07:58:00Z
next step                 {hint}
actions in the last hour  2 of 6
engagements in 6h         1 of 3
last engagement           r9 at 2027-01-15 07:50:00Z: converge > deploy (latched)
notifier                  ok (nothing sent yet)
watcher                   -

level     last run              cooldown    may run
--------  --------------------  ----------  ---------
vm        -                     none        ready
converge  2027-01-15 07:50:00Z  none        ready
deploy    2027-01-15 07:55:00Z  none        ready
""", "")


def test_history_lists_engagements_and_actions(tmp_path: Path) -> None:
    root = project(tmp_path)
    s = store(root)
    s.audit("observed", "r1", "3 passed, 1 failed")
    s.audit("planned", "r1", "run deploy")
    s.audit("step_finished", "r1", "level deploy failed", level="deploy")
    s.audit("latched", "r1", "verify failed")
    s.audit("resumed", "r1", "fixed the key", actor="alice")
    assert cli(["ladder", "history", "-e", "test"], root) == (0, """\
time (UTC)           run    event          level    detail               actor
-------------------  -----  -------------  -------  -------------------  -------
2027-01-15 08:00:00  r1     planned                 run deploy           engine
2027-01-15 08:00:00  r1     step_finished  deploy   level deploy failed  engine
2027-01-15 08:00:00  r1     latched                 verify failed        engine
2027-01-15 08:00:00  r1     resumed                 fixed the key        alice
""", "")


def test_resume_when_nothing_is_latched(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert cli(["ladder", "resume", "-e", "test", "--reason", "x"], root) == (
        0, "test: not latched: nothing to resume\n", "")


def test_resume_while_an_engine_runs_leaves_a_request_for_it(tmp_path: Path) -> None:
    root = project(tmp_path)
    s = store(root)
    s.save(LadderState("test", latch=Latch("budget", NOW)))
    with s.lock("watch"):
        code, out, _ = cli(["ladder", "resume", "-e", "test", "--reason", "disk swapped"], root)
    assert code == 0
    assert out.startswith("test: resume requested by alice; the running engine applies it "
                          "before its next run (")
    assert s.take_resume() == {"who": "alice", "why": "disk swapped", "at": NOW,
                               "latch": Latch("budget", NOW).key,
                               "latches": [Latch("budget", NOW).key], "reset_counters": False}


def test_escalate_refuses_at_once_while_another_engine_holds_the_lock(tmp_path: Path) -> None:
    root = project(tmp_path)
    with store(root).lock("watch"):
        code, out, err = cli(["escalate", "-e", "test"], root)
    assert (code, out) == (3, "")
    assert err.startswith("escalator: test: another engine is running: ")
    assert "is held by escalator watch (pid " in err


def test_escalate_without_a_ladder_cannot_run(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "escalator.toml").write_text("[environments.test]\n")
    code, out, err = cli(["escalate", "-e", "test"], root)
    assert (code, out) == (3, "")
    assert err == (f"escalator: {root / 'escalator.toml'}: no [ladder] table: the ladder is "
                   "not configured (docs/ladder.md)\n")


def test_watch_runs_every_interval_and_engages(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "deploy.state").write_text("500")
    result = run_cli(["watch", "-e", "test", "--interval", "100ms", "--ticks", "2"], root,
                     environ={"PATH": "/usr/bin:/bin"})
    lines = verdicts(result.stdout)
    assert result.code == 0, result.stderr
    assert [line.split(" (run ")[0] for line in lines] == [
        "test: recovered - verified green", "test: healthy - all scenarios pass"]
    assert (root / "ran.log").read_text().split()[0] == "deploy"
