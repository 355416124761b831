"""DNS beyond the answer: TCP, TTLs, the AA and AD flags, any response code, SOA serials.

`Given I use DNS over TCP` makes every later query of the scenario go over TCP (as `dig +tcp`).
`When I send a <TYPE> query for` keeps whatever the nameserver answered, SERVFAIL and REFUSED
included, for `Then the response code should be`; the lookup phrases of `escalator.steps.dns`
fail at once on those. Every query asks for the AD flag (RFC 6840), so a validating resolver says
whether it validated the answer with DNSSEC; a server that does not validate never sets it. The
SOA phrases ask each nameserver of a zone directly for its serial: secondaries that stopped
transferring show up as a serial behind the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from behave import given, then, when

from escalator.limits import Limit
from escalator.steps import (
    api,
    types,  # noqa: F401 - registers the Q/SQ/Number/Int argument types
)
from escalator.steps.matching import Comparison

if TYPE_CHECKING:
    from escalator.probes.dns import DnsResult

PROBES = ("escalator.probes.dns",)
VARIABLES = ("nameserver",)  # read by api.dns_lookup

_NO_ANSWER = ("timeout",)


def _last(context: Any) -> DnsResult:
    found: DnsResult = api.earlier(context, "dns_result",
                                   "no DNS lookup in this scenario yet (When I look up ...)")
    return found


def _asked(result: DnsResult) -> str:
    return f"{result.target.rdtype} {result.target.name} from {result.server or 'the nameserver'}"


# ---- how to ask -------------------------------------------------------------------------

@given("I use DNS over TCP")
def step_i_use_dns_over_tcp(context: Any) -> None:
    """Given I use DNS over TCP

    Later queries of the scenario go over TCP from the start (a firewall that lets only UDP
    through fails them).
    """
    context.dns_tcp = True


@when('I send a {rdtype:w} query for "{name:Q}"')
def step_i_send_a_query_for(context: Any, rdtype: str, name: str) -> None:
    """When I send a SOA query for "example.com"

    One query; any response code is kept for the Then steps. Only no answer at all (a timeout,
    an unreachable server) fails this step.
    """
    result = api.dns_lookup(context, name, rdtype)
    context.dns_result = result
    assert result.rcode is not None, result.error


# ---- the answer's header ----------------------------------------------------------------

@then('the response code should be "{rcode:Q}"')
def step_the_response_code_should_be(context: Any, rcode: str) -> None:
    """Then the response code should be "REFUSED"

    NOERROR, NXDOMAIN, SERVFAIL, REFUSED, NOTIMP... as dig prints it.
    """
    result = _last(context)
    wanted = rcode.strip().upper()
    assert result.rcode is not None, result.error
    assert result.rcode == wanted, f"{_asked(result)} answered {result.rcode}, not {wanted}"


def _flag(context: Any, flag: str) -> tuple[DnsResult, bool]:
    result = _last(context)
    assert result.rcode is not None, result.error
    return result, flag in result.flags


@then("the answer should be authoritative")
def step_the_answer_should_be_authoritative(context: Any) -> None:
    """Then the answer should be authoritative

    The AA flag: the server answered from its own copy of the zone, not from a cache.
    """
    result, found = _flag(context, "AA")
    assert found, f"{_asked(result)} is not authoritative (flags: {' '.join(result.flags)})"


@then("the answer should not be authoritative")
def step_the_answer_should_not_be_authoritative(context: Any) -> None:
    """Then the answer should not be authoritative"""
    result, found = _flag(context, "AA")
    assert not found, f"{_asked(result)} is authoritative (flags: {' '.join(result.flags)})"


@then("the answer should be DNSSEC-validated")
def step_the_answer_should_be_dnssec_validated(context: Any) -> None:
    """Then the answer should be DNSSEC-validated

    The AD flag from a validating resolver (use it as the nameserver): the signatures check
    out up to a trust anchor. A bogus signature makes the resolver answer SERVFAIL instead.
    """
    result, found = _flag(context, "AD")
    assert found, (f"{_asked(result)} is not DNSSEC-validated (no AD flag; flags: "
                   f"{' '.join(result.flags)})")


@then("the answer should not be DNSSEC-validated")
def step_the_answer_should_not_be_dnssec_validated(context: Any) -> None:
    """Then the answer should not be DNSSEC-validated"""
    result, found = _flag(context, "AD")
    assert not found, f"{_asked(result)} is DNSSEC-validated (AD flag set)"


def _ttl(context: Any, comparison: Comparison, warn: Limit | None = None) -> None:
    result = _last(context)
    assert result.status == "answer" and result.records, result.error or (
        f"{_asked(result)}: no records")
    worst = comparison.worst([float(record.ttl) for record in result.records])
    measured = api.record(context, "ttl", worst, "s", comparison.limit, warn=warn)
    api.judge(context, measured, f"{_asked(result)} has a TTL of {worst:g} s", unit="seconds",
              wanted=f"{comparison.describe()} seconds")


@then("the TTL should be {op:Comparison} {n:Number} seconds")
def step_the_ttl_should_be(context: Any, op: str, n: float) -> None:
    """Then the TTL should be at least 300 seconds

    Of every record of the last answer (at most, less than, more than... too); records `ttl`,
    the one that decides, with the limit.
    """
    _ttl(context, Comparison(op, n))


@then("the TTL should be {op:Comparison} {n:Number} seconds, warning {side:Side} {w:Seconds}")
def step_the_ttl_should_be_warning(context: Any, op: str, n: float, side: str, w: float
                                   ) -> None:
    """Then the TTL should be at least 300 seconds, warning below 3600 seconds

    WARNING past W, CRITICAL past N (the unit after W may be left out).
    """
    comparison = Comparison(op, n)
    _ttl(context, comparison, comparison.warning(side, w))


# ---- SOA serials across a zone's nameservers ----------------------------------------------

def _serials(context: Any, zone: str, servers: list[str]) -> None:
    """Ask each server for the zone's SOA; the serials must all be the same."""
    from escalator.probes.dns import DnsTarget, lookup

    budget = api.session(context).client_timeout
    found: list[tuple[str, int]] = []
    for server in servers:
        target = DnsTarget(zone, "SOA", server, budget / len(servers),
                           tcp=getattr(context, "dns_tcp", False))
        with api.session(context).busy(f"asking {server} for the SOA of {zone}"):
            result = lookup(target)
        assert result.status == "answer", f"{server}: {result.error}"
        found.append((server, int(result.records[0].text.split()[2])))
    serials = {serial for _, serial in found}
    agree = Limit.at_most(0)  # the spread of the serials: any at all alerts
    spread = max(serials) - min(serials)
    api.record(context, "soa_serial_spread", spread, "", agree)
    assert not agree.alerts(spread), (f"the SOA serials of {zone} differ: "
                                      + ", ".join(f"{server} has {serial}"
                                                  for server, serial in found))


def _nameservers(context: Any, zone: str) -> list[str]:
    """The zone's NS names, resolved to addresses by the scenario's nameserver."""
    ns = api.dns_lookup(context, zone, "NS", record_time=False)
    assert ns.status == "answer", ns.error
    addresses = []
    for name in sorted(record.text for record in ns.records):
        found = api.dns_lookup(context, name, "A", record_time=False)
        if found.status != "answer":
            found = api.dns_lookup(context, name, "AAAA", record_time=False)
        assert found.status == "answer", f"nameserver {name} of {zone}: {found.error}"
        addresses.append(found.values[0])
    return addresses


@then('the SOA serials of "{zone:Q}" should agree on its nameservers')
def step_the_soa_serials_should_agree(context: Any, zone: str) -> None:
    """Then the SOA serials of "example.com" should agree on its nameservers

    Finds the zone's NS records (with the scenario's nameserver), asks each of them on port 53
    for the SOA, and compares the serials; records `soa_serial_spread` (0 when they agree).
    """
    name = api.expand(context, zone).strip()
    _serials(context, name, _nameservers(context, name))


@then('the SOA serials of "{zone:Q}" should agree on these nameservers:')
def step_the_soa_serials_should_agree_on_these(context: Any, zone: str) -> None:
    """Then the SOA serials of "example.com" should agree on these nameservers:

    A table | nameserver | of host or host:port (a hidden primary, secondaries on other ports).
    """
    table = context.table
    if table is None or "nameserver" not in table.headings or not table.rows:
        raise api.StepSetupError("give the nameservers as a table: | nameserver |")
    _serials(context, api.expand(context, zone).strip(),
             [api.expand(context, row["nameserver"]).strip() for row in table.rows])
