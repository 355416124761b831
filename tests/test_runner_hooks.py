"""behave's `before_all` in the runner: its default sets up logging as behave does (once per
process, not once per scenario: escalator.runner.suite._log_once), and a site's own still runs
before every scenario's steps."""

from __future__ import annotations

from pathlib import Path

from tests.project import make_project, run_cli

STEPS = {"site_steps.py": """
    import logging

    from behave import then


    @then("logging is set up as behave sets it up")
    def step_logging(context):
        root = logging.getLogger()
        assert root.handlers, "no logging handler"
        assert root.level == context.config.logging_level, (root.level,
                                                             context.config.logging_level)


    @then("the site's before_all ran")
    def step_before_all(context):
        assert context.before_all_ran
    """}


def _outcomes(root: Path) -> list[tuple[str, str | None]]:
    out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    assert out.stderr == ""
    return [(s["outcome"], s["reason"]) for s in out.json["scenarios"]]


def test_default_before_all_sets_up_logging_for_every_scenario(tmp_path: Path) -> None:
    scenarios = "".join(f"""
      Scenario: logging {n}
        Then logging is set up as behave sets it up
    """ for n in range(4))
    root = make_project(tmp_path, {"log.feature": "Feature: logging\n" + scenarios},
                        steps=STEPS)
    assert _outcomes(root) == [("passed", None)] * 4
    one = "Feature: logging\n  Scenario: alone\n    Then logging is set up as behave sets it up\n"
    alone = make_project(tmp_path / "alone", {"log.feature": one}, steps=STEPS)
    assert _outcomes(alone) == [("passed", None)]  # the coordinator runs a plan of one


def test_a_sites_before_all_runs_for_every_scenario(tmp_path: Path) -> None:
    scenarios = "".join(f"""
      Scenario: hook {n}
        Then the site's before_all ran
    """ for n in range(4))
    root = make_project(tmp_path, {"hook.feature": "Feature: hooks\n" + scenarios}, steps=STEPS)
    (root / "environment.py").write_text(  # beside steps/, where behave looks
        "def before_all(context):\n    context.before_all_ran = True\n")
    assert _outcomes(root) == [("passed", None)] * 4
