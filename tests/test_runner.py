"""The runner core end to end: verdicts, deadlines, parallelism, retries, through the CLI."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.fake_steps import FAKE_STEPS
from tests.project import make_project, run_cli

MIXED = """
Feature: Mixed

  Scenario: fine
    Given I sleep 0.01 seconds
    Then it passes

  @warning
  Scenario: slowish
    Then it fails with "too slow"

  Scenario: down
    Then it fails with "refused"
"""


def project(tmp_path: Path, features: dict[str, str], **kwargs: object) -> Path:
    return make_project(tmp_path, features, steps=FAKE_STEPS, **kwargs)  # type: ignore[arg-type]


def normalise(text: str) -> str:
    return re.sub(r"time=[0-9.]+s", "time=Ts", text)


def scenarios(out: object) -> list[tuple[str, str, str | None]]:
    return [(s["name"], s["outcome"], s["reason"]) for s in out.json["scenarios"]]  # type: ignore[attr-defined]


def test_check_mixed_suite_is_critical_with_whole_output(tmp_path: Path) -> None:
    out = run_cli(["check", "-e", "test"], cwd=project(tmp_path, {"mixed.feature": MIXED}))
    assert out.code == 2
    assert normalise(out.stdout) == (
        "ESCALATOR CRITICAL - 2 of 3 scenarios failing: down, slowish | scenarios=3;;;0 "
        "passed=1;;;0 failed=2;;;0 unknown=0;;;0 time=Ts;;50;0\n"
        "WARNING slowish (features/mixed.feature:8) @warning\n"
        '  Then it fails with "too slow": too slow\n'
        "CRITICAL down (features/mixed.feature:11)\n"
        '  Then it fails with "refused": refused\n'
    )


def test_check_warning_only_exits_1(tmp_path: Path) -> None:
    out = run_cli(["check", "-e", "test", "-t", "@warning"],
                  cwd=project(tmp_path, {"mixed.feature": MIXED}))
    assert (out.code, out.line1.split(" - ")[0]) == (1, "ESCALATOR WARNING")


def test_run_exit_codes(tmp_path: Path) -> None:
    root = project(tmp_path, {"mixed.feature": MIXED})
    assert run_cli(["run", "-e", "test", "-t", "not @warning and not @x", "-f", "progress",
                    "features/mixed.feature:3"], cwd=root).code == 0
    assert run_cli(["run", "-e", "test", "-f", "progress"], cwd=root).code == 1


def test_undefined_step_is_unknown(tmp_path: Path) -> None:
    root = project(tmp_path, {"u.feature": """
        Feature: U
          Scenario: nobody wrote this
            Given a step nobody wrote
            Then it passes
        """})
    out = run_cli(["check", "-e", "test"], cwd=root)
    assert out.code == 3
    assert out.line1.startswith("ESCALATOR UNKNOWN - 1 of 1 scenario")
    assert "Given a step nobody wrote: undefined step" in out.stdout
    assert run_cli(["run", "-e", "test", "-f", "progress"], cwd=root).code == 2


def test_step_errors_our_side_are_unknown_target_side_failed(tmp_path: Path) -> None:
    root = project(tmp_path, {"e.feature": """
        Feature: E
          Scenario: bug
            Then it breaks
          Scenario: setup
            Then our own setup is wrong
        """})
    out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    assert scenarios(out) == [
        ("bug", "unknown", "error in step code: RuntimeError: oops"),
        ("setup", "unknown", "missing key file /nope"),
    ]
    assert "Traceback" in out.json["scenarios"][0]["steps"][0]["detail"]


def test_nothing_selected_is_unknown(tmp_path: Path) -> None:
    root = project(tmp_path, {"mixed.feature": MIXED})
    out = run_cli(["check", "-e", "test", "-t", "@nosuchtag"], cwd=root)
    assert (out.code, out.line1) == (3, "ESCALATOR UNKNOWN - no scenario selected | "
                                        "scenarios=0;;;0 passed=0;;;0 failed=0;;;0 unknown=0;;;0 "
                                        + re.search(r"time=\S+", out.line1).group(0))  # type: ignore[union-attr]
    assert run_cli(["run", "-e", "test", "-t", "@nosuchtag"], cwd=root).code == 2


def test_wip_is_excluded_unless_asked_for(tmp_path: Path) -> None:
    root = project(tmp_path, {"w.feature": """
        Feature: W
          @wip
          Scenario: unfinished
            Then it fails with "not yet"
          Scenario: done
            Then it passes
        """})
    assert [s[0] for s in scenarios(run_cli(["run", "-e", "test", "-f", "json"], cwd=root))] \
        == ["done"]
    assert [s[0] for s in scenarios(run_cli(["run", "-e", "test", "-f", "json", "-t", "@wip"],
                                            cwd=root))] == ["unfinished"]


@pytest.mark.parametrize("expr", ["~@wip", "@a,@b", "@a and (", "not"])
def test_bad_tag_expressions_are_refused(tmp_path: Path, expr: str) -> None:
    root = project(tmp_path, {"mixed.feature": MIXED})
    out = run_cli(["check", "-e", "test", "-t", expr], cwd=root)
    assert out.code == 3
    assert out.line1.startswith(f"ESCALATOR UNKNOWN - tag expression {expr!r}")


def test_step_timeout_fails_the_scenario(tmp_path: Path) -> None:
    root = project(tmp_path, {"t.feature": """
        Feature: T
          @warning
          Scenario: slow
            Given I sleep 30 seconds
          Scenario: deaf to alarms
            Given I sleep 30 seconds ignoring alarms
        """})
    begun = time.monotonic()
    out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", "1s"], cwd=root)
    assert time.monotonic() - begun < 10
    assert scenarios(out) == [
        ("slow", "failed", "step timed out after 1s"),
        ("deaf to alarms", "failed", "Given I sleep 30 seconds ignoring alarms: step timed out "
                                     "after 1s (it ignored its alarm; the worker was killed)"),
    ]


def test_run_deadline_keeps_finished_verdicts(tmp_path: Path) -> None:
    fast = "".join(f"\n  Scenario: fast {i}\n    Then it passes\n" for i in range(8))
    root = project(tmp_path, {"d.feature": "Feature: D\n" + fast + """
  @warning
  Scenario: hangs
    Given I sleep 60 seconds

  Scenario: queued behind it
    Then it passes
"""})
    begun = time.monotonic()
    out = run_cli(["run", "-e", "test", "-f", "json", "--timeout", "2s", "--jobs", "1"], cwd=root)
    assert time.monotonic() - begun < 3.5
    got = scenarios(out)
    assert got[:8] == [(f"fast {i}", "passed", None) for i in range(8)]
    assert got[8:] == [
        ("hangs", "failed", "cut off by the run deadline (2s) in Given I sleep 60 seconds"),
        ("queued behind it", "unknown", "not started: the run deadline (2s) passed"),
    ]
    assert out.json["scenarios"][8]["severity"] == "warning"
    # It ran from its start until the deadline; the one behind it never ran (issue 18).
    assert 0 < out.json["scenarios"][8]["duration"] <= out.json["duration"]
    assert out.json["scenarios"][9]["duration"] == 0


def test_parallel_results_match_sequential_in_order(tmp_path: Path) -> None:
    body = "".join(
        f"\n  Scenario: s{i}\n    Given I sleep {0.3 if i % 3 == 0 else 0.01} seconds\n"
        + ('    Then it fails with "n{i}"\n'.replace("{i}", str(i)) if i % 4 == 0 else
           "    Then it passes\n")
        for i in range(12))
    root = project(tmp_path, {"b.feature": "Feature: B\n" + body,
                              "a.feature": "Feature: A\n  Scenario: first\n    Then it passes\n"})
    one = run_cli(["run", "-e", "test", "-f", "json", "-j", "1"], cwd=root)
    many = run_cli(["run", "-e", "test", "-f", "json", "-j", "8"], cwd=root)
    assert scenarios(one) == scenarios(many)
    assert [s[0] for s in scenarios(one)] == ["first"] + [f"s{i}" for i in range(12)]


def test_workers_are_reused_until_a_scenario_fails(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    root = project(tmp_path / "p", {"p.feature": f"""
        Feature: P
          Scenario: one
            Then it reports my pid to {pids}
          Scenario: two
            Then it reports my pid to {pids}
          Scenario: three fails
            Then it reports my pid to {pids}
            And it fails with "broken"
          Scenario: four
            Then it reports my pid to {pids}
        """})
    assert run_cli(["run", "-e", "test", "-f", "progress", "-j", "1"], cwd=root).code == 1
    one, two, three, four = pids.read_text().split()
    assert one == two == three != four


def test_rules_outlines_and_backgrounds_run_alike_in_parallel(tmp_path: Path) -> None:
    root = project(tmp_path, {"r.feature": """
        Feature: Rules and outlines
          Background:
            Given I sleep 0.01 seconds

          Scenario: plain
            Then it passes

          Scenario Outline: row <n>
            Then it fails with "<msg>"
            Examples:
              | n | msg |
              | 1 | one |
              | 2 | two |

          Rule: a rule
            Scenario: in rule
              Then it passes

            Scenario Outline: ruled <n>
              Then it <what>
              Examples:
                | n | what   |
                | a | passes |
                | b | breaks |
        """})
    expected = [
        ("plain", "passed", None),
        ("row 1 -- @1.1", "failed", "one"),
        ("row 2 -- @1.2", "failed", "two"),
        ("in rule", "passed", None),
        ("ruled a -- @1.1", "passed", None),
        ("ruled b -- @1.2", "unknown", "error in step code: RuntimeError: oops"),
    ]
    for jobs in ("1", "4"):
        out = run_cli(["run", "-e", "test", "-f", "json", "-j", jobs], cwd=root)
        assert scenarios(out) == expected
        assert [len(s["steps"]) for s in out.json["scenarios"]] == [2] * 6


def test_retries_report_a_pass_after_retry(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    root = project(tmp_path / "p", {"r.feature": f"""
        Feature: R
          Scenario: flaky
            Then it fails the first 1 times, counting in "{counter}"
        """})
    out = run_cli(["check", "-e", "test", "--retries", "2"], cwd=root)
    assert out.code == 0
    assert "retried=1;;;0" in out.line1
    assert "failure number 1" in out.stdout
    data = run_cli(["run", "-e", "test", "-f", "json", "--retries", "0"], cwd=root).json
    assert data["scenarios"][0]["outcome"] == "passed"  # the counter is past its failures now


def test_retries_exhausted_keep_every_failure(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    root = project(tmp_path / "p", {"r.feature": f"""
        Feature: R
          @retries.1
          Scenario: broken
            Then it fails the first 5 times, counting in "{counter}"
        """})
    data = run_cli(["run", "-e", "test", "-f", "json"], cwd=root).json["scenarios"][0]
    assert (data["outcome"], data["attempts"], data["earlier_failures"], data["reason"]) == \
        ("failed", 2, ["failure number 1"], "failure number 2")


def test_measurements_become_perfdata_with_thresholds(tmp_path: Path) -> None:
    root = project(tmp_path, {"m.feature": """
        Feature: M
          Scenario: home
            When I measure 12.5 ms against 500
        """})
    out = run_cli(["check", "-e", "test"], cwd=root)
    assert out.code == 0
    assert "'home response_time'=12.5ms;;@500:" in out.line1  # "less than 500": 500 fails


def test_variables_and_defines_expand(tmp_path: Path) -> None:
    root = project(tmp_path, {"v.feature": """
        Feature: V
          Scenario: from config
            Then the variable "base_url" is "http://127.0.0.1:1"
          Scenario: from -D
            Then the variable "extra" is "x=y"
        """}, variables={"base_url": "http://127.0.0.1:1"})
    out = run_cli(["run", "-e", "test", "-f", "json", "-D", "extra=x=y"], cwd=root)
    assert [s[1] for s in scenarios(out)] == ["passed", "passed"]


def test_secrets_are_redacted_everywhere(tmp_path: Path) -> None:
    root = project(tmp_path, {"s.feature": """
        Feature: S
          Scenario: leaks
            Then it fails with "token ${token} rejected"
        """}, variables={"token": {"env": "API_TOKEN"}})
    secret = "hunter2-very-secret"
    for fmt in ("json", "nagios", "junit", "pretty", "progress"):
        out = run_cli(["run", "-e", "test", "-f", fmt], cwd=root, environ={"API_TOKEN": secret})
        assert secret not in out.stdout + out.stderr
        assert "token *** rejected" in out.stdout.replace("&#42;", "*")
    stored = "".join(p.read_text() for p in (root / ".escalator").rglob("*") if p.is_file())
    assert stored and secret not in stored


def test_several_formats_each_with_its_outfile(tmp_path: Path) -> None:
    root = project(tmp_path, {"mixed.feature": MIXED})
    out = run_cli(["run", "-e", "test", "-f", "junit", "-o", "reports/junit.xml",
                   "-f", "json", "-o", "reports/results.json", "-f", "progress"], cwd=root)
    assert out.code == 1
    assert (root / "reports/junit.xml").read_text().startswith("<?xml")
    assert '"status": "CRITICAL"' in (root / "reports/results.json").read_text()
    assert out.stdout.startswith(".FF\n")
