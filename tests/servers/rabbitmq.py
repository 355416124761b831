"""A real RabbitMQ broker on loopback for tests (Debian's rabbitmq-server), in the foreground.

`running_rabbitmq()` is a context manager yielding a `Rabbit`: the AMQP port on 127.0.0.1, the
default `guest` user (allowed from loopback only) and a `monitor` user whose password holds the
characters a URL must escape, both with all permissions on the vhost "/" (an empty vhost
`empty` exists too, without permissions for `monitor`), and a TLS listener whose certificate
for 127.0.0.1 a CA of its own signed (`ca_file`). Each broker has its own node name, its
own directories, config and definitions in a temporary directory, and its own epmd on a free
port (ERL_EPMD_PORT), so parallel runs never meet; the Erlang distribution listens on 127.0.0.1
only. The broker runs as user `rabbitmq` (it must own what it writes: see
shared/research/real-components.md). It stops when the context ends, at interpreter exit, and
when this process dies (the start-up script gets SIGTERM from PR_SET_PDEATHSIG and stops the VM;
epmd gets SIGKILL).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import hashlib
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import trustme

from tests.servers.group import stop_group

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
EPMD = "/usr/bin/epmd"
MONITOR, MONITOR_PASSWORD = "monitor", "p@ss/w:rd%41#?"
START_LIMIT = 90.0  # seconds; a cold start is ~3 s alone, much more on a loaded machine


@dataclass(frozen=True)
class Rabbit:
    host: str
    port: int
    tls_port: int
    ca_file: Path  # the CA that signed the TLS listener's certificate (for 127.0.0.1)
    user: str = "guest"
    password: str = "guest"
    monitor: str = MONITOR
    monitor_password: str = MONITOR_PASSWORD

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def available() -> str | None:
    """Why this machine cannot run the broker, or None when it can."""
    if not os.path.exists(SERVER) or not os.path.exists(EPMD):
        return f"{SERVER} is missing (apt-get install rabbitmq-server)"
    if os.geteuid() != 0:
        return "the broker runs as user rabbitmq: starting it needs root"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _password_hash(password: str) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def _definitions() -> dict[str, object]:
    everything = {"configure": ".*", "write": ".*", "read": ".*"}
    users = [("guest", "guest", "administrator"), (MONITOR, MONITOR_PASSWORD, "monitoring")]
    return {
        "users": [{"name": name, "password_hash": _password_hash(password), "tags": tags,
                   "hashing_algorithm": "rabbit_password_hashing_sha256"}
                  for name, password, tags in users],
        "vhosts": [{"name": "/"}, {"name": "empty"}],
        "permissions": [{"user": name, "vhost": "/", **everything} for name, _, _ in users],
    }


def _write_files(work: Path, port: int, tls_port: int) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(work / "ca.pem"))
    issued = ca.issue_cert("127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(work / "server.pem"))
    issued.private_key_pem.write_to_path(str(work / "server.key"))
    (work / "rabbitmq.conf").write_text("\n".join([
        f"listeners.tcp.1 = 127.0.0.1:{port}",
        f"listeners.ssl.1 = 127.0.0.1:{tls_port}",
        f"ssl_options.cacertfile = {work}/ca.pem", f"ssl_options.certfile = {work}/server.pem",
        f"ssl_options.keyfile = {work}/server.key", "ssl_options.verify = verify_none",
        f"load_definitions = {work}/definitions.json",
        "log.console = false", "log.file.level = warning",
        "", ]))
    (work / "definitions.json").write_text(json.dumps(_definitions()))
    (work / "enabled_plugins").write_text("[].\n")
    (work / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's


def _environ(work: Path, port: int, epmd: int, dist: int) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), "LANG": "C.UTF-8",
        "RABBITMQ_NODENAME": f"escalator-test-{os.getpid()}-{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist),
        "RABBITMQ_CONFIG_FILE": str(work / "rabbitmq.conf"),
        "RABBITMQ_CONF_ENV_FILE": str(work / "rabbitmq-env.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(work / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(work / "mnesia"), "RABBITMQ_LOG_BASE": str(work / "log"),
        "RABBITMQ_PID_FILE": str(work / "rabbitmq.pid"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        "ERL_EPMD_ADDRESS": "127.0.0.1", "ERL_EPMD_PORT": str(epmd),
    }


def _as_rabbitmq(signal_number: int) -> object:
    """preexec_fn: become user rabbitmq, then ask for `signal_number` when our process dies
    (after the user change, which would clear it)."""
    entry = pwd.getpwnam("rabbitmq")

    def switch() -> None:
        os.setgid(entry.pw_gid)
        os.setgroups([entry.pw_gid])
        os.setuid(entry.pw_uid)
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal_number)  # PR_SET_PDEATHSIG

    return switch


def _ready(port: int) -> bool:
    """Whether the broker finishes an AMQP handshake (the port opens a little before)."""
    import pika

    logging.getLogger("pika").setLevel(logging.CRITICAL)  # refusals while it starts are expected
    params = pika.ConnectionParameters("127.0.0.1", port, credentials=pika.PlainCredentials(
        "guest", "guest"), socket_timeout=2, stack_timeout=3, blocked_connection_timeout=3,
        connection_attempts=1)
    try:
        pika.BlockingConnection(params).close()
        return True
    except Exception:
        return False


def _log_tail(work: Path) -> str:
    texts = [p.read_text(errors="replace") for p in sorted(work.rglob("*.log"))]
    return "".join(texts)[-3000:]


@contextlib.contextmanager
def running_rabbitmq() -> Iterator[Rabbit]:
    """Start a broker on a free loopback port; stop it and clean up on exit."""
    reason = available()
    if reason:
        raise RuntimeError(reason)
    work = Path(tempfile.mkdtemp(prefix="escalator-rabbitmq-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        port, tls_port, epmd_port, dist = _free_port(), _free_port(), _free_port(), _free_port()
        _write_files(work, port, tls_port)
        rabbitmq = pwd.getpwnam("rabbitmq")
        for path in [work, *work.iterdir()]:
            os.chown(path, rabbitmq.pw_uid, rabbitmq.pw_gid)
        environ = _environ(work, port, epmd_port, dist)
        with open(work / "server.log", "ab") as log:
            epmd = subprocess.Popen([EPMD, "-port", str(epmd_port), "-address", "127.0.0.1"],
                                    env=environ, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=log, start_new_session=True,
                                    preexec_fn=_as_rabbitmq(signal.SIGKILL))  # type: ignore[arg-type]
            procs.append(epmd)
            atexit.register(stop_group, epmd)
            server = subprocess.Popen([SERVER], env=environ, cwd=work, stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=log, start_new_session=True,
                                      preexec_fn=_as_rabbitmq(signal.SIGTERM))  # type: ignore[arg-type]
            procs.insert(0, server)
            atexit.register(stop_group, server)
        deadline = time.monotonic() + START_LIMIT
        while not _ready(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rabbitmq-server did not start: {_log_tail(work)}")
            time.sleep(0.2)
        yield Rabbit("127.0.0.1", port, tls_port, work / "ca.pem")
    finally:
        for proc in procs:
            stop_group(proc)
        shutil.rmtree(work, ignore_errors=True)
