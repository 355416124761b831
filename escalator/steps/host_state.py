"""System state, here or over SSH: processes, systemd units, packages, mounts, disk space.

Each phrase asks this machine, or the host of an optional `on "<host>"` (logged in as the
environment's `ssh_user`, through `escalator.steps.api.ssh_connection`, one login per host and
scenario). The probe is `escalator.probes.host_state`, which runs the host's own tools. A state
that is wrong fails the scenario; a host where the question cannot be asked (systemd not
running, no dpkg-query or rpm, no pgrep) makes it UNKNOWN, with the reason. Measurements:
`processes_<name>`, `disk_free` (%) or `disk_available` (B).
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

import parse
from behave import register_type, then

from escalator.limits import Limit
from escalator.sizes import is_size_unit, parse_size
from escalator.steps import (
    api,
    types,  # noqa: F401 - registers the Q/SQ/Number/Int argument types
)
from escalator.steps.ssh import VARIABLES as SSH_VARIABLES

if TYPE_CHECKING:
    from escalator.probes.host_state import Output, Run

PROBES = ("escalator.probes.host_state", "escalator.probes.ssh")
VARIABLES = SSH_VARIABLES  # `on "<host>"` logs in with them


@parse.with_pattern(r'(?: on "[^"]*")?')
def _on_host(text: str) -> str | None:
    """` on "db1"` -> "db1"; nothing -> None (this machine)."""
    return text[len(' on "'):-1] if text else None


register_type(OnHost=_on_host)


def _runner(context: Any, host: str | None) -> tuple[Run, str]:
    """How to run the host's tools, and how reasons name the host."""
    from escalator.probes.host_state import Output, run_locally

    budget = api.session(context).client_timeout
    if host is None:
        return run_locally(budget), "this machine"
    connection = api.ssh_connection(context, host)

    def remote(argv: list[str]) -> Output:
        with api.session(context).busy(f"`{argv[0]}` on {connection.target.address}"):
            done = connection.run(shlex.join(argv), api.session(context).client_timeout)
        return Output(done.exit_status, done.output, done.error)

    return remote, connection.target.address


def _known(unknown: str | None) -> None:
    if unknown is not None:
        raise api.StepSetupError(unknown)


# ---- processes --------------------------------------------------------------------------

def _processes(context: Any, name: str, host: str | None) -> tuple[str, int, str]:
    from escalator.probes.host_state import process

    run, where = _runner(context, host)
    wanted = api.expand(context, name).strip()
    state = process(run, wanted, where)
    _known(state.unknown)
    api.record(context, f"processes_{wanted}", len(state.pids))
    return wanted, len(state.pids), where


@then('the process "{name:Q}" should be running{host:OnHost}')
def step_the_process_should_be_running(context: Any, name: str, host: str | None) -> None:
    """Then the process "nginx" should be running on "web1.example.com"

    By program name (as `pgrep -x` and `ps -C` see it); without `on "<host>"`, on this machine.
    Records `processes_<name>`, the count.
    """
    wanted, count, where = _processes(context, name, host)
    assert count, f'no process "{wanted}" is running on {where}'


@then('the process "{name:Q}" should not be running{host:OnHost}')
def step_the_process_should_not_be_running(context: Any, name: str, host: str | None) -> None:
    """Then the process "telnetd" should not be running"""
    wanted, count, where = _processes(context, name, host)
    assert not count, f'{count} "{wanted}" process{"es" * (count != 1)} running on {where}'


# ---- systemd units ----------------------------------------------------------------------

@then('the systemd unit "{name:Q}" should be active{host:OnHost}')
def step_the_systemd_unit_should_be_active(context: Any, name: str, host: str | None) -> None:
    """Then the systemd unit "nginx.service" should be active on "web1.example.com"

    Where systemd runs; elsewhere (a container, a host without systemd) the scenario is UNKNOWN.
    """
    from escalator.probes.host_state import unit

    run, where = _runner(context, host)
    state = unit(run, api.expand(context, name).strip(), where)
    _known(state.unknown)
    assert state.load != "not-found", f"there is no unit {state.name} on {where}"
    assert state.active == "active", (
        f"the unit {state.name} is {state.active} ({state.sub}) on {where}")


# ---- packages ---------------------------------------------------------------------------

def _package(context: Any, name: str, host: str | None) -> tuple[Any, str]:
    from escalator.probes.host_state import package

    run, where = _runner(context, host)
    state = package(run, api.expand(context, name).strip(), where)
    _known(state.unknown)
    return state, where


@then('the package "{name:Q}" should be installed{host:OnHost}')
def step_the_package_should_be_installed(context: Any, name: str, host: str | None) -> None:
    """Then the package "openssh-server" should be installed on "db1.example.com"

    Asks dpkg-query where there is one, else rpm.
    """
    state, where = _package(context, name, host)
    assert state.installed, f"the package {state.name} is not installed on {where}"


@then('the package "{name:Q}" should not be installed{host:OnHost}')
def step_the_package_should_not_be_installed(context: Any, name: str, host: str | None
                                             ) -> None:
    """Then the package "telnetd" should not be installed"""
    state, where = _package(context, name, host)
    assert not state.installed, (
        f"the package {state.name} {state.version or ''} is installed on {where}".replace(
            "  ", " "))


# ---- mounts -----------------------------------------------------------------------------

def _mount(context: Any, path: str, host: str | None) -> tuple[Any, str]:
    from escalator.probes.host_state import mount

    run, where = _runner(context, host)
    state = mount(run, api.expand(context, path).strip(), where)
    _known(state.unknown)
    assert state.mounted, f"nothing is mounted on {state.path} on {where}"
    return state, where


@then('"{path:Q}" should be a mount point{host:OnHost}')
def step_should_be_a_mount_point(context: Any, path: str, host: str | None) -> None:
    """Then "/srv/data" should be a mount point on "db1.example.com\""""
    _mount(context, path, host)


@then('"{path:Q}" should be mounted with "{options:Q}"{host:OnHost}')
def step_should_be_mounted_with(context: Any, path: str, options: str, host: str | None
                                ) -> None:
    """Then "/srv/data" should be mounted with "ro,noexec"

    Every option given (comma-separated) is among the mount's options.
    """
    state, where = _mount(context, path, host)
    wanted = [option.strip() for option in options.split(",") if option.strip()]
    missing = [option for option in wanted if option not in state.options]
    assert not missing, (f"{state.path} ({state.fstype} from {state.source}) is mounted with "
                         f"{','.join(state.options)} on {where}, without {','.join(missing)}")


# ---- disk space -------------------------------------------------------------------------

def _disk(context: Any, path: str, host: str | None) -> tuple[Any, str]:
    from escalator.probes.host_state import disk

    run, where = _runner(context, host)
    state = disk(run, api.expand(context, path).strip(), where)
    _known(state.unknown)
    assert state.error is None, state.error
    return state, where


def _percent_free(context: Any, path: str, host: str | None, crit: Limit,
                  warn: Limit | None = None) -> None:
    api.stated(crit, warn, "%")
    state, where = _disk(context, path, host)
    measured = api.record(context, "disk_free", round(state.free_percent, 2), "%", crit, 0, 100,
                          warn)
    api.judge(context, measured, f"the filesystem of {state.path} ({state.mounted_on}) on "
                                 f"{where} has {state.free_percent:.1f}% free")


@then('the filesystem of "{path:Q}" should have at least {n:Number}% free{host:OnHost}')
def step_the_filesystem_should_have_percent_free(context: Any, path: str, n: float,
                                                 host: str | None) -> None:
    """Then the filesystem of "/var" should have at least 10% free on "db1.example.com"

    As df counts it (root's reserve left out); records `disk_free` (%) with the limit.
    """
    _percent_free(context, path, host, Limit.at_least(n))


@then('the filesystem of "{path:Q}" should have at least {n:Number}% free{host:OnHost}, '
      "warning below {w:Percent}")
def step_the_filesystem_should_have_percent_free_warning(context: Any, path: str, n: float,
                                                         host: str | None, w: float) -> None:
    """Then the filesystem of "/var" should have at least 10% free, warning below 20%

    WARNING below W% free, CRITICAL below N%; also `on "<host>"` before the comma.
    """
    _percent_free(context, path, host, Limit.at_least(n), Limit.at_least(w))


def _bytes(n: float, unit: str) -> int:
    if not is_size_unit(unit):
        raise api.StepSetupError(f"unknown size unit {unit!r}: write MB, GB, MiB, GiB...")
    return parse_size(f"{n:g} {unit}")


def _bytes_free(context: Any, path: str, host: str | None, n: float, unit: str,
                warn: Limit | None = None, warn_unit: str = "B") -> None:
    """`warn_unit` words the warning limit as the phrase did ("warning below 5 GiB")."""
    crit, scale = Limit.at_least(_bytes(n, unit)), _bytes(1, warn_unit)
    api.stated(crit, warn, warn_unit, scale)
    state, where = _disk(context, path, host)
    measured = api.record(context, "disk_available", state.available, "B", crit, warn=warn)
    api.judge(context, measured, f"the filesystem of {state.path} ({state.mounted_on}) on "
                                 f"{where} has {state.available / 1024**3:.2f} GiB available",
              unit=warn_unit, scale=scale, wanted=f"at least {n:g} {unit}")


@then('the filesystem of "{path:Q}" should have at least {n:Number} {unit:w} free{host:OnHost}')
def step_the_filesystem_should_have_bytes_free(context: Any, path: str, n: float, unit: str,
                                               host: str | None) -> None:
    """Then the filesystem of "/var" should have at least 2 GiB free

    Space an unprivileged process may still write; records `disk_available` (B).
    """
    _bytes_free(context, path, host, n, unit)


@then('the filesystem of "{path:Q}" should have at least {n:Number} {unit:w} free{host:OnHost}, '
      "warning below {w:Number} {wunit:w}")
def step_the_filesystem_should_have_bytes_free_warning(context: Any, path: str, n: float,
                                                       unit: str, host: str | None, w: float,
                                                       wunit: str) -> None:
    """Then the filesystem of "/var" should have at least 2 GiB free, warning below 5 GiB"""
    _bytes_free(context, path, host, n, unit, Limit.at_least(_bytes(w, wunit)), wunit)
