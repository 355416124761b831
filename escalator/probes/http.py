"""HTTP probe: one request (following redirects) in, one frozen `HttpResult` out.

This module owns every use of `requests`. `open_client()` makes the per-scenario client (cookies
kept across steps, no retries: a failed request is reported, never silently repeated);
`fetch(client, target)` sends one request and reads the body under a size cap and a total-time
bound, so a server trickling one byte a second cannot hold a step past its timeout. Refused
connections, timeouts and bad certificates come back as `HttpResult.error`; only a URL we cannot
send raises `ProbeSetupError`. Called by `escalator.steps.http_client`.
"""

from __future__ import annotations

import codecs
import os
import ssl
import time
import warnings
from dataclasses import dataclass

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth

from escalator.probes import ProbeSetupError
from escalator.probes.tls import describe_verify_error

__all__ = ["HttpResult", "HttpTarget", "close_client", "fetch", "open_client"]

MAX_BODY = 10 * 1024 * 1024
MAX_REDIRECTS = 10
_CHUNK = 64 * 1024


def _size(n: int) -> str:
    """
    >>> _size(512), _size(1300), _size(5 * 1024 * 1024)
    ('512 B', '1.3 KiB', '5.0 MiB')
    """
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 / 1024:.1f} MiB"


@dataclass(frozen=True)
class HttpResult:
    """What came back. `status` is None when there was no answer; `error` says why the
    exchange failed (no answer, or a body that was cut off); `redirects` are the hops followed.

    >>> r = HttpResult("GET", "http://h/a", "http://h/b", status=404, reason="Not Found",
    ...                headers=(("Content-Type", "text/html; charset=latin-1"),), body=b"caf\\xe9",
    ...                elapsed=0.0123, redirects=("http://h/a",))
    >>> r.ok, r.header("content-type"), r.charset, r.text
    (False, 'text/html; charset=latin-1', 'iso8859-1', 'café')
    >>> r.summary()
    'GET http://h/a answered 404 Not Found in 12 ms (redirected to http://h/b)'
    >>> HttpResult("GET", "http://h/", "http://h/", error="connection refused").summary()
    'GET http://h/ got no answer in 0 ms: connection refused'
    """

    method: str
    url: str
    final_url: str
    status: int | None = None
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    truncated: bool = False
    elapsed: float = 0.0
    error: str | None = None
    redirects: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Answered completely with a status below 400 (what "should succeed" means)."""
        return self.error is None and self.status is not None and self.status < 400

    @property
    def elapsed_ms(self) -> float:
        return self.elapsed * 1000

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name; repeated headers joined with ", "."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    @property
    def media_type(self) -> str:
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str:
        """The declared charset, UTF-8 when none is declared or Python does not know it."""
        for param in (self.header("Content-Type") or "").split(";")[1:]:
            key, _, value = param.partition("=")
            name = value.strip().strip('"')
            if key.strip().lower() == "charset" and name:
                try:
                    return codecs.lookup(name).name
                except LookupError:
                    break
        return "utf-8"

    @property
    def text(self) -> str:
        return self.body.decode(self.charset, errors="replace")

    def size(self) -> str:
        """The body size for reasons, saying when it was cut ("10.0 MiB, cut off")."""
        return _size(len(self.body)) + (", cut off" if self.truncated else "")

    def summary(self) -> str:
        """One line: method, URL, status or failure, elapsed time, where redirects ended."""
        took = f"{self.elapsed_ms:.0f} ms"
        if self.status is None:
            line = f"{self.method} {self.url} got no answer in {took}: {self.error}"
        else:
            line = f"{self.method} {self.url} answered {self.status} {self.reason}".rstrip()
            line += f" in {took}" + (f" but {self.error}" if self.error else "")
        if self.redirects:
            line += f" (redirected to {self.final_url})"
        return line


@dataclass(frozen=True)
class HttpTarget:
    """One request. `data` is form fields (sent as the query of a GET, the body of a POST);
    `auth` is (scheme, user, password) with scheme "basic" or "digest"; `verify` is on/off or
    the path of a CA bundle; `timeout` bounds the whole exchange, body included."""

    url: str
    method: str = "GET"
    data: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    auth: tuple[str, str, str] | None = None
    verify: bool | str = True
    timeout: float = 10.0
    max_body: int = MAX_BODY


def open_client() -> requests.Session:
    """A scenario's client: its cookie jar lives as long as the scenario."""
    client = requests.Session()
    client.max_redirects = MAX_REDIRECTS
    adapter = HTTPAdapter(max_retries=0)
    client.mount("http://", adapter)
    client.mount("https://", adapter)
    client.headers["User-Agent"] = "escalator (behaviour-driven monitoring)"
    return client


def close_client(client: requests.Session) -> None:
    client.close()


def _auth(target: HttpTarget) -> AuthBase | None:
    if target.auth is None:
        return None
    scheme, user, password = target.auth
    if scheme == "digest":
        return HTTPDigestAuth(user, password)
    if scheme == "basic":
        return HTTPBasicAuth(user, password)
    raise ProbeSetupError(f"unknown HTTP authentication scheme {scheme!r}")


def _innermost(exc: BaseException) -> BaseException:
    """The library's root cause: requests wraps urllib3's MaxRetryError wrapping the OSError."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        inner = inner or exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def _verify_message(exc: BaseException) -> str | None:
    node: BaseException | None = exc
    for _ in range(8):
        if node is None:
            return None
        if isinstance(node, ssl.SSLCertVerificationError):
            return node.verify_message or str(node)
        inner = getattr(node, "reason", None)
        if not isinstance(inner, BaseException) and node.args:
            inner = node.args[0] if isinstance(node.args[0], BaseException) else None
        node = inner or node.__cause__ or node.__context__
    return None


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_failure(exc: requests.RequestException, timeout: float) -> str:
    """A failed exchange in operator terms ("connection refused", "no answer within 2s")."""
    if isinstance(exc, requests.exceptions.SSLError):
        message = _verify_message(exc)
        if message is not None:
            return "TLS: " + describe_verify_error(message)
        return "TLS handshake failed: " + _one_line(str(_innermost(exc)))
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no connection within {timeout:.3g}s"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no answer within {timeout:.3g}s"
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return f"more than {MAX_REDIRECTS} redirects"
    root = _innermost(exc)
    if isinstance(root, ConnectionRefusedError) or "Connection refused" in str(root):
        return "connection refused"
    if "NameResolution" in type(root).__name__ or "Name or service not known" in str(root):
        return "the host name does not resolve"
    if isinstance(root, ConnectionResetError):
        return "connection reset by the server"
    if "RemoteDisconnected" in type(root).__name__:
        return "the server closed the connection without answering"
    return _one_line(f"{type(root).__name__}: {root}")


def _read_body(response: requests.Response, target: HttpTarget, deadline: float
               ) -> tuple[bytes, bool, str | None]:
    """The body, read one socket read at a time until EOF, the size cap or the deadline."""
    raw, size = response.raw, 0
    chunks: list[bytes] = []
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    while size < target.max_body:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(chunks), True, (
                f"body still arriving after {target.timeout:.3g}s ({size} bytes received)")
        if sock is not None:
            sock.settimeout(remaining)  # each read waits at most for what is left of the budget
        try:
            chunk = raw.read1(_CHUNK)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if isinstance(_innermost(exc), TimeoutError) or "timed out" in str(exc):
                return b"".join(chunks), True, (
                    f"body still arriving after {target.timeout:.3g}s ({size} bytes received)")
            return b"".join(chunks), True, "body cut off: " + _one_line(str(exc))
        if not chunk:
            return b"".join(chunks), False, None
        chunks.append(chunk)
        size += len(chunk)
    body = b"".join(chunks)
    return body[: target.max_body], True, None


def _send(client: requests.Session, target: HttpTarget, deadline: float) -> requests.Response:
    fields = list(target.data)
    get_like = target.method in ("GET", "HEAD", "DELETE")
    remaining = max(0.05, deadline - time.monotonic())
    with warnings.catch_warnings():
        # verification off is announced once per run as a notice, not per request on stderr
        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
        return client.request(
            target.method, target.url, params=fields if get_like and fields else None,
            data=fields if not get_like and fields else None, headers=dict(target.headers),
            auth=_auth(target), verify=target.verify, timeout=(remaining, remaining),
            allow_redirects=True, stream=True)


def fetch(client: requests.Session, target: HttpTarget) -> HttpResult:
    """Send `target` with `client`; never raises for a broken server."""
    if isinstance(target.verify, str) and not os.path.isfile(target.verify):
        raise ProbeSetupError(f"the CA bundle {target.verify!r} is not a readable file")
    started = time.monotonic()
    deadline = started + target.timeout
    try:
        response = _send(client, target, deadline)
    except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidURL, requests.exceptions.URLRequired) as exc:
        raise ProbeSetupError(f"cannot request {target.url!r}: {exc}") from None
    except requests.RequestException as exc:
        return HttpResult(target.method, target.url, target.url,
                          elapsed=time.monotonic() - started,
                          error=describe_failure(exc, target.timeout))
    try:
        body, truncated, error = ((b"", False, None) if target.method == "HEAD"
                                  else _read_body(response, target, deadline))
    finally:
        response.close()
    return HttpResult(
        target.method, target.url, response.url, status=response.status_code,
        reason=response.reason or "", headers=tuple(response.headers.items()), body=body,
        truncated=truncated, elapsed=time.monotonic() - started, error=error,
        redirects=tuple(r.url for r in response.history))
