"""Generated suites: the same N scenarios as an Escalator project and as a plain behave project.

Called by `bench/run` once per suite size. The Escalator project has `features/`, a copy of the
repository's thin `steps/` module and an `escalator.toml` with one environment (`bench`, whose
`base_url` is the loopback target). The plain behave project has the same feature file and its
own `steps/` with a hand-written equivalent (requests.get, then the same two assertions), which
is what an operator would write without Escalator.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PLAIN_STEPS = '''\
"""Plain behave steps: what the benchmark compares Escalator's step library against."""
import requests
from behave import then, when


@when('I go to "{path}"')
def step_go(context, path):
    base = context.config.userdata["base_url"]
    context.response = requests.get(base + path, timeout=10)


@then("the response status should be {code:d}")
def step_status(context, code):
    assert context.response.status_code == code, context.response.status_code


@then('I should see "{text}"')
def step_see(context, text):
    assert text in context.response.text, "text not found"
'''

LOOP = '''\
import sys
import requests
base, paths = sys.argv[1], sys.argv[2:]
for path in paths:
    response = requests.get(base + path, timeout=10)
    assert response.status_code == 200 and "Welcome" in response.text
'''


def feature_text(paths: list[str]) -> str:
    """One scenario per path, each fetching it and checking status and text."""
    lines = ["Feature: Benchmark", ""]
    for number, path in enumerate(paths, 1):
        lines += [f"  Scenario: Page {number}",
                  f'    When I go to "{path}"',
                  "    Then the response status should be 200",
                  '    And I should see "Welcome"', ""]
    return "\n".join(lines)


def make_escalator_project(root: Path, paths: list[str], base_url: str) -> Path:
    (root / "features").mkdir(parents=True)
    (root / "features" / "bench.feature").write_text(feature_text(paths))
    shutil.copytree(REPO / "steps", root / "steps",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (root / "escalator.toml").write_text(f'[environments.bench]\nbase_url = "{base_url}"\n')
    return root


def make_behave_project(root: Path, paths: list[str]) -> Path:
    (root / "features").mkdir(parents=True)
    (root / "features" / "bench.feature").write_text(feature_text(paths))
    (root / "steps").mkdir()
    (root / "steps" / "plain_steps.py").write_text(PLAIN_STEPS)
    return root


def write_loop(root: Path) -> Path:
    """The plain `requests.get` loop, as a script run in its own interpreter."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "requests_loop.py"
    path.write_text(LOOP)
    return path
