"""`[ladder]` parsing: a full example, and each refusal naming file and key."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest

from escalator.errors import ConfigError
from escalator.ladder.config import check_programs, parse_ladder
from escalator.ladder.model import LadderConfig, Level, Maintenance, Webhook
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


def test_repage_and_a_webhook_notifier(project: Path) -> None:
    text = EXAMPLE.replace('notify = ["ops/page.sh", "--urgent"]', """repage = "30m"
notify = { webhook = "https://events.example.com/v2/enqueue", format = "pagerduty", \
routing_key = { env = "PD_KEY" }, headers = { X-Team = "ops", X-Auth = { env = "AUTH" } }, \
timeout = "5s", retries = 4, ca_bundle = "ca.pem" }""")
    config = parse(project, text)
    assert (config.repage, config.notify) == (1800.0, ())
    assert config.webhook == Webhook(
        url="https://events.example.com/v2/enqueue", format="pagerduty",
        headers=(("X-Team", "ops"),), header_envs=(("X-Auth", "AUTH"),),
        routing_key_env="PD_KEY", timeout=5.0, retries=4, ca_bundle=str(project / "ca.pem"))
    assert parse(project, EXAMPLE).repage == 4 * 3600.0  # Alertmanager's repeat_interval
    with pytest.raises(ConfigError) as caught:
        check_programs(config, {"PD_KEY": "k"})
    assert str(caught.value) == ("escalator.toml: ladder.notify: environment variable AUTH is "
                                 "not set")
    check_programs(config, {"PD_KEY": "k", "AUTH": "a"})
    check_programs(config)  # a host that only checks needs no secrets


_HOOK = 'notify = ["ops/page.sh", "--urgent"]'


@pytest.mark.parametrize(("notify", "message"), [
    ('repage = "0s"', "escalator.toml: ladder.repage: must be longer than 0s"),
    ('repage = "often"', "escalator.toml: ladder.repage: bad duration 'often': give a number "
     "with a unit, e.g. 500ms, 30s, 5m, 2h"),
    ('notify = "ops/page.sh"', "escalator.toml: ladder.notify: give an argv (a list of "
     'strings, no shell) or { webhook = "https://..." }'),
    ('notify = { url = "https://x.example" }', "escalator.toml: ladder.notify.url: unknown key"),
    ('notify = { format = "escalator" }', "escalator.toml: ladder.notify.webhook: missing"),
    ('notify = { webhook = "ftp://x.example/" }', "escalator.toml: ladder.notify.webhook: must "
     "be an https:// URL or { env = \"VARIABLE\" }, got 'ftp://x.example/'"),
    ('notify = { webhook = "http://pager.example/hook" }', "escalator.toml: "
     "ladder.notify.webhook: http:// would send the page in clear text: give an https:// URL "
     "(http:// is for a loopback relay only)"),
    ('notify = { webhook = "https://x.example", token = "s3cret" }',
     'escalator.toml: ladder.notify.token: a secret is written { env = "VARIABLE" }'),
    ('notify = { webhook = { env = "" } }',
     'escalator.toml: ladder.notify.webhook: a secret is written { env = "VARIABLE" }'),
    ('notify = { webhook = "https://x.example", format = "slack" }', "escalator.toml: "
     "ladder.notify.format: must be one of escalator, pagerduty, alertmanager, got 'slack'"),
    ('notify = { webhook = "https://x.example", format = "pagerduty" }', "escalator.toml: "
     'ladder.notify.routing_key: format "pagerduty" needs { env = "VARIABLE" } holding the '
     "integration's routing key"),
    ('notify = { webhook = "https://x.example", headers = { X = 1 } }',
     'escalator.toml: ladder.notify.headers.X: give a string or { env = "VARIABLE" }'),
    ('notify = { webhook = "https://x.example", retries = -1 }',
     "escalator.toml: ladder.notify.retries: must be a whole number >= 0, got -1"),
])
def test_repage_and_webhook_refusals_name_file_and_key(project: Path, notify: str,
                                                       message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(project, EXAMPLE.replace(_HOOK, notify))
    assert str(caught.value) == message


def test_a_webhook_may_take_its_url_from_the_environment_and_post_to_a_loopback_relay(
        project: Path) -> None:
    hook = parse(project, EXAMPLE.replace(_HOOK, 'notify = { webhook = { env = "HOOK" } }'))
    assert hook.webhook == Webhook(url_env="HOOK")
    local = parse(project, EXAMPLE.replace(_HOOK, 'notify = { webhook = '
                                                  '"http://127.0.0.1:9000/page" }'))
    assert local.webhook == Webhook(url="http://127.0.0.1:9000/page")


def test_host_scope_and_the_per_host_budget(project: Path) -> None:
    text = EXAMPLE.replace('cooldown = "30m"', 'cooldown = "30m"\nscope = "host"')
    config = parse(project, text)
    assert ([(level.id, level.scope, level.per_host) for level in config.levels],
            config.host_actions_per_hour, config.host_loop_engagements,
            config.host_loop_window) == (
        [("vm", "host", True), ("deploy", "environment", False)], 6, 3, 21600.0)
    config = parse(project, text + '\n[ladder.per_host]\nmax_actions_per_hour = 3\n'
                   'loop_breaker = { engagements = 2, window = "1d" }\n')
    assert (config.host_actions_per_hour, config.host_loop_engagements,
            config.host_loop_window, config.max_actions_per_hour) == (3, 2, 86400.0, 6)


@pytest.mark.parametrize(("extra", "message"), [
    ('scope = "node"',
     "escalator.toml: ladder.level[1].scope: must be one of environment, host, got 'node'"),
    ('\n[ladder.per_host]\nmax_actions = 3',
     "escalator.toml: ladder.per_host.max_actions: unknown key"),
    ('\n[ladder.per_host]\nloop_breaker = { engagements = 0 }',
     "escalator.toml: ladder.per_host.loop_breaker.engagements: must be a whole number >= 1, "
     "got 0"),
])
def test_host_scope_refusals_name_the_key(project: Path, extra: str, message: str) -> None:
    text = EXAMPLE.replace('cooldown = "30m"', f'cooldown = "30m"\n{extra}')
    with pytest.raises(ConfigError) as err:
        parse(project, text)
    assert str(err.value) == message
