"""Bad input never runs anything, never changes stored state, and says what is wrong in one line:
`run` exits 2, `check` exits 3 with a valid UNKNOWN line, and no traceback without -v."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fake_steps import FAKE_STEPS
from tests.project import make_project, run_cli

GOOD = "Feature: Good\n  Scenario: fine\n    Then it passes\n"

# (name, files to write {relative path: text or bytes}, extra argv, expected start of the reason)
CASES: list[tuple[str, dict[str, str | bytes], list[str], str]] = [
    ("misspelled keyword", {"features/bad.feature": "Feature: X\n  Scenariox: y\n    Given z\n"},
     [], "features/bad.feature: no scenarios (is a keyword misspelled?)"),
    ("step before scenario", {"features/bad.feature": "Feature: X\n  Given a step\n"},
     [], "features/bad.feature: no scenarios"),
    ("empty file", {"features/bad.feature": ""}, [],
     "features/bad.feature: no Feature in this file"),
    ("only comments", {"features/bad.feature": "# nothing\n"}, [],
     "features/bad.feature: no Feature in this file"),
    ("no scenarios", {"features/bad.feature": "Feature: Lonely\n"}, [],
     "features/bad.feature: no scenarios"),
    ("text before feature", {"features/bad.feature": "hello\nFeature: X\n"}, [],
     "features/bad.feature:1: "),
    ("two features", {"features/bad.feature": GOOD + "Feature: Again\n"}, [],
     "features/bad.feature:4: "),
    ("binary file", {"features/bad.feature": b"\x00\xff\xfe\x89PNG\r\n\x1a\n" * 20}, [],
     "features/bad.feature"),
    ("bad outline", {"features/bad.feature": "Feature: X\n  Scenario Outline: o\n    Given <a>\n"
                                             "    Examples:\n      | a |\n      | 1 | 2 |\n"},
     [], "features/bad.feature:6: "),
    ("missing path", {}, ["features/nope.feature"], "features/nope.feature: no such file"),
    ("not a feature file", {"features/x.txt": "hi"}, ["features/x.txt"], "InvalidFilenameError"),
    ("directory without features", {"other/README": "x"}, ["other"], ""),
    ("bad tag expression", {}, ["-t", "@a and"], "tag expression '@a and'"),
    ("v1 tag expression", {}, ["-t", "~@wip"], "tag expression '~@wip': that is the old v1"),
    ("two escalate tags", {"features/bad.feature": "Feature: X\n  @escalate.a @escalate.b\n"
                                                   "  Scenario: y\n    Then it passes\n"},
     [], "features/bad.feature:3: two @escalate tags"),
    ("bad timeout tag", {"features/bad.feature": "Feature: X\n  @timeout.soon\n"
                                                 "  Scenario: y\n    Then it passes\n"},
     [], "features/bad.feature:3: @timeout.soon: bad duration"),
    ("bad retries tag", {"features/bad.feature": "Feature: X\n  @retries.x\n"
                                                 "  Scenario: y\n    Then it passes\n"},
     [], "features/bad.feature:3: @retries.x: give a whole number"),
    ("syntax error in steps", {"steps/broken_steps.py": "def oops(:\n"}, [],
     "cannot load steps: "),
    ("import error in steps", {"steps/broken_steps.py": "import no_such_module_here\n"}, [],
     "cannot load steps: "),
    ("ambiguous steps", {"steps/dup_steps.py": "from behave import then\n"
                                               "@then('it passes')\ndef again(c):\n    pass\n"},
     [], "cannot load steps: "),
]


LADDER = '[environments.test]\n[ladder]\n[[ladder.level]]\nid = "deploy"\nrun = ["{run}"]\n'
# Configuration and command-line mistakes: (name, files, argv, expected text in the reason).
CONFIG_CASES: list[tuple[str, dict[str, str | bytes], list[str], str]] = [
    ("invalid TOML", {"escalator.toml": "[run\n"}, [], "escalator.toml: invalid TOML"),
    ("binary config", {"escalator.toml": b"\x00\xff\xfe"}, [], "escalator.toml: "),
    ("unknown section", {"escalator.toml": "[runs]\n"}, [], "unknown key runs"),
    ("unknown run key", {"escalator.toml": "[run]\njobz = 1\n"}, [], "unknown key run.jobz"),
    ("jobs as a string", {"escalator.toml": '[run]\njobs = "4"\n'}, [], "run.jobs: expected"),
    ("retries negative", {"escalator.toml": "[run]\nretries = -1\n"}, [], "run.retries"),
    ("duration without unit", {"escalator.toml": '[run]\ntimeout = "5"\n'}, [],
     "run.timeout: bad duration '5'"),
    ("duration of zero", {"escalator.toml": '[run]\nstep_timeout = "0s"\n'}, [],
     "run.step_timeout: must be longer than 0s"),
    ("environments not a table", {"escalator.toml": "environments = 3\n"}, [],
     "environments: expected a table"),
    ("variable of a wrong type", {"escalator.toml": "[environments.test]\nx = [1]\n"}, [],
     "environments.test.x: expected a string"),
    ("secret written inline", {"escalator.toml": '[environments.test]\npw = { value = "x" }\n'},
     [], 'environments.test.pw: a secret is written { env = "VARIABLE" }'),
    # An unset secret is not bad input: only the scenarios that use it are UNKNOWN
    # (tests/test_verdicts_suite.py).
    ("unknown environment", {}, ["-e", "nope"], "no environment 'nope'"),
    # A ladder action missing here is not bad input for `check` or `run`: only the ladder's
    # commands need the programs (tests/test_ladder_safety.py).
    ("ladder duplicate ids", {"escalator.toml": LADDER.format(run="/bin/true")
                              + '[[ladder.level]]\nid = "deploy"\nrun = ["/bin/true"]\n'}, [],
     "ladder.level[2].id"),
    ("ladder bad duration", {"escalator.toml": LADDER.format(run="/bin/true")
                             + 'timeout = "soon"\n'}, [], "ladder.level[1].timeout"),
    ("ladder unknown key", {"escalator.toml": LADDER.format(run="/bin/true") + "shell = true\n"},
     [], "ladder.level[1].shell"),
    ("unknown ladder level in a tag",
     {"escalator.toml": LADDER.format(run="/bin/true"),
      "features/bad.feature": "Feature: X\n  @escalate.nope\n  Scenario: y\n    Then it passes\n"},
     [], "features/bad.feature:3: @escalate.nope: no such ladder level (levels: deploy)"),
    ("define without a value", {}, ["-D", "novalue"], "-D novalue: give KEY=VALUE"),
    ("bad --timeout", {}, ["--timeout", "soon"], "--timeout: bad duration 'soon'"),
    ("absurd --step-timeout", {}, ["--step-timeout", "99999999999d"], "longer than ten years"),
    ("zero jobs", {}, ["-j", "0"], "--jobs: must be at least 1"),
    ("negative retries", {}, ["--retries", "-1"], "--retries: must not be negative"),
    ("unknown format", {}, ["-f", "yaml"], "-f yaml: unknown format"),
    ("outfile without a format", {}, ["-o", "x.txt"], "give -f FORMAT before each -o FILE"),
]


def _project(tmp_path: Path) -> Path:
    return make_project(tmp_path, {"good.feature": GOOD}, steps=FAKE_STEPS)


def _write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def _state(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in (root / ".escalator").rglob("*") if p.is_file()}


@pytest.mark.parametrize(("name", "files", "argv", "reason"), CASES + CONFIG_CASES,
                         ids=[c[0] for c in CASES + CONFIG_CASES])
def test_bad_input(tmp_path: Path, name: str, files: dict[str, str | bytes], argv: list[str],
                   reason: str) -> None:
    root = _project(tmp_path)
    assert run_cli(["run", "-e", "test", "-f", "progress", "features/good.feature"],
                   cwd=root).code == 0
    before = _state(root)
    assert before
    _write(root, files)
    check = run_cli(["check", "-e", "test", *argv], cwd=root)
    run = run_cli(["run", "-e", "test", *argv, "-f", "progress"], cwd=root)
    assert check.code == 3, check.stdout
    assert run.code == 2, run.stdout
    assert check.line1.startswith("ESCALATOR UNKNOWN - "), check.stdout
    assert reason in check.line1
    assert "Traceback" not in check.stdout + check.stderr + run.stdout + run.stderr
    assert _state(root) == before


def test_no_steps_directory(tmp_path: Path) -> None:
    (tmp_path / "features").mkdir()
    (tmp_path / "features/a.feature").write_text(GOOD)
    out = run_cli(["check"], cwd=tmp_path)
    assert out.code == 3
    assert out.line1.startswith("ESCALATOR UNKNOWN - No steps directory in ")


def test_huge_feature_is_handled(tmp_path: Path) -> None:
    body = "".join(f"  Scenario: s{i}\n    Then it passes\n" for i in range(2))
    filler = "  # " + "x" * 1000 + "\n"
    root = _write(_project(tmp_path),
                  {"features/huge.feature": "Feature: Huge\n" + filler * 10_000 + body})
    out = run_cli(["run", "-e", "test", "-f", "progress", "features/huge.feature"], cwd=root)
    assert out.code == 0
