"""SSH phrases: logins, remote commands, host-key pinning and the remote backup monitor.

cucumber-nagios's net-ssh phrases run unchanged (credential tables, "I ssh to", "I run", "I
should see ... in the output"), with its gaps closed: host keys are checked against known_hosts
and never auto-accepted, every call has a timeout, a failing host in a table is named in the
reason. New: exit status, host-key fingerprint, and the age of a file on a host. The probe is
`escalator.probes.ssh`, imported inside the steps. Credentials: a table's `keyfile` column, else
the keys of "I have the following public keys", else none after "I have no public keys set",
else the environment's `ssh_key`, else ~/.ssh/id_*; then the table's password. Passphrases come
from a `passphrase` column or `ssh_key_passphrase`. Host keys: the environment's `known_hosts`
(default ~/.ssh/known_hosts); `ssh_host_key_check = false` turns the check off, with a notice.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from typing import TYPE_CHECKING, Any

from behave import given, then, when

from escalator.hostport import split_host_port
from escalator.steps import types  # noqa: F401 - registers the Q/SQ/Number/Int argument types
from escalator.steps.support import (
    StepSetupError,
    age_limit,
    earlier,
    expand,
    judge,
    record,
    session,
    shown,
    stated,
)

if TYPE_CHECKING:
    from escalator.probes.command_result import CommandResult
    from escalator.probes.ssh import Connection, Login, SshTarget

PROBES = ("escalator.probes.ssh",)
VARIABLES = ("ssh_user", "ssh_key", "ssh_password", "ssh_key_passphrase", "known_hosts",
             "ssh_host_key_check", "ssh_jump_host")

_NO_CHECK = ("SSH host key checking is off (ssh_host_key_check = false): "
             "the servers' identity is not verified")


# ---- credentials and targets --------------------------------------------------------------

def _address(context: Any, text: str) -> tuple[str, int]:
    return parse_address(expand(context, text).strip())


def parse_address(value: str) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address; the port defaults to 22.

    >>> parse_address("db1"), parse_address("127.0.0.1:2222"), parse_address("[::1]:2200")
    (('db1', 22), ('127.0.0.1', 2222), ('::1', 2200))
    >>> parse_address("::1")
    ('::1', 22)
    """
    try:
        return split_host_port(value, 22)
    except ValueError:
        raise StepSetupError(f"bad SSH address {value!r}: write host or host:port") from None


def _rows(context: Any, required: tuple[str, ...]) -> list[dict[str, str]]:
    """The step's table as dicts of expanded cells; the required columns must be there."""
    table = context.table
    wanted = " | ".join(required)
    if table is None or any(name not in table.headings for name in required):
        raise StepSetupError(f"give a table with the columns | {wanted} |")
    if not table.rows:
        raise StepSetupError(f"the table | {wanted} | has no rows")
    return [{name: expand(context, row[name]).strip() for name in table.headings}
            for row in table.rows]


def _key_files(context: Any, row: dict[str, str]) -> tuple[tuple[str, ...], bool]:
    """The key files to offer and whether to add ~/.ssh/id_* (see the module docstring)."""
    if row.get("keyfile"):
        return (os.path.expanduser(row["keyfile"]),), False
    chosen = getattr(context, "ssh_key_files", None)
    if chosen is not None:
        return chosen, False
    configured = session(context).variables.get("ssh_key")
    if configured:
        return (os.path.expanduser(configured),), False
    return (), True


def _known_hosts(context: Any) -> str:
    configured = session(context).variables.get("known_hosts")
    if not configured:
        return os.path.expanduser("~/.ssh/known_hosts")
    path = os.path.expanduser(configured)
    if not os.path.isfile(path):
        raise StepSetupError(f"the environment's known_hosts file {path} does not exist")
    return path


def _target(context: Any, host: str, row: dict[str, str]) -> SshTarget:
    from escalator.probes.ssh import SshTarget

    name, port = _address(context, host)
    current = session(context)
    check = current.setting("ssh_host_key_check", True)
    if not check and _NO_CHECK not in current.notices:
        current.notices.append(_NO_CHECK)
    keys, default_keys = _key_files(context, row)
    passphrase = row.get("passphrase") or current.variables.get("ssh_key_passphrase") or None
    target = SshTarget(name, port, row.get("username", ""), row.get("password") or None, keys,
                       passphrase, default_keys, _known_hosts(context) if check else "", check,
                       current.client_timeout)
    return _through(context, target)


def _through(context: Any, target: SshTarget) -> SshTarget:
    """The target reached through the scenario's jump host (`Given I ssh through the jump
    host`, else the environment's `ssh_jump_host`), with the same credentials unless the jump
    host is written `user@host:port`, as `ssh -J` does."""
    jump = getattr(context, "ssh_jump", None) or session(context).variables.get("ssh_jump_host")
    if not jump:
        return target
    user, _, address = expand(context, jump).strip().rpartition("@")
    host, port = parse_address(address)
    hop = dataclasses.replace(target, host=host, port=port, username=user or target.username)
    return dataclasses.replace(target, jump=hop)


def _env_target(context: Any, host: str) -> SshTarget:
    """A login as the environment's monitoring user (`ssh_user`, `ssh_key`, `ssh_password`)."""
    variables = session(context).variables
    if not variables.get("ssh_user"):
        raise StepSetupError("this step logs in as the environment's ssh_user: set it "
                             "(and ssh_key or ssh_password) in escalator.toml")
    row = {"username": variables["ssh_user"], "password": variables.get("ssh_password", "")}
    return _target(context, host, row)


def _connect(context: Any, target: SshTarget) -> tuple[Login, Connection | None]:
    """Log in; an open connection is closed with the scenario."""
    from escalator.probes.ssh import Connection, connect

    with session(context).busy(f"ssh to {target.address}"):
        login, connection = connect(target)
    record(context, f"ssh {login.address}", login.elapsed if login.ok else None, "s")
    if connection is not None:
        session(context).resource(f"ssh:{id(connection)}", lambda: connection, Connection.close)
    return login, connection


def monitor_connection(context: Any, host: str) -> Connection:
    """The scenario's login on `host` as the environment's ssh_user, made by the first step
    that needs it and kept for the others (closed with the scenario); a failed login fails the
    step with its reason. Used by the steps that look at a host's files."""
    key = f"ssh-monitor:{expand(context, host).strip()}"
    found: Connection | None = session(context).resources.get(key)
    if found is None:
        login, found = _connect(context, _env_target(context, host))
        assert found is not None, login.reason
        session(context).resources[key] = found  # _connect registered its closing
    return found


def _login_all(context: Any, targets: list[SshTarget]) -> list[Login]:
    """Log in to every target at once, so one slow host costs one timeout, not one each."""
    from escalator.probes.ssh import connect

    results: list[Any] = [None] * len(targets)

    def attempt(index: int) -> None:
        try:
            login, connection = connect(targets[index])
            if connection is not None:
                connection.close()
            results[index] = login
        except Exception as exc:  # our own mistake: re-raised below, in the step's thread
            results[index] = exc

    threads = [threading.Thread(target=attempt, args=(i,), daemon=True)
               for i in range(len(targets))]
    hosts = ", ".join(target.address for target in targets)
    with session(context).busy(f"ssh to {hosts}"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for result in results:
        if isinstance(result, Exception):
            raise result
    for login in results:
        record(context, f"ssh {login.address}", login.elapsed if login.ok else None, "s")
    return results


# ---- keys ---------------------------------------------------------------------------------

@given("I have no public keys set")
def step_i_have_no_public_keys_set(context: Any) -> None:
    """Given I have no public keys set

    Later logins in the scenario use the password only (no key file, no ~/.ssh/id_*).
    """
    context.ssh_key_files = ()


@given("I have the following public keys:")
def step_i_have_the_following_public_keys(context: Any) -> None:
    """Given I have the following public keys:

    A table | keyfile | of private key files (cucumber-nagios's name) to offer, in order.
    """
    paths = tuple(os.path.expanduser(row["keyfile"]) for row in _rows(context, ("keyfile",)))
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        raise StepSetupError(f"SSH key file {missing[0]} does not exist")
    context.ssh_key_files = paths


# ---- logins -------------------------------------------------------------------------------

@then('I can ssh to "{host:Q}" with the following credentials:')
def step_i_can_ssh_to_with_credentials(context: Any, host: str) -> None:
    """Then I can ssh to "db1.example.com" with the following credentials:

    A table | username | password | (keyfile and passphrase columns optional); logs in and out.
    """
    logins = _login_all(context, [_target(context, host, row)
                                  for row in _rows(context, ("username",))])
    failed = [login for login in logins if not login.ok]
    assert not failed, "; ".join(login.reason for login in failed)


@then("I can ssh to the following hosts with these credentials:")
def step_i_can_ssh_to_the_following_hosts(context: Any) -> None:
    """Then I can ssh to the following hosts with these credentials:

    A table | hostname | username | password | keyfile | (password or keyfile may be empty):
    every host is tried, at the same time, and every failing host is named in the reason.
    """
    rows = _rows(context, ("hostname", "username"))
    logins = _login_all(context, [_target(context, row["hostname"], row) for row in rows])
    failed = [login for login in logins if not login.ok]
    assert not failed, (f"cannot ssh to {len(failed)} of {len(logins)} hosts: "
                        + "; ".join(f"{x.username}@{x.address}: {x.error}" for x in failed))


@when('I ssh to "{host:Q}" with the following credentials:')
def step_i_ssh_to_with_credentials(context: Any, host: str) -> None:
    """When I ssh to "db1.example.com" with the following credentials:

    Logs in with the table's one row and keeps the connection for "When I run".
    """
    rows = _rows(context, ("username",))
    if len(rows) != 1:
        raise StepSetupError(f"give exactly one row of credentials, not {len(rows)}")
    login, connection = _connect(context, _target(context, host, rows[0]))
    assert connection is not None, login.reason
    context.ssh_connection = connection


# ---- commands -----------------------------------------------------------------------------

def _last_command(context: Any) -> CommandResult:
    result: CommandResult = earlier(context, "ssh_command",
                                    'no remote command yet: write When I run "<command>" first')
    return result


def _excerpt(context: Any, result: CommandResult) -> str:
    """The output as one bounded line for a reason, secrets masked before the cut."""
    return shown(context, result.output, 120) or "(no output)"


@when('I run "{command:Q}"')
def step_i_run_remote(context: Any, command: str) -> None:
    """When I run "df -h /var"

    Runs the command on the connection of "When I ssh to"; stdout and stderr together are the
    output. A command still running at the client timeout is cut, and the step fails.
    """
    connection = earlier(context, "ssh_connection", 'no SSH connection: write When I ssh to '
                         '"<host>" with the following credentials: first')
    with session(context).busy(f"`{command}` on {connection.target.address}"):
        result = connection.run(expand(context, command), session(context).client_timeout)
    context.ssh_command = result = _as_written(result, command)
    assert result.error is None, f"`{command}`: {result.error}"


def _as_written(result: CommandResult, command: str) -> CommandResult:
    # reasons quote the command as the feature wrote it, not with ${secrets} expanded
    return dataclasses.replace(result, command=command)


@then('I should see "{text:Q}" in the output')
def step_i_should_see_in_the_output(context: Any, text: str) -> None:
    """Then I should see "ok" in the output

    Literal text (not a regex) in the output of the last remote command.
    """
    result = _last_command(context)
    wanted = expand(context, text)
    cut = " (only its first 64 KiB were kept)" if result.truncated else ""
    assert wanted in result.output, (
        f'"{text}" not in the {result.output_bytes} B of output of `{result.command}` on '
        f"{result.address} (exit {result.exit_status}){cut}: {_excerpt(context, result)}")


@then("the exit status should be {status:Int}")
def step_the_exit_status_should_be(context: Any, status: int) -> None:
    """Then the exit status should be 0"""
    result = _last_command(context)
    assert result.exit_status == status, (
        f"`{result.command}` on {result.address} exited {result.exit_status}, expected {status}; "
        f"output ({result.output_bytes} B): {_excerpt(context, result)}")


# ---- host keys ----------------------------------------------------------------------------

@then('the host key of "{host:Q}" should have the fingerprint "{fingerprint:Q}"')
def step_the_host_key_should_have_the_fingerprint(context: Any, host: str,
                                                  fingerprint: str) -> None:
    """Then the host key of "db1.example.com" should have the fingerprint "SHA256:Xy..."

    Pins a host key without logging in: passes when any of the server's host keys (one per
    type) has this SHA256 fingerprint, as `ssh-keygen -lf` prints it.
    """
    from escalator.probes.ssh import host_keys

    expected = expand(context, fingerprint).strip()
    if not expected.startswith("SHA256:"):
        raise StepSetupError(f"write the fingerprint as ssh-keygen -l prints it, "
                             f"SHA256:..., not {expected!r}")
    name, port = _address(context, host)
    with session(context).busy(f"reading the host keys of {name}:{port}"):
        found = host_keys(name, port, session(context).client_timeout)
    offered = ", ".join(f"{kind} {fp}" for kind, fp in found.keys)
    assert found.keys, f"cannot read the host keys of {found.address}: {found.error}"
    assert expected in dict(found.keys).values(), (
        f"no host key of {found.address} has the fingerprint {expected}: it offers {offered}")


# ---- files --------------------------------------------------------------------------------

def _remote_age(context: Any, path: str, host: str, n: float, unit: str,
                warning: tuple[float, str] | None = None) -> None:
    crit, size = age_limit(n, unit)
    warn = age_limit(*warning)[0] if warning else None
    stated(crit, warn, unit, size)
    remote = expand(context, path)
    login, connection = _connect(context, _env_target(context, host))
    assert connection is not None, login.reason
    with session(context).busy(f"reading {remote} on {connection.target.address}"):
        age = connection.file_age(remote, session(context).client_timeout)
    measured = record(context, f"age {remote}", None if age.age is None else round(age.age, 3),
                      "s", crit, warn=warn)
    assert age.age is not None, age.error
    judge(context, measured, f"{remote} on {age.address} was last modified "
                             f"{format_age(age.age)} ago", unit=unit, scale=size,
          wanted=f"within the last {n:g} {unit}")


@then('the file "{path:Q}" on "{host:Q}" should have been modified within the last '
      "{n:Number} {unit:w}")
def step_the_remote_file_should_be_recent(context: Any, path: str, host: str, n: float,
                                          unit: str) -> None:
    """Then the file "/backup/db.dump" on "db1" should have been modified within the last 24 hours

    The backup monitor: logs in as the environment's ssh_user and reads the file's mtime by
    SFTP; the age is recorded (perfdata) with the limit as its threshold.
    """
    _remote_age(context, path, host, n, unit)


@then('the file "{path:Q}" on "{host:Q}" should have been modified within the last '
      "{n:Number} {unit:w}, warning above {w:Number} {wunit:w}")
def step_the_remote_file_should_be_recent_warning(context: Any, path: str, host: str, n: float,
                                                  unit: str, w: float, wunit: str) -> None:
    """Then the file "/backup/db.dump" on "db1" should have been modified within the last 24 hours, warning above 12 hours

    WARNING once the file is older than W, CRITICAL older than N.
    """  # noqa: E501 - the example is one line of a feature file
    _remote_age(context, path, host, n, unit, (w, wunit))


def format_age(seconds: float) -> str:
    """An age the way a reason says it.

    >>> format_age(45), format_age(5400), format_age(200000)
    ('45 s', '90 min', '55.6 h')
    """
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 3 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
