"""Hostile TCP servers on loopback for tests: what a broken or stuck target looks like.

`silent_server()` accepts connections and never says a word (an SSH server whose banner never
comes, a hung service); `closed_port()` is a port where nothing listens (connection refused).
The silent server stops by itself when its context ends (its accept thread is a daemon that
closes every held connection).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


def _hold(server: socket.socket, stop: threading.Event) -> None:
    held: list[socket.socket] = []
    server.settimeout(0.05)
    try:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)  # keep it open, say nothing
    finally:
        for conn in held:
            conn.close()


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts and then stays silent; yields the port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    stop = threading.Event()
    thread = threading.Thread(target=_hold, args=(server, stop), daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        server.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
