"""A real Nagios 4 runs `escalator check` and `escalator status` and records what they said.

Nagios runs in the foreground from a config in a temporary directory (no systemd here; see
/work/shared/research/real-components.md section 3), with `interval_length=1` so intervals are
seconds. The command and service definitions are the ```nagios blocks of docs/integrations.md,
used as written except for the project path: what the docs show is what this test ran. The checks
go to a loopback HTTP server; the test reads status.dat and stops Nagios itself.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.project import REPO, make_project
from tests.servers.group import stop_group
from tests.servers.http import serve

NAGIOS = Path("/usr/sbin/nagios4")
DOCS = REPO / "docs" / "integrations.md"
pytestmark = [pytest.mark.servers,
              pytest.mark.skipif(not NAGIOS.exists(), reason="nagios4-core is not installed")]

FEATURE = """
    Feature: Web site
      Scenario: Home page welcomes
        When I go to "/"
        Then I should see "Welcome"

      @warning @escalate.redeploy
      Scenario: Home page says goodbye
        When I go to "/"
        Then I should see "Goodbye"
    """

BASE = """
define timeperiod {{
    timeperiod_name 24x7
    alias           always
    sunday 00:00-24:00
    monday 00:00-24:00
    tuesday 00:00-24:00
    wednesday 00:00-24:00
    thursday 00:00-24:00
    friday 00:00-24:00
    saturday 00:00-24:00
}}
define command {{
    command_name noop
    command_line /bin/true
}}
define contact {{
    contact_name                  nobody
    host_notifications_enabled    0
    service_notifications_enabled 0
    host_notification_period      24x7
    service_notification_period   24x7
    host_notification_options     n
    service_notification_options  n
    host_notification_commands    noop
    service_notification_commands noop
}}
define host {{
    host_name             web1
    address               127.0.0.1
    check_command         noop
    max_check_attempts    1
    check_interval        300
    check_period          24x7
    notification_period   24x7
    contacts              nobody
}}
define service {{
    name                  generic-service
    check_period          24x7
    notification_period   24x7
    contacts              nobody
    process_perf_data     1
    register              0
}}
"""

MAIN = """cfg_file={n}/objects.cfg
log_file={n}/var/nagios.log
object_cache_file={n}/var/objects.cache
precached_object_file={n}/var/objects.precache
resource_file={n}/resource.cfg
status_file={n}/var/status.dat
status_update_interval=1
temp_file={n}/var/nagios.tmp
temp_path={n}/var
lock_file={n}/var/nagios.pid
check_result_path={n}/var/spool
command_file={n}/var/rw/nagios.cmd
query_socket={n}/var/rw/nagios.qh
nagios_user={user}
nagios_group={group}
use_syslog=0
log_rotation_method=n
retain_state_information=0
state_retention_file={n}/var/retention.dat
interval_length=1
enable_notifications=0
enable_event_handlers=0
check_for_updates=0
bare_update_check=0
max_service_check_spread=1
max_host_check_spread=1
check_result_reaper_frequency=1
service_check_timeout=30
"""


def doc_objects() -> str:
    """The ```nagios blocks of docs/integrations.md."""
    return "\n".join(re.findall(r"```nagios\n(.*?)```", DOCS.read_text(), flags=re.S))


def write_config(n: Path, project: Path) -> Path:
    for sub in ("var/rw", "var/spool"):
        (n / sub).mkdir(parents=True)
    user = pwd.getpwuid(os.getuid())
    group = user.pw_name if os.getuid() else "root"
    (n / "nagios.cfg").write_text(MAIN.format(n=n, user=user.pw_name, group=group))
    (n / "resource.cfg").write_text(f"$USER3$={Path(sys.executable).parent}\n")
    objects = doc_objects().replace("/srv/monitoring", str(project))
    (n / "objects.cfg").write_text(BASE.format() + objects)
    return n / "nagios.cfg"


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Not pytest's tmp_path: Nagios and its checks must be able to enter it.
    path = Path(tempfile.mkdtemp(prefix="escalator-nagios-"))
    try:
        yield path
    finally:
        _stop_checks(path)
        shutil.rmtree(path, ignore_errors=True)


def _checks_in(root: Path) -> list[int]:
    """Processes working inside `root`: the checks Nagios started (each in its own group)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cwd = os.readlink(proc / "cwd") if proc.name.isdigit() else ""
        except OSError:
            continue
        if cwd == str(root) or cwd.startswith(f"{root}/"):
            pids.append(int(proc.name))
    return pids


def _stop_checks(root: Path, grace: float = 30.0) -> None:
    # Nagios does not wait for running checks when it stops; let them finish, then kill.
    deadline = time.monotonic() + grace
    while _checks_in(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in _checks_in(root):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def nagios(workdir: Path) -> Iterator[tuple[Path, Path]]:
    """Starts Nagios on a config written by the test; yields (config, status.dat); stops it."""
    project = workdir / "project"
    with serve() as base_url:
        make_project(project, {"web.feature": FEATURE}, {"base_url": base_url},
                     environment="production")
        config = write_config(workdir / "nagios", project)
        verify = subprocess.run([str(NAGIOS), "-v", str(config)], capture_output=True,
                                text=True, timeout=30)
        assert "Total Errors:   0" in verify.stdout, verify.stdout
        log = (workdir / "nagios.stdout").open("w")
        proc = subprocess.Popen([str(NAGIOS), str(config)], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            yield config, workdir / "nagios" / "var" / "status.dat"
        finally:
            stop_group(proc)
            log.close()


def service_status(status_dat: Path) -> dict[str, dict[str, str]]:
    """servicestatus blocks of status.dat by service_description."""
    try:
        text = status_dat.read_text()
    except FileNotFoundError:
        return {}
    out = {}
    for block in re.findall(r"^servicestatus \{\n(.*?)^\t\}", text, flags=re.S | re.M):
        fields = dict(line.strip().split("=", 1) for line in block.splitlines() if "=" in line)
        out[fields["service_description"]] = fields
    return out


def wait_for(status_dat: Path, ready: dict[str, str], timeout: float = 90.0
             ) -> dict[str, dict[str, str]]:
    """Polls status.dat until every named service is in the state given (generous timeout)."""
    deadline = time.monotonic() + timeout
    services: dict[str, dict[str, str]] = {}
    while time.monotonic() < deadline:
        services = service_status(status_dat)
        if all(services.get(name, {}).get("has_been_checked") == "1"
               and services[name]["current_state"] == state for name, state in ready.items()):
            return services
        time.sleep(0.5)
    raise AssertionError(f"Nagios did not record {ready} in {timeout}s: {services}")


# Nagios stores long output with newlines escaped as the two characters backslash and n.
LONG = (r'WARNING Home page says goodbye \(features/web.feature:7\) @escalate.redeploy @warning'
        r'\\n  Then I should see "Goodbye": \'Goodbye\' not found in 64 B body of {url}/ '
        r"\(200, [0-9]+ ms\); body: 'Welcome All systems go.'")
PERF = (r"scenarios=2;;;0 passed=1;;;0 failed=1;;;0 unknown=0;;;0 time=[0-9.]+m?s;;50;0 "
        r"'Home page welcomes response_time'=[0-9.]+ms "
        r"'Home page says goodbye response_time'=[0-9.]+ms")


def test_nagios_records_state_output_long_output_and_perfdata(nagios: tuple[Path, Path]) -> None:
    _, status_dat = nagios
    services = wait_for(status_dat, {"escalator-production": "1",
                                     "escalator-production-stored": "1"})
    check = services["escalator-production"]
    assert check["plugin_output"] == ("WEB WARNING - 1 of 2 scenarios failing: "
                                      "Home page says goodbye")
    url = re.search(r"base_url = \"(.*?)\"",
                    (status_dat.parents[2] / "project" / "escalator.toml").read_text())
    assert url is not None
    assert re.fullmatch(LONG.format(url=re.escape(url.group(1))), check["long_plugin_output"])
    assert re.fullmatch(PERF, check["performance_data"]), check["performance_data"]
    stored = services["escalator-production-stored"]
    assert stored["plugin_output"] == check["plugin_output"]
    assert stored["long_plugin_output"] == check["long_plugin_output"]
    assert re.fullmatch(PERF, stored["performance_data"]), stored["performance_data"]
