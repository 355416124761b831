"""HTTP failures in operator terms: what `escalator.probes.http` reports when an exchange or a
body fails ("connection refused", "no answer within 2s", "body cut off: 10 of 1000 bytes
arrived ..."), read from the chain of exceptions requests, urllib3 and the socket raised.
Called only by `escalator.probes.http`; a proxy's part is `escalator.probes.http_proxy`'s.
"""

from __future__ import annotations

import http.client
import ssl

import requests

from escalator.probes.http_proxy import describe_proxy_failure
from escalator.probes.verify import describe_verify_error
from escalator.text import one_line

MAX_REDIRECTS = 10


def failure_chain(exc: BaseException) -> list[BaseException]:
    """Every exception inside `exc`: requests wraps urllib3's errors, which wrap the OSError."""
    found: list[BaseException] = []
    todo = [exc]
    while todo and len(found) < 16:
        node = todo.pop(0)
        if any(node is seen for seen in found):
            continue
        found.append(node)
        inner = [getattr(node, "reason", None), *node.args, node.__cause__, node.__context__]
        todo += [e for e in inner if isinstance(e, BaseException)]
    return found


def _status_line(chain: list[BaseException]) -> str | None:
    """What the server sent instead of an HTTP status line, if that was the trouble."""
    for exc in chain:
        if isinstance(exc, http.client.BadStatusLine) and not isinstance(
                exc, http.client.RemoteDisconnected):
            return str(exc.args[0] if exc.args else exc).strip()
        if isinstance(exc, ValueError) and "invalid literal for int()" in str(exc):
            return str(exc).rsplit(":", 1)[1].strip().strip("'").replace("\\r\\n", "")
    return None


def _broken_answer(chain: list[BaseException]) -> str | None:
    """A malformed answer in operator terms, or None."""
    line = _status_line(chain)
    if line is not None:
        return f"the answer does not start with an HTTP status line: {one_line(line, 80)!r}"
    for exc in chain:
        if isinstance(exc, http.client.LineTooLong):
            return "the answer has a header line longer than 64 KiB"
        if isinstance(exc, http.client.HTTPException) and "more than 100 headers" in str(exc):
            return "the answer has more than 100 headers"
        if isinstance(exc, http.client.RemoteDisconnected):
            return "the server closed the connection without answering"
    return None


def describe_failure(exc: BaseException, timeout: float) -> str:
    """A failed exchange in operator terms ("connection refused", "no answer within 2s")."""
    chain = failure_chain(exc)
    verify = next((e for e in chain if isinstance(e, ssl.SSLCertVerificationError)), None)
    if verify is not None:
        return "TLS: " + describe_verify_error(verify.verify_message or str(verify))
    if isinstance(exc, requests.exceptions.ProxyError):
        return describe_proxy_failure(chain, timeout)
    if isinstance(exc, requests.exceptions.SSLError):
        if any("CERTIFICATE_REQUIRED" in str(e) for e in chain):
            # TLS 1.3: the server's alert may arrive before it closes, or the close may win
            return "TLS handshake failed: the server wants a client certificate"
        if any(isinstance(e, ssl.SSLEOFError) or "EOF occurred in violation" in str(e)
               for e in chain):
            return ("TLS handshake failed: the server closed the connection (does it want a "
                    "client certificate, or another TLS version?)")
        return "TLS handshake failed: " + one_line(str(chain[-1]), 200)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no connection within {timeout:.3g}s"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no answer within {timeout:.3g}s"
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return f"more than {MAX_REDIRECTS} redirects"
    broken = _broken_answer(chain)
    if broken is not None:
        return broken
    if any(isinstance(e, ConnectionRefusedError) or "Connection refused" in str(e)
           for e in chain):
        return "connection refused"
    if any("NameResolution" in type(e).__name__ for e in chain):
        return "the host name does not resolve"
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return "connection reset by the server"
    return one_line(str(chain[-1]) or type(chain[-1]).__name__, 200)


def body_failure(exc: BaseException, size: int, expected: str | None) -> str:
    """Why a body stopped before its end ("10 of 1000 bytes arrived...")."""
    chain = failure_chain(exc)
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return f"body cut off: connection reset by the server after {size} bytes"
    if any("InvalidChunkLength" in type(e).__name__ for e in chain) or (
            expected is None and any(isinstance(e, http.client.IncompleteRead) for e in chain)):
        return f"body cut off: bad chunked encoding after {size} bytes"
    if expected is not None and expected.isdigit():
        return (f"body cut off: {size} of {expected} bytes arrived before the server closed "
                "the connection")
    return f"body cut off after {size} bytes: " + one_line(str(chain[-1]), 80)
