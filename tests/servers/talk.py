"""Small talking servers on loopback for the send/expect phrases: a TCP line server that answers
like Redis (`PING` -> `+PONG`), and a UDP server that answers each datagram in upper case.
Both yield their port and stop when their context ends.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from tests.servers.loopback import serving


def _lines(conn: socket.socket, stop: threading.Event) -> None:
    with conn:
        conn.settimeout(0.1)
        buffer = b""
        while not stop.is_set():
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\r\n" in buffer:
                line, buffer = buffer.split(b"\r\n", 1)
                answer = b"+PONG" if line == b"PING" else b"-ERR unknown command " + line
                conn.sendall(answer + b"\r\n")


@contextlib.contextmanager
def line_server() -> Iterator[int]:
    """Answers `PING` with `+PONG`, anything else with `-ERR ...`, and keeps the line open."""
    stop = threading.Event()

    def talk(conn: socket.socket) -> None:  # a thread per line, so several can stay open
        threading.Thread(target=_lines, args=(conn, stop), daemon=True).start()

    with serving(talk, stop) as port:
        yield port


@contextlib.contextmanager
def udp_upper_server() -> Iterator[int]:
    """Answers each datagram with the same bytes in upper case."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            sock.sendto(data.upper(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def closed_udp_port() -> int:
    """A loopback UDP port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
