"""What each hop of an HTTP exchange tells besides its answer: the time of each phase, measured
where it happens (in urllib3's connection objects), and its Set-Cookie headers.

requests reports one `elapsed` (until the headers were parsed) and nothing per phase, so the
HTTP probe mounts `TimedAdapter`, whose pools make connections of the classes below. Each
connection notes, on the monotonic clock:

- `connect`: `_new_conn()`, i.e. name resolution plus the TCP handshake (with a proxy: to the
  proxy);
- `tls`: the rest of `connect()` for HTTPS, i.e. the TLS handshake with certificate
  verification (through a proxy it includes the CONNECT tunnel's round trip);
- `firstbyte`: from the moment the request (headers and body) was handed to the socket until the
  status line and headers were read: the server's processing time plus one round trip.

A reused keep-alive connection has no connect and no TLS phase: both are 0 for that request.
The notes go onto the urllib3 response as `escalator_phases`; `phases(response, transfer)` sums
them over the hops of a redirect chain and adds `transfer` (reading the body, which the probe
times). `set_cookies(response)` keeps every Set-Cookie header of every hop as sent (requests
folds them into one value, which cannot be parsed back). Called only by `escalator.probes.http`.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

PHASES = ("connect", "tls", "firstbyte", "transfer")


class _Timed:
    """Mixed into urllib3's connection classes (before them in the MRO)."""

    _escalator_connect = 0.0
    _escalator_setup = 0.0
    _escalator_sent = 0.0

    def _new_conn(self) -> Any:
        start = time.monotonic()
        sock = super()._new_conn()  # type: ignore[misc]
        self._escalator_connect = time.monotonic() - start
        return sock

    def connect(self) -> None:
        start = time.monotonic()
        super().connect()  # type: ignore[misc]
        self._escalator_setup = time.monotonic() - start

    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)  # type: ignore[misc]
        self._escalator_sent = time.monotonic()

    def getresponse(self) -> Any:
        response = super().getresponse()  # type: ignore[misc]
        tls = max(0.0, self._escalator_setup - self._escalator_connect) if isinstance(
            self, HTTPSConnection) else 0.0
        response.escalator_phases = {
            "connect": self._escalator_connect, "tls": tls,
            "firstbyte": time.monotonic() - self._escalator_sent}
        # the next request on this kept-alive connection opens nothing
        self._escalator_connect = self._escalator_setup = 0.0
        return response


class _TimedHTTPConnection(_Timed, HTTPConnection):
    pass


class _TimedHTTPSConnection(_Timed, HTTPSConnection):
    pass


class _TimedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _TimedHTTPConnection


class _TimedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TimedHTTPSConnection


class TimedAdapter(HTTPAdapter):
    """requests' adapter whose connections (direct or through a proxy) time their phases."""

    server_name: str | None = None

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self._configure(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        fresh = proxy not in self.proxy_manager
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        return self._configure(manager) if fresh else manager

    def set_server_name(self, name: str | None) -> None:
        """Send `name` as SNI and verify the certificate for it (None: the URL's host).
        urllib3 keys its pools by these settings, so a change opens new connections."""
        self.server_name = name
        for manager in (self.poolmanager, *self.proxy_manager.values()):
            self._configure(manager)

    def _configure(self, manager: PoolManager) -> PoolManager:
        manager.pool_classes_by_scheme = {"http": _TimedHTTPPool, "https": _TimedHTTPSPool}
        settings = manager.connection_pool_kw
        # urllib3 matches the certificate against server_hostname when it is set
        if self.server_name is None:
            settings.pop("server_hostname", None)
        else:
            settings["server_hostname"] = self.server_name
        return manager


def _hops(response: requests.Response) -> list[requests.Response]:
    return [*response.history, response]


def phases(response: requests.Response, transfer: float) -> tuple[tuple[str, float], ...]:
    """Each phase summed over the hops of a redirect chain; the body's transfer last."""
    total = dict.fromkeys(PHASES, 0.0)
    for hop in _hops(response):
        noted = getattr(hop.raw, "escalator_phases", None) or {}
        for name in PHASES[:3]:
            total[name] += float(noted.get(name, 0.0))
    total["transfer"] = transfer
    return tuple(total.items())


def set_cookies(response: requests.Response) -> tuple[str, ...]:
    """Every Set-Cookie header of every hop, in order."""
    found: list[str] = []
    for hop in _hops(response):
        headers = getattr(hop.raw, "headers", None)
        if headers is not None and hasattr(headers, "getlist"):
            found += headers.getlist("Set-Cookie")
    return tuple(found)
