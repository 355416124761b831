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
    assert timing[0] == ["case", "command", "runs", "median s", "min s", "max s", "CPU s",
                         "escalator / this", "CPU: escalator / this", "load"]
    http = ["check_http"] if (PLUGINS / "check_http").exists() else []
    dummy = ["check_dummy 0"] if (PLUGINS / "check_dummy").exists() else []
    instant = ["escalator check", "python -m behave", "requests loop"]
    assert [row[1] for row in timing[1:]] == [
        "escalator check", "python -m behave", *http,
        "escalator status", "python -c pass", "escalator status, full", *http, *dummy,
        *instant, *instant,
        "escalator check --jobs 32", "escalator check --jobs 64",
        "escalator check --jobs 1", "python -m behave",
        "escalator check --timeout 1s"]
    assert [row[0] for row in timing[1:] if row[0]] == [
        "1 HTTP scenario, cold", "status (stored result)", "3 x instant, defaults",
        "6 x instant, defaults", "6 x 100 ms, --jobs 32", "6 x 100 ms, --jobs 64",
        "6 x 100 ms, --jobs 1", "4 scenarios, half hang"]
    for row in timing[1:]:
        assert float(row[3]) > 0 and float(row[4]) <= float(row[3]) <= float(row[5])
        assert float(row[6]) > 0  # CPU time of the command and what it waited for
        assert (row[9] != "") == (row[0] != "")  # the load average, once per case


def test_scaling_memory_and_import_tables(quick_output: str) -> None:
    _, scaling, mem, starts = _tables(quick_output)
    assert [row[0] for row in scaling] == ["instant scenarios", "3", "6"]
    assert [row[0] for row in mem[:13]] == [
        "memory", "8 x 100 ms, --jobs 32:", "CLI process", "coordinator", "largest worker",
        mem[5][0], mem[6][0], "6 x instant, defaults:", "CLI process", "coordinator",
        "largest worker", mem[11][0], mem[12][0]]
    # how many workers a 10 ms sampler catches alive at once varies; at most --quick's 8 run
    assert re.fullmatch(r"all live workers \(peak [1-8] at once\)", mem[5][0])
    for run in (mem[6][0], mem[12][0]):
        assert re.fullmatch(r"run: \d+\.\d\d s wall, exit 0, \d+ samples", run)
    assert all(float(row[1]) > 0 for row in mem[2:6] + mem[8:12])
    assert [row[0] for row in starts] == ["escalator ...", "--version", "status --max-age 1d",
                                         "check"]
    # check ran one HTTP scenario: its coordinator must have loaded behave and requests
    assert "behave" in starts[3][4] and "requests" in starts[3][4]
    # status answered from the stored answer: neither runner nor formatters in its process
    assert starts[2][3] == "-"


def test_only_runs_the_cases_and_tables_named() -> None:
    done = subprocess.run([sys.executable, str(REPO / "bench" / "run"), "--quick", "--only",
                           "status"], cwd=REPO, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr
    [timing] = _tables(done.stdout)
    assert [row[0] for row in timing[1:] if row[0]] == ["status (stored result)"]


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
