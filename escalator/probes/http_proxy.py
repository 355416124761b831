"""Proxies for the HTTP probe: which one a request goes through, and why it failed there.

requests reads HTTP_PROXY, HTTPS_PROXY and NO_PROXY from the environment as curl does, unless a
target names a proxy (or "" for none at all); the probe names the proxy in every summary, so a
failure says where it happened. Called only by `escalator.probes.http`.
"""

from __future__ import annotations

import functools
import os
import re
from urllib.parse import urlsplit, urlunsplit

import requests

from escalator.text import one_line

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


def proxy_used(client: requests.Session, url: str, proxy: str | None) -> str | None:
    """The proxy a request to `url` goes through, credentials removed, or None.

    >>> proxy_used(requests.Session(), "http://h/", "http://u:pw@p:3128")
    'http://p:3128'
    """
    if proxy is not None:
        chosen = proxy or None
    elif client.trust_env:
        parts = urlsplit(url)
        chosen = _from_environment(parts.scheme, parts.netloc,
                                   tuple(os.environ.get(name) for name in _VARIABLES))
    else:
        chosen = None
    if not chosen:
        return None
    parts = urlsplit(chosen if "://" in chosen else "http://" + chosen)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path.rstrip("/"),
                       "", ""))


# What the proxy for an http(s) URL depends on: requests asks urllib, which reads every variable
# whose name ends in _proxy, in any case (all of them, on every request: 90 us with 40
# variables), and ignores HTTP_PROXY under CGI (REQUEST_METHOD). The answer for an origin is
# kept for as long as these variables keep their values.
_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
              "ALL_PROXY", "no_proxy", "NO_PROXY", "REQUEST_METHOD")


@functools.lru_cache(maxsize=256)
def _from_environment(scheme: str, netloc: str, _variables: tuple[str | None, ...]) -> str | None:
    url = f"{scheme}://{netloc}/"
    chosen: str | None = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
    return chosen


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
