"""The demo target: a tiny shop on loopback with pages, a login form, a health endpoint and a
JSON status, which can be broken and repaired over HTTP (the demo's ladder repairs it).

Broken, it fails the way a bad deploy does: the storefront (home page, sign-in) answers 500 while
the process, its health endpoint and its API stay up, so only the scenarios that need a redeploy
fail and the ladder has something it may act on.

Used by `escalator demo` (in a thread of the demo process) and by tests. Standard library only.
"""

from __future__ import annotations

import html
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_PAGE = """<!doctype html><html><head><title>{title}</title></head><body>
<h1>{title}</h1>{body}</body></html>"""
_HOME = """<p>Welcome to the Escalator demo shop.</p>
<ul><li><a href="/login">Sign in</a></li><li><a href="/api/status">Status</a></li></ul>"""
_LOGIN = """<form name="login" method="post" action="/login">
<label for="user">Username</label><input id="user" name="username">
<label for="pw">Password</label><input id="pw" name="password" type="password">
<input type="submit" value="Sign in"></form>"""


PASSWORD = "correct-horse-battery"
_BROKEN = "<p>template cache corrupt after deploy 1.4.3</p>"


class DemoService:
    """The shop, served from a daemon thread; `url` once started; `broken` switches it off."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.broken = False
        self.repairs = 0
        self._server = _Server((host, port), _Handler)
        self._server.shop = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> DemoService:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def break_(self) -> None:
        self.broken = True

    def repair(self) -> None:
        self.broken, self.repairs = False, self.repairs + 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    shop: DemoService


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body in separate writes: no 40 ms delayed-ACK wait

    def log_message(self, *args: object) -> None:  # the demo prints its own story
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        shop = self.server.shop
        if shop.broken and path == "/":
            self._send(500, _PAGE.format(title="Internal Server Error", body=_BROKEN))
        elif path == "/":
            self._send(200, _PAGE.format(title="Demo shop", body=_HOME))
        elif path == "/login":
            self._send(200, _PAGE.format(title="Sign in", body=_LOGIN))
        elif path == "/health":
            self._send(200, "OK", "text/plain")
        elif path == "/api/status":
            now = datetime.now(UTC).isoformat(timespec="seconds")
            self._send(200, json.dumps({"status": "ok", "version": "1.4.2", "last_order": now}),
                       "application/json")
        else:
            self._send(404, _PAGE.format(title="Not found", body=""))

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode(errors="replace"))
        shop = self.server.shop
        if path == "/admin/repair":
            time.sleep(0.2)  # a redeploy takes a moment
            shop.repair()
            self._send(200, "repaired", "text/plain")
        elif path == "/admin/break":
            shop.break_()
            self._send(200, "broken", "text/plain")
        elif shop.broken:
            self._send(500, _PAGE.format(title="Internal Server Error", body=_BROKEN))
        elif path == "/login" and form.get("password") == [PASSWORD]:
            name = html.escape(form.get("username", ["?"])[0])
            self._send(200, _PAGE.format(title="Your account", body=f"<p>Hello, {name}.</p>"))
        else:
            self._send(401, _PAGE.format(title="Sign in failed", body=_LOGIN))

    def _send(self, status: int, body: str, kind: str = "text/html; charset=utf-8") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
