"""File phrases on a host over SSH: `the file "<path>" on "<host>" should ...`.

The same phrases and judging as `escalator.steps.files` (exists, contents, mode, owner, size),
looking over SFTP (`escalator.probes.ssh_files`) as the environment's `ssh_user`, with the host
key checked as for every SSH step. The first step that names a host logs in; the scenario's other
steps on that host reuse the login (`escalator.steps.ssh.monitor_connection`). A module of its
own so that local file checks never load paramiko.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from behave import then

from escalator.steps import files as judge
from escalator.steps import types  # noqa: F401 - registers the Q/SQ/Number/Int argument types
from escalator.steps.ssh import VARIABLES as SSH_VARIABLES
from escalator.steps.ssh import monitor_connection
from escalator.steps.support import expand, session

if TYPE_CHECKING:
    from escalator.probes import files
    from escalator.probes.ssh import Connection

PROBES = ("escalator.probes.ssh", "escalator.probes.ssh_files")
VARIABLES = SSH_VARIABLES


class Remote:
    """A host's files, looked at over the scenario's SSH login, each call within the step."""

    def __init__(self, context: Any, connection: Connection) -> None:
        self.context, self.connection = context, connection

    def look(self, path: str, names: bool = False) -> files.FileState:
        from escalator.probes import ssh_files

        current = session(self.context)
        with current.busy(f"looking at {path} on {self.connection.target.address}"):
            return ssh_files.look(self.connection, path, current.client_timeout, names)

    def search(self, path: str, text: str, first_only: bool) -> files.Found:
        from escalator.probes import ssh_files

        current = session(self.context)
        with current.busy(f"reading {path} on {self.connection.target.address}"):
            return ssh_files.search(self.connection, path, text, current.client_timeout,
                                    first_only)


def _on(context: Any, host: str) -> Remote:
    return Remote(context, monitor_connection(context, host))


@then('the file "{path:Q}" on "{host:Q}" should exist')
def step_the_remote_file_should_exist(context: Any, path: str, host: str) -> None:
    """Then the file "/etc/nginx/nginx.conf" on "web1" should exist

    Logs in as the environment's ssh_user (ssh_key or ssh_password, known_hosts) and looks by
    SFTP; later steps on the same host reuse the login.
    """
    judge.should_exist(_on(context, host), expand(context, path), "file")


@then('the file "{path:Q}" on "{host:Q}" should not exist')
def step_the_remote_file_should_not_exist(context: Any, path: str, host: str) -> None:
    """Then the file "/etc/nologin" on "web1" should not exist"""
    judge.should_not_exist(_on(context, host), expand(context, path))


@then('the directory "{path:Q}" on "{host:Q}" should exist')
def step_the_remote_directory_should_exist(context: Any, path: str, host: str) -> None:
    """Then the directory "/var/backups" on "db1" should exist"""
    judge.should_exist(_on(context, host), expand(context, path), "directory")


@then('the file "{path:Q}" on "{host:Q}" should contain "{text:Q}"')
def step_the_remote_file_should_contain(context: Any, path: str, host: str, text: str) -> None:
    """Then the file "/etc/resolv.conf" on "web1" should contain "nameserver 10.0.0.2"

    Literal text, read by SFTP within the step's time.
    """
    judge.should_contain(_on(context, host), expand(context, path), expand(context, text))


@then('the file "{path:Q}" on "{host:Q}" should not contain "{text:Q}"')
def step_the_remote_file_should_not_contain(context: Any, path: str, host: str,
                                            text: str) -> None:
    """Then the file "/etc/ssh/sshd_config" on "web1" should not contain "PermitRootLogin yes\""""
    judge.should_not_contain(_on(context, host), expand(context, path), expand(context, text))


@then('the file "{path:Q}" on "{host:Q}" should have mode "{mode:Q}"')
def step_the_remote_file_should_have_mode(context: Any, path: str, host: str,
                                          mode: str) -> None:
    """Then the file "/etc/shadow" on "db1" should have mode "0640\""""
    judge.should_have_mode(_on(context, host), expand(context, path), expand(context, mode))


@then('the file "{path:Q}" on "{host:Q}" should be owned by "{owner:Q}"')
def step_the_remote_file_should_be_owned_by(context: Any, path: str, host: str,
                                             owner: str) -> None:
    """Then the file "/var/lib/postgresql" on "db1" should be owned by "postgres"

    Names as the host's /etc/passwd and /etc/group give them (or a uid, or user:group).
    """
    judge.should_be_owned_by(_on(context, host), expand(context, path), expand(context, owner))


@then('the file "{path:Q}" on "{host:Q}" should be at most {n:Number} {unit:w}')
def step_the_remote_file_should_be_at_most(context: Any, path: str, host: str, n: float,
                                           unit: str) -> None:
    """Then the file "/var/log/syslog" on "web1" should be at most 500 MiB"""
    judge.should_be_sized(context, _on(context, host), expand(context, path), n, unit, True)


@then('the file "{path:Q}" on "{host:Q}" should be at most {n:Number} {unit:w}, warning above '
      "{w:Number} {wunit:w}")
def step_the_remote_file_should_be_at_most_warning(context: Any, path: str, host: str, n: float,
                                                   unit: str, w: float, wunit: str) -> None:
    """Then the file "/var/log/syslog" on "web1" should be at most 500 MiB, warning above 200 MiB"""
    judge.should_be_sized(context, _on(context, host), expand(context, path), n, unit, True,
                          (w, wunit))


@then('the file "{path:Q}" on "{host:Q}" should be at least {n:Number} {unit:w}')
def step_the_remote_file_should_be_at_least(context: Any, path: str, host: str, n: float,
                                            unit: str) -> None:
    """Then the file "/backup/db.dump" on "db1" should be at least 1 GB"""
    judge.should_be_sized(context, _on(context, host), expand(context, path), n, unit, False)


@then('the file "{path:Q}" on "{host:Q}" should be at least {n:Number} {unit:w}, warning below '
      "{w:Number} {wunit:w}")
def step_the_remote_file_should_be_at_least_warning(context: Any, path: str, host: str,
                                                    n: float, unit: str, w: float, wunit: str
                                                    ) -> None:
    """Then the file "/backup/db.dump" on "db1" should be at least 1 GB, warning below 2 GB"""
    judge.should_be_sized(context, _on(context, host), expand(context, path), n, unit, False,
                          (w, wunit))
