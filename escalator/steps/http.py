"""HTTP phrases: requests, credentials, status, page text and headers.

cucumber-nagios's webrat phrases with their bugs fixed ("should see" is literal text, a 404 page
can be tested, digest authentication is digest, a header can be asserted absent), plus status
and redirect assertions. Browsing and forms live in `http_forms`, timing in `http_timing`, JSON in
`http_json`, certificates in `http_tls`; all share the scenario's client through `http_client`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import parse
from behave import given, register_type, then, when

from escalator.redact import basic_auth_tokens
from escalator.steps import http_client as web
from escalator.steps import types  # noqa: F401 - registers the Q/SQ/Number/Int argument types
from escalator.steps.support import StepSetupError, expand, resolve_url, session

PROBES = ("escalator.probes.http",)
VARIABLES = web.VARIABLES


# ---- requests ---------------------------------------------------------------------------

@when('I go to "{url:Q}"')
def step_i_go_to(context: Any, url: str) -> None:
    """When I go to "/health"

    Requests the URL (a path resolves against ${base_url}), following redirects. The step
    itself passes whatever the answer: the Then steps judge it.
    """
    web.request(context, url)


@parse.with_pattern(r'[^"\s]\S*')
def _bare(text: str) -> str:
    return text


register_type(Bare=_bare)


@when("I go to {url:Bare}")
def step_i_go_to_unquoted(context: Any, url: str) -> None:
    """When I go to http://www.example.com/

    cucumber-nagios's older, unquoted form (its README still showed it): one URL or path.
    """
    web.request(context, url)


@when('I fetch headers from "{url:Q}"')
def step_i_fetch_headers_from(context: Any, url: str) -> None:
    """When I fetch headers from "/"

    cucumber-nagios's header phrase: a request like "I go to" whose headers the Then steps read.
    """
    web.request(context, url)


# ---- credentials ------------------------------------------------------------------------

def _credentials(context: Any, scheme: str) -> None:
    table = context.table
    if table is None or "username" not in table.headings or "password" not in table.headings:
        raise StepSetupError("give the credentials as a table: | username | password |")
    if len(table.rows) != 1:
        raise StepSetupError(f"give exactly one row of credentials, not {len(table.rows)}")
    row = table.rows[0]
    user, password = expand(context, row["username"]), expand(context, row["password"])
    context.http_auth = (scheme, user, password)
    if scheme == "basic":  # a target that echoes the Authorization header shows this
        session(context).hide(*basic_auth_tokens(user, password))


@given("I am HTTP basic authenticated with the following credentials:")
def step_i_am_http_basic_authenticated(context: Any) -> None:
    """Given I am HTTP basic authenticated with the following credentials:

    A table | username | password | (values may be ${secrets}); every later request sends them.
    """
    _credentials(context, "basic")


@given("I am HTTP digest authenticated with the following credentials:")
def step_i_am_http_digest_authenticated(context: Any) -> None:
    """Given I am HTTP digest authenticated with the following credentials:

    Real digest authentication (cucumber-nagios sent basic authentication here).
    """
    _credentials(context, "digest")


# ---- status -----------------------------------------------------------------------------

def _succeeds(context: Any) -> None:
    result = web.last_response(context)
    assert result.ok, f"{result.summary()}; {web.excerpt(context, result)}" if (
        result.status is not None) else result.summary()


def _fails(context: Any) -> None:
    result = web.last_response(context)
    assert not result.ok, f"expected a failure but {result.summary()}"


@then("the request should succeed")
def step_the_request_should_succeed(context: Any) -> None:
    """Then the request should succeed

    The last request got a complete answer with a status below 400 (after redirects).
    """
    _succeeds(context)


@then("the request should fail")
def step_the_request_should_fail(context: Any) -> None:
    """Then the request should fail

    The last request got a status of 400 or more, or no answer at all.
    """
    _fails(context)


@then("the {label} request should succeed")
def step_the_named_request_should_succeed(context: Any, label: str) -> None:
    """Then the home page request should succeed

    cucumber-nagios allowed words before "request"; they change nothing.
    """
    _succeeds(context)


@then("the {label} request should fail")
def step_the_named_request_should_fail(context: Any, label: str) -> None:
    """Then the login page request should fail"""
    _fails(context)


@then("the response status should be {code:Int}")
def step_the_response_status_should_be(context: Any, code: int) -> None:
    """Then the response status should be 404"""
    result = web.answered(context)
    assert result.status == code, f"expected status {code}: {result.summary()}"


def _normal(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    if parts.port and parts.port != default:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", parts.query, ""))


@then('I should have been redirected to "{url:Q}"')
def step_i_should_have_been_redirected_to(context: Any, url: str) -> None:
    """Then I should have been redirected to "/login"

    The last request was redirected at least once and ended at this URL.
    """
    result = web.answered(context)
    wanted = resolve_url(context, url)
    assert result.redirects, f"not redirected: {result.summary()}"
    assert _normal(result.final_url) == _normal(wanted), (
        f"redirected to {result.final_url}, not {wanted}: {result.summary()}")


# ---- page text --------------------------------------------------------------------------

_HTML = ("text/html", "application/xhtml+xml")
_AROUND = 20  # characters of context shown before a match (and a little more after it)


def _searched(context: Any) -> tuple[str, str]:
    """What "see" looks in, and what to call it: the visible text of an HTML page (entities
    decoded, tags, attributes and scripts gone), else the body as it came."""
    result = web.answered(context)
    if result.media_type in _HTML:
        return web.page(context).visible_text(), "visible text"
    return result.text, "body"


def _find(context: Any, text: str) -> tuple[int, str, str]:
    """Where literal `text` is in what a reader sees (-1 if nowhere), that text, its name."""
    haystack, name = _searched(context)
    wanted = " ".join(text.split()) if name == "visible text" else text
    return haystack.find(wanted), haystack, name


def _around(haystack: str, index: int, length: int) -> str:
    """The match with a little context, on one line, for a reason."""
    start, end = max(0, index - _AROUND), min(len(haystack), index + length + _AROUND + 7)
    shown = " ".join(haystack[start:end].split())
    return ("..." if start else "") + shown + ("..." if end < len(haystack) else "")


@then('I should see "{text:Q}"')
def step_i_should_see(context: Any, text: str) -> None:
    """Then I should see "Welcome"

    Literal text (not a regular expression) that a reader sees on an HTML page, or anywhere in
    the body (markup too, as cucumber-nagios matched the raw body).
    """
    wanted = expand(context, text)
    result = web.answered(context)
    if wanted not in result.text and _find(context, wanted)[0] < 0:
        raise AssertionError(f"{wanted!r} not found in {result.size()} body of "
                             f"{result.final_url} ({result.status}, {result.elapsed_ms:.0f} ms); "
                             f"{web.excerpt(context, result)}")


@then('I should not see "{text:Q}"')
def step_i_should_not_see(context: Any, text: str) -> None:
    """Then I should not see "Internal Server Error"

    Fails on what a reader sees: the visible text of an HTML page (`class="notice"` in the
    markup is not seen), or the body of any other answer; the reason shows the match.
    """
    wanted = expand(context, text)
    index, haystack, name = _find(context, wanted)
    if index >= 0:
        result = web.last_response(context)
        raise AssertionError(f"{wanted!r} found in the {name} of {result.final_url} "
                             f"({result.status}): {_around(haystack, index, len(wanted))!r}")


@then("I should see an {kind:w} message")
def step_i_should_see_an_message(context: Any, kind: str) -> None:
    """Then I should see an error message

    cucumber-nagios's phrase: an element with the class "error" (or "notice"...) is on the page.
    """
    found = web.page(context).has_class(kind)
    assert found, f'no element of class "{kind}" on {web.where(web.last_response(context))}'


@then("I should see a {kind:w} message")
def step_i_should_see_a_message(context: Any, kind: str) -> None:
    """Then I should see a notice message"""
    step_i_should_see_an_message(context, kind)


# ---- headers ----------------------------------------------------------------------------

def _header(context: Any, name: str) -> str:
    result = web.answered(context)
    value = result.header(name)
    assert value is not None, (
        f'no "{name}" header in the answer of {result.final_url} ({result.status}); headers: '
        + (", ".join(sorted({k for k, _ in result.headers})) or "none"))
    return value


@then('the "{name:Q}" header should be "{value:Q}"')
def step_the_header_should_be(context: Any, name: str, value: str) -> None:
    """Then the "Content-Type" header should be "text/html; charset=utf-8\""""
    found, wanted = _header(context, name), expand(context, value)
    assert found == wanted, f'the "{name}" header is {found!r}, not {wanted!r}'


@then('the "{name:Q}" header should contain "{text:Q}"')
def step_the_header_should_contain(context: Any, name: str, text: str) -> None:
    """Then the "Cache-Control" header should contain "max-age"

    Literal text (cucumber-nagios matched a regular expression here).
    """
    found, wanted = _header(context, name), expand(context, text)
    assert wanted in found, f'the "{name}" header is {found!r}, without {wanted!r}'


@then('the "{name:Q}" header should not contain "{text:Q}"')
def step_the_header_should_not_contain(context: Any, name: str, text: str) -> None:
    """Then the "Server" header should not contain "Apache/2.2\""""
    found, wanted = _header(context, name), expand(context, text)
    assert wanted not in found, f'the "{name}" header is {found!r}, with {wanted!r}'


@then('the response should contain the "{name:Q}" header')
def step_the_response_should_contain_the_header(context: Any, name: str) -> None:
    """Then the response should contain the "Strict-Transport-Security" header"""
    _header(context, name)


@then('the response should not contain the "{name:Q}" header')
def step_the_response_should_not_contain_the_header(context: Any, name: str) -> None:
    """Then the response should not contain the "X-Powered-By" header"""
    result = web.answered(context)
    value = result.header(name)
    assert value is None, f'the answer of {result.final_url} has "{name}: {value}"'
