#!/usr/bin/env python3
"""How long `escalator report` takes, and how big the page gets, on recorded histories.

    python bench/report.py              the full run (7 timed runs of each case)
    python bench/report.py --quick      small histories, one run each: a smoke test
    python bench/report.py --markdown   the table in GitHub markdown, for bench/README.md

Cases: the three stories of tests/report_stories.py (healthy, failing, recovering after a
deploy: 5 scenarios, 5 measurements, a ladder) with 200 stored runs; a 50-scenario suite with
two measurements each, 200 runs; and a history as full as the store keeps it (two generations of
2 MiB) for the 5-scenario suite. "render" is the report command in this process (read the state,
render every file, write them), "escalator report" a fresh process as cron starts it; both are
medians. Issue 18's targets: 200 runs render in under a second; the page stays under 2 MB.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from measure import Command, load_average, run_once  # noqa: E402  (the bench's own module)
from tabulate import tabulate  # noqa: E402

from escalator.cli import main  # noqa: E402
from escalator.env import Env  # noqa: E402
from escalator.limits import Limit  # noqa: E402
from escalator.results import Measurement, Outcome, RunResult, ScenarioResult  # noqa: E402
from escalator.state import HISTORY_BYTES, HistoryEntry, ResultStore  # noqa: E402
from tests.report_stories import story, story_project, story_run  # noqa: E402

HEADERS = ("case", "runs stored", "scenarios", "charts", "render s", "escalator report s",
           "index.html KiB", "target", "met")


def big_suite(root: Path, runs: int, scenarios: int = 50) -> float:
    """A suite of `scenarios` scenarios with two measurements each, `runs` runs stored."""
    (root / "escalator.toml").write_text("[environments.production]\n")
    rng = random.Random(7)
    start = 1_795_000_000.0
    for i in range(runs):
        ResultStore(root / ".escalator", now=lambda i=i: start + 300 * i).save(RunResult(
            scenarios=tuple(_scenario(n, i, rng) for n in range(scenarios)),
            started=start + 300 * i - 2, duration=3.0, environment="production"))
    return start + 300 * (runs - 1) + 60


def _scenario(n: int, i: int, rng: random.Random) -> ScenarioResult:
    failing = (i + n) % 97 == 0
    return ScenarioResult(
        feature=f"Feature {n // 10}", file=f"features/f{n // 10}.feature", line=3 + n % 10 * 6,
        name=f"Scenario {n} answers in time", outcome=Outcome.FAILED if failing else Outcome.PASSED,
        tags=("smoke",), duration=0.2, reason="over the limit" if failing else None,
        measurements=(Measurement("response_time", round(rng.gauss(80, 10), 1), "ms",
                                  Limit.below(500), warn=Limit.at_most(300)),
                      Measurement("lookup_time", round(rng.uniform(1, 4), 2), "ms")))


def full_history(root: Path) -> float:
    """The recovering story, its history filled to the store's bound: two generations of
    HISTORY_BYTES (written as lines directly: a save per run would fsync thousands of times)."""
    now = story_project(root, "recovering", 200)
    path = ResultStore(root / ".escalator").history_path("production")
    tale, rng = story("healthy", 200), random.Random(3)
    older: list[str] = []
    size, i = 0, 0
    while size < 2 * HISTORY_BYTES - path.stat().st_size:
        at = tale.at(0) - 300 * (i + 1)
        line = json.dumps(HistoryEntry.of(story_run(tale, "healthy", i % 200, rng), at).to_dict(),
                          sort_keys=True) + "\n"
        older.append(line)
        size, i = size + len(line), i + 1
    older.reverse()
    half = len(older) // 2
    path.with_name(path.name + ".1").write_text("".join(older[:half]))
    path.write_text("".join(older[half:]) + path.read_text())
    return now


def _report(root: Path, now: float) -> float:
    started = time.perf_counter()
    out, err = io.StringIO(), io.StringIO()
    code = main(["report"], Env(stdout=out, stderr=err, environ={}, cwd=root, now=lambda: now))
    seconds = time.perf_counter() - started
    assert code == 0, err.getvalue()
    return seconds


def measure(label: str, make: Callable[[Path], float], repeat: int) -> list[object]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        now = make(root)
        _report(root, now)  # warm: imports, templates
        inside = statistics.median(_report(root, now) for _ in range(repeat))
        cli = Command("escalator report", (sys.executable, "-m", "escalator", "report"), root)
        fresh = statistics.median(run_once(cli).seconds for _ in range(repeat))
        page = root / "reports" / "index.html"
        text = page.read_text()
        runs = len(ResultStore(root / ".escalator").history("production", 1_000_000))
        kib = page.stat().st_size / 1024
        met = "yes" if inside < 1 and kib < 2 * 1000 * 1000 / 1024 else "NO"
        return [label, runs, text.count('class="scenario"'), text.count('class="card"'),
                f"{inside:.3f}", f"{fresh:.3f}", f"{kib:.0f}",
                "< 1 s, < 2 MB" if runs <= 200 else "", met if runs <= 200 else ""]


def main_(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small histories, one run each")
    parser.add_argument("--markdown", action="store_true", help="GitHub markdown table")
    args = parser.parse_args(argv)
    runs, repeat = (20, 1) if args.quick else (200, 7)
    before = load_average()[0]
    rows = [measure(f"{name}, {runs} runs", lambda root, n=name: story_project(root, n, runs),
                    repeat) for name in ("healthy", "failing", "recovering")]
    rows.append(measure(f"50 scenarios x 2 measurements, {runs} runs",
                        lambda root: big_suite(root, runs, 10 if args.quick else 50), repeat))
    if not args.quick:
        rows.append(measure("full history (2 x 2 MiB), recovering", full_history, repeat))
    print(f"Escalator report benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{'quick' if args.quick else 'full'} run; load average before {before:.2f}, after "
          f"{load_average()[0]:.2f} (1 min)")
    print()
    print(tabulate(rows, headers=HEADERS, tablefmt="github" if args.markdown else "simple",
                   disable_numparse=True))
    return 0


if __name__ == "__main__":
    sys.exit(main_(sys.argv[1:]))
