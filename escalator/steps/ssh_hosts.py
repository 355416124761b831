"""SSH phrases: jump hosts and the server's version string.

`Given I ssh through the jump host "bastion"` sends every later SSH login of the scenario (the
credential tables, "I ssh to", the remote file and system-state phrases) through that host, as
`ssh -J` does: log in there, then ask it for a channel to the target; both host keys are checked
against known_hosts. The environment's `ssh_jump_host` does the same for every scenario. The
version phrases read the identification line a server sends before any key exchange
("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"), directly, without logging in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from behave import given, then

from escalator.steps import (
    api,
    types,  # noqa: F401 - registers the Q/SQ/Number/Int argument types
)
from escalator.steps.matching import compile_pattern
from escalator.steps.ssh import VARIABLES as SSH_VARIABLES
from escalator.steps.ssh import parse_address

if TYPE_CHECKING:
    from escalator.probes.ssh import Identification

PROBES = ("escalator.probes.ssh",)
VARIABLES = SSH_VARIABLES


@given('I ssh through the jump host "{host:Q}"')
def step_i_ssh_through_the_jump_host(context: Any, host: str) -> None:
    """Given I ssh through the jump host "bastion.example.com"

    Later SSH logins go through it (`user@host:port`; by default the same user and keys).
    """
    value = api.expand(context, host).strip()
    parse_address(value.rpartition("@")[2])  # a malformed address is our mistake, said now
    context.ssh_jump = value


def _version(context: Any, host: str) -> Identification:
    from escalator.probes.ssh import identification

    name, port = parse_address(api.expand(context, host).strip())
    with api.session(context).busy(f"reading the SSH banner of {name}:{port}"):
        found = identification(name, port, api.session(context).client_timeout)
    assert found.version is not None, f"no SSH version from {found.address}: {found.error}"
    return found


@then('the SSH version of "{host:Q}" should contain "{text:Q}"')
def step_the_ssh_version_should_contain(context: Any, host: str, text: str) -> None:
    """Then the SSH version of "db1.example.com" should contain "OpenSSH_9"

    Literal text in the identification string the server sends first.
    """
    found = _version(context, host)
    wanted = api.expand(context, text)
    assert wanted in (found.version or ""), (
        f"{found.address} identifies as {found.version!r}, without {wanted!r}")


@then('the SSH version of "{host:Q}" should not contain "{text:Q}"')
def step_the_ssh_version_should_not_contain(context: Any, host: str, text: str) -> None:
    """Then the SSH version of "db1.example.com" should not contain "OpenSSH_7\""""
    found = _version(context, host)
    wanted = api.expand(context, text)
    assert wanted not in (found.version or ""), (
        f"{found.address} identifies as {found.version!r}, with {wanted!r}")


@then('the SSH version of "{host:Q}" should match /{pattern:Regex}/')
def step_the_ssh_version_should_match(context: Any, host: str, pattern: str) -> None:
    """Then the SSH version of "db1.example.com" should match /^SSH-2\\.0-OpenSSH_(9|10)\\./"""
    found = _version(context, host)
    regex = compile_pattern(api.expand(context, pattern))
    assert regex.search(found.version or ""), (
        f"{found.address} identifies as {found.version!r}, which does not match "
        f"/{regex.pattern}/")
