"""The SSH probe: log in, run a command, stat a file, read host keys, every outcome as data.

Owns all use of paramiko; called by `escalator.steps.ssh`. `connect(SshTarget)` reads the
banner, checks the host key against known_hosts (an unknown or changed key is never accepted),
authenticates with key files, then a password, and returns a `Login` and, when it succeeded, an
open `Connection` whose `run(command)` and `file_age(path)` give `CommandResult` and `FileAge`,
and whose `sftp()` session `escalator.probes.ssh_files` uses to look at and read remote files.
`host_keys(host, port)` reads host keys without logging in. We drive paramiko's `Transport`,
not `SSHClient`, which hides which phase failed and which key it saw. One deadline bounds each
call; a watchdog closes a channel that outlives it (channel requests have no timeout).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import paramiko
from paramiko.ssh_exception import IncompatiblePeer

from escalator.probes.command_result import CommandResult
from escalator.probes.ssh_keys import known_keys, load_identities
from escalator.probes.ssh_transport import authenticate, describe, handshake, verify_host_key
from escalator.text import one_line

OUTPUT_LIMIT = 64 * 1024  # bytes of command output kept; the rest is counted, not stored
_KEY_FAMILIES = (("ssh-ed25519",), ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                 "ecdsa-sha2-nistp521"), ("rsa-sha2-512", "rsa-sha2-256"))

# paramiko logs each failed handshake with a traceback; here every failure becomes result data,
# so its log would only repeat it on stderr (Python's last-resort handler prints it otherwise)
logging.getLogger("paramiko").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class SshTarget:
    """Where and how to log in: `key_files` in order (`default_keys`: ~/.ssh/id_*), then
    `password`; the host key must be in `known_hosts` unless `check_host_key` is off."""

    host: str
    port: int = 22
    username: str = ""
    password: str | None = None
    key_files: tuple[str, ...] = ()
    passphrase: str | None = None
    default_keys: bool = False
    known_hosts: str = "~/.ssh/known_hosts"
    check_host_key: bool = True
    timeout: float = 10.0
    jump: SshTarget | None = None  # log in here first and go on through it (ssh -J)

    @property
    def address(self) -> str:  # as an operator writes it, `[v6]:port` for IPv6
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def known_hosts_name(self) -> str:  # bare on port 22, `[host]:port` otherwise
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


@dataclass(frozen=True)
class Login:
    """The outcome of a login. `error` says what went wrong, without the address.

    >>> Login("bob", "db1:22", False, 0.1, "connection refused").reason
    'cannot ssh to bob@db1:22: connection refused'
    """

    username: str
    address: str
    ok: bool
    elapsed: float
    error: str | None = None

    @property
    def reason(self) -> str:
        return f"cannot ssh to {self.username}@{self.address}: {self.error}"


@dataclass(frozen=True)
class FileAge:
    """How long ago a remote file was modified (by the server's mtime and our clock)."""

    path: str
    address: str
    age: float | None
    error: str | None = None


@dataclass(frozen=True)
class HostKeys:
    """The host keys a server offers, one `(type, "SHA256:...")` per key family."""

    address: str
    keys: tuple[tuple[str, str], ...]
    error: str | None = None


@contextlib.contextmanager
def _watchdog(close: Callable[[], object], timeout: float) -> Iterator[threading.Event]:
    """Closes a channel at the deadline, so no paramiko wait outlives the timeout."""
    fired = threading.Event()

    def fire() -> None:
        fired.set()
        close()

    timer = threading.Timer(max(0.0, timeout), fire)
    timer.daemon = True
    timer.start()
    try:
        yield fired
    finally:
        timer.cancel()


class Connection:
    """An authenticated SSH connection; the steps keep it for the scenario and close it."""

    def __init__(self, transport: paramiko.Transport, target: SshTarget,
                 jump: Connection | None = None) -> None:
        self._transport = transport
        self.target = target
        self._jump = jump

    def close(self) -> None:
        self._transport.close()
        if self._jump is not None:
            self._jump.close()

    def run(self, command: str, timeout: float, limit: int = OUTPUT_LIMIT) -> CommandResult:
        """Run `command`; output beyond `limit` bytes is counted; cut at `timeout`."""
        start, address = time.monotonic(), self.target.address
        data, total, error = b"", 0, None
        try:
            channel = self._transport.open_session(timeout=timeout)
        except (paramiko.SSHException, OSError) as exc:
            return CommandResult(command, address, output_bytes=0,
                                 elapsed=time.monotonic() - start, error=(
                                     f"cannot open a session on {address}: {one_line(exc, 200)}"))
        left = timeout - (time.monotonic() - start)
        with channel, _watchdog(lambda: _kill(channel), left) as fired:
            try:
                channel.set_combine_stderr(True)
                channel.exec_command(command)
                data, total = _drain(channel, limit)
                channel.status_event.wait(left)
            except (paramiko.SSHException, OSError) as exc:
                error = f"command failed on {address}: {one_line(exc, 200)}"
        status = channel.exit_status if channel.exit_status >= 0 else None  # -1: none came
        if fired.is_set():
            status, error = None, f"still running after {timeout:.1f} s on {address}: cut"
        elif status is None and error is None:
            error = f"no exit status from {address} (killed by a signal?)"
        return CommandResult(command, address, status, stdout=data.decode("utf-8", "replace"),
                             output_bytes=total, truncated=total > len(data),
                             elapsed=time.monotonic() - start, error=error)

    @contextlib.contextmanager
    def sftp(self, timeout: float) -> Iterator[tuple[paramiko.SFTPClient, threading.Event]]:
        """An SFTP session for one step, closed by a watchdog at `timeout` (SFTP requests have
        no timeout of their own; the event says the watchdog fired). Raises paramiko's
        SSHException or OSError when the session cannot be opened."""
        channel = self._transport.open_session(timeout=timeout)
        with channel, _watchdog(channel.close, timeout) as fired:
            channel.invoke_subsystem("sftp")
            yield paramiko.SFTPClient(channel), fired

    def file_age(self, path: str, timeout: float,
                 now: Callable[[], float] = time.time) -> FileAge:
        """The age of `path` by SFTP stat; a missing or unreadable file is an error."""
        address = self.target.address
        try:
            channel = self._transport.open_session(timeout=timeout)
        except (paramiko.SSHException, OSError) as exc:
            return FileAge(path, address, None, f"cannot open a session on {address}: "
                           f"{one_line(exc, 200)}")
        with channel, _watchdog(channel.close, timeout) as fired:
            try:
                channel.invoke_subsystem("sftp")
                mtime = paramiko.SFTPClient(channel).stat(path).st_mtime
            except (paramiko.SSHException, OSError) as exc:
                if fired.is_set():
                    return FileAge(path, address, None, f"no SFTP answer from {address} "
                                   f"within {timeout:.1f} s")
                reason = getattr(exc, "strerror", None) or one_line(exc, 200)
                return FileAge(path, address, None, f"cannot stat {path} on {address}: {reason}")
        if mtime is None:
            return FileAge(path, address, None, f"{address} sent no mtime for {path}")
        return FileAge(path, address, max(0.0, now() - mtime))


def _kill(channel: paramiko.Channel) -> None:
    # without a tty, sshd leaves a command running when its channel closes: send RFC 4254's
    # "signal" request first (paramiko has no call for it; sshd signals the command's group)
    message = paramiko.Message()
    message.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
    message.add_int(channel.remote_chanid)
    message.add_string("signal")
    message.add_boolean(False)
    message.add_string("KILL")
    transport: Any = channel.get_transport()
    with contextlib.suppress(Exception):  # a dead transport: closing below is all we can do
        transport._send_user_message(message)
    channel.close()


def _drain(channel: paramiko.Channel, limit: int) -> tuple[bytes, int]:
    """Read output to EOF, keeping `limit` bytes and counting the rest."""
    kept, total = bytearray(), 0
    while chunk := channel.recv(32768):
        total += len(chunk)
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
    return bytes(kept), total


def connect(target: SshTarget) -> tuple[Login, Connection | None]:
    """Log in; the connection is returned open only when the login succeeded."""
    keys = load_identities(target)
    known = known_keys(target)
    deadline = (start := time.monotonic()) + target.timeout
    transport: paramiko.Transport | None = None
    jump: Connection | None = None
    phase = "connecting"
    try:
        if target.jump is None:
            sock, error = socket.create_connection((target.host, target.port),
                                                   timeout=target.timeout), None
        else:
            jump, sock, error = _through_jump(target, deadline)
        if error is None:
            phase = "waiting for the SSH banner"
            transport = handshake(sock, known, deadline)
            error = verify_host_key(target, known, transport.get_remote_server_key())
            phase = "authenticating"
            error = error or authenticate(transport, target, keys, deadline)
    except (OSError, paramiko.SSHException, EOFError) as exc:
        error = describe(exc, phase, target.timeout)
    result = Login(target.username, target.address, error is None,
                   time.monotonic() - start, error)
    if error is None and transport is not None:
        return result, Connection(transport, target, jump)
    if transport is not None:
        transport.close()
    if jump is not None:
        jump.close()
    return result, None


def _through_jump(target: SshTarget, deadline: float) -> tuple[Connection | None, Any, str | None]:
    """Log in to the jump host and have it open a channel to the target, as `ssh -J` does:
    (the jump connection, the channel to talk SSH over, or why there is none)."""
    assert target.jump is not None
    hop = dataclasses.replace(target.jump, timeout=max(0.05, deadline - time.monotonic()))
    login, jump = connect(hop)
    if jump is None:
        return None, None, f"through the jump host: {login.reason}"
    try:
        channel = jump._transport.open_channel(
            "direct-tcpip", (target.host, target.port), ("127.0.0.1", 0),
            timeout=max(0.05, deadline - time.monotonic()))
    except (paramiko.SSHException, OSError, EOFError) as exc:
        jump.close()
        why = exc.text if isinstance(exc, paramiko.ChannelException) else one_line(exc)
        return None, None, (f"the jump host {hop.address} could not connect to "
                            f"{target.address}: {why}")
    return jump, channel, None


@dataclass(frozen=True)
class Identification:
    """The line a server sends first ("SSH-2.0-OpenSSH_9.2p1 Debian-2"), or why none came."""

    address: str
    version: str | None
    error: str | None = None


def identification(host: str, port: int, timeout: float) -> Identification:
    """The server's identification string, read without a key exchange (RFC 4253 4.2: lines
    before it are skipped)."""
    address = SshTarget(host, port).address
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            buffer, total = b"", 0
            while total < 8192:
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.startswith(b"SSH-"):
                        return Identification(address, line.decode("utf-8", "replace").strip())
                sock.settimeout(max(0.05, deadline - time.monotonic()))
                chunk = sock.recv(1024)
                if not chunk:
                    return Identification(address, None, "the server closed the connection "
                                                          "without an SSH banner")
                buffer, total = buffer + chunk, total + len(chunk)
    except (OSError, EOFError) as exc:
        return Identification(address, None, describe(exc, "waiting for the SSH banner",
                                                        timeout))
    return Identification(address, None, "not an SSH server: no SSH banner in 8 KiB")


def host_keys(host: str, port: int, timeout: float) -> HostKeys:
    """The server's host keys, one handshake per key family, without logging in."""
    address = SshTarget(host, port).address
    deadline = time.monotonic() + timeout
    found: list[tuple[str, str]] = []
    for family in _KEY_FAMILIES:
        others = [name for fam in _KEY_FAMILIES if fam is not family for name in fam]
        transport = None
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
            transport = handshake(sock, None, deadline, {"keys": others})
            key = transport.get_remote_server_key()
            found.append((key.get_name(), key.fingerprint))
        except IncompatiblePeer:
            continue  # the server has no key of this family
        except (OSError, paramiko.SSHException, EOFError) as exc:
            return HostKeys(address, tuple(found), describe(exc, "reading host keys", timeout))
        finally:
            if transport is not None:
                transport.close()
    return HostKeys(address, tuple(found), None if found else "no host key offered")
