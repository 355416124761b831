"""Shared pytest setup: fixture files that are not tests, a loopback HTTP server, and a real
OpenSSH sshd for each module that asks for one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.http import serve
from tests.servers.sshd import Sshd, available, running_sshd

collect_ignore = ["fixtures"]


@pytest.fixture(scope="session")
def http_server() -> Iterator[str]:
    """A real HTTP server on loopback (tests/servers/http.py), shared by the session."""
    with serve() as url:
        yield url


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    """A real OpenSSH sshd on a loopback high port (tests/servers/sshd.py), one per module."""
    reason = available()
    if reason:
        pytest.skip(reason)
    with running_sshd() as server:
        yield server
