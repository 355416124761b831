"""The scenario's web client as the HTTP steps share it: requests, the last response, the page.

Every HTTP step module goes through here so that all of them agree on the settings of an
environment (`tls_verify`, `tls_ca_bundle`, the client timeout, credentials given by a Given
step), record a `response_time` for each request, and keep one "last response" and one "current
page" per scenario on the behave context (`context.http_response`, `context.http_page`). A
request that got no answer records its `response_time` as failed (no value: "U" in perfdata),
never as the time it took to be refused. It registers no phrases. The probe modules are
imported inside functions: step modules stay light until a scenario needs them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from escalator.limits import Limit
from escalator.results import Measurement
from escalator.steps import support
from escalator.steps.support import StepSetupError, earlier, record, resolve_url, session, shown

if TYPE_CHECKING:
    from escalator.probes.forms import Page
    from escalator.probes.http import HttpResult

PROBES = ("escalator.probes.http",)
# The settings every HTTP step may read (escalator.runner.usage names the unused ones); the
# client certificate's are read through escalator.steps.tls.client_certificate.
VARIABLES = ("base_url", "tls_verify", "tls_ca_bundle", "tls_client_cert", "tls_client_key",
             "http_proxy", "http_max_body")

TLS_OFF = "TLS verification is off in this environment"
_EXCERPT = 160


def notice(context: Any, text: str) -> None:
    """A warning for the run's output, once per scenario."""
    notices = session(context).notices
    if text not in notices:
        notices.append(text)


def tls_verify(context: Any) -> bool | str:
    """Verification setting of the environment: off, on, or on against a CA bundle (a path)."""
    current = session(context)
    if not current.setting("tls_verify", True):
        notice(context, TLS_OFF)
        return False
    bundle = current.variables.get("tls_ca_bundle")
    if not bundle:
        return True
    path = os.path.expanduser(bundle)
    if not os.path.isfile(path):
        raise StepSetupError(f"tls_ca_bundle {bundle!r} is not a readable file")
    return path


def _client(context: Any) -> Any:
    from escalator.probes import http

    return session(context).resource("http", http.open_client, http.close_client)


def max_body(context: Any) -> int:
    """The environment's `http_max_body` (e.g. "50 MiB"), else the probe's 10 MiB."""
    from escalator.probes.http import MAX_BODY
    from escalator.sizes import parse_size

    text = session(context).variables.get("http_max_body")
    if not text:
        return MAX_BODY
    try:
        size = parse_size(text)
    except ValueError as exc:
        raise StepSetupError(f"http_max_body: {exc}") from None
    if size < 1:
        raise StepSetupError("http_max_body: must be at least 1 byte")
    return size


def _scenario_settings(context: Any) -> dict[str, Any]:
    """What Given steps and the environment set for every request of the scenario: request
    headers, redirects, the proxy, the TLS server name and client certificate."""
    variables = session(context).variables
    proxy = getattr(context, "http_proxy", None)
    if proxy is None and "http_proxy" in variables:
        proxy = variables["http_proxy"].strip()
        proxy = "" if proxy.lower() in ("", "none", "direct") else proxy
    from escalator.steps.tls import client_certificate

    return {"headers": tuple(getattr(context, "http_headers", {}).items()),
            "follow_redirects": getattr(context, "http_follow_redirects", True),
            "proxy": proxy, "server_name": getattr(context, "tls_server_name", None),
            "client_cert": client_certificate(context), "max_body": max_body(context)}


def send(context: Any, url: str, method: str = "GET", data: tuple[tuple[str, str], ...] = (),
         timeout: float | None = None, body: bytes | None = None,
         headers: tuple[tuple[str, str], ...] = (),
         files: tuple[tuple[str, str, bytes, str], ...] = ()) -> HttpResult:
    """One request to `url` (already resolved) with the scenario's client; not remembered.
    `headers` come on top of the scenario's (a body's Content-Type, say)."""
    from escalator.probes import http

    settings = _scenario_settings(context)
    settings["headers"] = tuple({k.lower(): (k, v) for k, v in (
        *headers, *settings["headers"])}.values())
    target = http.HttpTarget(url=url, method=method, data=data, files=files,
                             auth=getattr(context, "http_auth", None), verify=tls_verify(context),
                             timeout=timeout or session(context).client_timeout, body=body,
                             **settings)
    with session(context).busy(f"{method} {url}"):
        return http.fetch(_client(context), target)


def request(context: Any, text: str, method: str = "GET",
            data: tuple[tuple[str, str], ...] = (), resolve: bool = True,
            body: bytes | None = None, headers: tuple[tuple[str, str], ...] = (),
            files: tuple[tuple[str, str, bytes, str], ...] = ()) -> HttpResult:
    """Request `text` (a URL, a path, `${vars}`; a page's own URL with `resolve` off), make it
    the last response, and record its time."""
    result = send(context, resolve_url(context, text) if resolve else text, method, data,
                  body=body, headers=headers, files=files)
    remember(context, result, record(context, "response_time", elapsed_ms(result), "ms"))
    if getattr(context, "http_timing_phases", False) and result.phases:
        for phase, _ in result.phases:
            phase_time(context, phase)
    return result


def elapsed_ms(result: HttpResult) -> float | None:
    """The response time to record: none for a request that got no answer."""
    return result.elapsed_ms if result.status is not None else None


def where(result: HttpResult) -> str:
    """Where a page came from, for reasons; an error answer says so ("the 503 Service
    Unavailable answer of https://shop/login"), so no reason reads as if the page were fine."""
    if result.status is not None and result.status >= 400:
        status = f"{result.status} {result.reason}".strip()
        return f"the {status} answer of {result.final_url}"
    return result.final_url


def remember(context: Any, result: HttpResult, timing: Measurement) -> None:
    """Make `result` the last response; `timing` is the measurement a time limit restates."""
    context.http_response = result
    context.http_page = None
    context.http_timing = timing
    context.http_phase_times = {}


def last_response(context: Any) -> HttpResult:
    found: HttpResult = earlier(context, "http_response", 'no request made yet in this '
                                'scenario (start with When I go to "/")')
    return found


def answered(context: Any) -> HttpResult:
    """The last response, failing the step when the server never answered."""
    result = last_response(context)
    assert result.status is not None, result.summary()
    return result


def page(context: Any) -> Page:
    """The current page (parsed once per response; form steps change it in place)."""
    from escalator.probes.forms import Page

    found: Page | None = getattr(context, "http_page", None)
    if found is None:
        result = answered(context)
        found = Page(result.body, result.final_url, result.charset, where(result))
        context.http_page = found
    return found


def excerpt(context: Any, result: HttpResult) -> str:
    """A bounded, one-line view of the body for reasons: the visible text of an HTML page."""
    if result.media_type in ("text/html", "application/xhtml+xml"):
        text = page(context).visible_text() if result is last_response(context) else result.text
    else:
        text = result.text
    flat = shown(context, text, len(text))  # secrets masked before the cut, never after
    if not flat:
        return "empty body"
    cut = shown(context, flat, _EXCERPT)
    return f"body starts: {cut!r}" if cut != flat else f"body: {cut!r}"


def restate(context: Any, crit: Limit, warn: Limit | None = None) -> Measurement:
    """Give the last timing the limits a step stated, so perfdata carries them (no duplicate)."""
    found: Measurement = earlier(context, "http_timing",
                                 "no request made yet in this scenario to take the time of")
    limited = support.restate(context, found, crit, warn)
    context.http_timing = limited
    return limited


def phase_time(context: Any, phase: str, crit: Limit | None = None, warn: Limit | None = None
               ) -> Measurement:
    """The last response's time in one phase (connect, tls, firstbyte, transfer) as the
    measurement `time_<phase>` (ms): recorded once per response, restated with its limits."""
    result = answered(context)
    seconds = result.phase(phase)
    assert seconds is not None, f"no timing of the {phase} phase: {result.summary()}"
    kept: dict[str, Measurement] = getattr(context, "http_phase_times", None) or {}
    context.http_phase_times = kept
    if phase not in kept:
        kept[phase] = record(context, f"time_{phase}", round(seconds * 1000, 3), "ms", crit,
                             warn=warn)
    elif crit is not None:
        kept[phase] = support.restate(context, kept[phase], crit, warn)
    return kept[phase]
