"""`escalator steps`: every phrase is listed with an example that its own pattern matches."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.project import REPO, run_cli

STEPS_MD = (REPO.parent / "shared" / "steps.md")


@pytest.fixture(scope="module")
def catalogue() -> str:
    out = run_cli(["steps"], cwd=REPO)
    assert out.code == 0, out.stderr
    return out.stdout


def test_every_example_matches_its_own_step(catalogue: str) -> None:
    from behave.step_registry import registry

    for matchers in registry.steps.values():
        for matcher in matchers:
            doc = (matcher.func.__doc__ or "").strip().splitlines()
            assert doc, f"{matcher.func.__qualname__} has no example docstring"
            keyword, _, text = doc[0].strip().partition(" ")
            assert keyword in ("Given", "When", "Then", "And"), doc[0]
            assert matcher.match(text) is not None, f"example does not match: {doc[0]}"
            assert doc[0].strip() in catalogue


@pytest.mark.skipif(not STEPS_MD.exists(), reason="shared/steps.md sits beside the repository")
def test_every_phrase_of_the_spec_is_in_the_catalogue(catalogue: str) -> None:
    from behave.step_registry import registry

    phrases = []
    for line in STEPS_MD.read_text().splitlines():
        text = line.split("#")[0].strip()
        if text.startswith(("Given ", "When ", "Then ")):
            phrases.append(text.partition(" ")[2])
    assert len(phrases) > 60
    samples = {"<url>": "/x", "<host>": "h:1", "<N>": "5", "<P>": "95", "<code>": "200",
               "<TYPE>": "MX", "<minutes|hours>": "hours", "<SHA256:...>": "SHA256:abc"}
    missing = []
    for phrase in phrases:
        text = phrase
        for key, value in samples.items():
            text = text.replace(key, value)
        text = __import__("re").sub(r"<[^>]+>", "x", text)
        if not any(m.match(text) for ms in registry.steps.values() for m in ms):
            missing.append(phrase)
    assert missing == []


def test_search_filters(tmp_path: Path) -> None:
    out = run_cli(["steps", "--search", "percentile"], cwd=REPO)
    lines = [line for line in out.stdout.splitlines() if line.startswith("  ")]
    assert lines == [
        "  Then the 95th percentile response time should be less than 300 ms",
        "  Then the 95th percentile response time should be less than 300 ms, warning above 200 ms"]
