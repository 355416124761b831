"""Shared pytest setup: fixture files that are not tests, and a loopback HTTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.http import serve

collect_ignore = ["fixtures"]


@pytest.fixture(scope="session")
def http_server() -> Iterator[str]:
    """A real HTTP server on loopback (tests/servers/http.py), shared by the session."""
    with serve() as url:
        yield url
