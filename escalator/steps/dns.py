"""DNS phrases: cucumber-nagios's lookup steps and record-type queries against a chosen server.

cucumber-nagios asked the system resolver for the first address only; here the nameserver is the
one a `Given I use the nameserver` step names, else the environment's `nameserver` variable, else
the system's (/etc/resolv.conf), and every address of the answer counts. When steps query through
`escalator.probes.dns` and keep the result as `context.dns_result`; a nameserver that does not
answer (timeout, SERVFAIL, REFUSED, unreachable) fails the When step itself, while NXDOMAIN and an
empty answer are left for the Then steps to judge. Each query records `lookup_time`, marked as
failed (no value) when no response came.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from typing import TYPE_CHECKING, Any

from behave import given, then, when

from escalator.limits import Limit
from escalator.steps import types  # noqa: F401 - registers the Q/SQ/Number/Int argument types
from escalator.steps.support import (
    StepSetupError,
    earlier,
    expand,
    judge,
    record,
    restate,
    session,
    stated,
)

if TYPE_CHECKING:
    from escalator.probes.dns import DnsResult

PROBES = ("escalator.probes.dns",)
VARIABLES = ("nameserver",)

# Statuses a Then step can judge; anything else means the nameserver did not really answer.
_JUDGEABLE = ("answer", "nxdomain", "nodata")


def _nameserver(context: Any) -> str | None:
    chosen = getattr(context, "dns_nameserver", None)
    if chosen:
        return str(chosen)
    return session(context).variables.get("nameserver") or None


def _query(context: Any, name: str, rdtype: str) -> DnsResult:
    from escalator.probes.dns import DnsTarget, lookup

    target = DnsTarget(name, rdtype, _nameserver(context), session(context).client_timeout,
                       tcp=getattr(context, "dns_tcp", False))
    with session(context).busy(f"looking up {rdtype} {name}"):
        return lookup(target)


def _keep(context: Any, result: DnsResult) -> None:
    """Store the result, record its time, and fail now if the nameserver did not answer."""
    context.dns_result = result
    elapsed = round(result.elapsed * 1000, 3) if result.answered else None
    context.dns_time = record(context, "lookup_time", elapsed, "ms")
    assert result.status in _JUDGEABLE, result.error


def _last(context: Any) -> DnsResult:
    result: DnsResult = earlier(context, "dns_result",
                                "no DNS lookup in this scenario yet (When I look up ...)")
    return result


def _shown(result: DnsResult) -> str:
    values = ", ".join(result.values[:8]) + (" ..." if len(result.values) > 8 else "")
    return f"{result.target.rdtype} {result.target.name} is {values}"


# ---- choosing the nameserver ------------------------------------------------------------

@given('I use the nameserver "{host:Q}"')
def step_i_use_the_nameserver(context: Any, host: str) -> None:
    """Given I use the nameserver "127.0.0.1:5353"

    Later lookups in the scenario ask this server (`host` or `host:port`) instead of the
    environment's `nameserver` or the system resolver.
    """
    from escalator.probes.dns import parse_nameserver

    value = expand(context, host).strip()
    parse_nameserver(value)  # a malformed server is our mistake, reported here
    context.dns_nameserver = value


# ---- lookups ----------------------------------------------------------------------------

@when('I lookup "{name:Q}"')
def step_i_lookup(context: Any, name: str) -> None:
    """When I lookup "www.example.com"

    cucumber-nagios's address lookup: the A records, and the AAAA records too, so both IPv4 and
    IPv6 addresses can be asserted.
    """
    name = expand(context, name).strip()
    first = _query(context, name, "A")
    if first.status in ("answer", "nodata"):
        second = _query(context, name, "AAAA")  # in what is left of the step
        if second.status in ("answer", "nodata"):
            first = _merge(first, second)
    _keep(context, first)


def _merge(a: DnsResult, aaaa: DnsResult) -> DnsResult:
    """One address answer from an A and an AAAA answer (both judgeable)."""
    records = a.records + aaaa.records
    target = dataclasses.replace(a.target, rdtype="A/AAAA")
    error = None if records else f"{a.target.name}: no A or AAAA record (NOERROR, empty answers)"
    return dataclasses.replace(a, target=target, status="answer" if records else "nodata",
                               records=records, elapsed=a.elapsed + aaaa.elapsed, error=error)


@when('I reverse lookup "{ip:Q}"')
def step_i_reverse_lookup(context: Any, ip: str) -> None:
    """When I reverse lookup "192.0.2.10"

    The PTR records of the address's reverse name (in-addr.arpa or ip6.arpa).
    """
    address = expand(context, ip).strip()
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise StepSetupError(f"{address!r} is not an IP address") from None
    _keep(context, _query(context, address, "PTR"))


@when('I look up the {rdtype:w} record for "{name:Q}"')
def step_i_look_up_the_record_for(context: Any, rdtype: str, name: str) -> None:
    """When I look up the MX record for "example.com"

    Any record type: A AAAA CNAME MX NS TXT SOA SRV PTR CAA... (for PTR an IP may be given).
    """
    _keep(context, _query(context, expand(context, name).strip(), rdtype.upper()))


# ---- answers ----------------------------------------------------------------------------

def _includes(context: Any, value: str) -> None:
    result = _last(context)
    value = expand(context, value).strip()
    assert result.status == "answer", result.error
    if result.includes(value):
        return
    from escalator.probes.dns import normalise

    # A TXT value that is only part of a record would read like a contradiction otherwise.
    within = next((text for text in result.values if result.target.rdtype == "TXT"
                   and normalise(value) in normalise(text)), None)
    if within is None:
        raise AssertionError(f"{_shown(result)}, without {value}")
    raise AssertionError(f"{_shown(result)}: no record is {json.dumps(value)} (a value matches "
                         f"a whole record; {json.dumps(value)} is only part of {within})")


@then('the name should resolve to "{ip:Q}"')
def step_the_name_should_resolve_to(context: Any, ip: str) -> None:
    """Then the name should resolve to "192.0.2.10"

    Any of the addresses counts (cucumber-nagios compared the first one only).
    """
    _includes(context, ip)


@then('the IP should resolve to "{name:Q}"')
def step_the_ip_should_resolve_to(context: Any, name: str) -> None:
    """Then the IP should resolve to "www.example.com"

    Case and a final dot do not matter.
    """
    _includes(context, name)


@then('the answer should include "{value:Q}"')
def step_the_answer_should_include(context: Any, value: str) -> None:
    """Then the answer should include "10 mail.example.com"

    A value matches a whole record as dig prints it, or its main part: an MX or SRV by its host,
    a TXT by its text without quotes, an address in any spelling.
    """
    _includes(context, value)


@then('the answer should not include "{value:Q}"')
def step_the_answer_should_not_include(context: Any, value: str) -> None:
    """Then the answer should not include "192.0.2.99\""""
    result = _last(context)
    value = expand(context, value).strip()
    assert not result.includes(value), f"{_shown(result)}, including {value}"


@then("the name should not exist")
def step_the_name_should_not_exist(context: Any) -> None:
    """Then the name should not exist

    Passes on NXDOMAIN only: a name with other records (an empty answer) exists.
    """
    result = _last(context)
    if result.status == "answer":
        raise AssertionError(f"{result.target.name} exists: {_shown(result)}")
    if result.status == "nodata":
        raise AssertionError(f"{result.target.name} exists (NOERROR, though without "
                             f"{result.target.rdtype} records)")
    assert result.status == "nxdomain", result.error


def _lookup_time(context: Any, crit: Limit, warn: Limit | None = None) -> None:
    result = _last(context)
    measured = getattr(context, "dns_time", None)
    if measured is None or measured.value is None:
        raise AssertionError(result.error or "the lookup got no answer")
    measured = context.dns_time = restate(context, measured, *stated(crit, warn, "ms"))
    judge(context, measured, f"the lookup took {measured.value:.1f} ms")


@then("the lookup should take less than {n:Number} ms")
def step_the_lookup_should_take_less_than(context: Any, n: float) -> None:
    """Then the lookup should take less than 200 ms

    The last lookup's time (both queries of "I lookup"), recorded as `lookup_time` with this limit.
    """
    _lookup_time(context, Limit.below(n))


@then("the lookup should take less than {n:Number} ms, warning above {w:Ms}")
def step_the_lookup_should_take_less_than_warning(context: Any, n: float, w: float) -> None:
    """Then the lookup should take less than 200 ms, warning above 100 ms"""
    _lookup_time(context, Limit.below(n), Limit.at_most(w))
