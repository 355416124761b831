"""`[ladder]` parsing: a full example, and each refusal naming file and key."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest

from escalator.errors import ConfigError
from escalator.ladder.config import check_programs, parse_ladder
from escalator.ladder.model import LadderConfig, Level, Maintenance
from tests.project import ladder_level, ladder_toml

EXAMPLE = ladder_toml(
    ladder_level("vm", run=["ops/create-vm.sh", "--all"], timeout="15m", quiesce="2m",
                 cooldown="30m"),
    ladder_level("deploy", run=["true"], timeout="5m", idempotent=True),
    maintenance=({"start": dt.datetime(2026, 12, 1, 2, tzinfo=dt.UTC),
                  "end": dt.datetime(2026, 12, 1, 4, tzinfo=dt.UTC),
                  "reason": "provider maintenance"},),
    settle="30s", confirm=3, verify=2, max_reconverge=1, max_actions_per_hour=6,
    loop_breaker={"engagements": 3, "window": "6h"}, notify=["ops/page.sh", "--urgent"])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "ops").mkdir()
    for name in ("page.sh", "create-vm.sh"):
        (tmp_path / "ops" / name).write_text("#!/bin/sh\n")
        (tmp_path / "ops" / name).chmod(0o755)
    (tmp_path / "ops" / "plain.sh").write_text("#!/bin/sh\n")
    return tmp_path


def parse(project: Path, text: str) -> LadderConfig:
    return parse_ladder(tomllib.loads(text)["ladder"], project / "escalator.toml", project)


def test_full_example(project: Path) -> None:
    config = parse(project, EXAMPLE)
    start = dt.datetime(2026, 12, 1, 2, tzinfo=dt.UTC).timestamp()
    assert config == LadderConfig(
        levels=(Level("vm", (str(project / "ops/create-vm.sh"), "--all"), 900.0, 120.0, 1800.0),
                Level("deploy", ("true",), 300.0, 0.0, 0.0, idempotent=True)),
        settle=30.0, confirm=3, verify=2, max_reconverge=1, max_actions_per_hour=6,
        loop_engagements=3, loop_window=21600.0,
        notify=(str(project / "ops/page.sh"), "--urgent"),
        maintenance=(Maintenance(start, start + 7200, "provider maintenance"),),
        source=project / "escalator.toml", base_dir=project)
    assert config.level_ids == ("vm", "deploy")


@pytest.mark.parametrize(("edit", "message"), [
    (('timeout = "5m"', 'timeout = "x"'),
     "escalator.toml: ladder.level[2].timeout: bad duration 'x': give a number with a unit, "
     "e.g. 500ms, 30s, 5m, 2h"),
    (('timeout = "5m"', 'timeout = "0s"'),
     "escalator.toml: ladder.level[2].timeout: must be longer than 0s"),
    (('id = "deploy"', 'id = "vm"'), "escalator.toml: ladder.level[2].id: duplicate id 'vm'"),
    (('id = "deploy"', 'id = "Deploy!"'),
     "escalator.toml: ladder.level[2].id: 'Deploy!' is not an id (lower case, digits, - and _)"),
    (('run = ["true"]', 'run = "true"'),
     "escalator.toml: ladder.level[2].run: must be a non-empty list of strings (an argv, "
     "no shell)"),
    (('idempotent = true', 'idempotent = "yes"'),
     "escalator.toml: ladder.level[2].idempotent: must be true or false, got 'yes'"),
    (('idempotent = true', 'retries = 2'), "escalator.toml: ladder.level[2].retries: unknown key"),
    (('confirm = 3', 'confirm = 0'),
     "escalator.toml: ladder.confirm: must be a whole number >= 1, got 0"),
    (('settle = "30s"', 'setle = "30s"'), "escalator.toml: ladder.setle: unknown key"),
    (('window = "6h"', 'window = "six hours"'),
     "escalator.toml: ladder.loop_breaker.window: bad duration 'six hours': give a number "
     "with a unit, e.g. 500ms, 30s, 5m, 2h"),
    (('end = 2026-12-01T04:00:00Z', 'end = 2026-12-01T01:00:00Z'),
     "escalator.toml: ladder.maintenance[1].end: must be after start"),
    (('start = 2026-12-01T02:00:00Z', 'start = 2026-12-01T02:00:00'),
     "escalator.toml: ladder.maintenance[1].start: must be a date-time with an offset, "
     "e.g. 2026-12-01T02:00:00Z, got datetime.datetime(2026, 12, 1, 2, 0)"),
])
def test_refusals_name_file_and_key(project: Path, edit: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(project, EXAMPLE.replace(*edit))
    assert str(caught.value) == message


@pytest.mark.parametrize(("edit", "message"), [
    (('run = ["true"]', 'run = ["ops/plain.sh"]'),
     "escalator.toml: ladder.level[2].run: ops/plain.sh is not executable"),
    (('run = ["true"]', 'run = ["ops/missing.sh"]'),
     "escalator.toml: ladder.level[2].run: ops/missing.sh is not executable"),
    (('run = ["true"]', 'run = ["no-such-program-here"]'),
     "escalator.toml: ladder.level[2].run: no-such-program-here is not found on PATH"),
    (('notify = ["ops/page.sh", "--urgent"]', 'notify = ["ops/plain.sh"]'),
     "escalator.toml: ladder.notify: ops/plain.sh is not executable"),
])
def test_programs_are_checked_only_by_the_commands_that_act(
        project: Path, edit: tuple[str, str], message: str) -> None:
    config = parse(project, EXAMPLE.replace(*edit))  # a host that only checks parses it fine
    with pytest.raises(ConfigError) as caught:
        check_programs(config)
    assert str(caught.value) == message
    check_programs(parse(project, EXAMPLE))


def test_a_ladder_needs_levels(project: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(project, "[ladder]\nsettle = '1s'\n")
    assert str(caught.value) == "escalator.toml: ladder.level: give at least one [[ladder.level]]"
