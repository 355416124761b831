"""The HTML report in a real browser: headless Chromium loads index.html and runs its filter.

`--dump-dom` gives the DOM after the page's script ran, so the tests see what a person sees:
the scenarios, their states, the filter applied from the URL, and target text kept as text.
`python -m tests.test_report_browser docs/report.png` remakes the README screenshot from the
same sample history.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import lxml.html
import pytest

from escalator.cli import main
from escalator.env import Env
from escalator.limits import Limit
from escalator.results import Measurement, Outcome, RunResult, ScenarioResult, Severity, StepResult
from escalator.state import ResultStore

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed")

T0 = 1_700_000_000.0
RUNS = 30
XSS = "<script>document.title='owned'</script>"


def _scenario(feature: str, file: str, line: int, name: str, failing: bool, **kw: object
              ) -> ScenarioResult:
    return ScenarioResult(feature=feature, file=file, line=line, name=name,
                          outcome=Outcome.FAILED if failing else Outcome.PASSED, **kw)  # type: ignore[arg-type]


def sample_run(i: int, hostile: bool = True) -> RunResult:
    """Run `i` of a small suite: a home page that fails from run 24 on, a flapping API.

    `hostile`: the failing page's body (quoted in the reason) carries a script tag.
    """
    web, api, dns = "features/web.feature", "features/api.feature", "features/dns.feature"
    broken = i >= RUNS - 6
    home_error = (f"'Welcome' not found in 212 B body of https://www.example.test/ (503, 41 ms); "
                  f"body: '{XSS if hostile else '<h1>'} Service Unavailable'")
    scenarios = (
        _scenario("Web site", web, 3, "Home page welcomes", broken, tags=("smoke",
                  "escalate.redeploy"), level="redeploy", duration=0.21,
                  runbook="https://wiki.example.test/runbooks/home",
                  steps=(StepResult("Then", 'I should see "Welcome"', 5, "failed" if broken
                                    else "passed", 0.04, home_error if broken else None),),
                  measurements=(Measurement("response_time", 41.0, "ms", Limit.at_most(500)),)),
        _scenario("Web site", web, 8, "Login page answers fast", False, tags=("smoke",),
                  duration=0.18),
        _scenario("Web site", web, 14, "Certificate is not about to expire", False,
                  tags=("tls", "warning"), severity=Severity.WARNING, duration=0.09),
        _scenario("JSON API", api, 3, "Health endpoint reports ok", i % 7 == 3,
                  tags=("api", "warning"), severity=Severity.WARNING, duration=0.12,
                  reason="$.status is 'degraded', expected 'ok'"),
        _scenario("JSON API", api, 9, "Version is published", False, tags=("api",),
                  duration=0.11),
        _scenario("DNS", dns, 3, "www resolves to the load balancer", False,
                  tags=("dns", "escalate.network"), level="network", duration=0.01),
    )
    return RunResult(scenarios=scenarios, started=T0 + 300 * i, duration=1.4,
                     environment="production")


def sample_project(root: Path, hostile: bool = True) -> Path:
    """A project whose state holds RUNS runs, five minutes apart; reports rendered."""
    (root / "escalator.toml").write_text("[environments.production]\n")
    for i in range(RUNS):
        store = ResultStore(root / ".escalator", now=lambda i=i: T0 + 300 * i + 2)
        store.save(sample_run(i, hostile))
    now = T0 + 300 * (RUNS - 1) + 62
    out, err = io.StringIO(), io.StringIO()
    code = main(["report"], Env(stdout=out, stderr=err, environ={}, cwd=root, now=lambda: now))
    assert code == 0, err.getvalue()
    return root / "reports" / "index.html"


def chromium(*args: str, profile: Path) -> str:
    done = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--no-first-run",
         "--disable-sync", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_project(tmp_path_factory.mktemp("project"))


def rendered(page: Path, fragment: str, profile: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(chromium("--dump-dom", page.as_uri() + fragment,
                                         profile=profile))


def visible(doc: lxml.html.HtmlElement) -> list[tuple[str, str]]:
    return [(row.get("data-state"), row.find_class("name")[0].text_content())
            for row in doc.find_class("scenario") if row.get("hidden") is None]


def test_browser_shows_every_scenario_and_its_state(page: Path, tmp_path: Path) -> None:
    doc = rendered(page, "", tmp_path / "profile")
    assert visible(doc) == [
        ("CRITICAL", "Home page welcomes"), ("OK", "Login page answers fast"),
        ("OK", "Certificate is not about to expire"), ("OK", "Health endpoint reports ok"),
        ("OK", "Version is published"), ("OK", "www resolves to the load balancer")]
    assert doc.get_element_by_id("shown").text == "6 shown"      # the page's script ran
    assert doc.xpath("//title")[0].text == "Escalator: production is CRITICAL"
    since = " ".join(doc.find_class("since")[0].text_content().split())
    assert since == "26m ago 2023-11-15 00:13:22 UTC"
    assert len(doc.find_class("strip")[0]) == RUNS


def test_filter_from_the_url_hides_what_does_not_match(page: Path, tmp_path: Path) -> None:
    doc = rendered(page, "#state=problems", tmp_path / "profile")
    assert visible(doc) == [("CRITICAL", "Home page welcomes")]
    features = [row.text_content().split()[0] for row in doc.find_class("feature")
                if row.get("hidden") is None]
    assert features == ["Web"]
    doc = rendered(page, "#tag=%40api", tmp_path / "profile")
    assert visible(doc) == [("OK", "Health endpoint reports ok"), ("OK", "Version is published")]


def test_target_text_is_shown_as_text_and_never_runs(page: Path, tmp_path: Path) -> None:
    doc = rendered(page, "", tmp_path / "profile")
    reason = doc.find_class("reason")[0].text_content()
    assert XSS in reason                                    # visible, as the target sent it
    assert doc.xpath("//title")[0].text != "owned"
    assert len(doc.xpath("//script")) == 1                  # only the page's own filter


def test_screenshot_renders(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    chromium(f"--screenshot={shot}", "--window-size=1200,700", "--hide-scrollbars",
             page.as_uri(), profile=tmp_path / "profile")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 700)


if __name__ == "__main__":
    work = Path(tempfile.mkdtemp())
    try:
        index = sample_project(work, hostile=False)
        chromium(f"--screenshot={Path(sys.argv[1]).resolve()}", "--window-size=1200,640",
                 "--hide-scrollbars", index.as_uri(), profile=work / "profile")
    finally:
        shutil.rmtree(work, ignore_errors=True)
