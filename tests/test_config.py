"""escalator.toml: parsing, errors that name file and key, and how the CLI reports them."""

from __future__ import annotations

from pathlib import Path

import pytest

from escalator.config import Config, load_config, parse_config
from escalator.env import Env
from escalator.errors import ConfigError
from tests.project import run_cli


def load(tmp_path: Path, text: str) -> Config:
    (tmp_path / "escalator.toml").write_text(text)
    return load_config(None, Env(cwd=tmp_path, environ={}))


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    config = load_config(None, Env(cwd=tmp_path))
    assert (config.run.jobs, config.run.timeout, config.run.step_timeout, config.source) == \
        (16, 50.0, 10.0, None)


def test_full_shape(tmp_path: Path) -> None:
    config = load(tmp_path, """
[run]
jobs = 4
timeout = "20s"
step_timeout = "1m30s"
retries = 1
state_dir = "state"

[environments.demo]
base_url = "http://127.0.0.1:8080"
tls_verify = false
port = 8080
password = { env = "DEMO_PASSWORD" }
""")
    assert (config.run.jobs, config.run.timeout, config.run.step_timeout, config.run.retries,
            config.run.state_dir) == (4, 20.0, 90.0, 1, "state")
    demo = config.environments["demo"]
    assert demo.variables == {"base_url": "http://127.0.0.1:8080", "tls_verify": "false",
                              "port": "8080"}
    assert demo.secrets == {"password": "DEMO_PASSWORD"}


def test_tool_escalator_in_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.escalator.run]\njobs = 3\n')
    assert load_config(None, Env(cwd=tmp_path)).run.jobs == 3


@pytest.mark.parametrize(("text", "message"), [
    ("[run]\njobz = 1\n", "x.toml: unknown key run.jobz (known: environment, jobs, report_dir, "
                          "retries, state_dir, step_timeout, timeout)"),
    ("[runs]\n", "x.toml: unknown key runs (known: environments, host_results, ladder, run)"),
    ('[run]\ntimeout = "5"\n', "x.toml: run.timeout: bad duration '5': give a number with a "
                               "unit, e.g. 500ms, 30s, 5m, 2h"),
    ("[run]\ntimeout = 5\n", "x.toml: run.timeout: bad duration 5: give a number with a unit, "
                             "e.g. 500ms, 30s, 5m, 2h"),
    ('[run]\ntimeout = "0s"\n', "x.toml: run.timeout: must be longer than 0s"),
    ("[run]\njobs = 0\n", "x.toml: run.jobs: expected a whole number >= 1, got 0"),
    ('[run]\njobs = "4"\n', "x.toml: run.jobs: expected a whole number >= 1, got '4'"),
    ("[run]\njobs = true\n", "x.toml: run.jobs: expected a whole number >= 1, got True"),
    ("run = 3\n", "x.toml: run: expected a table"),
    ('[environments.a]\npw = { file = "x" }\n',
     'x.toml: environments.a.pw: a secret is written { env = "VARIABLE" }'),
    ("[environments.a]\nlist = [1, 2]\n",
     "x.toml: environments.a.list: expected a string, number or boolean, got list"),
    ('[run]\nenvironment = "prod"\n', "x.toml: run.environment: no environment 'prod'"),
])
def test_errors_name_file_and_key(text: str, message: str) -> None:
    import tomllib

    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(text), Path("x.toml"))
    assert str(caught.value) == message


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "[run\njobs = 1\n")
    assert str(caught.value).startswith(f"{tmp_path / 'escalator.toml'}: invalid TOML: ")
    assert "line 1" in str(caught.value)


def test_cli_reports_config_errors_as_one_line(tmp_path: Path) -> None:
    (tmp_path / "escalator.toml").write_text("[run]\njobz = 1\n")
    check = run_cli(["check"], cwd=tmp_path)
    run = run_cli(["run"], cwd=tmp_path)
    expected = (f"{tmp_path / 'escalator.toml'}: unknown key run.jobz (known: environment, jobs, "
                "report_dir, retries, state_dir, step_timeout, timeout)")
    assert (check.code, check.stdout) == (3, f"ESCALATOR UNKNOWN - {expected}\n")
    assert (run.code, run.stdout, run.stderr) == (2, "", f"escalator: {expected}\n")


@pytest.mark.parametrize(("argv", "message"), [
    (["-e", "nope"], "{toml}: no environment 'nope' (known: a, b)"),
    ([], "choose an environment with -e (known: a, b)"),
    (["-e", "a", "--timeout", "soon"], "--timeout: bad duration 'soon': give a number with a "
                                       "unit, e.g. 500ms, 30s, 5m, 2h"),
    (["-e", "a", "-j", "0"], "--jobs: must be at least 1"),
    (["-e", "a", "-D", "novalue"], "-D novalue: give KEY=VALUE"),
    (["-e", "a", "-f", "yaml"], "-f yaml: unknown format (known: pretty, progress, json, junit, "
                                "nagios, prometheus, graphite)"),
])
def test_cli_option_errors(tmp_path: Path, argv: list[str], message: str) -> None:
    toml = tmp_path / "escalator.toml"
    toml.write_text('[environments.a]\nx = "1"\n[environments.b]\npw = { env = "B_PW" }\n')
    out = run_cli(["check", *argv], cwd=tmp_path)
    assert (out.code, out.stdout) == (3, f"ESCALATOR UNKNOWN - {message.format(toml=toml)}\n")


def test_usage_errors_in_check_are_still_nagios_lines(tmp_path: Path) -> None:
    out = run_cli(["check", "--no-such-option"], cwd=tmp_path)
    assert (out.code, out.stdout) == (
        3, "ESCALATOR UNKNOWN - escalator: unrecognized arguments: --no-such-option\n")


@pytest.mark.parametrize("command", [["check"], ["status", "--max-age", "5m"], ["report"],
                                     ["ladder", "status"], ["ladder", "history"]])
def test_every_command_words_an_unknown_environment_alike(tmp_path: Path,
                                                           command: list[str]) -> None:
    toml = tmp_path / "escalator.toml"
    toml.write_text('[environments.a]\n[environments.b]\n[ladder]\n[[ladder.level]]\n'
                    'id = "fix"\nrun = ["true"]\n')
    out = run_cli([*command, "-e", "nope"], cwd=tmp_path)
    assert f"{toml}: no environment 'nope' (known: a, b)" in out.stdout + out.stderr


@pytest.mark.parametrize(("argv", "option"), [
    (["check", "--timeout", "0s"], "--timeout"),
    (["check", "--step-timeout", "0ms"], "--step-timeout"),
    (["status", "--max-age", "0s"], "--max-age"),
    (["watch", "--interval", "0s", "--ticks", "1"], "--interval"),
])
def test_a_duration_option_must_be_longer_than_nothing(tmp_path: Path, argv: list[str],
                                                        option: str) -> None:
    (tmp_path / "escalator.toml").write_text("[environments.a]\n")
    out = run_cli(argv, cwd=tmp_path)
    assert f"{option}: must be longer than 0s" in out.stdout + out.stderr
    assert out.code == 3
