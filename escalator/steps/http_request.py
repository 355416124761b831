"""HTTP requests as an API client sends them: methods with bodies, headers, redirects, proxies.

Given steps set what every later request of the scenario carries (request headers, a bearer
token, not following redirects, a proxy); When steps send one request, whose answer the HTTP
Then steps judge like any other (`escalator.steps.http`, `http_json`, `values`...). Bodies come
from the step or from its docstring; `${name}` expands in URLs, headers and bodies (inside a
JSON string as a JSON string's text, so a secret with quotes or backslashes keeps the body
valid), and a secret's value never appears in a reason (the runner redacts it from every
output). Requests go
through `escalator.steps.api.http_request`, the call a site step would make.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from behave import given, then, when

from escalator.steps import (
    api,
    types,  # noqa: F401 - registers the Q/SQ/Number/Int argument types
)
from escalator.steps import http_client as web
from escalator.steps.http import _normal as normal_url  # the redirect phrases' comparison

PROBES = ("escalator.probes.http",)
VARIABLES = web.VARIABLES

_METHOD = re.compile(r"[A-Za-z]+")
_VARIABLE = re.compile(r"\$?\$\{[^}]*\}")  # `$${name}` too: `expand` keeps it literal
_TEXT = "text/plain; charset=utf-8"
_JSON = "application/json"


def _method(text: str) -> str:
    if not _METHOD.fullmatch(text):
        raise api.StepSetupError(f"bad HTTP method {text!r}: write GET, POST, PUT, PATCH...")
    return text.upper()


def _send(context: Any, method: str, url: str, body: str | None = None,
          content_type: str = _TEXT) -> None:
    """Send `body` (expanded already) as `content_type`; no body without one."""
    if body is None:
        api.http_request(context, url, _method(method))
        return
    api.http_request(context, url, _method(method), body=body.encode(),
                     headers=(("Content-Type", content_type),))


def _json(context: Any, text: str, where: str) -> str:
    """The JSON text with `${name}` expanded, refused when it is not JSON."""
    body = expand_json(text, lambda name: api.expand(context, name))
    try:
        json.loads(body)
    except ValueError as exc:
        raise api.StepSetupError(f"the JSON {where} is not valid: {exc}") from None
    return body


def expand_json(text: str, value: Callable[[str], str]) -> str:
    """`text` (JSON with `${name}`s) with each `${name}` replaced by `value(it)`: escaped as a
    JSON string's text inside a string, as it is elsewhere (a number, a whole object).

    >>> values = {"${pw}": 'say "hi"', "${n}": "7"}
    >>> print(expand_json('{"pw": "${pw}", "n": ${n}}', values.__getitem__))
    {"pw": "say \\"hi\\"", "n": 7}
    """
    out, in_string, escaped, position = [], False, False, 0
    for match in _VARIABLE.finditer(text):
        for char in text[position:match.start()]:
            if escaped:
                escaped = False
            elif char == "\\" and in_string:
                escaped = True
            elif char == '"':
                in_string = not in_string
        out.append(text[position:match.start()])
        found = value(match.group())
        out.append(json.dumps(found, ensure_ascii=False)[1:-1] if in_string else found)
        position = match.end()
    return "".join(out) + text[position:]


def _docstring(context: Any) -> str:
    text: str | None = context.text
    if text is None:
        raise api.StepSetupError('give the body as a docstring (between """ lines) under the step')
    return text


# ---- what every later request carries ----------------------------------------------------

@given('I set the request header "{name:Q}" to "{value:Q}"')
def step_i_set_the_request_header(context: Any, name: str, value: str) -> None:
    """Given I set the request header "X-Api-Key" to "${api_key}"

    Every later request of the scenario sends it (a `Host` header too); values may be secrets.
    """
    if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
        raise api.StepSetupError(f"bad HTTP header name {name!r}")
    headers = dict(getattr(context, "http_headers", {}))
    headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
    headers[name] = api.expand(context, value)
    context.http_headers = headers


@given('I use the bearer token "{token:Q}"')
def step_i_use_the_bearer_token(context: Any, token: str) -> None:
    """Given I use the bearer token "${api_token}"

    Every later request sends `Authorization: Bearer <token>`; keep the token a secret.
    """
    step_i_set_the_request_header(context, "Authorization", f"Bearer {token}")


@given("I do not follow redirects")
def step_i_do_not_follow_redirects(context: Any) -> None:
    """Given I do not follow redirects

    Later requests stop at a 3xx answer, so its status and Location can be asserted.
    """
    context.http_follow_redirects = False


@given('I use the proxy "{url:Q}"')
def step_i_use_the_proxy(context: Any, url: str) -> None:
    """Given I use the proxy "http://proxy.example.com:3128"

    Later requests go through this HTTP proxy ("none": straight to the server, whatever the
    environment's `http_proxy` or HTTPS_PROXY say). Failures name the proxy.
    """
    value = api.expand(context, url).strip()
    context.http_proxy = "" if value.lower() in ("", "none", "direct") else value


# ---- sending ----------------------------------------------------------------------------

@when('I go to "{url:Q}" without following redirects')
def step_i_go_to_without_following_redirects(context: Any, url: str) -> None:
    """When I go to "/old-page" without following redirects

    A GET that stops at the first answer, even a redirect.
    """
    follow = getattr(context, "http_follow_redirects", True)
    context.http_follow_redirects = False
    try:
        api.http_request(context, url)
    finally:
        context.http_follow_redirects = follow


@when('I send a {method:w} request to "{url:Q}"')
def step_i_send_a_request(context: Any, method: str, url: str) -> None:
    """When I send a DELETE request to "/api/items/42"

    Any method, no body.
    """
    _send(context, method, url)


@when('I send a {method:w} request to "{url:Q}" with the body "{body:Q}"')
def step_i_send_a_request_with_the_body(context: Any, method: str, url: str, body: str) -> None:
    """When I send a POST request to "/api/echo" with the body "hello"

    A text body (Content-Type text/plain unless a request header says otherwise).
    """
    _send(context, method, url, api.expand(context, body))


@when('I send a {method:w} request to "{url:Q}" with the body:')
def step_i_send_a_request_with_the_docstring(context: Any, method: str, url: str) -> None:
    """When I send a PUT request to "/api/notes/1" with the body:

    The body is the step's docstring, as text.
    """
    _send(context, method, url, api.expand(context, _docstring(context)))


@when("I send a {method:w} request to \"{url:Q}\" with the JSON '{body:SQ}'")
def step_i_send_a_request_with_json(context: Any, method: str, url: str, body: str) -> None:
    """When I send a POST request to "/api/items" with the JSON '{"name": "probe", "qty": 1}'

    A JSON body (Content-Type application/json), checked to be JSON before it is sent.
    """
    _send(context, method, url, _json(context, body, "of this step"), _JSON)


@when('I send a {method:w} request to "{url:Q}" with the JSON:')
def step_i_send_a_request_with_json_docstring(context: Any, method: str, url: str) -> None:
    """When I send a PATCH request to "/api/items/42" with the JSON:

    The JSON body is the step's docstring.
    """
    _send(context, method, url, _json(context, _docstring(context), "in the docstring"), _JSON)


# ---- redirects --------------------------------------------------------------------------

def _redirect(context: Any, url: str) -> tuple[str, str]:
    """(where the last answer redirects to, absolute; where the feature expects it)."""
    result = web.answered(context)
    location = result.header("Location")
    assert result.status is not None and 300 <= result.status < 400 and location, (
        f"not a redirect: {result.summary()}" + (
            "" if result.status is None or not 300 <= result.status < 400 else
            ", and no Location header"))
    return urljoin(result.final_url, location), api.resolve_url(context, url)


@then('the response should redirect to "{url:Q}"')
def step_the_response_should_redirect_to(context: Any, url: str) -> None:
    """Then the response should redirect to "/new-page"

    The last answer (a request that did not follow redirects) is a 3xx whose Location, resolved
    against the request's URL, is this URL (a path resolves against ${base_url}).
    """
    found, wanted = _redirect(context, url)
    result = web.last_response(context)
    assert normal_url(found) == normal_url(wanted), (
        f"{result.final_url} redirects to {found}, not {wanted} ({result.status})")


@then('the response should be a {code:Int} redirect to "{url:Q}"')
def step_the_response_should_be_a_redirect_to(context: Any, code: int, url: str) -> None:
    """Then the response should be a 301 redirect to "https://www.example.com/"

    As above, with the status too (301 and 308 are permanent, 302, 303 and 307 are not).
    """
    found, wanted = _redirect(context, url)
    result = web.last_response(context)
    assert result.status == code and normal_url(found) == normal_url(wanted), (
        f"{result.final_url} answered {result.status} {result.reason} to {found}, "
        f"not {code} to {wanted}")
