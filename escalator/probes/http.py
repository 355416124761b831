"""HTTP probe: one request (following redirects) in, one frozen `HttpResult` out.

This module owns every use of `requests`. `open_client()` makes the per-scenario client (cookies
kept across steps, no retries: a failed request is reported, never silently repeated);
`fetch(client, target)` sends one request and reads the body under a size cap and a total-time
bound, so a server trickling one byte a second cannot hold a step past its timeout. Refused
connections, timeouts and bad certificates come back as `HttpResult.error`; only a URL we cannot
send raises `ProbeSetupError`. Called by `escalator.steps.http_client`.

A target may carry a raw body, extra headers, a proxy (else the environment's HTTPS_PROXY and
friends apply, as with curl), a TLS server name other than the URL's host, a client certificate,
and may leave redirects unfollowed. The result names the proxy it went through, keeps every
`Set-Cookie` header of every hop, and the time of each phase (`escalator.probes.http_hops`).
"""

from __future__ import annotations

import codecs
import http.client
import os
import time
import warnings
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import requests
import urllib3
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth

from escalator.probes import ProbeSetupError
from escalator.probes.http_failures import (
    MAX_REDIRECTS,
    body_failure,
    describe_failure,
    failure_chain,
)
from escalator.probes.http_hops import TimedAdapter, phases, set_cookies
from escalator.probes.http_proxy import Client, proxies, proxy_used
from escalator.text import one_line

__all__ = ["HttpResult", "HttpTarget", "close_client", "fetch", "open_client"]

MAX_BODY = 10 * 1024 * 1024
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
    phases: tuple[tuple[str, float], ...] = ()  # (phase, seconds), see http_hops
    cookies: tuple[str, ...] = ()  # every Set-Cookie header of every hop, in order
    proxy: str | None = None  # the proxy the request went through, without credentials

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
        """The declared charset; UTF-8 when none is declared or the name is not a text charset
        Python can decode any bytes with (a target may declare base64, zlib or idna).

        >>> [HttpResult("GET", "u", "u", headers=(("Content-Type", f"text/plain; charset={c}"),)
        ...             ).charset for c in ("koi8-r", "base64", "idna", "no-such")]
        ['koi8-r', 'utf-8', 'utf-8', 'utf-8']
        """
        for param in (self.header("Content-Type") or "").split(";")[1:]:
            key, _, value = param.partition("=")
            name = value.strip().strip('"')
            if key.strip().lower() == "charset" and name:
                return _text_charset(name)
        return "utf-8"

    @property
    def text(self) -> str:
        try:
            return self.body.decode(self.charset, errors="replace")
        except (UnicodeError, LookupError, ValueError):  # a codec that fails on some bytes
            return self.body.decode("utf-8", errors="replace")

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
        return line.replace(f"{self.url} ", f"{self.url} via proxy {self.proxy} ", 1) if (
            self.proxy) else line

    def phase(self, name: str) -> float | None:
        """Seconds spent in one phase (connect, tls, firstbyte, transfer), None if unmeasured."""
        return dict(self.phases).get(name)


def _text_charset(name: str) -> str:
    """Python's name for charset `name` if it decodes any bytes to text, else "utf-8": the
    answer is the target's, and a declared charset must never turn a failure into an error."""
    try:
        info = codecs.lookup(name)
        if not getattr(info, "_is_text_encoding", True):
            return "utf-8"
        b"\xff\xfe\x00<p>\x80\x1b$B".decode(info.name, errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        return "utf-8"
    return info.name


@dataclass(frozen=True)
class HttpTarget:
    """One request. `data` is form fields (sent as the query of a GET, the body of a POST);
    `files` (field, file name, content, media type) make the POST body multipart; `auth` is
    (scheme, user, password) with scheme "basic" or "digest"; `verify` is on/off or
    the path of a CA bundle; `timeout` bounds the whole exchange, body included."""

    url: str
    method: str = "GET"
    data: tuple[tuple[str, str], ...] = ()
    files: tuple[tuple[str, str, bytes, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    auth: tuple[str, str, str] | None = None
    verify: bool | str = True
    timeout: float = 10.0
    max_body: int = MAX_BODY
    body: bytes | None = None  # sent as is (instead of `data`)
    follow_redirects: bool = True
    proxy: str | None = None  # None: the environment's proxy variables; "": none at all
    server_name: str | None = None  # TLS: SNI and the name the certificate must hold
    client_cert: tuple[str, str] | None = None  # (certificate file, key file)


def open_client() -> requests.Session:
    """A scenario's client: its cookie jar lives as long as the scenario."""
    client = Client()
    client.max_redirects = MAX_REDIRECTS
    adapter = TimedAdapter(max_retries=0)
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
        # UTF-8 (RFC 7617): requests would encode a str as Latin-1 and fail on "€"
        return HTTPBasicAuth(user.encode(), password.encode())
    raise ProbeSetupError(f"unknown HTTP authentication scheme {scheme!r}")


def _read_body(response: requests.Response, target: HttpTarget, deadline: float
               ) -> tuple[bytes, bool, str | None]:
    """The body (decompressed), one socket read at a time until EOF, the cap or the deadline."""
    raw, size = response.raw, 0
    chunks: list[bytes] = []
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    late = f"body still arriving after {target.timeout:.3g}s"
    while size <= target.max_body:  # one byte past the cap tells a full body from a cut one
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(chunks), True, f"{late} ({size} bytes received)"
        if sock is not None:
            sock.settimeout(remaining)  # each read waits at most for what is left of the budget
        try:
            # decoding bounded by the chunk size: a gzip bomb inflates only as far as the cap
            chunk = raw.read1(_CHUNK, decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException) as exc:
            timed_out = any(isinstance(e, TimeoutError) for e in failure_chain(exc))
            if timed_out or "timed out" in str(exc):
                return b"".join(chunks), True, f"{late} ({size} bytes received)"
            return b"".join(chunks), True, body_failure(
                exc, size, response.headers.get("Content-Length"))
        if not chunk:
            return b"".join(chunks), False, None
        chunks.append(chunk)
        size += len(chunk)
    return (b"".join(chunks)[: target.max_body], True,
            f"body cut off at {_size(target.max_body)} (the http_max_body limit)")


def _check_url(url: str) -> None:
    """Our URL must be one we can send; a bad one later, in a redirect, is the target's."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ProbeSetupError(f"cannot request {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProbeSetupError(f"cannot request {url!r}: give an http:// or https:// URL")


def _send(client: requests.Session, target: HttpTarget, deadline: float,
          locations: list[str]) -> requests.Response:
    fields = list(target.data)
    get_like = target.method in ("GET", "HEAD", "DELETE") and target.body is None
    remaining = max(0.05, deadline - time.monotonic())
    adapter = client.get_adapter(target.url)
    if isinstance(adapter, TimedAdapter):
        adapter.set_server_name(target.server_name)
    body: bytes | list[tuple[str, str]] | None = target.body
    if body is None and not get_like and fields:
        body = fields

    def seen(response: requests.Response, *args: object, **kwargs: object) -> None:
        if response.is_redirect:
            locations.append(response.headers.get("Location", ""))

    with warnings.catch_warnings():
        # verification off is announced once per run as a notice, not per request on stderr
        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
        return client.request(
            target.method, target.url, params=fields if get_like and fields else None,
            data=body, headers=dict(target.headers),
            files=[(name, (filename, content, media))
                   for name, filename, content, media in target.files] or None,
            auth=_auth(target), verify=target.verify,
            timeout=(remaining, remaining), allow_redirects=target.follow_redirects,
            stream=True, hooks={"response": [seen]},
            # a None value is how requests is told "no proxy for this scheme" (typeshed: str)
            proxies=cast("dict[str, str] | None", proxies(target.proxy)),
            cert=target.client_cert)


def _check_files(target: HttpTarget) -> None:
    """Files named in the target are ours: a missing one is a setup error, not a failure."""
    if isinstance(target.verify, str) and not os.path.isfile(target.verify):
        raise ProbeSetupError(f"the CA bundle {target.verify!r} is not a readable file")
    for path in target.client_cert or ():
        if not os.path.isfile(path):
            raise ProbeSetupError(f"the client certificate file {path!r} is not readable")
    if target.proxy and urlsplit(target.proxy).scheme not in ("http", "https"):
        raise ProbeSetupError(f"cannot use the proxy {target.proxy!r}: give http://host:port")


def fetch(client: requests.Session, target: HttpTarget) -> HttpResult:
    """Send `target` with `client`; never raises for a broken server."""
    _check_url(target.url)
    _check_files(target)
    proxy = proxy_used(client, target.url, target.proxy)
    started = time.monotonic()
    locations: list[str] = []
    try:
        response = _send(client, target, started + target.timeout, locations)
    except (requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema, ValueError) as exc:
        if not locations:
            raise ProbeSetupError(f"cannot request {target.url!r}: {exc}") from None
        return HttpResult(target.method, target.url, target.url,
                          elapsed=time.monotonic() - started, error=(
                              "redirected to a URL that cannot be followed: "
                              + one_line(locations[-1], 120)), proxy=proxy)
    except requests.RequestException as exc:
        return HttpResult(target.method, target.url, target.url,
                          elapsed=time.monotonic() - started,
                          error=describe_failure(exc, target.timeout), proxy=proxy)
    reading = time.monotonic()
    try:
        body, truncated, error = ((b"", False, None) if target.method == "HEAD"
                                  else _read_body(response, target, started + target.timeout))
    finally:
        response.close()
    done = time.monotonic()
    return HttpResult(
        target.method, target.url, response.url, status=response.status_code,
        reason=response.reason or "", headers=tuple(response.headers.items()), body=body,
        truncated=truncated, elapsed=done - started, error=error,
        redirects=tuple(r.url for r in response.history),
        phases=phases(response, done - reading), cookies=set_cookies(response), proxy=proxy)
