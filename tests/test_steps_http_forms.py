"""Browsing phrases end to end: links, every kind of form field, buttons, cookies.

The site's /echo page answers with the fields it received, so "I should see" checks exactly
what the form sent. One project, one run, several scenarios.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.servers.hostile import closed_port
from tests.servers.http import serve, site_routes

FEATURE = """
Feature: Browsing

  Scenario: Every kind of field
    When I go to "/site"
    And I fill in "Your name" with "Ann"
    And I fill in "Email" with "ann@example.com"
    And I fill in "pw" with "hunter2"
    And I fill in "notes" with "extra vinegar"
    And I select "Large" from "Size"
    And I select "Vinegar" from "extras"
    And I uncheck "Salt"
    And I check "Send news"
    And I choose "Express"
    And I press "Order now"
    Then I should see "ORDER"

  Scenario: Defaults and a button element
    When I go to "/site"
    And I fill in "you@example.com" with "b@example.com"
    And I press "Save"
    Then I should see "SAVED"

  Scenario: A named form sent by GET
    When I go to "/site"
    And I fill in "q" with "haddock"
    And I submit the form named "search"
    Then I should see "GET q=haddock"
    And I should not see "drop"

  Scenario: Links by text, title, image and part of the text
    When I go to "/site"
    And I follow "About us"
    Then I should see "About us"
    When I go to "/site"
    And I follow "Sign in"
    Then I should see "Username"
    When I go to "/site"
    And I follow "Moved"
    Then I should have been redirected to "/about"
    When I go to "/site"
    And I follow "Log"
    Then the response status should be 200
    And I should see "Password"

  Scenario: Logging in keeps the cookie
    When I go to "/login"
    And I fill in "Username" with "monitor"
    And I fill in "Password" with "${password}"
    And I press "Log in"
    Then I should have been redirected to "/account"
    And I should see "Welcome back, monitor"
    When I go to "/account"
    Then I should see "Welcome back"

  Scenario: A wrong password shows an error
    When I go to "/login"
    And I fill in "Username" with "monitor"
    And I fill in "Password" with "wrong"
    And I press "Log in"
    Then I should see an error message

  Scenario: A missing link
    When I go to "/site"
    And I follow "Contact"

  Scenario: A JavaScript link
    When I go to "/site"
    And I follow "Menu"

  Scenario: A missing field
    When I go to "/site"
    And I fill in "Phone" with "123"

  Scenario: A missing option
    When I go to "/site"
    And I select "Huge" from "Size"

  Scenario: A missing checkbox
    When I go to "/site"
    And I check "Gift wrap"

  Scenario: A missing radio button
    When I go to "/site"
    And I choose "Drone"

  Scenario: A missing button
    When I go to "/site"
    And I press "Buy"

  Scenario: A missing form
    When I go to "/site"
    And I submit the form named "checkout"

  Scenario: No page to browse
    When I go to "${dead_url}"
    And I follow "About us"
"""

SENT = {  # what /echo shows for the two forms above
    "ORDER": "POST name=Ann; email=ann@example.com; pw=hunter2; token=t0k; "
             "notes=extra vinegar; size=l; extras=Vinegar; news=yes; ship=express; go=Order now",
    "SAVED": "POST name=; email=b@example.com; pw=; token=t0k; notes=none; size=s; salt=on; "
             "ship=pickup; act=later",
}

FAILURES = {
    "A missing link": 'no link "Contact" on URL/site (links: "About us", "Log in", "Menu")',
    "A JavaScript link": 'the link "Menu" on URL/site needs JavaScript',
    "A missing field":
        'no text field "Phone" on URL/site (text fields: "q", "Your name", "email", "pw", '
        '"notes", "off")',
    "A missing option": 'no option "Huge" in "Size" on URL/site (options: "Small", "Large")',
    "A missing checkbox":
        'no checkbox "Gift wrap" on URL/site (checkboxes: "Salt", "Send news")',
    "A missing radio button":
        'no radio button "Drone" on URL/site (radio buttons: "Pick up", "Express")',
    "A missing button": 'no button "Buy" on URL/site (buttons: "Search", "Order now", "Save")',
    "A missing form": 'no form named "checkout" on URL/site (forms: "search", "order")',
    "No page to browse": "GET DEAD got no answer in N ms: connection refused",
}


def _feature() -> str:
    text = FEATURE
    for placeholder, sent in SENT.items():
        text = text.replace(f'"{placeholder}"', f'"{sent}"')
    return text


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    dead = f"http://127.0.0.1:{closed_port()}/"
    with serve(site_routes()) as base:
        root = make_project(tmp_path_factory.mktemp("forms"), {"forms.feature": _feature()},
                            variables={"base_url": base, "dead_url": dead,
                                       "password": {"env": "WEB_PASSWORD"}})
        out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root,
                      environ={"WEB_PASSWORD": "s3cret"})
    assert out.code in (1, 2), out.stderr
    scenarios = {}
    for s in out.json["scenarios"]:
        reason = (s["reason"] or "").replace(base, "URL").replace(dead, "DEAD")
        scenarios[s["name"]] = (s["outcome"], re.sub(r"\b\d+ ms\b", "N ms", reason))
    yield scenarios


@pytest.mark.parametrize("name", [
    "Every kind of field", "Defaults and a button element", "A named form sent by GET",
    "Links by text, title, image and part of the text", "Logging in keeps the cookie",
    "A wrong password shows an error"])
def test_browsing_that_works(results: dict[str, Any], name: str) -> None:
    assert results[name] == ("passed", "")


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_what_the_page_lacks_fails_and_lists_what_it_has(results: dict[str, Any], name: str
                                                         ) -> None:
    assert results[name] == ("failed", FAILURES[name])
