"""The DNS probe against a real nsd on loopback and against hand-made hostile nameservers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from escalator.probes import ProbeSetupError
from escalator.probes.dns import (
    DnsRecord,
    DnsResult,
    DnsTarget,
    lookup,
    normalise,
    parse_nameserver,
    system_nameservers,
)
from tests.servers.dns import hostile_server, nsd_server

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def nsd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with nsd_server(tmp_path_factory.mktemp("nsd")) as address:
        yield address


@pytest.mark.parametrize(("name", "rdtype", "values"), [
    ("www.example.test", "A", ("127.0.0.10", "127.0.0.11")),
    ("www.example.test", "AAAA", ("2001:db8::10",)),
    ("alias.example.test", "CNAME", ("www.example.test.",)),
    ("example.test", "MX", ("10 mail.example.test.",)),
    ("example.test", "NS", ("ns1.example.test.",)),
    ("txt.example.test", "TXT", ('"hello world" "second string"',)),
    ("example.test", "SOA",
     ("ns1.example.test. hostmaster.example.test. 2024010101 3600 600 86400 300",)),
    ("_imap._tcp.example.test", "SRV", ("10 5 143 mail.example.test.",)),
    ("example.test", "CAA", ('0 issue "letsencrypt.org"',)),
    ("127.0.0.10", "PTR", ("www.example.test.",)),
    ("10.0.0.127.in-addr.arpa", "ptr", ("www.example.test.",)),
])
def test_every_record_type_is_answered(nsd: str, name: str, rdtype: str,
                                       values: tuple[str, ...]) -> None:
    result = lookup(DnsTarget(name, rdtype, nsd, timeout=3))
    assert (result.status, result.error, result.rcode) == ("answer", None, "NOERROR")
    assert sorted(result.values) == sorted(values)
    assert result.server == nsd
    assert 0 < result.elapsed < 3
    assert all(record.ttl == 300 for record in result.records)


def test_an_address_lookup_follows_the_cname_chain(nsd: str) -> None:
    result = lookup(DnsTarget("alias.example.test", "A", nsd, timeout=3))
    assert result.values == ("127.0.0.10", "127.0.0.11")
    assert result.canonical == "www.example.test."


def test_answers_compare_the_way_operators_write_them(nsd: str) -> None:
    mx = lookup(DnsTarget("example.test", "MX", nsd, timeout=3))
    txt = lookup(DnsTarget("txt.example.test", "TXT", nsd, timeout=3))
    aaaa = lookup(DnsTarget("www.example.test", "AAAA", nsd, timeout=3))
    caa = lookup(DnsTarget("example.test", "CAA", nsd, timeout=3))
    assert [mx.includes(v) for v in ("mail.example.test", "MAIL.example.test.",
                                     "10 mail.example.test", "mail")] == [True, True, True, False]
    assert [txt.includes(v) for v in ("hello world", '"second string"',
                                      "hello world second string", "hello")] == [
        True, True, True, False]
    assert [aaaa.includes(v) for v in ("2001:DB8:0:0::10", "2001:db8::11")] == [True, False]
    assert caa.includes("letsencrypt.org")


def test_nxdomain_is_its_own_status(nsd: str) -> None:
    result = lookup(DnsTarget("nope.example.test", "A", nsd, timeout=3))
    assert (result.status, result.rcode, result.records) == ("nxdomain", "NXDOMAIN", ())
    assert result.error == f"A nope.example.test: no such name (NXDOMAIN from {nsd})"
    assert result.answered


def test_a_name_without_the_asked_type_is_nodata(nsd: str) -> None:
    result = lookup(DnsTarget("mail.example.test", "AAAA", nsd, timeout=3))
    assert (result.status, result.rcode) == ("nodata", "NOERROR")
    assert result.error == (f"AAAA mail.example.test: no AAAA record "
                            f"(NOERROR, empty answer from {nsd})")


def test_a_zone_the_server_does_not_serve_is_refused(nsd: str) -> None:
    result = lookup(DnsTarget("www.elsewhere.test", "A", nsd, timeout=3))
    assert (result.status, result.rcode) == ("error", "REFUSED")
    assert result.error == f"A www.elsewhere.test: nameserver {nsd} answered REFUSED"


def test_localhost_names_the_loopback_nameserver(nsd: str) -> None:
    port = nsd.rsplit(":", 1)[1]
    result = lookup(DnsTarget("www.example.test", "A", f"localhost:{port}", timeout=3))
    assert result.status == "answer"


def test_a_silent_nameserver_times_out_inside_the_budget() -> None:
    with hostile_server("silent") as server:
        start = time.monotonic()
        result = lookup(DnsTarget("www.example.test", "A", server, timeout=0.5))
        took = time.monotonic() - start
    assert result.status == "timeout"
    assert result.error == f"A www.example.test: no answer from nameserver {server} within 0.5 s"
    assert not result.answered
    assert 0.4 < took < 2.5  # ends by itself; generous margin on a shared machine


@pytest.mark.parametrize(("mode", "status", "reason"), [
    ("servfail", "servfail", "A www.example.test: nameserver {s} failed (SERVFAIL)"),
    ("refused", "error", "A www.example.test: nameserver {s} answered REFUSED"),
    ("truncated", "error", "A www.example.test: cannot reach nameserver {s} "
                           "(over TCP, after a truncated UDP answer): Connection refused"),
])
def test_hostile_answers_have_named_reasons(mode: str, status: str, reason: str) -> None:
    with hostile_server(mode) as server:
        result = lookup(DnsTarget("www.example.test", "A", server, timeout=2))
    assert (result.status, result.error) == (status, reason.format(s=server))


def test_a_truncated_answer_is_asked_again_over_tcp() -> None:
    with hostile_server("truncated", tcp=True) as server:
        result = lookup(DnsTarget("www.example.test", "A", server, timeout=2))
    assert (result.status, result.values) == ("answer", ("192.0.2.1",))


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1", ("127.0.0.1", 53)),
    ("127.0.0.1:15353", ("127.0.0.1", 15353)),
    ("ns1.example.test:5353", ("ns1.example.test", 5353)),
    ("[::1]:5353", ("::1", 5353)),
    ("[::1]", ("::1", 53)),
    ("::1", ("::1", 53)),
])
def test_nameservers_are_host_or_host_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize(("target", "message"), [
    (DnsTarget("www.example.test", "BOGUS", "127.0.0.1"), "unknown DNS record type 'BOGUS'"),
    (DnsTarget("www.example.test", "ANY", "127.0.0.1"), "record type 'ANY' cannot be looked up"),
    (DnsTarget("www.example.test", "A", "127.0.0.1:99999"),
     "bad nameserver '127.0.0.1:99999': expected host or host:port"),
    (DnsTarget("a" * 64 + ".example.test", "A", "127.0.0.1"), "bad DNS name"),
])
def test_our_own_mistakes_raise(target: DnsTarget, message: str) -> None:
    with pytest.raises(ProbeSetupError) as raised:
        lookup(target)
    assert str(raised.value).startswith(message)


def test_system_nameservers_come_from_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example.test\nnameserver 127.0.0.53\nnameserver ::1\n")
    assert system_nameservers(str(conf)) == ["127.0.0.53", "::1"]
    with pytest.raises(ProbeSetupError, match="no nameserver given"):
        system_nameservers(str(tmp_path / "missing.conf"))


def test_normalise_and_includes_without_a_server() -> None:
    record = DnsRecord("TXT", '"v=spf1 -all"', (normalise('"v=spf1 -all"'),))
    result = DnsResult(DnsTarget("example.test", "TXT"), "answer", (record,))
    assert result.includes("v=spf1 -all") and not result.includes("v=spf1")
    assert normalise(".") == "."
