"""The benchmark script runs end to end in --quick mode and prints its three tables.

Benchmarks are never pass/fail here: this only checks that `bench/run --quick` starts its
loopback target, runs every case beside its baselines and prints the rows it promises. The
figures themselves are in bench/README.md.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PLUGINS = Path("/usr/lib/nagios/plugins")


def _tables(text: str) -> list[list[list[str]]]:
    """Each `simple` tabulate table as rows of cells (header row first)."""
    tables, lines = [], text.splitlines()
    for index, line in enumerate(lines):
        if re.fullmatch(r"-+( +-+)+", line):
            widths = [len(dash) for dash in line.split()]
            starts = [m.start() for m in re.finditer(r"-+", line)]
            rows = []
            for row in [lines[index - 1], *lines[index + 1:]]:
                if not row.strip():
                    break
                rows.append([row[s:s + w].strip() for s, w in zip(starts, widths, strict=True)])
            tables.append(rows)
    return tables


@pytest.fixture(scope="module")
def quick_output() -> str:
    done = subprocess.run([sys.executable, str(REPO / "bench" / "run"), "--quick"], cwd=REPO,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_first_line_names_the_run_and_the_load(quick_output: str) -> None:
    assert re.fullmatch(r"Escalator benchmark, \d{4}-\d\d-\d\d \d\d:\d\d UTC, quick run; "
                        r"load average before \d+\.\d\d, after \d+\.\d\d \(1 min; 2 cores\)",
                        quick_output.splitlines()[0])


def test_timing_table_has_every_case_beside_its_baselines(quick_output: str) -> None:
    timing = _tables(quick_output)[0]
    assert timing[0] == ["case", "command", "runs", "median s", "min s", "max s",
                         "escalator / this"]
    http = ["check_http"] if (PLUGINS / "check_http").exists() else []
    dummy = ["check_dummy 0"] if (PLUGINS / "check_dummy").exists() else []
    assert [row[1] for row in timing[1:]] == [
        "escalator check", "python -m behave", *http,
        "escalator status", *http, *dummy, "python -c pass",
        "escalator check", "requests loop", "python -m behave",
        "escalator check --jobs 32", "python -m behave",
        "escalator check --jobs 1", "python -m behave",
        "escalator check --timeout 1s"]
    assert [row[0] for row in timing[1:] if row[0]] == [
        "1 HTTP scenario, cold", "status (stored result)", "6 x instant, defaults",
        "6 x 100 ms, --jobs 32", "6 x 100 ms, --jobs 1", "4 scenarios, half hang"]
    for row in timing[1:]:
        assert float(row[3]) > 0 and float(row[4]) <= float(row[3]) <= float(row[5])


def test_memory_and_import_tables(quick_output: str) -> None:
    _, mem, starts = _tables(quick_output)
    assert [row[0] for row in mem[:5]] == [
        "8 scenarios, --jobs 32", "CLI process", "coordinator", "largest worker",
        mem[4][0]]
    # how many workers a 10 ms sampler catches alive at once varies; at most --quick's 8 run
    assert re.fullmatch(r"all live workers \(peak [1-8] at once\)", mem[4][0])
    assert re.fullmatch(r"run: \d+\.\d\d s wall, exit 0, \d+ samples", mem[5][0])
    assert all(float(row[1]) > 0 for row in mem[1:5])
    assert [row[0] for row in starts] == ["escalator ...", "--version", "status --max-age 1d",
                                         "check"]
    # check ran one HTTP scenario: its coordinator must have loaded behave and requests
    assert "behave" in starts[3][4] and "requests" in starts[3][4]


def test_report_bench_renders_every_case_and_says_how_big_the_page_is() -> None:
    done = subprocess.run([sys.executable, str(REPO / "bench" / "report.py"), "--quick"],
                          cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    (table,) = _tables(done.stdout)
    assert table[0] == ["case", "runs stored", "scenarios", "charts", "render s",
                        "escalator report s", "index.html KiB", "target", "met"]
    assert [row[:4] for row in table[1:]] == [
        ["healthy, 20 runs", "20", "5", "5"], ["failing, 20 runs", "20", "5", "5"],
        ["recovering, 20 runs", "20", "5", "5"],
        ["50 scenarios x 2 measurements, 20 runs", "20", "10", "20"]]
    assert all(float(row[4]) > 0 and float(row[5]) > 0 and int(row[6]) > 0 for row in table[1:])
