"""The accept loop that every raw TCP test server shares, and a loopback listener around it.

`serving(handle)` listens on a free 127.0.0.1 port, accepts in a daemon thread and gives each
connection to `handle` on that thread; it yields the port and, when the `with` block ends, sets
the stop event, joins the thread and closes the socket. `accept_loop` alone serves a listener a
caller bound itself (the DNS server's TCP side shares its UDP port).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

Handle = Callable[[socket.socket], None]


def accept_loop(server: socket.socket, handle: Handle, stop: threading.Event) -> None:
    """Accept until `stop` is set or the socket closes; polls, so it notices `stop` at once."""
    server.settimeout(0.05)
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        handle(conn)


@contextlib.contextmanager
def serving(handle: Handle, stop: threading.Event | None = None) -> Iterator[int]:
    """Serve `handle` on a free loopback port until the block ends; yields the port."""
    stop = stop or threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    thread = threading.Thread(target=accept_loop, args=(server, handle, stop), daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        server.close()
