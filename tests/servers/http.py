"""A real HTTP server on loopback for tests: a route table of small handlers, in a thread.

`serve(routes)` is a context manager yielding the base URL. A route is
`(method, path) -> handler(request) -> Reply`. Built-in routes cover what the runner tests need:
`/` (a page), `/slow?ms=N`, `/hang` (accepts and never answers), `/status/N`, `/json`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Request], Reply | None]


def _page(_: Request) -> Reply:
    return Reply(200, "<html><body><h1>Welcome</h1><p>All systems go.</p></body></html>",
                 {"Content-Type": "text/html; charset=utf-8"})


def _slow(req: Request) -> Reply:
    time.sleep(int(req.query.get("ms", ["100"])[0]) / 1000)
    return Reply(200, "slow but fine", {"Content-Type": "text/plain"})


def _status(req: Request) -> Reply:
    code = int(req.path.rsplit("/", 1)[1])
    return Reply(code, f"status {code}", {"Content-Type": "text/plain"})


def _json(_: Request) -> Reply:
    return Reply(200, json.dumps({"status": "ok", "version": "1.2.3"}),
                 {"Content-Type": "application/json"})


HANG = object()


def default_routes() -> dict[str, Handler | object]:
    return {"/": _page, "/slow": _slow, "/json": _json, "/hang": HANG, "/status/": _status}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        route = self.server.routes.get(parts.path)
        if route is None:
            prefix = next((p for p in self.server.routes if p.endswith("/") and p != "/"
                           and parts.path.startswith(p)), None)
            route = self.server.routes.get(prefix) if prefix else None
        if route is HANG:
            self.server.stop_event.wait(60)
            return
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(self.command, parts.path, parse_qs(parts.query),
                          dict(self.headers.items()), self.rfile.read(length) if length else b"")
        reply = route(request) if callable(route) else Reply(404, "not found")
        if reply is None:
            return
        body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Handler | object]
    stop_event: threading.Event


@contextlib.contextmanager
def serve(routes: dict[str, Handler | object] | None = None, host: str = "127.0.0.1"
          ) -> Iterator[str]:
    """Run the server on a free loopback port; yields its base URL; stops on exit."""
    server = _Server((host, 0), _Handler)
    server.routes = {**default_routes(), **(routes or {})}
    server.stop_event = threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.stop_event.set()
        server.shutdown()
        server.server_close()
