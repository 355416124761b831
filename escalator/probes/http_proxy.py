"""Proxies for the HTTP probe: which one a request goes through, and why it failed there.

requests reads HTTP_PROXY, HTTPS_PROXY and NO_PROXY from the environment as curl does, unless a
target names a proxy (or "" for none at all); the probe names the proxy in every summary, so a
failure says where it happened. `Client` is the session the probe sends with: requests' own,
reading the environment once per origin. Called only by `escalator.probes.http`.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.sessions import merge_setting

from escalator.text import one_line

_merge: Callable[[Any, Any], Any] = merge_setting  # the request's setting over the session's
_TUNNEL = re.compile(r"Tunnel connection failed: ([^'\")]*)")


def proxies(proxy: str | None) -> dict[str, str | None] | None:
    """requests' `proxies` for a target's proxy: None lets requests read the environment.

    >>> proxies(None), proxies(""), proxies("http://p:3128")["https"]
    (None, {'http': None, 'https': None}, 'http://p:3128')
    """
    if proxy is None:
        return None
    chosen = proxy or None  # "": no proxy, whatever the environment says
    return {"http": chosen, "https": chosen}


class Client(requests.Session):
    """requests' Session, reading the environment's proxy variables once per origin rather than
    at every request.

    With `trust_env` (the default) requests reads the proxy for each request from the
    environment: urllib scans every variable, three times (90 us with 40 variables, a tenth of
    an instant HTTP scenario). Here the answer for an origin is kept for as long as the variables
    it depends on keep their values; what requests does with it is unchanged: the environment's
    proxies fill in those the request did not name, REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE stand
    in for a default `verify`, and the session's own settings are merged last.
    """

    def merge_environment_settings(self, url: str | bytes | None, proxies: Any, stream: Any,
                                   verify: Any, cert: Any) -> Any:
        if not self.trust_env or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        if proxies is not None:  # as requests does: filled in place, None left alone
            parts = urlsplit(url)
            for scheme, proxy in _environment_proxies(parts.scheme, parts.netloc,
                                                      proxies.get("no_proxy"), _settings()):
                proxies.setdefault(scheme, proxy)
        if verify is True or verify is None:
            verify = (os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                      or verify)
        return {"proxies": _merge(proxies, self.proxies), "stream": _merge(stream, self.stream),
                "verify": _merge(verify, self.verify), "cert": _merge(cert, self.cert)}


def proxy_used(client: requests.Session, url: str, proxy: str | None) -> str | None:
    """The proxy a request to `url` goes through, credentials removed, or None.

    >>> proxy_used(requests.Session(), "http://h/", "http://u:pw@p:3128")
    'http://p:3128'
    """
    if proxy is not None:
        chosen = proxy or None
    elif client.trust_env:
        parts = urlsplit(url)
        found = dict(_environment_proxies(parts.scheme, parts.netloc, None, _settings()))
        chosen = requests.utils.select_proxy(url, found)
    else:
        chosen = None
    if not chosen:
        return None
    parts = urlsplit(chosen if "://" in chosen else "http://" + chosen)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path.rstrip("/"),
                       "", ""))


def _settings() -> tuple[tuple[str, str], ...]:
    """What the environment's proxy for a URL depends on: urllib reads every variable whose
    name ends in _proxy, in any case, and ignores HTTP_PROXY under CGI (REQUEST_METHOD)."""
    environ = os.environ
    return tuple((name, environ[name]) for name in environ
                 if name[-6:].lower() == "_proxy" or name == "REQUEST_METHOD")


@functools.lru_cache(maxsize=256)
def _environment_proxies(scheme: str, netloc: str, no_proxy: str | None,
                         _settings: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """requests' proxies from the environment for URLs of this origin (none when NO_PROXY
    or `no_proxy` exempts it), as pairs; `_settings` only keys the cache."""
    found = requests.utils.get_environ_proxies(f"{scheme}://{netloc}/", no_proxy=no_proxy)
    return tuple(found.items())


def describe_proxy_failure(chain: list[BaseException], timeout: float) -> str:
    """Why the proxy did not carry the request (the summary names the proxy itself)."""
    tunnel = next((m for m in (_TUNNEL.search(str(e)) for e in chain) if m), None)
    if tunnel is not None:
        # cut with a mark: the runner's redaction then masks a secret's piece at the cut
        return "the proxy would not open a tunnel: " + one_line(tunnel.group(1), 80)
    if any(isinstance(e, ConnectionRefusedError) or "Connection refused" in str(e)
           for e in chain):
        return "cannot connect to the proxy: connection refused"
    if any(isinstance(e, TimeoutError) or "timed out" in str(e) for e in chain):
        return f"no answer from the proxy within {timeout:.3g}s"
    if any("NameResolution" in type(e).__name__ for e in chain):
        return "cannot connect to the proxy: its host name does not resolve"
    return "the proxy failed: " + one_line(chain[-1], 200)
