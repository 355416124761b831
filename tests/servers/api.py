"""An API-like site on loopback for the request and value steps (routes for tests/servers/http.py).

- `/api/echo`: answers JSON describing the request (method, headers, body, the body parsed as
  JSON when it is), so a test sees what the client really sent;
- `/api/moved?status=N&to=URL`: a redirect with any status;
- `/api/cookies`: sets a well-made `sid` cookie and a careless `theme` cookie (two Set-Cookie
  headers, one with an Expires date that holds a comma);
- `/api/login`: a 303 that sets the session cookie, then `/api/home`;
- `/api/metrics`: numbers as JSON numbers and as strings ("7.50");
- `/api/whoami`: 200 with the bearer token echoed back when it is the right one, else 401 saying
  which token it got (a reason that would leak the secret if nothing redacted it).
"""

from __future__ import annotations

import json

from tests.servers.http import Handler, Reply, Request

TOKEN = "tok-7f3a9c-secret"
_JSON = {"Content-Type": "application/json"}


def _echo(req: Request) -> Reply:
    try:
        parsed = json.loads(req.body) if req.body else None
    except ValueError:
        parsed = None
    doc = {"method": req.method, "path": req.path,
           "headers": {k.lower(): v for k, v in req.headers.items()},
           "body": req.body.decode(errors="replace"), "json": parsed}
    return Reply(200, json.dumps(doc), _JSON)


def _moved(req: Request) -> Reply:
    status = int(req.query.get("status", ["302"])[0])
    return Reply(status, "", {"Location": req.query.get("to", ["/api/echo"])[0]})


def _cookies(_: Request) -> Reply:
    # http.server's send_header keeps repeated headers, our Reply dict cannot: fold a second one
    # into the first with "\r\nSet-Cookie: " (it goes out as two header lines)
    good = "sid=s3ss10n; Path=/; Secure; HttpOnly; SameSite=Strict"
    careless = "theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Domain=127.0.0.1"
    return Reply(200, "cookies", {"Set-Cookie": good + "\r\nSet-Cookie: " + careless})


def _login(_: Request) -> Reply:
    return Reply(303, "", {"Location": "/api/home",
                           "Set-Cookie": "session=abc; Path=/; HttpOnly; SameSite=Lax"})


def _metrics(_: Request) -> Reply:
    doc = {"queue_depth": 42, "price": "7.50", "ratio": 0.25, "version": "2.14.3",
           "workers": [{"load": 3}, {"load": 9}], "name": "eu-1", "ok": True}
    return Reply(200, json.dumps(doc), _JSON)


def _whoami(req: Request) -> Reply:
    sent = req.headers.get("Authorization", "")
    if sent == f"Bearer {TOKEN}":
        return Reply(200, json.dumps({"user": "monitor"}), _JSON)
    return Reply(401, f"unknown token in {sent!r}", {"Content-Type": "text/plain"})


def api_routes() -> dict[str, Handler | object]:
    return {"/api/echo": _echo, "/api/moved": _moved, "/api/cookies": _cookies,
            "/api/login": _login, "/api/home": lambda _: Reply(200, "home", {}),
            "/api/metrics": _metrics, "/api/whoami": _whoami,
            "/api/text": lambda _: Reply(200, "Version 3.2 build 77\nstatus: green\n",
                                         {"Content-Type": "text/plain",
                                          "X-Backend": "nginx/1.24.0"})}
