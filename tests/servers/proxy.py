"""A forward HTTP proxy on loopback for tests: plain requests in absolute form, and CONNECT.

`proxy_server()` yields a `Proxy` with its URL and the log of what it carried (`"GET
http://127.0.0.1:N/x"`, `"CONNECT 127.0.0.1:N"`), so a test can tell that a request really went
through it; `deny=True` answers 403 to every CONNECT (a proxy that refuses the tunnel). It
forwards to loopback targets only and stops when its context ends.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Proxy:
    url: str
    carried: list[str] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_CONNECT(self) -> None:
        self.server.proxy.carried.append(f"CONNECT {self.path}")
        if self.server.deny:
            self.send_response(403, "Forbidden")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        host, _, port = self.path.rpartition(":")
        with socket.create_connection((host, int(port)), timeout=5) as upstream:
            self.send_response(200, "Connection established")
            self.end_headers()
            self._pipe(upstream)
        self.close_connection = True

    def _pipe(self, upstream: socket.socket) -> None:
        client = self.connection
        while not self.server.stop.is_set():
            ready, _, _ = select.select([client, upstream], [], [], 0.1)
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)

    def _forward(self) -> None:
        self.server.proxy.carried.append(f"{self.command} {self.path}")
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"}
        upstream = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=5)
        try:
            upstream.request(self.command, parts.path + (f"?{parts.query}" if parts.query else ""),
                             body, headers)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Via", "1.1 test-proxy")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: Proxy
    deny: bool
    stop: threading.Event


@contextlib.contextmanager
def proxy_server(deny: bool = False) -> Iterator[Proxy]:
    """A forward proxy on a free loopback port; yields it; stops on exit."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.proxy = Proxy(f"http://127.0.0.1:{server.server_address[1]}")
    server.deny = deny
    server.stop = threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server.proxy
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
