"""The phases of an SSH transport, for `escalator.probes.ssh`: banner and key exchange
(preferring the key types known_hosts holds for the host), host key verification (an unknown
or changed key is refused, and says which), authentication (keys in order, then the password),
and one line for an operator when any of them fails.
"""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING

import paramiko

from escalator.text import one_line

if TYPE_CHECKING:
    from escalator.probes.ssh import SshTarget

_ALGORITHMS = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256")}  # known_hosts name -> negotiated


class PhaseTimeout(paramiko.SSHException):  # a phase did not finish before the deadline
    pass


def handshake(sock: socket.socket, known: dict[str, paramiko.PKey] | None, deadline: float,
               disabled: dict[str, list[str]] | None = None) -> paramiko.Transport:
    """Banner and key exchange, preferring the key types known_hosts holds for the host."""
    transport = paramiko.Transport(sock, disabled_algorithms=disabled)
    remaining = max(0.05, deadline - time.monotonic())
    # paramiko's own limits a little later than ours, so ours decides and names the phase
    transport.banner_timeout = transport.handshake_timeout = remaining + 1.0
    if known:
        options = transport.get_security_options()
        first = [a for name in known for a in _ALGORITHMS.get(name, (name,))
                 if a in options.key_types]
        options.key_types = first + [a for a in options.key_types if a not in first]
    transport.start_client(timeout=remaining)  # on failure its thread has closed the socket
    done = transport.completion_event
    if transport.is_active() and done is not None and done.is_set():
        return transport
    transport.close()  # start_client returns quietly at its timeout
    stage = "SSH banner" if not transport.remote_version else "end of the key exchange"
    raise PhaseTimeout(f"no {stage}")


def verify_host_key(target: SshTarget, known: dict[str, paramiko.PKey] | None,
                     offered: paramiko.PKey) -> str | None:
    """None when the offered key is the known one; else which way it is wrong."""
    if not target.check_host_key:
        return None
    seen = f"{offered.get_name()} {offered.fingerprint}"
    name, path = target.known_hosts_name, target.known_hosts
    if not known:
        return f"host key {seen} of {name} is not in {path} (unknown host)"
    expected = known.get(offered.get_name())
    if expected is None:
        return (f"host key {seen} of {name} is not in {path}, which has only "
                f"{', '.join(sorted(known))} for it")
    if expected.asbytes() != offered.asbytes():
        return (f"host key of {name} has CHANGED: the server offers {seen}, "
                f"{path} has {expected.fingerprint}")
    return None


def authenticate(transport: paramiko.Transport, target: SshTarget,
                  keys: list[tuple[str, paramiko.PKey]], deadline: float) -> str | None:
    """Keys in order, then the password; None once the server accepts us."""
    user = target.username
    methods: list[tuple[str, paramiko.PKey | str]] = [
        (f"key {os.path.basename(path)}", key) for path, key in keys]
    if target.password is not None:
        methods.append(("password", target.password))
    refused: list[str] = []
    for label, secret in methods:
        transport.auth_timeout = max(0.05, deadline - time.monotonic())
        try:
            if isinstance(secret, str):
                transport.auth_password(user, secret)
            else:
                transport.auth_publickey(user, secret)
        except paramiko.BadAuthenticationType as exc:
            refused.append(f"{label} (server allows only {', '.join(exc.allowed_types)})")
        except paramiko.AuthenticationException:
            refused.append(label)
        if transport.is_authenticated():
            return None
        if time.monotonic() >= deadline:
            raise PhaseTimeout("authentication did not finish")
    if not methods:
        return f"no key or password to log in as {user}"
    return f"authentication failed for {user} (refused: {', '.join(refused)})"


def describe(exc: BaseException, phase: str, timeout: float) -> str:
    """One line for an operator, by what failed and when."""
    if isinstance(exc, PhaseTimeout):
        return f"{exc} within {timeout:.1f} s"
    if isinstance(exc, TimeoutError):  # socket.timeout too
        return f"no answer within {timeout:.1f} s while {phase}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name: {exc.strerror}"
    if isinstance(exc, EOFError | ConnectionResetError):
        return f"the server closed the connection while {phase}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror.lower()} while {phase}"
    if isinstance(exc, paramiko.SSHException) and "protocol banner" in str(exc):
        return "not an SSH server: no valid SSH banner in what it sent"
    return f"SSH failed while {phase}: {one_line(exc, 200)}"
