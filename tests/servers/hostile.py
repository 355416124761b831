"""Hostile TCP servers on loopback for tests: what a broken or stuck target looks like.

`silent_server()` accepts connections and never says a word (an SSH server whose banner never
comes, a hung service); `banner_server(banner, then)` sends fixed bytes, then stays silent or
resets; `closed_port()` is a port where nothing listens (connection refused). The servers stop by
themselves when their context ends (the accept thread closes every held connection).
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Iterator

from tests.servers.loopback import serving


@contextlib.contextmanager
def banner_server(banner: bytes, then: str = "silence") -> Iterator[int]:
    """Sends `banner` to each client, then stays silent (or resets with `then="reset"`);
    yields the port."""
    held: list[socket.socket] = []

    def greet(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(banner)
        if then == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        else:
            held.append(conn)  # say nothing more, keep it open

    try:
        with serving(greet) as port:
            yield port
    finally:
        for conn in held:
            conn.close()


def silent_server() -> contextlib.AbstractContextManager[int]:
    """A port that accepts and then stays silent; yields the port."""
    return banner_server(b"")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
