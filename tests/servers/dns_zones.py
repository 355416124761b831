"""More DNS on loopback: nsd with any zone on any loopback address, a DNSSEC-signed zone, and a
validating resolver (for tests/test_steps_dns_checks.py).

- `nsd_zone(workdir, zones, address, port)` serves `{origin: zone text}` with nsd (default: a free
  port on 127.0.0.1; port 53 on another loopback address for the SOA phrases, which ask each
  nameserver of a zone on port 53) and yields "address:port";
- `signed(workdir, zone)` signs a zone with ldns-signzone (a fresh ECDSA P-256 key) and returns
  the signed text and the trust anchor as dnsmasq writes it;
- `validating_resolver(workdir, upstream, anchor)` runs dnsmasq with `--dnssec`, forwarding
  example.test to `upstream`, and yields "127.0.0.1:port". dnsmasq wants a root anchor too: it is
  given IANA's, and asks nothing outside example.test (it has no other upstream).
Every server stops when its context ends (and with the test process).
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.servers.dns import free_port
from tests.servers.group import stop_group

_ROOT_ANCHOR = ".,20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"

_CONF = """\
server:
    ip-address: {address}@{port}
    port: {port}
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "{dir}"
    database: ""
    pidfile: "{dir}/nsd.pid"
    xfrdfile: "{dir}/xfrd.state"
    zonelistfile: "{dir}/zone.list"
    xfrdir: "{dir}"
    server-count: 1
    verbosity: 1
remote-control:
    control-enable: no
"""


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _answers(address: str, port: int) -> bool:
    """Something answers a DNS query on address:port (any answer will do)."""
    query = bytes.fromhex("12340100000100000000000000000100 01".replace(" ", ""))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        try:
            sock.sendto(query, (address, port))
            return sock.recv(512)[:2] == query[:2]
        except OSError:
            return False


def _wait(proc: subprocess.Popen[bytes], address: str, port: int, log: Path) -> None:
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        if _answers(address, port):
            return
        time.sleep(0.05)
    stop_group(proc, grace=5)
    raise RuntimeError(f"{log.name}: the server did not start: {log.read_text()[-1500:]}")


@contextlib.contextmanager
def nsd_zone(workdir: Path, zones: dict[str, str], address: str = "127.0.0.1",
             port: int | None = None) -> Iterator[str]:
    """nsd serving `zones` ({origin: zone text}) on address:port; yields "address:port"."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf = _CONF.format(address=address, port=port, dir=workdir)
    for origin, text in zones.items():
        filename = f"{origin.strip('.') or 'root'}.zone"
        (workdir / filename).write_text(text)
        conf += f'zone:\n    name: "{origin}"\n    zonefile: "{filename}"\n'
    (workdir / "nsd.conf").write_text(conf)
    log = workdir / "nsd.log"
    with log.open("w") as out:
        proc = subprocess.Popen([shutil.which("nsd") or "/usr/sbin/nsd", "-d", "-c",
                                 str(workdir / "nsd.conf")], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_die_with_parent)
    try:
        _wait(proc, address, port, log)
        yield f"{address}:{port}"
    finally:
        stop_group(proc, grace=5)


def signed(workdir: Path, origin: str, zone: str) -> tuple[str, str]:
    """(the zone signed by a fresh key, the trust anchor "origin,keytag,alg,digesttype,hex")."""
    workdir.mkdir(parents=True, exist_ok=True)
    name = origin.strip(".")
    (workdir / "unsigned.zone").write_text(zone)
    key = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", name], cwd=workdir,
                         capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    subprocess.run(["ldns-signzone", "-n", "-f", str(workdir / "signed.zone"),
                    str(workdir / "unsigned.zone"), key], cwd=workdir, check=True, timeout=30,
                   capture_output=True)
    ds = (workdir / f"{key}.ds").read_text().split()
    tag, algorithm, digest_type, digest = ds[-4:]
    return (workdir / "signed.zone").read_text(), f"{name},{tag},{algorithm},{digest_type},{digest}"


@contextlib.contextmanager
def validating_resolver(workdir: Path, upstream: str, anchor: str) -> Iterator[str]:
    """dnsmasq validating DNSSEC for example.test (asked at `upstream`); yields its address."""
    workdir.mkdir(parents=True, exist_ok=True)
    host, _, upstream_port = upstream.rpartition(":")
    port = free_port()
    log = workdir / "dnsmasq.log"
    proc = subprocess.Popen(
        [shutil.which("dnsmasq") or "/usr/sbin/dnsmasq", "-k", f"--port={port}",
         "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
         f"--server=/example.test/{host}#{upstream_port}", "--dnssec",
         f"--trust-anchor={_ROOT_ANCHOR}", f"--trust-anchor={anchor}",
         f"--log-facility={log}", "--user=root"],
        stdout=subprocess.DEVNULL, stderr=log.open("w"), start_new_session=True,
        preexec_fn=_die_with_parent)
    try:
        _wait(proc, "127.0.0.1", port, log)
        yield f"127.0.0.1:{port}"
    finally:
        stop_group(proc, grace=5)
