"""HTTP answers beyond status and text: cookies and their attributes, body size, phase timings.

Cookies are read from every `Set-Cookie` header of the last request's hops (a login's 303
sets the session cookie), the last one of a name winning, as a browser would; reasons name the
attributes, never a cookie's value. The body size is the body as delivered (after gzip), read
up to `http_max_body`. Phase timings come from the HTTP probe (`escalator.probes.http_hops`
says what each one measures) and are recorded as `time_connect`, `time_tls`, `time_firstbyte`
and `time_transfer` (ms). Each limit phrase has a warning variant (", warning above 150 ms").
"""

from __future__ import annotations

from typing import Any

from behave import given, then

from escalator.limits import Limit
from escalator.sizes import is_size_unit, parse_size
from escalator.steps import (
    api,
    types,  # noqa: F401 - registers the Q/SQ/Number/Int argument types
)
from escalator.steps import http_client as web

PROBES = ("escalator.probes.http",)
VARIABLES = web.VARIABLES

_FLAGS = ("secure", "httponly", "partitioned")


def parse_set_cookie(header: str) -> tuple[str, dict[str, str]]:
    """(name, attributes by lower-case name) of one Set-Cookie header; flags map to "".

    >>> parse_set_cookie("sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax")
    ('sid', {'path': '/', 'secure': '', 'httponly': '', 'samesite': 'Lax'})
    """
    first, *rest = header.split(";")
    name = first.partition("=")[0].strip()
    attributes = {}
    for part in rest:
        key, _, value = part.partition("=")
        if key.strip():
            attributes[key.strip().lower()] = value.strip()
    return name, attributes


def _cookie(context: Any, name: str) -> dict[str, str]:
    result = web.answered(context)
    found = None
    for header in result.cookies:
        cookie, attributes = parse_set_cookie(header)
        if cookie == name:
            found = attributes
    if found is None:
        names = sorted({parse_set_cookie(h)[0] for h in result.cookies})
        raise AssertionError(f'no "{name}" cookie set by {result.final_url} ({result.status}); '
                             f"cookies set: {', '.join(names) or 'none'}")
    return found


def _described(attributes: dict[str, str]) -> str:
    shown = [f"{key}={value}" if value or key not in _FLAGS else key
             for key, value in attributes.items()]
    return "; ".join(shown) or "no attributes"


def _wanted(text: str) -> list[tuple[str, str | None]]:
    """ "Secure; SameSite=Strict" -> [("secure", None), ("samesite", "strict")]."""
    wanted: list[tuple[str, str | None]] = []
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if key.strip():
            wanted.append((key.strip().lower(), value.strip() if sep else None))
    if not wanted:
        raise api.StepSetupError('name the attributes, e.g. "Secure; HttpOnly; SameSite=Lax"')
    return wanted


# ---- cookies ----------------------------------------------------------------------------

@then('the response should set the cookie "{name:Q}"')
def step_the_response_should_set_the_cookie(context: Any, name: str) -> None:
    """Then the response should set the cookie "session\""""
    _cookie(context, api.expand(context, name))


@then('the cookie "{name:Q}" should have the attributes "{attributes:Q}"')
def step_the_cookie_should_have_the_attributes(context: Any, name: str, attributes: str
                                               ) -> None:
    """Then the cookie "session" should have the attributes "Secure; HttpOnly; SameSite=Strict"

    Each flag must be there; each `key=value` must have that value (case does not matter).
    """
    found = _cookie(context, api.expand(context, name))
    missing = [key if value is None else f"{key}={value}" for key, value in _wanted(attributes)
               if key not in found or (value is not None and found[key].lower() != value.lower())]
    assert not missing, (f'the cookie "{name}" is set with {_described(found)}; missing: '
                         + ", ".join(missing))


@then('the cookie "{name:Q}" should not have the attribute "{attribute:Q}"')
def step_the_cookie_should_not_have_the_attribute(context: Any, name: str, attribute: str
                                                  ) -> None:
    """Then the cookie "session" should not have the attribute "Domain\""""
    found = _cookie(context, api.expand(context, name))
    key = attribute.strip().lower()
    assert key not in found, f'the cookie "{name}" is set with {_described(found)}'


# ---- size -------------------------------------------------------------------------------

def _bytes(n: float, unit: str) -> int:
    if not is_size_unit(unit):
        raise api.StepSetupError(f"unknown size unit {unit!r}: write B, KB, KiB, MB, MiB...")
    return parse_size(f"{n:g} {unit}")


def _body_size(context: Any, n: float, unit: str, warn: Limit | None = None,
               warn_unit: str = "B") -> None:
    """`warn_unit` words the warning limit as the phrase did ("warning above 256 KiB")."""
    crit, scale = Limit.below(_bytes(n, unit)), _bytes(1, warn_unit)
    api.stated(crit, warn, warn_unit, scale)
    result = web.answered(context)
    measured = api.record(context, "body_size", len(result.body), "B", crit, warn=warn)
    more = " or more (cut off at http_max_body)" if result.truncated else ""
    said = f"the body of {result.final_url} is {result.size().split(',')[0]}{more}"
    assert not result.truncated, f"{said}, wanted less than {n:g} {unit}"
    api.judge(context, measured, said, unit=warn_unit, scale=scale,
              wanted=f"less than {n:g} {unit}")


@then("the response body should be smaller than {n:Number} {unit:w}")
def step_the_response_body_should_be_smaller_than(context: Any, n: float, unit: str) -> None:
    """Then the response body should be smaller than 512 KiB

    The body as delivered (after decompression); records `body_size` (B) with the limit. A body
    cut off at `http_max_body` is at least that big.
    """
    _body_size(context, n, unit)


@then("the response body should be smaller than {n:Number} {unit:w}, warning above "
      "{w:Number} {wunit:w}")
def step_the_response_body_should_be_smaller_than_warning(context: Any, n: float, unit: str,
                                                          w: float, wunit: str) -> None:
    """Then the response body should be smaller than 512 KiB, warning above 256 KiB

    WARNING above W, CRITICAL at N or more.
    """
    _body_size(context, n, unit, Limit.at_most(_bytes(w, wunit)), wunit)


# ---- phases -----------------------------------------------------------------------------

@given("I am timing each phase")
def step_i_am_timing_each_phase(context: Any) -> None:
    """Given I am timing each phase

    Every later request records `time_connect` (name resolution and TCP handshake), `time_tls`
    (TLS handshake), `time_firstbyte` (request sent to headers read) and `time_transfer`
    (reading the body), in ms; a reused connection has no connect or TLS time.
    """
    context.http_timing_phases = True


def _phase(context: Any, phase: str, what: str, crit: Limit, warn: Limit | None = None) -> None:
    measured = web.phase_time(context, phase, *api.stated(crit, warn, "ms"))
    api.judge(context, measured, f"{what} took {measured.value:.1f} ms",
              web.last_response(context).summary())


@then("the time to connect should be less than {n:Number} ms")
def step_the_time_to_connect_should_be_less_than(context: Any, n: float) -> None:
    """Then the time to connect should be less than 100 ms

    Name resolution and TCP handshake of the last request (0 on a reused connection).
    """
    _phase(context, "connect", "connecting", Limit.below(n))


@then("the time to connect should be less than {n:Number} ms, warning above {w:Ms}")
def step_the_time_to_connect_should_be_less_than_warning(context: Any, n: float, w: float
                                                         ) -> None:
    """Then the time to connect should be less than 100 ms, warning above 50 ms"""
    _phase(context, "connect", "connecting", Limit.below(n), Limit.at_most(w))


@then("the TLS handshake should take less than {n:Number} ms")
def step_the_tls_handshake_should_take_less_than(context: Any, n: float) -> None:
    """Then the TLS handshake should take less than 200 ms"""
    _phase(context, "tls", "the TLS handshake", Limit.below(n))


@then("the TLS handshake should take less than {n:Number} ms, warning above {w:Ms}")
def step_the_tls_handshake_should_take_less_than_warning(context: Any, n: float, w: float
                                                         ) -> None:
    """Then the TLS handshake should take less than 200 ms, warning above 100 ms"""
    _phase(context, "tls", "the TLS handshake", Limit.below(n), Limit.at_most(w))


@then("the time to first byte should be less than {n:Number} ms")
def step_the_time_to_first_byte_should_be_less_than(context: Any, n: float) -> None:
    """Then the time to first byte should be less than 300 ms

    From the request sent to the status line and headers read: the server's own time.
    """
    _phase(context, "firstbyte", "the first byte", Limit.below(n))


@then("the time to first byte should be less than {n:Number} ms, warning above {w:Ms}")
def step_the_time_to_first_byte_should_be_less_than_warning(context: Any, n: float, w: float
                                                            ) -> None:
    """Then the time to first byte should be less than 300 ms, warning above 150 ms"""
    _phase(context, "firstbyte", "the first byte", Limit.below(n), Limit.at_most(w))
