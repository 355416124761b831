"""Every variable the documentation lists is declared by the step module that reads it, so a
project that sets them all is told about none of them as "used by no step or feature" (issue
15's typo notice, merged with the settings breadth and compat added: proxies, body caps,
client certificates, jump hosts...). The list is read from README.md, so a setting documented
later without a declaration fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.project import REPO, make_project, run_escalator

FEATURE = """
Feature: Variables
  Scenario: a check that reads none of them
    When I run 'true'
    Then it should exit '0'
"""


def documented() -> list[str]:
    """The names in README's "Variables the steps read: ..." paragraph."""
    readme = (REPO / "README.md").read_text()
    paragraph = readme.split("Variables the steps read:", 1)[1].split("Features refer to", 1)[0]
    return re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", paragraph))  # not `none`


def test_the_readme_lists_the_settings_of_every_protocol() -> None:
    names = documented()
    assert {"base_url", "http_proxy", "http_max_body", "tls_client_cert", "tls_client_key",
            "nameserver", "ssh_user", "ssh_jump_host"} <= set(names), names


def test_a_project_setting_every_documented_variable_gets_no_unused_notice(tmp_path: Path
                                                                           ) -> None:
    variables = dict.fromkeys(documented(), "x")
    variables["tls_verify"] = "true"  # "x" reads as on; say it plainly
    root = make_project(tmp_path, {"v.feature": FEATURE},
                        variables={**variables, "http_proxi": "http://127.0.0.1:3128"})
    # a fresh process: in this one, other tests may have imported the step modules this run
    # does not load (a project of the thin module loads only what its steps need)
    out = run_escalator(["run", "-e", "test", "-f", "json"], cwd=root)
    assert (out.returncode, json.loads(out.stdout)["notices"]) == (0, [
        "environment test: http_proxi is used by no step or feature (did you mean "
        "http_proxy?)"])
