"""Step keywords do not matter for matching (as in Cucumber), for the library's phrases and a
site's own, and an ambiguity across keywords is still refused with a clear reason."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.servers.dns import nsd_server

pytestmark = pytest.mark.servers

FEATURE = """
Feature: keywords as cucumber-nagios users wrote them
  Scenario: Given where the library says When
    Given I go to "/"
    Then the request should succeed

  Scenario: And after a Given
    Given I am benchmarking
    And I go to "/"
    Then the elapsed time should be less than 5 seconds

  Scenario: Then where the library says When
    Then I lookup "www.example.test"
    And the name should resolve to "127.0.0.10"

  Scenario: a site's Given used as When and Then
    When the shop is open
    Then the shop is open
    And I opened the shop

  Scenario: a Then used as Given
    Given 'stdout' should have 'x'
"""

SITE_STEPS = {"site_steps.py": """
    from behave import given, when


    @given("the shop is open")
    def step_the_shop_is_open(context):
        \"\"\"Given the shop is open\"\"\"
        context.shop_open = True


    @given("I opened the shop")
    @when("I opened the shop")
    def step_opened(context):
        \"\"\"Given I opened the shop\"\"\"
    """}


@pytest.fixture(scope="module")
def nsd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with nsd_server(tmp_path_factory.mktemp("nsd")) as address:
        yield address


def _scenarios(root: Path) -> list[tuple[str, str, Any]]:
    out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    assert out.stderr == ""
    return [(s["name"], s["outcome"], s["reason"]) for s in out.json["scenarios"]]


def test_any_keyword_finds_the_phrase(tmp_path: Path, http_server: str, nsd: str) -> None:
    root = make_project(tmp_path, {"keywords.feature": FEATURE}, steps=SITE_STEPS,
                        variables={"base_url": http_server, "nameserver": nsd})
    assert _scenarios(root) == [
        ("Given where the library says When", "passed", None),
        ("And after a Given", "passed", None),
        ("Then where the library says When", "passed", None),
        ("a site's Given used as When and Then", "passed", None),
        # found the command phrase, which says no command ran (our mistake: UNKNOWN)
        ("a Then used as Given", "unknown",
         "no command has run in this scenario yet (When I run '...')"),
    ]


def test_an_ambiguity_across_keywords_is_refused_naming_both(tmp_path: Path) -> None:
    steps = {"site_steps.py": """
        from behave import given


        @given('I go to "{url}"')
        def step_go(context, url):
            '''Given I go to "/shop"'''
        """}
    root = make_project(tmp_path, {"k.feature": FEATURE}, steps=steps)
    out = run_cli(["check", "-e", "test"], cwd=root)
    reason = ("cannot load steps: steps/site_steps.py:4: AmbiguousStep: @given('I go to "
              "\"{url}\"') has already been defined (for any keyword) in existing step "
              "@when('I go to \"{url:Q}\"') at <http.py>")
    status, error = out.stdout.splitlines()
    # masked: where escalator is installed
    shown = re.sub(r" at \S*escalator/steps/http\.py:\d+", " at <http.py>", error)
    assert (out.code, shown) == (3, f"error: {reason}")
    # the status line says the same, cut to its length limit; the perfdata is whole
    head, _, perfdata = re.sub(r"time=[0-9.]+s", "time=<t>", status).partition(" | ")
    said = "ESCALATOR UNKNOWN - " + error.removeprefix("error: ")
    assert head == said or (head.endswith("...") and said.startswith(head[:-3])), head
    assert perfdata == ("scenarios=0;;;0 passed=0;;;0 failed=0;;;0 unknown=0;;;0 "
                        "time=<t>;;50;0")


def test_a_lookup_sees_a_definition_added_after_it() -> None:
    """The registry keeps which definition each step text found (escalator.runner.keywords), so
    a suite's same few texts are not matched against every phrase again in each scenario; a
    definition added later is still found, and each keyword still looks at its own first."""
    from behave.step_registry import StepRegistry

    from escalator.runner.keywords import install

    registry = StepRegistry()
    install(registry)

    def step(step_type: str, name: str) -> Any:
        return type("Step", (), {"step_type": step_type, "name": name})()

    def found(step_type: str, name: str) -> str | None:
        match = registry.find_match(step(step_type, name))
        return None if match is None else f"{match.func.__name__} {match.arguments[0].value}"

    def frob_when(context: Any, thing: str) -> None: ...
    def frob_then(context: Any, thing: str) -> None: ...

    before = [found("then", 'I frob "a"'),
              registry.find_step_definition(step("then", 'I frob "a"'))]
    registry.add_step_definition("when", 'I frob "{thing}"', frob_when)
    after = [found("then", 'I frob "a"'), found("when", 'I frob "b"'), found("then", 'I frob "b"')]
    registry.add_step_definition("then", 'I frobbed "{thing}"', frob_then)
    assert before == [None, None]
    assert after == ["frob_when a", "frob_when b", "frob_when b"]
    assert [found("given", 'I frobbed "c"'), found("then", 'I frob "d"')] == [
        "frob_then c", "frob_when d"]


def test_a_shipped_phrase_keeps_its_match_and_a_sites_is_matched_again() -> None:
    """A library phrase's Match (function and arguments) is made once per text and given again
    to the next step with that text (escalator.runner.keywords.find_match); another text gets
    its own arguments, a definition added later drops what was kept, and a site's phrase is
    matched anew every time, since its types may convert with side effects."""
    import parse
    from behave.step_registry import StepRegistry

    from escalator.runner.keywords import install

    registry = StepRegistry()
    install(registry)
    converted: list[str] = []

    @parse.with_pattern(r"\w+")
    def counted(text: str) -> str:
        converted.append(text)
        return text

    def step(step_type: str, name: str) -> Any:
        return type("Step", (), {"step_type": step_type, "name": name})()

    def shipped(context: Any, path: str) -> None: ...
    def site(context: Any, thing: str) -> None: ...
    shipped.__module__ = "escalator.steps.fake"

    registry.add_step_definition("when", 'I fetch "{path}"', shipped)
    first = registry.find_match(step("when", 'I fetch "/a"'))
    again = registry.find_match(step("then", 'I fetch "/a"'))
    same = registry.find_match(step("when", 'I fetch "/a"'))
    other = registry.find_match(step("when", 'I fetch "/b"'))
    assert (first.func, [a.value for a in first.arguments]) == (shipped, ["/a"])
    assert same is first and again is not first  # kept per keyword and text
    assert [a.value for a in other.arguments] == ["/b"]

    from behave.matchers import ParseMatcher
    ParseMatcher.TYPE_REGISTRY["Counted"] = counted
    try:
        registry.add_step_definition("when", "I count {thing:Counted}", site)
    finally:
        del ParseMatcher.TYPE_REGISTRY["Counted"]
    assert registry.find_match(step("when", 'I fetch "/a"')) is not first  # dropped
    grew = []
    for _ in range(3):
        before = len(converted)
        assert registry.find_match(step("when", "I count sheep")).arguments[0].value == "sheep"
        grew.append(len(converted) > before)
    assert grew == [True, True, True]  # converted at every lookup

    @parse.with_pattern(r"\w+")
    def strict(text: str) -> str:
        raise ValueError(f"no {text}")

    def shipped_strict(context: Any, thing: str) -> None: ...
    shipped_strict.__module__ = "escalator.steps.fake"
    ParseMatcher.TYPE_REGISTRY["Strict"] = strict
    try:
        registry.add_step_definition("when", "I insist on {thing:Strict}", shipped_strict)
    finally:
        del ParseMatcher.TYPE_REGISTRY["Strict"]
    failed = [registry.find_match(step("when", "I insist on tea")) for _ in range(2)]
    assert [type(m).__name__ for m in failed] == ["MatchWithError"] * 2
    assert failed[0] is not failed[1]  # its error is raised anew, not one object twice
