"""`escalator init DIR`: scaffold a monitoring project: features/, steps/, escalator.toml.

It never overwrites: an existing file is left alone and named, so running it in a project that
already exists only adds what is missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from escalator.env import Env
from escalator.steps import thin_module

FILES = {
    "features/health.feature": """\
Feature: The site is up
  Runbook: https://wiki.example.com/runbooks/site

  Scenario: The health endpoint answers quickly
    When I go to "/health"
    Then the request should succeed
    And the response time should be less than 500 ms
""",
    "escalator.toml": """\
[run]
timeout = "50s"
step_timeout = "10s"

[environments.production]
base_url = "https://www.example.com"
# password = { env = "SITE_PASSWORD" }   # secrets come from the environment
""",
    "steps/site_steps.py": '''\
"""This site's own steps, beside Escalator's library: an example of the site-step API.

A step gets the scenario's session, variables and probes from `escalator.steps.api`, records
what it measured with its limits (`api.Limit`) and lets `api.judge` give the verdict by them,
so the perfdata range and the verdict agree; a warning limit only warns. See docs/steps.md.
"""

import json
from typing import Any

from behave import then

from escalator.steps import api


def _waiting(context: Any, queue: str, crit: api.Limit, warn: api.Limit | None = None) -> None:
    """Asks the application's status API (GET /api/queues/<queue>, relative to ${base_url})."""
    result = api.http_request(context, f"/api/queues/{queue}")
    assert result.status == 200, result.summary()
    try:
        waiting = int(json.loads(result.text)["waiting"])
    except (ValueError, KeyError, TypeError):
        raise AssertionError(f"no waiting count in the answer of {result.final_url}") from None
    measured = api.record(context, f"{queue}_waiting", waiting, "", crit, warn=warn)
    api.judge(context, measured, f"{waiting} jobs wait in the {queue} queue")


@then(\'the "{queue}" queue should have fewer than {limit:d} waiting jobs\')
def step_the_queue_should_have_fewer_waiting_jobs(context: Any, queue: str, limit: int) -> None:
    """Then the "mail" queue should have fewer than 100 waiting jobs"""
    _waiting(context, queue, api.Limit.below(limit))


@then(\'the "{queue}" queue should have fewer than {limit:d} waiting jobs, warning above {warn:d}\')
def step_the_queue_should_have_fewer_waiting_jobs_warning(context: Any, queue: str, limit: int,
                                                          warn: int) -> None:
    """Then the "mail" queue should have fewer than 100 waiting jobs, warning above 50"""
    _waiting(context, queue, *api.stated(api.Limit.below(limit), api.Limit.at_most(warn)))
''',
    "environment.py": '''\
"""behave's hooks: lets `python -m behave -D env=production` (IDEs, allure-behave) run these
features with escalator.toml's environment. `escalator run` does not need this file."""

from escalator.hooks import *  # noqa: F403
''',
    "behave.ini": """\
# For plain `python -m behave` only (escalator run ignores this file): Escalator's formats by
# short names, e.g. `python -m behave -D env=production -f escalator.junit -o junit.xml`.
[behave]
default_tags = not @wip

[behave.formatters]
escalator.junit = escalator.behave_formats:JUnit
escalator.json = escalator.behave_formats:Json
escalator.nagios = escalator.behave_formats:Nagios
escalator.pretty = escalator.behave_formats:Pretty
escalator.progress = escalator.behave_formats:Progress
escalator.prometheus = escalator.behave_formats:Prometheus
""",
    "reports/README.md": "Runs and `escalator report` write here.\n",
    ".gitignore": ".escalator/\nreports/*\n!reports/README.md\n",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("init", help="scaffold a monitoring project in DIR",
                                   description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("directory", metavar="DIR")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace, env: Env) -> int:
    root = Path(env.cwd, args.directory)
    files = {**FILES, "steps/library_steps.py": thin_module()}
    for name, text in files.items():
        path = root / name
        if path.exists():
            env.stdout.write(f"kept     {path}\n")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        env.stdout.write(f"created  {path}\n")
    env.stdout.write(f"\nNext: cd {root} && escalator run -e production\n")
    return 0
