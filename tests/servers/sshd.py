"""A real OpenSSH sshd on loopback for tests, with a test user, keys and known_hosts files.

`running_sshd()` is a context manager yielding an `Sshd`: the port, the user (key and password
login), client keys (plain, passphrase-protected, one the server does not accept), known_hosts
files (right and wrong key), and a directory of files with chosen ages for the backup monitor.
It runs `/usr/sbin/sshd -D` as root on 127.0.0.1 (or another loopback address: a fleet of
them on 127.0.0.2, 127.0.0.3 ...) and a free port, with its own host keys and
config in a temporary directory (see shared/research/real-components.md section 1). sshd stops
when the context ends, at interpreter exit, and when this process dies (PR_SET_PDEATHSIG).
The test user is created when missing and removed again when this instance created it.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
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

SSHD = "/usr/sbin/sshd"
USER = "escalator-test"
PASSWORD = "Correct-Horse-7-battery"
PASSPHRASE = "open-sesame-42"
FILE_AGES = {"fresh.bak": 60, "old.bak": 3 * 3600}  # seconds before the server starts


@dataclass(frozen=True)
class Sshd:
    host: str
    port: int
    user: str
    password: str
    passphrase: str
    client_key: Path        # accepted, no passphrase
    locked_key: Path        # accepted, encrypted with `passphrase`
    stranger_key: Path      # not in authorized_keys
    known_hosts: Path       # the server's ed25519 key under `[host]:port`
    ecdsa_known_hosts: Path  # only the server's ecdsa key
    wrong_known_hosts: Path  # another key under the same name
    empty_known_hosts: Path
    fingerprints: dict[str, str]  # key type -> "SHA256:..." as ssh-keygen -l prints it
    files: Path             # holds FILE_AGES' files, readable by the user

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def available() -> str | None:
    """Why this machine cannot run the server, or None when it can."""
    if not os.path.exists(SSHD):
        return f"{SSHD} is missing (apt-get install openssh-server)"
    if os.geteuid() != 0:
        return "sshd with a password-login test user needs root"
    return None


def _keygen(path: Path, kind: str = "ed25519", passphrase: str = "") -> str:
    # -a 2: few KDF rounds, so decrypting the locked key costs milliseconds, not a busy second
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-a", "2",
                    "-C", "escalator-test", "-f", str(path)], check=True, timeout=30)
    return path.with_suffix(".pub").read_text().split()[1]


def _fingerprint(pub: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return out.split()[1]


def _ensure_user() -> tuple[bool, Path]:
    """The test user with a known password; True when we created it."""
    created = False
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", USER], check=True, timeout=30)
        entry, created = pwd.getpwnam(USER), True
    subprocess.run(["chpasswd"], input=f"{USER}:{PASSWORD}\n", text=True, check=True, timeout=30)
    return created, Path(entry.pw_dir)


def _remove_user() -> None:
    # userdel refuses while the user has processes: ours end within moments of sshd's stop;
    # another run's sessions may not, and then the user stays
    for _ in range(20):
        done = subprocess.run(["userdel", "-r", USER], capture_output=True, timeout=30,
                              check=False)
        if done.returncode != 8:  # 8: the user is still in use
            return
        time.sleep(0.25)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    # runs in the child before exec: sshd gets SIGTERM when the test process dies
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _config(work: Path, host: str, port: int) -> Path:
    config = work / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", f"ListenAddress {host}",
        f"HostKey {work}/host_ed25519", f"HostKey {work}/host_ecdsa", "PidFile none",
        f"AuthorizedKeysFile {work}/authorized_keys", "StrictModes no",
        "PubkeyAuthentication yes", "PasswordAuthentication yes",
        "KbdInteractiveAuthentication no", "UsePAM no", "PermitRootLogin no",
        f"AllowUsers {USER}", "Subsystem sftp internal-sftp", "LogLevel VERBOSE",
        "MaxStartups 100:30:200", "",
    ]))
    return config


def _wait_for_banner(host: str, port: int, proc: subprocess.Popen[bytes], limit: float = 10.0
                     ) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=1) as sock:
                if sock.recv(4).startswith(b"SSH-"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _start(work: Path, host: str) -> tuple[subprocess.Popen[bytes], int]:
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    for _ in range(3):  # a free port can be taken between our probe and sshd's bind
        port = _free_port(host)
        config = _config(work, host, port)
        with open(work / "sshd.log", "ab") as log:
            proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, preexec_fn=_die_with_parent)
        atexit.register(_stop, proc)
        if _wait_for_banner(host, port, proc):
            return proc, port
        _stop(proc)
    log_text = (work / "sshd.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"sshd did not start: {log_text}")


def _files(work: Path) -> Path:
    files = work / "files"
    files.mkdir(mode=0o755)
    now = time.time()
    for name, age in FILE_AGES.items():
        path = files / name
        path.write_text(f"{name}\n")
        os.utime(path, (now - age, now - age))
    return files


def _known_hosts(work: Path, host: str, port: int) -> dict[str, Path]:
    name = f"[{host}]:{port}"
    other = _keygen(work / "other_host", "ed25519")
    ed = (work / "host_ed25519.pub").read_text().split()[1]
    ec_line = (work / "host_ecdsa.pub").read_text().split()
    lines = {"known_hosts": f"{name} ssh-ed25519 {ed}\n",
             "ecdsa_known_hosts": f"{name} {ec_line[0]} {ec_line[1]}\n",
             "wrong_known_hosts": f"{name} ssh-ed25519 {other}\n", "empty_known_hosts": ""}
    paths = {}
    for label, text in lines.items():
        (work / label).write_text(text)
        paths[label] = work / label
    return paths


@contextlib.contextmanager
def running_sshd(host: str = "127.0.0.1") -> Iterator[Sshd]:
    """Start sshd for the test user on a free port of the loopback address `host`; stop it
    and clean up on exit."""
    reason = available()
    if reason:
        raise RuntimeError(reason)
    work = Path(tempfile.mkdtemp(prefix="escalator-sshd-"))
    work.chmod(0o711)  # sshd reads authorized_keys as the user; the user stats files/
    keys = work / "client"
    keys.mkdir(mode=0o700)
    created, _home = _ensure_user()
    proc = None
    try:
        _keygen(work / "host_ed25519")
        _keygen(work / "host_ecdsa", "ecdsa")
        authorized = [_keygen(keys / "client_key"),
                      _keygen(keys / "locked_key", passphrase=PASSPHRASE)]
        _keygen(keys / "stranger_key")
        (work / "authorized_keys").write_text(
            "".join(f"ssh-ed25519 {key} escalator-test\n" for key in authorized))
        (work / "authorized_keys").chmod(0o644)
        files = _files(work)
        proc, port = _start(work, host)
        known = _known_hosts(work, host, port)
        fingerprints = {"ssh-ed25519": _fingerprint(work / "host_ed25519.pub"),
                        "ecdsa-sha2-nistp256": _fingerprint(work / "host_ecdsa.pub")}
        yield Sshd(host, port, USER, PASSWORD, PASSPHRASE, keys / "client_key",
                   keys / "locked_key", keys / "stranger_key", known["known_hosts"],
                   known["ecdsa_known_hosts"], known["wrong_known_hosts"],
                   known["empty_known_hosts"], fingerprints, files)
    finally:
        if proc is not None:
            _stop(proc)
        if created:
            _remove_user()
        shutil.rmtree(work, ignore_errors=True)
