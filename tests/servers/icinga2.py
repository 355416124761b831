"""Real Icinga 2 instances on loopback for tests: a master, and a satellite zone below it.

`running_icinga(...)` starts one `icinga2 daemon` in the foreground as a child of the test, with
every directory of its own in a temporary tree (config, data, logs, spool, run: nothing under
/etc/icinga2 or /var/lib/icinga2 is read or written), the API on 127.0.0.1 and a free port, and
certificates from a test CA (trustme) whose node certificates name the endpoint (CN) and
127.0.0.1 (SAN), so clients verify TLS against that CA. It runs as root (the checks it runs use
this test's interpreter, which the monitoring user cannot reach under /root). It stops when the
context ends and when this process dies (PR_SET_PDEATHSIG). See
/work/shared/research/real-components.md (Icinga 2) for how the daemon runs here.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import trustme

ICINGA2 = "/usr/sbin/icinga2"
API_USER, API_PASSWORD = "root", "icinga-test-only"

MAIN = """include <itl>
include <plugins>
const NodeName = "{name}"
const ZoneName = "{zone}"
const PluginDir = "/usr/lib/nagios/plugins"
object FileLogger "main-log" {{ severity = "information"; path = "{work}/log/icinga2.log" }}
object CheckerComponent "checker" {{ }}
object ApiListener "api" {{
  bind_host = "127.0.0.1"
  bind_port = {port}
  accept_config = {accept}
  accept_commands = {accept}
}}
object ApiUser "{user}" {{ password = "{password}"; permissions = [ "*" ] }}
include "zones.conf"
include_recursive "conf.d"
"""


def available() -> str | None:
    if not os.path.exists(ICINGA2):
        return f"{ICINGA2} is missing (apt-get install icinga2-bin icinga2-common)"
    if os.geteuid() != 0:
        return "the Icinga 2 test instances run as root"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Icinga:
    name: str
    port: int
    work: Path          # conf: icinga2.conf, zones.conf, conf.d/, zones.d/ (a master's)
    ca: Path            # the test CA certificate: verify the API against it

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the REST API as the test's API user, TLS verified against the test CA."""
        response = requests.request(method, f"{self.url}/v1/{path}", verify=str(self.ca),
                                    auth=(API_USER, API_PASSWORD), timeout=10,
                                    headers={"Accept": "application/json"}, **kwargs)
        response.raise_for_status()
        return response.json()

    def services(self) -> dict[str, dict[str, Any]]:
        """Every service's attributes by `host!service`."""
        found = self.api("GET", "objects/services")["results"]
        return {item["name"]: item["attrs"] for item in found}

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.work / "log" / "icinga2.log").read_text(errors="replace")[-4000:]
        return ""


def node_certificates(ca: trustme.CA, work: Path, name: str) -> None:
    """The node's certificate and key where Icinga 2 looks: DataDir/certs/<name>.crt|key."""
    certs = work / "data" / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    cert = ca.issue_cert("127.0.0.1", name, common_name=name)
    cert.private_key_pem.write_to_path(str(certs / f"{name}.key"))
    cert.cert_chain_pems[0].write_to_path(str(certs / f"{name}.crt"))
    ca.cert_pem.write_to_path(str(certs / "ca.crt"))


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _defines(work: Path) -> list[str]:
    paths = {"ConfigDir": work, "DataDir": work / "data", "LogDir": work / "log",
             "CacheDir": work / "cache", "SpoolDir": work / "spool", "InitRunDir": work / "run",
             "ZonesDir": work / "zones.d", "StatePath": work / "data" / "icinga2.state",
             "ModAttrPath": work / "data" / "modified-attributes.conf",
             "ObjectsPath": work / "cache" / "icinga2.debug",
             "VarsPath": work / "cache" / "icinga2.vars", "PidPath": work / "run" / "icinga2.pid"}
    defines = [f"-DConfiguration.{key}={value}" for key, value in paths.items()]
    return [*defines, "-DConfiguration.RunAsUser=root", "-DConfiguration.RunAsGroup=root"]


def layout(root: Path, name: str, zone: str, ca: trustme.CA, accept_config: bool = False
           ) -> Icinga:
    """An instance's directories, icinga2.conf and certificates; zones.conf and conf.d/ are
    the test's to write."""
    work = root / name
    for sub in ("conf.d", "zones.d", "data", "log", "cache", "spool", "run/icinga2/cmd"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    port = free_port()
    (work / "icinga2.conf").write_text(MAIN.format(
        name=name, zone=zone, work=work, port=port, accept="true" if accept_config else "false",
        user=API_USER, password=API_PASSWORD))
    (work / "zones.conf").write_text(
        f'object Endpoint "{name}" {{ }}\nobject Zone "{zone}" {{ endpoints = [ "{name}" ] }}\n')
    node_certificates(ca, work, name)
    ca_path = work / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return Icinga(name, port, work, ca_path)


def validate(instance: Icinga) -> str:
    """`icinga2 daemon -C`: the config check's output; raises with it when it fails."""
    done = subprocess.run([ICINGA2, "daemon", "-C", "-c", str(instance.work / "icinga2.conf"),
                           *_defines(instance.work)], capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"icinga2 config of {instance.name} is invalid:\n{done.stdout[-4000:]}")
    return done.stdout


@contextlib.contextmanager
def running(instance: Icinga, environ: dict[str, str] | None = None) -> Iterator[Icinga]:
    """Run the instance until the context ends; ready when its API answers."""
    validate(instance)
    out = (instance.work / "daemon.out").open("wb")
    proc = subprocess.Popen([ICINGA2, "daemon", "-c", str(instance.work / "icinga2.conf"),
                             *_defines(instance.work)], stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, env=environ, preexec_fn=_die_with_parent)
    try:
        _wait_for_api(instance, proc)
        yield instance
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        out.close()


def _wait_for_api(instance: Icinga, proc: subprocess.Popen[bytes], limit: float = 90.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            instance.api("GET", "status/IcingaApplication")
            return
        except (requests.RequestException, ValueError):
            time.sleep(0.25)
    raise RuntimeError(f"icinga2 {instance.name} did not answer on its API: "
                       f"{(instance.work / 'daemon.out').read_text(errors='replace')[-3000:]}")


@contextlib.contextmanager
def work_tree() -> Iterator[Path]:
    """A temporary tree the daemons and their checks can enter (not pytest's tmp_path)."""
    path = Path(tempfile.mkdtemp(prefix="escalator-icinga-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def make_ca() -> trustme.CA:
    return trustme.CA(key_type=trustme.KeyType.RSA)
