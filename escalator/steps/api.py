"""The site-step API: what a project's own steps (and Escalator's newer step modules) call.

Stable names, documented in docs/steps.md; everything else under `escalator.steps` may change.
A step gets the scenario's `Session` with `session(context)` (variables, settings, the client
timeout, per-scenario resources), expands `${name}` with `expand`, asks the probes through
`http_request`, `dns_lookup`, `ssh_run` and `run_command` (each within the step's time budget,
with the environment's settings: TLS verification, the nameserver, the SSH user and known_hosts),
and records what it measured with `record(context, name, value, uom, crit=Limit...,
warn=Limit...)`; `judge` gives the verdict on that measurement by the same limits (the step
fails past `crit`, the scenario ends WARNING past only `warn`), so perfdata and the verdict
agree. Other checks assert with `assert ..., "<one-line reason>"` (the target is broken: the
scenario fails) and raise `StepSetupError` for our own mistakes (the scenario is UNKNOWN).
A reason that quotes what a target said cuts it with `shown(context, text, limit)`, which
masks the secrets first: a secret cut in half cannot be recognised afterwards. A module of site
steps that reads variables of its own names them in `VARIABLES`, so `escalator run` does not
report them as used by no step.

Probe results are frozen dataclasses that never raise for a broken target: `HttpResult`
(`escalator.probes.http`), `DnsResult` (`escalator.probes.dns`), SSH and local
`CommandResult`s (`escalator.probes.ssh`, `escalator.probes.command`). The probe libraries are
imported on first use, so a site step module stays light to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from escalator.limits import Limit
from escalator.steps.support import (
    Session,
    StepSetupError,
    earlier,
    expand,
    judge,
    record,
    resolve_url,
    restate,
    session,
    shown,
    stated,
)

if TYPE_CHECKING:
    from escalator.probes.command_result import CommandResult as LocalResult
    from escalator.probes.command_result import CommandResult as RemoteResult
    from escalator.probes.dns import DnsResult
    from escalator.probes.http import HttpResult
    from escalator.probes.ssh import Connection

__all__ = ["Limit", "Session", "StepSetupError", "dns_lookup", "earlier", "expand",
           "http_request", "judge", "last_response", "record", "resolve_url", "restate",
           "run_command", "session", "shown", "ssh_connection", "ssh_run", "stated", "variable"]


def variable(context: Any, name: str, default: str | None = None) -> str | None:
    """The environment's variable `name` (secrets included, already read from the process
    environment), or `default`."""
    return session(context).variables.get(name, default)


def http_request(context: Any, url: str, method: str = "GET", body: bytes | None = None,
                 headers: tuple[tuple[str, str], ...] = ()) -> HttpResult:
    """Request `url` (a path resolves against `${base_url}`, `${vars}` expand) with the
    scenario's client, its cookies and Given settings; it becomes the last response that the
    HTTP Then steps judge, and its `response_time` is recorded."""
    from escalator.steps import http_client

    return http_client.request(context, url, method.upper(), body=body, headers=headers)


def last_response(context: Any) -> HttpResult:
    """The scenario's last HTTP response (StepSetupError when no request was made)."""
    from escalator.steps import http_client

    return http_client.last_response(context)


def dns_lookup(context: Any, name: str, rdtype: str = "A", record_time: bool = True
               ) -> DnsResult:
    """Ask the scenario's nameserver (a Given step's, else the environment's `nameserver`, else
    the system's) for one record type; `lookup_time` is recorded (without a value when no
    answer came), and is what "the lookup should take less than" judges, unless `record_time`
    is off: a lookup that only prepares the check."""
    from escalator.probes.dns import DnsTarget, lookup

    chosen = getattr(context, "dns_nameserver", None) or variable(context, "nameserver") or None
    target = DnsTarget(expand(context, name).strip(), rdtype.upper(), chosen,
                       session(context).client_timeout, tcp=getattr(context, "dns_tcp", False))
    with session(context).busy(f"looking up {target.rdtype} {target.name}"):
        result = lookup(target)
    if record_time:
        elapsed = round(result.elapsed * 1000, 3) if result.answered else None
        context.dns_time = record(context, "lookup_time", elapsed, "ms")
    return result


def ssh_connection(context: Any, host: str) -> Connection:
    """A logged-in SSH connection to `host` (`host:port`) as the environment's `ssh_user`,
    host key checked against `known_hosts`; made once per host and scenario, closed after it.
    A failed login fails the step with the reason."""
    from escalator.steps import ssh

    address = expand(context, host).strip()
    found: dict[str, Connection] = session(context).resource("ssh-by-host", dict)
    if address not in found:
        login, connection = ssh._connect(context, ssh._env_target(context, address))
        assert connection is not None, login.reason
        found[address] = connection
    return found[address]


def ssh_run(context: Any, host: str, command: str) -> RemoteResult:
    """Run a shell command line on `host` as `ssh_user` (see `ssh_connection`); its output is
    stdout and stderr together, bounded; a command cut by the timeout has `error` set."""
    connection = ssh_connection(context, host)
    with session(context).busy(f"`{command}` on {connection.target.address}"):
        return connection.run(command, session(context).client_timeout)


def run_command(context: Any, line: str) -> LocalResult:
    """Run a shell command line on this machine (/bin/sh -c), killed with everything it
    started if it outlives the step's budget."""
    from escalator.probes.command import CommandTarget, run

    with session(context).busy(f"`{line}`"):
        return run(CommandTarget(line, session(context).client_timeout))
