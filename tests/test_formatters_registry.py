"""The format registry (lazy imports, unknown and missing formats) and the JSON format."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from escalator.errors import UsageError
from escalator.formatters import FORMATS, FormatOptions, render
from escalator.results import RunResult
from tests.test_formatters_samples import all_samples, home_ok, run_of


def test_json_is_the_sorted_indented_dict_and_reads_back() -> None:
    run = run_of(home_ok(), notices=("TLS verification is off",))
    out = render("json", run)
    assert out == json.dumps(run.to_dict(), indent=2, sort_keys=True) + "\n"
    assert json.loads(out)["status"] == "OK"
    assert RunResult.from_dict(json.loads(out)) == run


def test_json_starts_with_the_sorted_keys() -> None:
    out = render("json", run_of(duration=0.5, timeout=None))
    assert out.startswith('{\n  "duration": 0.5,\n  "environment": null,\n  "errors": [],\n')


def test_an_unknown_format_is_a_usage_error_naming_the_choices() -> None:
    with pytest.raises(UsageError) as caught:
        render("xml", run_of())
    assert str(caught.value) == (
        "unknown output format 'xml': choose from pretty, progress, json, junit, nagios,"
        " prometheus, graphite")


@pytest.mark.parametrize("name", [f for f in FORMATS if f != "prometheus"])
def test_every_format_renders_every_sample_as_text_ending_in_a_newline(name: str) -> None:
    for run in all_samples():
        for options in (FormatOptions(), FormatOptions(verbose=True, color=True)):
            out = render(name, run, options)
            assert out.endswith("\n") and not out.endswith("\n\n")


def test_formats_are_imported_only_when_asked_for() -> None:
    code = (
        "import sys, escalator.formatters as f\n"
        "from escalator.results import RunResult\n"
        "before = sorted(m for m in sys.modules if m.startswith('escalator.formatters.'))\n"
        "f.render('progress', RunResult(scenarios=()))\n"
        "after = sorted(m for m in sys.modules if m.startswith('escalator.formatters.'))\n"
        "print(before, after)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out == ("[] ['escalator.formatters.pretty', 'escalator.formatters.progress']\n")


def test_a_missing_format_module_fails_only_when_that_format_is_asked_for() -> None:
    # prometheus lives in another module that may not exist yet: ask for it in a child whose
    # import system cannot find it, so the test holds either way.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'escalator.formatters.prometheus':\n"
        "            raise ModuleNotFoundError(name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from escalator.formatters import render\n"
        "from escalator.results import RunResult\n"
        "print(render('nagios', RunResult(scenarios=())).split(' |')[0])\n"
        "try:\n"
        "    render('prometheus', RunResult(scenarios=()))\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out == (
        "ESCALATOR UNKNOWN - no scenario selected\n"
        "UsageError output format 'prometheus' is not available in this installation\n"
    )
