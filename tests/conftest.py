"""Shared pytest setup: fixture files that are not tests, a loopback HTTP server, a real
OpenSSH sshd for each module that asks for one, a real RabbitMQ broker for the session;
Hypothesis derandomized under CI."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.servers import rabbitmq as rabbitmq_server
from tests.servers.http import serve
from tests.servers.sshd import Sshd, available, running_sshd

collect_ignore = ["fixtures"]

# CI is a gate: the same examples on every run there. Elsewhere Hypothesis explores anew each
# run, and whatever it finds becomes an @example beside its property.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


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


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[rabbitmq_server.Rabbit]:
    """A real RabbitMQ broker on a loopback port (tests/servers/rabbitmq.py), shared by the
    session: its start takes seconds."""
    reason = rabbitmq_server.available()
    if reason:
        pytest.skip(reason)
    with rabbitmq_server.running_rabbitmq() as server:
        yield server
