"""The HTML report in a real browser: headless Chromium loads index.html and runs its script.

`--dump-dom` gives the DOM after the page's script ran, so the tests see what a person sees:
the scenarios, their states, the filter applied from the URL, and target text kept as text.
The story tests (healthy, failing, recovering after a deploy: tests/report_stories.py) load the
page in a frame of a small harness page that measures where Chromium laid out the charts, their
time labels and the ladder's markers, clicks a chart to enlarge it, and reports back in the DOM;
Chromium's console log (`--enable-logging=stderr`) must stay empty.
`python -m tests.test_report_browser docs/` remakes the README screenshots from the recovering
story.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from escalator.cli import main
from escalator.env import Env
from escalator.limits import Limit
from escalator.results import Measurement, Outcome, RunResult, ScenarioResult, Severity, StepResult
from escalator.state import ResultStore
from tests.report_stories import DEPLOY, STORIES, story, story_project

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
    return chromium_logged(*args, profile=profile)[0]


def chromium_logged(*args: str, profile: Path) -> tuple[str, list[str]]:
    """Chromium's stdout, and what the pages wrote to the console (errors included)."""
    done = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--no-first-run",
         "--disable-sync", "--enable-logging=stderr", "--v=0", f"--user-data-dir={profile}",
         *args],
        capture_output=True, text=True, timeout=120, check=True)
    return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


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


# ---- the stories, as a person looks at them ---------------------------------------------------

# Loads the report in a frame (same origin thanks to --allow-file-access-from-files), measures
# what Chromium drew, enlarges one chart with a click as a person would, and writes it all into
# <pre id="out"> for --dump-dom.
HARNESS = """<!DOCTYPE html><html><body>
<iframe id="f" src="index.html" style="width:1300px;height:4000px;border:0"></iframe>
<pre id="out"></pre>
<script>
function measure(svg) {
  function centre(el) { var r = el.getBoundingClientRect(); return r.left + r.width / 2; }
  var box = svg.getBoundingClientRect();
  return {
    id: svg.getAttribute("data-chart"), width: box.width, height: box.height,
    ticks: Array.from(svg.querySelectorAll("text.axis")).map(function (t) {
      return [+t.getAttribute("data-at"), centre(t), t.textContent]; }),
    markers: Array.from(svg.querySelectorAll("g.marker")).map(function (g) {
      return [+g.getAttribute("data-at"), centre(g.querySelector("line")),
              g.getAttribute("class")]; }),
    points: Array.from(svg.querySelectorAll("circle.pt")).map(function (c) {
      return [centre(c), c.getAttribute("class")]; }),
    line: Array.from(svg.querySelectorAll("polyline.line")).flatMap(function (line) {
      return Array.from(line.points).map(function (p) {
        var q = new DOMPoint(p.x, p.y).matrixTransform(svg.getScreenCTM());
        return [q.x, q.y]; }); }),
    limits: Array.from(svg.querySelectorAll("line.limit")).map(function (l) {
      return l.getBoundingClientRect().top; })
  };
}
function hover(svg, x) {
  var box = svg.getBoundingClientRect();
  svg.dispatchEvent(new MouseEvent("mousemove", {bubbles: true, clientX: x,
                                                 clientY: box.top + box.height / 2}));
  return svg.ownerDocument.getElementById("readout").textContent;
}
document.getElementById("f").addEventListener("load", function () {
  var d = this.contentDocument, out = {};
  out.cards = d.querySelectorAll("button.card svg.chart").length;
  out.timeline = measure(d.querySelector("svg.timeline"));
  out.banners = Array.from(d.querySelectorAll(".banner")).map(function (b) {
    return b.textContent.replace(/\\s+/g, " ").trim(); });
  var card = d.querySelector('button.card[data-chart="CHART"]');
  if (card) {
    card.click();
    out.zoomed = d.getElementById("zoom").open;
    out.title = d.getElementById("zoom-title").textContent;
    out.chart = measure(d.querySelector("#zoom svg.chart"));
    out.hash = d.defaultView.location.hash;
    out.readouts = HOVER.map(function (at) {
      var big = d.querySelector("#zoom svg.chart"), box = big.getBoundingClientRect();
      var plot = big.dataset.plot.split(" "), scale = box.width / big.viewBox.baseVal.width;
      return hover(big, box.left + scale * (+plot[0] + (at - big.dataset.start) /
                   (big.dataset.end - big.dataset.start) * (plot[1] - plot[0])));
    });
  }
  document.getElementById("out").textContent = JSON.stringify(out);
});
</script></body></html>"""

NOW_OF: dict[str, float] = {}


@pytest.fixture(scope="module", params=STORIES)
def told(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp(request.param)
    now = story_project(root, request.param)
    out, err = io.StringIO(), io.StringIO()
    code = main(["report"], Env(stdout=out, stderr=err, environ={}, cwd=root, now=lambda: now))
    assert code == 0, err.getvalue()
    return request.param, root / "reports"


def chart_of(reports: Path, scenario: str) -> str:
    """The id of the first chart in `scenario`'s row."""
    doc = lxml.html.fromstring((reports / "index.html").read_text())
    row = next(r for r in doc.find_class("scenario")
               if r.find_class("name")[0].text_content() == scenario)
    return str(row.find_class("card")[0].get("data-chart"))


def look(reports: Path, chart: str, profile: Path, hover: tuple[float, ...] = ()
         ) -> tuple[dict[str, Any], list[str]]:
    """What Chromium drew: the timeline, the chart `chart` enlarged by a click, and the
    readout under the pointer at each time in `hover`."""
    harness = reports / "harness.html"
    harness.write_text(HARNESS.replace("CHART", chart).replace("HOVER", json.dumps(hover)))
    dom, console = chromium_logged("--allow-file-access-from-files", "--window-size=1300,1000",
                                   "--dump-dom", harness.as_uri(), profile=profile)
    found = re.search(r'<pre id="out">(.*)</pre>', dom, re.S)
    assert found is not None and found.group(1), dom[-2000:]
    return json.loads(lxml.html.fromstring(found.group(0)).text_content()), console


def placed(chart: dict[str, Any], at: float) -> float:
    """Where a person reading the time labels expects `at`: between its two neighbours."""
    ticks = sorted((t, x) for t, x, _ in chart["ticks"])
    (t0, x0), (t1, x1) = next(((a, b) for a, b in itertools.pairwise(ticks)
                               if a[0] <= at <= b[0]), (ticks[-2], ticks[-1]))
    return float(x0 + (at - t0) / (t1 - t0) * (x1 - x0))


STORY_MARKERS = {
    # story -> (marker kind, seconds after the story's event) in time order
    "healthy": [],
    "failing": [("engaged", 0.0), ("level-failed", 5.0), ("latched", 30.0)],
    "recovering": [("engaged", -10.0), ("level", 0.0), ("recovered", 110.0)],
}


def event_time(name: str) -> float:
    tale = story(name)
    if name == "failing":
        assert tale.broken_from is not None
        return tale.at(tale.broken_from + 2) + 40
    return DEPLOY


def test_each_story_draws_its_charts_and_the_ladder_where_the_time_labels_say(
        told: tuple[str, Path], tmp_path: Path) -> None:
    name, reports = told
    chart = chart_of(reports, "Search answers fast at the 95th percentile"
                     if name == "recovering" else "Home page welcomes")
    seen, console = look(reports, chart, tmp_path / "profile")
    assert console == []                                     # no script errors, no warnings
    assert seen["cards"] == 5                                 # a chart per measurement
    assert seen["zoomed"] and seen["chart"]["width"] > 600    # a click enlarges it
    assert seen["hash"].endswith(f"&chart={chart}")          # ... and the URL can be shared
    expected = [(kind, event_time(name) + delta) for kind, delta in STORY_MARKERS[name]]
    for measured in (seen["timeline"], seen["chart"]):
        markers = [(c.split()[1], at) for at, _, c in measured["markers"]]
        assert markers == expected
        for at, x, _ in measured["markers"]:
            assert abs(x - placed(measured, at)) < 1.5, (at, x)
    labels = {text: at for at, _, text in seen["timeline"]["ticks"]}
    assert all(re.fullmatch(r"\d\d:00", text) for text in labels)
    latched = [b for b in seen["banners"] if b.startswith("The ladder is latched")]
    assert bool(latched) == (name == "failing")


def test_the_recovery_shows_in_the_chart_either_side_of_the_deploy(tmp_path_factory:
                                                                   pytest.TempPathFactory
                                                                   ) -> None:
    root = tmp_path_factory.mktemp("recovering")
    now = story_project(root, "recovering")
    assert main(["report"], Env(stdout=io.StringIO(), stderr=io.StringIO(), environ={},
                                cwd=root, now=lambda: now)) == 0
    reports = root / "reports"
    first_after = DEPLOY + 210                    # the next run, three and a half minutes on
    seen, _ = look(reports, chart_of(reports, "Search answers fast at the 95th percentile"),
                   tmp_path_factory.mktemp("profile"), hover=(first_after, DEPLOY - 90))
    drawn = seen["chart"]
    deploy = next(x for at, x, _ in drawn["markers"] if at == DEPLOY)
    (limit,) = drawn["limits"]                    # the dashed 500 ms line, on screen
    before = [y for x, y in drawn["line"] if x < deploy][-8:]
    after = [y for x, y in drawn["line"] if x > deploy]
    assert len(before) == 8 and all(y < limit for y in before)   # above the limit until then
    assert after and all(y > limit for y in after)               # below it from the next run
    assert [c for x, c in drawn["points"] if x > deploy] == []   # no red dot after the deploy
    assert len([c for x, c in drawn["points"] if x < deploy]) == 8
    assert seen["title"].startswith("Search answers fast at the 95th percentile: "
                                    "response_time_p95 (")
    assert [re.sub(r"\d+(\.\d+)? ms", "N ms", text) for text in seen["readouts"]] == [
        "2026-11-20 14:05 UTC: N ms (OK)", "2026-11-20 14:00 UTC: N ms (CRITICAL)"]


def test_console_errors_would_be_caught(tmp_path: Path) -> None:
    """The console check above can fail: a page that throws is reported."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    _, console = chromium_logged("--dump-dom", page.as_uri(), profile=tmp_path / "profile")
    assert any("undefinedFunction is not defined" in line for line in console)


def test_story_screenshots_render(told: tuple[str, Path], tmp_path: Path) -> None:
    name, reports = told
    shot = tmp_path / f"{name}.png"
    chromium(f"--screenshot={shot}", "--window-size=1300,1000", "--hide-scrollbars",
             (reports / "index.html").as_uri(), profile=tmp_path / "profile")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (1300,
                                                                                          1000)


def screenshots(directory: Path) -> None:
    """docs/report.png (the recovering story) and docs/report-chart.png (its p95, enlarged)."""
    work = Path(tempfile.mkdtemp())
    try:
        now = story_project(work, "recovering")
        assert main(["report"], Env(stdout=io.StringIO(), stderr=io.StringIO(), environ={},
                                    cwd=work, now=lambda: now)) == 0
        index = work / "reports" / "index.html"
        chart = chart_of(work / "reports", "Search answers fast at the 95th percentile")
        for name, uri in (("report.png", index.as_uri()),
                          ("report-chart.png", f"{index.as_uri()}#chart={chart}")):
            chromium(f"--screenshot={(directory / name).resolve()}", "--window-size=1300,900",
                     "--hide-scrollbars", uri, profile=work / "profile")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    screenshots(Path(sys.argv[1]))
