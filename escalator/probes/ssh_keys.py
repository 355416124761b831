"""Key material for the SSH probe: the identities we present and the host keys we trust.

Used only by `escalator.probes.ssh` (which owns the connection). A missing, unreadable or locked
key file is our mistake (`ProbeSetupError`, the scenario is UNKNOWN), never the host's.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Protocol

import paramiko

from escalator.probes import ProbeSetupError
from escalator.text import one_line

_DEFAULT_IDENTITIES = ("id_ed25519", "id_ecdsa", "id_rsa")


class KeySource(Protocol):
    """What these functions read of an `escalator.probes.ssh.SshTarget` (a protocol, so this
    module does not import the one that imports it)."""

    @property
    def key_files(self) -> tuple[str, ...]: ...
    @property
    def passphrase(self) -> str | None: ...
    @property
    def default_keys(self) -> bool: ...
    @property
    def known_hosts(self) -> str: ...
    @property
    def check_host_key(self) -> bool: ...
    @property
    def known_hosts_name(self) -> str: ...


def load_identities(target: KeySource) -> list[tuple[str, paramiko.PKey]]:
    """Read the key files now: a missing or undecryptable key is our mistake, not the host's."""
    keys = [(path, load_key(path, target.passphrase)) for path in target.key_files]
    for name in _DEFAULT_IDENTITIES if target.default_keys else ():
        path = os.path.join(os.path.expanduser("~/.ssh"), name)
        with contextlib.suppress(ProbeSetupError):  # like ssh: skip absent or locked ones
            keys.append((path, load_key(path, target.passphrase)))
    return keys


def load_key(path: str, passphrase: str | None) -> paramiko.PKey:
    if not os.path.isfile(path):
        raise ProbeSetupError(f"SSH key file {path} does not exist")
    # the stub says str, but cryptography under from_path wants the passphrase as bytes
    secret: Any = passphrase.encode() if passphrase is not None else None
    try:
        return paramiko.PKey.from_path(path, secret)
    except (paramiko.PasswordRequiredException, TypeError):
        # cryptography raises TypeError for an encrypted key without a passphrase
        raise ProbeSetupError(f"SSH key file {path} is encrypted: give its passphrase "
                              "(a passphrase column or ssh_key_passphrase)") from None
    except (OSError, paramiko.SSHException, ValueError) as exc:
        why = "wrong passphrase, or not a private key" if passphrase else one_line(exc, 200)
        raise ProbeSetupError(f"cannot read SSH key file {path}: {why}") from None


def known_keys(target: KeySource) -> dict[str, paramiko.PKey] | None:
    """The keys known_hosts holds for the host (hashed names too); None when it has none."""
    if not target.check_host_key:
        return None
    hostkeys = paramiko.HostKeys()
    if os.path.exists(target.known_hosts):
        try:
            hostkeys.load(target.known_hosts)
        except (OSError, paramiko.SSHException, ValueError) as exc:
            raise ProbeSetupError(
                f"cannot read {target.known_hosts}: {one_line(exc, 200)}") from None
    entry = hostkeys.lookup(target.known_hosts_name)
    return dict(entry) if entry else None
