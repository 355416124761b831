"""A real HTTP server on loopback for tests: a route table of small handlers, in a thread.

`serve(routes)` is a context manager yielding the base URL. A route is
`(method, path) -> handler(request) -> Reply`. Built-in routes cover what the runner tests need:
`/` (a page), `/slow?ms=N`, `/hang` (accepts and never answers), `/status/N`, `/json`.
`site_routes()` adds a small web site for the browsing steps (links, forms, a login with a
cookie, redirects, headers, basic and digest authentication, big bodies, JSON with times);
`serve(..., ssl_context=ctx)` serves HTTPS instead (see tests/servers/tls.py).
"""

from __future__ import annotations

import contextlib
import json
import ssl
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
    # headers and body go out in two writes; with Nagle on, a keep-alive client waits ~40 ms
    # for the delayed ACK on every request
    disable_nagle_algorithm = True

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

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Handler | object]
    stop_event: threading.Event


@contextlib.contextmanager
def serve(routes: dict[str, Handler | object] | None = None, host: str = "127.0.0.1",
          ssl_context: ssl.SSLContext | None = None) -> Iterator[str]:
    """Run the server on a free loopback port; yields its base URL; stops on exit."""
    server = _Server((host, 0), _Handler)
    if ssl_context is not None:
        # the handshake happens in the handler thread, so a client that rejects our certificate
        # cannot stall the accept loop; its failure is expected and not worth a traceback
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True,
                                                do_handshake_on_connect=False)
        server.handle_error = lambda *args: None  # type: ignore[method-assign]
    server.routes = {**default_routes(), **(routes or {})}
    server.stop_event = threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        scheme = "https" if ssl_context is not None else "http"
        yield f"{scheme}://{host}:{server.server_address[1]}"
    finally:
        server.stop_event.set()
        server.shutdown()
        server.server_close()


# ---- a small web site for the browsing steps -----------------------------------------------

USERS = {"monitor": "s3cret"}
REALM = "escalator-test"
_NONCE = "dcd98b7102dd2f0e8b11d0f600bfb0c093"
_HTML = {"Content-Type": "text/html; charset=utf-8"}

HOME = """<html><head><title>Shop</title></head><body>
<h1>Fish &amp; Chips</h1>
<p class="notice">Open   today</p>
<a href="/about">About us</a> <a href="login" id="signin" title="Sign in">Log in</a>
<a href="/redirect?to=/about"><img src="/x.png" alt="Moved"></a>
<a href="javascript:void(0)">Menu</a>
<form name="search" action="/echo?drop=me" method="get">
  <input name="q" value="cod"><input type="submit" value="Search">
</form>
<form id="order" action="/echo" method="post">
  <label for="who">Your name:</label><input id="who" name="name">
  <label>Email <input name="email" type="email" placeholder="you@example.com"></label>
  <input type="password" name="pw" id="pw">
  <input type="hidden" name="token" value="t0k">
  <textarea name="notes">none</textarea>
  <label for="size">Size</label>
  <select id="size" name="size"><option value="s">Small</option><option value="l">Large</option>
  </select>
  <select name="extras" multiple><option>Peas</option><option>Vinegar</option></select>
  <input type="checkbox" name="salt" id="salt" checked><label for="salt">Salt</label>
  <input type="checkbox" name="news" value="yes" id="news"><label for="news">Send news</label>
  <input type="radio" name="ship" value="pickup" id="pickup" checked>
  <label for="pickup">Pick up</label>
  <input type="radio" name="ship" value="express" id="express"><label for="express">Express</label>
  <input type="text" name="off" value="x" disabled>
  <input type="submit" name="go" value="Order now"><button name="act" value="later">Save</button>
</form></body></html>"""

LOGIN = """<html><body><form action="/login" method="post">
<label for="u">Username</label><input id="u" name="user">
<label for="p">Password</label><input id="p" type="password" name="password">
<label><input type="checkbox" name="remember"> Remember me</label>
<input type="submit" value="Log in"></form></body></html>"""


def _fields(req: Request) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    query = [(k, v) for k, values in req.query.items() for v in values]
    return query + parse_qsl(req.body.decode(), keep_blank_values=True)


def _echo(req: Request) -> Reply:
    fields = _fields(req)
    body = "<html><body><p>" + req.method + " " + "; ".join(f"{k}={v}" for k, v in fields)
    return Reply(200, body + "</p></body></html>", _HTML)


def _login(req: Request) -> Reply:
    if req.method != "POST":
        return Reply(200, LOGIN, _HTML)
    fields = dict(_fields(req))
    if USERS.get(fields.get("user", "")) != fields.get("password"):
        return Reply(200, LOGIN.replace("<form", '<p class="error">Wrong password</p><form'),
                     _HTML)
    return Reply(303, "", {"Location": "/account", "Set-Cookie": "sid=abc123; Path=/"})


def _account(req: Request) -> Reply:
    if "sid=abc123" not in req.headers.get("Cookie", ""):
        return Reply(302, "", {"Location": "/login"})
    return Reply(200, "<html><body><h1>Welcome back, monitor</h1></body></html>", _HTML)


def _redirect(req: Request) -> Reply:
    return Reply(302, "", {"Location": req.query.get("to", ["/"])[0]})


def _headers(_: Request) -> Reply:
    return Reply(200, "headers", {"Content-Type": "text/plain", "Cache-Control": "max-age=60",
                                  "X-Frame-Options": "DENY", "Server": "test/1.0"})


def _basic(req: Request) -> Reply:
    import base64

    sent = req.headers.get("Authorization", "")
    good = "Basic " + base64.b64encode(b"monitor:" + USERS["monitor"].encode()).decode()
    if sent == good:
        return Reply(200, "basic ok", {"Content-Type": "text/plain"})
    return Reply(401, "no", {"WWW-Authenticate": f'Basic realm="{REALM}"'})


def _digest_fields(header: str) -> dict[str, str]:
    import re

    return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', header)}


def _digest(req: Request) -> Reply:
    import hashlib

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    sent = req.headers.get("Authorization", "")
    if sent.startswith("Digest "):
        f = _digest_fields(sent[7:])
        ha1 = md5(f"{f.get('username')}:{REALM}:{USERS.get(f.get('username', ''), '')}")
        ha2 = md5(f"{req.method}:{f.get('uri')}")
        good = md5(f"{ha1}:{_NONCE}:{f.get('nc')}:{f.get('cnonce')}:{f.get('qop')}:{ha2}")
        if f.get("response") == good and f.get("nonce") == _NONCE:
            return Reply(200, "digest ok", {"Content-Type": "text/plain"})
    challenge = f'Digest realm="{REALM}", qop="auth", nonce="{_NONCE}", algorithm=MD5'
    return Reply(401, "no", {"WWW-Authenticate": challenge})


def _big(req: Request) -> Reply:
    size = int(float(req.query.get("mb", ["1"])[0]) * 1024 * 1024)
    return Reply(200, b"x" * size, {"Content-Type": "text/plain"})


def _times(_: Request) -> Reply:
    from datetime import UTC, datetime

    now = time.time()
    doc = {"status": "ok", "count": 3, "up": True, "none": None,
           "fresh": datetime.fromtimestamp(now - 30, UTC).isoformat().replace("+00:00", "Z"),
           "epoch": int(now - 120), "stale": datetime.fromtimestamp(now - 7200, UTC).isoformat(),
           "future": datetime.fromtimestamp(now + 86400, UTC).isoformat(), "word": "soon",
           "checks": [{"name": "db", "ok": True}, {"name": "disk", "ok": False}]}
    return Reply(200, json.dumps(doc), {"Content-Type": "application/json"})


def site_routes() -> dict[str, Handler | object]:
    return {"/site": lambda _: Reply(200, HOME, _HTML), "/about": lambda _: Reply(
                200, "<html><body><h1>About us</h1></body></html>", _HTML),
            "/echo": _echo, "/login": _login, "/account": _account, "/redirect": _redirect,
            "/headers": _headers, "/basic": _basic, "/digest": _digest, "/big": _big,
            "/times": _times}
