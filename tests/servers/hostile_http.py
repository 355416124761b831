"""Misbehaving HTTP servers on loopback for tests, written on raw sockets.

`tests/servers/http.py` can only answer well-formed HTTP; the ways a real target goes wrong
(a reset in the middle of a body, a status line that is not one, a body that never ends, a
server trickling a byte a second) need bytes on the wire that `http.server` will not send.
`raw_server(name)` runs behaviour `name` from `BEHAVIOURS` for every connection, after reading
the request head, and yields the base URL. Every connection thread watches a stop event, so the
server stops by itself when the `with` block ends, even while a client is still reading.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import struct
import threading
from collections.abc import Callable, Iterator

from tests.servers.loopback import serving

Behaviour = Callable[[socket.socket, threading.Event], None]

_PAGE = b"<html><body><h1>Welcome</h1></body></html>"
_MB = 1024 * 1024


def _head(status: str = "200 OK", *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _reset(conn: socket.socket) -> None:
    """Close with RST instead of FIN, the way a crashed proxy or a firewall does."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _stream(conn: socket.socket, stop: threading.Event, chunk: bytes, limit: int | None) -> None:
    """Send `chunk` until `limit` bytes went out, the client leaves or the server stops."""
    sent = 0
    while not stop.is_set() and (limit is None or sent < limit):
        piece = chunk if limit is None else chunk[: limit - sent]
        try:
            conn.sendall(piece)
        except OSError:
            return  # the client hung up: what a capped reader is expected to do
        sent += len(piece)


def _trickle(conn: socket.socket, stop: threading.Event, data: bytes) -> None:
    for byte in data:
        if stop.wait(1.0):
            return
        try:
            conn.sendall(bytes([byte]))
        except OSError:
            return


# ---- behaviours: one per way of going wrong ---------------------------------------------

def reset_before_answer(conn: socket.socket, stop: threading.Event) -> None:
    _reset(conn)


def close_without_answer(conn: socket.socket, stop: threading.Event) -> None:
    conn.close()


def reset_mid_body(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(_head("200 OK", "Content-Type: text/html", "Content-Length: 100000"))
    conn.sendall(b"<html><body>" + b"x" * 4000)
    stop.wait(0.2)  # let the client take the head and start on the body
    _reset(conn)


def short_body(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(_head("200 OK", "Content-Type: text/plain", "Content-Length: 1000")
                 + b"only ten b")
    conn.close()


def head_then_silence(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(_head("200 OK", "Content-Type: text/plain", "Content-Length: 100"))
    stop.wait(60)


def trickle_body(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(_head("200 OK", "Content-Type: text/plain", "Content-Length: 100"))
    _trickle(conn, stop, b"y" * 100)


def trickle_head(conn: socket.socket, stop: threading.Event) -> None:
    _trickle(conn, stop, _head("200 OK", "Content-Length: 0") * 10)


def endless_chunked(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(_head("200 OK", "Content-Type: text/plain", "Transfer-Encoding: chunked"))
    _stream(conn, stop, b"10000\r\n" + b"z" * 0x10000 + b"\r\n", None)


def endless_unframed(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(_head("200 OK", "Content-Type: text/plain", "Connection: close"))
    _stream(conn, stop, b"z" * 0x10000, None)


def fifty_megabytes(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(_head("200 OK", "Content-Type: text/plain", f"Content-Length: {50 * _MB}"))
    _stream(conn, stop, b"m" * 0x10000, 50 * _MB)


def bad_status_line(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 OK-ish\r\nContent-Length: 0\r\n\r\n")
    conn.close()


def not_http(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    conn.close()


def huge_header(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(_head("200 OK", "X-Huge: " + "h" * _MB, "Content-Length: 0"))
    conn.close()


def many_headers(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(_head("200 OK", *(f"X-Many-{i}: {i}" for i in range(500)), "Content-Length: 0"))
    conn.close()


def bad_chunk(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(_head("200 OK", "Content-Type: text/plain", "Transfer-Encoding: chunked")
                 + b"5\r\nhello\r\nzz-not-hex\r\n")
    conn.close()


def gzip_bomb(conn: socket.socket, stop: threading.Event) -> None:
    """About 200 KiB on the wire, 200 MiB once inflated: 200 gzip members of 1 MiB of zeros
    (a gzip stream may hold several members, and making them is quick)."""
    body = gzip.compress(b"\0" * _MB, compresslevel=9) * 200
    conn.sendall(_head("200 OK", "Content-Type: text/plain", "Content-Encoding: gzip",
                       f"Content-Length: {len(body)}") + body)
    stop.wait(5)


def gzip_page(conn: socket.socket, stop: threading.Event) -> None:
    """A healthy page, compressed as nearly every real server compresses it."""
    body = gzip.compress(_PAGE)
    conn.sendall(_head("200 OK", "Content-Type: text/html", "Content-Encoding: gzip",
                       f"Content-Length: {len(body)}", "Connection: close") + body)
    conn.close()


def pipe_in_reason(conn: socket.socket, stop: threading.Event) -> None:
    body = b"<html><body>" + b"Fatal error | retry; a=b\n" * 50 + b"</body></html>"
    conn.sendall(_head("503 Down | for; maintenance=now", "Content-Type: text/html",
                       f"Content-Length: {len(body)}", "Connection: close") + body)
    conn.close()


def binary_error(conn: socket.socket, stop: threading.Event) -> None:
    body = bytes(range(256)) * 64 + b"\xff\xfe\x00\x1b[31m"
    conn.sendall(_head("500 Internal Server Error", "Content-Type: text/plain; charset=utf-8",
                       f"Content-Length: {len(body)}", "Connection: close") + body)
    conn.close()


def _redirect(location: str) -> Behaviour:
    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_head("302 Found", f"Location: {location}", "Content-Length: 0",
                           "Connection: close"))
        conn.close()

    return behaviour


def _declared_charset(charset: str, media: str) -> Behaviour:
    """A 503 whose Content-Type names a charset that is not one: a codec Python has but that is
    no text encoding (base64, rot13, zlib), one that cannot decode bytes (idna), or none."""
    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        body = (b"<html><body><h1>Service Unavailable</h1>\xff\xfe</body></html>"
                if media == "text/html" else b"Service Unavailable \xff\xfe")
        conn.sendall(_head("503 Service Unavailable", f"Content-Type: {media}; charset={charset}",
                           f"Content-Length: {len(body)}", "Connection: close") + body)
        conn.close()

    return behaviour


def _json_body(status: str, body: bytes) -> Behaviour:
    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_head(status, "Content-Type: application/json",
                           f"Content-Length: {len(body)}", "Connection: close") + body)
        conn.close()

    return behaviour


CHARSETS = ("base64", "rot13", "zlib", "bz2", "hex", "uu", "quopri", "idna", "punycode",
            "undefined", "no-such-charset", "utf-8-sig", "cp037")
DEEP = 100_000

BEHAVIOURS: dict[str, Behaviour] = {
    "reset-before-answer": reset_before_answer,
    "close-without-answer": close_without_answer,
    "reset-mid-body": reset_mid_body,
    "short-body": short_body,
    "head-then-silence": head_then_silence,
    "trickle-body": trickle_body,
    "trickle-head": trickle_head,
    "endless-chunked": endless_chunked,
    "endless-unframed": endless_unframed,
    "fifty-megabytes": fifty_megabytes,
    "bad-status-line": bad_status_line,
    "not-http": not_http,
    "huge-header": huge_header,
    "many-headers": many_headers,
    "bad-chunk": bad_chunk,
    "gzip-bomb": gzip_bomb,
    "gzip-page": gzip_page,
    "pipe-in-reason": pipe_in_reason,
    "binary-error": binary_error,
    "redirect-loop": _redirect("/"),
    "redirect-to-ftp": _redirect("ftp://127.0.0.1/pub/"),
    "redirect-to-bad-url": _redirect("http://[::1/broken"),
    **{f"charset-{name}": _declared_charset(name, "text/plain") for name in CHARSETS},
    **{f"html-charset-{name}": _declared_charset(name, "text/html") for name in CHARSETS},
    "json-deep-list": _json_body("503 Service Unavailable", b"[" * DEEP + b"]" * DEEP),
    "json-deep-object": _json_body("200 OK", b'{"a":' * DEEP + b"1" + b"}" * DEEP),
    "json-huge-number": _json_body("200 OK", b'{"status": ' + b"9" * 100_000 + b"}"),
}


def _read_head(conn: socket.socket, stop: threading.Event) -> bool:
    """Read the request up to its blank line (requests here carry no body)."""
    data = b""
    conn.settimeout(0.1)
    while b"\r\n\r\n" not in data and len(data) < 65536:
        if stop.is_set():
            return False
        try:
            more = conn.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            return False
        if not more:
            return False
        data += more
    conn.settimeout(5.0)  # a behaviour's send never blocks for long on a gone client
    return True


def _handle(conn: socket.socket, behaviour: Behaviour, stop: threading.Event) -> None:
    try:
        if _read_head(conn, stop):
            behaviour(conn, stop)
    except OSError:
        pass  # the client went away first: nothing to tell it
    finally:
        conn.close()


@contextlib.contextmanager
def raw_server(name: str) -> Iterator[str]:
    """Serve behaviour `name` on a free loopback port; yields http://127.0.0.1:PORT."""
    behaviour = BEHAVIOURS[name]
    stop = threading.Event()

    def start(conn: socket.socket) -> None:  # one thread per connection: clients overlap
        threading.Thread(target=_handle, args=(conn, behaviour, stop), daemon=True).start()

    with serving(start, stop) as port:
        yield f"http://127.0.0.1:{port}"
