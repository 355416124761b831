"""The DNS probe: one query to one nameserver, with every outcome as data.

Owns all use of dnspython. Called by `escalator.steps.dns`. `lookup(DnsTarget)` sends one query
(UDP, then TCP when the answer is truncated) to the target's nameserver, or to the system's
nameservers from /etc/resolv.conf when none is given, and returns a `DnsResult` whose `status`
names what happened: `answer`, `nxdomain`, `nodata` (NOERROR without the asked type),
`servfail`, `error` (another rcode, a malformed answer, an unreachable server) or `timeout`.
We query with `dns.query` rather than `dns.resolver` because the resolver's retry loop hides the
rcode and the reason behind "all nameservers failed"; one deadline bounds the whole call, and a
connected UDP socket makes a closed port fail at once on its ICMP refusal.
`DnsResult.includes(value)` compares an expected value with the answer the way an operator
writes it: case and a final dot ignored, IPv6 in any spelling, an MX by its exchange, a TXT by
its text without quotes.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.reversename

from escalator.hostport import split_host_port
from escalator.probes import ProbeSetupError

_MAX_CNAME_CHAIN = 16
_COMMON_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "SRV", "PTR", "CAA")


def _preload() -> None:
    """dnspython imports a record type's module when it first parses one. Do it at import, which
    the runner does before forking workers, so a lookup's time is the network's, not ours."""
    for name in _COMMON_TYPES:
        dns.rdata.get_rdata_class(  # type: ignore[no-untyped-call]
            dns.rdataclass.IN, dns.rdatatype.from_text(name))


_preload()


@dataclass(frozen=True)
class DnsTarget:
    """One question: `name` (an IP for PTR is turned into its reverse name), type, server."""

    name: str
    rdtype: str = "A"
    nameserver: str | None = None  # "host", "host:port", "[v6]:port"; None = /etc/resolv.conf
    timeout: float = 5.0
    tcp: bool = False  # ask over TCP from the start (else UDP, TCP only after truncation)


@dataclass(frozen=True)
class DnsRecord:
    """One record of the answer: its text as dig prints it and the forms it may be compared as."""

    rdtype: str
    text: str
    forms: tuple[str, ...]
    ttl: int = 0


@dataclass(frozen=True)
class DnsResult:
    """What came back. `error` is set for every status but `answer`.

    >>> a = DnsRecord("MX", "10 mail.example.test.", ("10 mail.example.test", "mail.example.test"))
    >>> r = DnsResult(DnsTarget("example.test", "MX"), "answer", (a,))
    >>> r.includes("Mail.Example.Test."), r.includes("mail"), r.values
    (True, False, ('10 mail.example.test.',))
    """

    target: DnsTarget
    status: str
    records: tuple[DnsRecord, ...] = ()
    canonical: str | None = None
    rcode: str | None = None
    server: str | None = None
    elapsed: float = 0.0
    error: str | None = None
    flags: tuple[str, ...] = ()  # the response's header flags: QR AA TC RD RA AD CD

    @property
    def answered(self) -> bool:
        """The nameserver sent a response (any rcode): the elapsed time is a lookup time."""
        return self.rcode is not None

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(record.text for record in self.records)

    def includes(self, value: str) -> bool:
        wanted = normalise(value)
        return any(wanted in record.forms for record in self.records)


def normalise(text: str) -> str:
    """How names, addresses and texts compare: no quotes, no final dot, any case, any IPv6 form.

    >>> normalise(' "Hello World" '), normalise("WWW.Example.test."), normalise("2001:DB8:0::10")
    ('hello world', 'www.example.test', '2001:db8::10')
    """
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"' and text.count('"') == 2:
        text = text[1:-1]
    text = text.rstrip(".").lower() if text != "." else text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def record_forms(text: str, parts: Mapping[str, object]) -> tuple[str, ...]:
    """Every form a record matches: its whole text and its main field (address, target, text)."""
    forms = [text]
    for name in ("address", "target", "exchange", "mname", "value"):
        if name in parts:
            value = parts[name]
            forms.append(value.decode(errors="replace") if isinstance(value, bytes) else str(value))
    strings = parts.get("strings")
    if isinstance(strings, tuple | list):
        decoded = [s.decode(errors="replace") for s in strings if isinstance(s, bytes)]
        forms += ["".join(decoded), " ".join(decoded), *decoded]
    return tuple(dict.fromkeys(normalise(form) for form in forms))


@dataclass(frozen=True)
class _Server:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def lookup(target: DnsTarget, resolv_conf: str = "/etc/resolv.conf") -> DnsResult:
    """Ask the target's nameserver (or the system's) for one record type; never raises for it."""
    qname = _query_name(target)
    rdtype = _rdtype(target.rdtype)
    deadline = time.monotonic() + target.timeout
    servers, failure = _servers(target, deadline, resolv_conf)
    if failure is not None:
        return failure
    query = dns.message.make_query(qname, rdtype)
    # AD in a query asks a validating resolver to say whether it validated (RFC 6840 5.7);
    # servers that do not validate ignore it
    query.flags |= dns.flags.AD
    result = DnsResult(target, "error", error="no nameserver to ask")
    for index, server in enumerate(servers):
        # A silent first server must leave the others some of the budget.
        budget = (deadline - time.monotonic()) / (len(servers) - index)
        result = _ask(target, query, server, budget)
        if result.status not in ("timeout", "error"):
            return result
    return result


def parse_nameserver(text: str) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address -> (host, port)."""
    text = text.strip()
    try:
        return split_host_port(text, 53)
    except ValueError:
        raise ProbeSetupError(f"bad nameserver {text!r}: expected host or host:port") from None


def _query_name(target: DnsTarget) -> dns.name.Name:
    name = target.name.strip()
    try:
        if target.rdtype.upper() == "PTR" and _is_ip(name):
            return dns.reversename.from_address(name)
        return dns.name.from_text(name)
    except dns.exception.DNSException as exc:
        raise ProbeSetupError(f"bad DNS name {name!r}: {exc}") from None


def _rdtype(text: str) -> dns.rdatatype.RdataType:
    try:
        rdtype = dns.rdatatype.from_text(text.strip().upper())
    except dns.exception.DNSException:
        raise ProbeSetupError(f"unknown DNS record type {text!r}") from None
    if dns.rdatatype.is_metatype(rdtype):
        raise ProbeSetupError(f"record type {text!r} cannot be looked up")
    return rdtype


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _servers(target: DnsTarget, deadline: float, resolv_conf: str
             ) -> tuple[list[_Server], DnsResult | None]:
    """The servers to ask; a nameserver given by name is itself looked up first."""
    if target.nameserver is None:
        return [_Server(ip, 53) for ip in system_nameservers(resolv_conf)], None
    host, port = parse_nameserver(target.nameserver)
    if host.lower() == "localhost":  # /etc/hosts' name, which no nameserver is asked for
        host = "127.0.0.1"
    if _is_ip(host):
        return [_Server(host, port)], None
    found = lookup(DnsTarget(host, "A", None, max(0.05, deadline - time.monotonic())),
                   resolv_conf)
    if found.status != "answer":
        reason = f"cannot find the address of nameserver {host}: {found.error}"
        # Never "nxdomain": that would be read as an answer about the name we were asked.
        status = "timeout" if found.status == "timeout" else "error"
        return [], DnsResult(target, status, error=reason)
    return [_Server(found.values[0], port)], None


def system_nameservers(resolv_conf: str = "/etc/resolv.conf") -> list[str]:
    """The nameservers the system resolver would use; none configured is our setup problem."""
    try:
        resolver = dns.resolver.Resolver(filename=resolv_conf)
    except (OSError, dns.exception.DNSException) as exc:
        raise ProbeSetupError(f"no nameserver given and {resolv_conf} unusable: {exc}") from None
    return [str(ns) for ns in resolver.nameservers]


def _ask(target: DnsTarget, query: dns.message.Message, server: _Server, budget: float
         ) -> DnsResult:
    start = time.monotonic()
    deadline = start + max(0.05, budget)
    asked = _asked(target, query)
    stage = " (over TCP)" if target.tcp else ""
    try:
        try:
            if target.tcp:
                response = dns.query.tcp(query, server.host, port=server.port,
                                         timeout=deadline - start)
            else:
                with _connected(server) as sock:
                    response = dns.query.udp(query, server.host, timeout=deadline - start,
                                             port=server.port, raise_on_truncation=True,
                                             sock=sock)
        except dns.message.Truncated:
            stage = " (over TCP, after a truncated UDP answer)"
            response = dns.query.tcp(query, server.host, port=server.port,
                                     timeout=max(0.05, deadline - time.monotonic()))
    except dns.exception.Timeout:
        reason = f"{asked}: no answer from nameserver {server} within {budget:.1f} s{stage}"
        return DnsResult(target, "timeout", server=str(server), error=reason)
    except OSError as exc:
        reason = f"{asked}: cannot reach nameserver {server}{stage}: {exc.strerror or exc}"
        return DnsResult(target, "error", server=str(server), error=reason)
    except dns.exception.DNSException as exc:
        reason = f"{asked}: malformed answer from nameserver {server}{stage}: {exc}"
        return DnsResult(target, "error", server=str(server), error=reason)
    return _interpret(target, query, response, server, time.monotonic() - start)


def _connected(server: _Server) -> socket.socket:
    """A UDP socket connected to the server: unlike an unconnected one it hears the ICMP
    "port unreachable" of a closed port, so the query fails at once instead of at its timeout."""
    family = socket.AF_INET6 if ":" in server.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.connect((server.host, server.port))
    except OSError:
        sock.close()
        raise
    return sock


def _asked(target: DnsTarget, query: dns.message.Message) -> str:
    """The question as an operator reads it: "A www.example.test"."""
    return f"{target.rdtype.upper()} {query.question[0].name.to_text(omit_final_dot=True)}"


def _interpret(target: DnsTarget, query: dns.message.Message, response: dns.message.Message,
               server: _Server, elapsed: float) -> DnsResult:
    rcode = dns.rcode.to_text(response.rcode())
    flags = tuple(dns.flags.to_text(response.flags).split())
    found = DnsResult(target, "answer", rcode=rcode, server=str(server), elapsed=elapsed,
                      flags=flags)
    asked = _asked(target, query)
    if rcode == "NXDOMAIN":
        return _with(found, "nxdomain", f"{asked}: no such name (NXDOMAIN from {server})")
    if rcode == "SERVFAIL":
        return _with(found, "servfail", f"{asked}: nameserver {server} failed (SERVFAIL)")
    if rcode != "NOERROR":
        return _with(found, "error", f"{asked}: nameserver {server} answered {rcode}")
    records, canonical = _follow(query, response)
    if not records:
        reason = f"{asked}: no {target.rdtype.upper()} record (NOERROR, empty answer from {server})"
        return _with(found, "nodata", reason, canonical)
    return DnsResult(target, "answer", records, canonical, rcode, str(server), elapsed,
                     flags=flags)


def _with(result: DnsResult, status: str, error: str, canonical: str | None = None
          ) -> DnsResult:
    return DnsResult(result.target, status, (), canonical, result.rcode, result.server,
                     result.elapsed, error, result.flags)


def _follow(query: dns.message.Message, response: dns.message.Message
            ) -> tuple[tuple[DnsRecord, ...], str]:
    """The asked type's records at the end of the CNAME chain that starts at the query name."""
    question = query.question[0]
    name = question.name
    for _ in range(_MAX_CNAME_CHAIN):
        for rrset in response.answer:
            if rrset.name == name and rrset.rdtype == question.rdtype:
                records = tuple(_record(rrset.rdtype, rdata, rrset.ttl) for rdata in rrset)
                return records, name.to_text()
        cname = next((r for r in response.answer
                      if r.name == name and r.rdtype == dns.rdatatype.CNAME), None)
        if cname is None:
            break
        name = cname[0].target
    return (), name.to_text()


def _record(rdtype: dns.rdatatype.RdataType, rdata: object, ttl: int) -> DnsRecord:
    type_name = dns.rdatatype.to_text(rdtype)
    text = rdata.to_text()  # type: ignore[attr-defined]
    parts: dict[str, object] = {}
    for attribute in ("address", "target", "exchange", "mname", "strings", "value"):
        if hasattr(rdata, attribute):
            parts[attribute] = getattr(rdata, attribute)
    return DnsRecord(type_name, text, record_forms(text, parts), ttl)
