"""The SSH probe against a real OpenSSH sshd on loopback, and against hostile TCP servers."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import pytest

from escalator.probes import ProbeSetupError
from escalator.probes.ssh import Connection, SshTarget, connect, host_keys
from tests.servers.hostile import closed_port, silent_server
from tests.servers.sshd import FILE_AGES, Sshd

pytestmark = pytest.mark.servers


def target(sshd: Sshd, **changes: object) -> SshTarget:
    base = SshTarget(sshd.host, sshd.port, sshd.user, known_hosts=str(sshd.known_hosts),
                     key_files=(str(sshd.client_key),), timeout=5.0)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def connection(sshd: Sshd) -> Iterator[Connection]:
    login, conn = connect(target(sshd))
    assert login.ok, login.error
    assert conn is not None
    try:
        yield conn
    finally:
        conn.close()


# -- logging in -------------------------------------------------------------------------------

def test_key_login_succeeds_and_leaves_no_transport_thread(sshd: Sshd) -> None:
    before = threading.active_count()
    login, conn = connect(target(sshd))
    assert (login.ok, login.error, login.username, login.address) == (
        True, None, sshd.user, f"127.0.0.1:{sshd.port}")
    assert conn is not None
    conn.close()
    assert threading.active_count() <= before + 1  # the transport thread is winding down


def test_password_login_succeeds(sshd: Sshd) -> None:
    login, conn = connect(target(sshd, key_files=(), password=sshd.password))
    assert login.ok, login.error
    assert conn is not None
    conn.close()


def test_passphrase_protected_key_logs_in_with_its_passphrase(sshd: Sshd) -> None:
    login, conn = connect(target(sshd, key_files=(str(sshd.locked_key),),
                                 passphrase=sshd.passphrase))
    assert login.ok, login.error
    assert conn is not None
    conn.close()


def test_refused_password_is_a_failure_that_does_not_show_the_password(sshd: Sshd) -> None:
    login, conn = connect(target(sshd, key_files=(), password="Wrong-Secret-99"))
    assert conn is None
    assert login.error == f"authentication failed for {sshd.user} (refused: password)"
    assert login.reason == (f"cannot ssh to {sshd.user}@127.0.0.1:{sshd.port}: "
                            f"authentication failed for {sshd.user} (refused: password)")


def test_refused_key_then_password_lists_both(sshd: Sshd) -> None:
    login, _ = connect(target(sshd, key_files=(str(sshd.stranger_key),), password="nope"))
    assert login.error == (f"authentication failed for {sshd.user} "
                           "(refused: key stranger_key, password)")


def test_no_credentials_at_all(sshd: Sshd) -> None:
    login, _ = connect(target(sshd, key_files=()))
    assert login.error == f"no key or password to log in as {sshd.user}"


# -- host keys --------------------------------------------------------------------------------

def test_unknown_host_key_is_refused_and_named(sshd: Sshd) -> None:
    login, conn = connect(target(sshd, known_hosts=str(sshd.empty_known_hosts)))
    assert conn is None
    assert login.error == (f"host key ssh-ed25519 {sshd.fingerprints['ssh-ed25519']} of "
                           f"[127.0.0.1]:{sshd.port} is not in {sshd.empty_known_hosts} "
                           "(unknown host)")


def test_missing_known_hosts_file_means_unknown_host(sshd: Sshd, tmp_path: object) -> None:
    login, _ = connect(target(sshd, known_hosts="/nonexistent/known_hosts"))
    assert login.error is not None
    assert login.error.endswith("is not in /nonexistent/known_hosts (unknown host)")


def test_changed_host_key_is_refused_with_both_fingerprints(sshd: Sshd) -> None:
    login, conn = connect(target(sshd, known_hosts=str(sshd.wrong_known_hosts)))
    assert conn is None
    wrong = sshd.wrong_known_hosts.read_text().split()[2]
    assert login.error is not None
    assert login.error.startswith(
        f"host key of [127.0.0.1]:{sshd.port} has CHANGED: the server offers ssh-ed25519 "
        f"{sshd.fingerprints['ssh-ed25519']}, {sshd.wrong_known_hosts} has SHA256:")
    assert wrong not in login.error  # fingerprints, not whole keys


def test_known_ecdsa_key_is_negotiated_in_preference(sshd: Sshd) -> None:
    login, conn = connect(target(sshd, known_hosts=str(sshd.ecdsa_known_hosts)))
    assert login.ok, login.error
    assert conn is not None
    conn.close()


def test_host_key_check_off_accepts_an_unknown_key(sshd: Sshd) -> None:
    login, conn = connect(target(sshd, known_hosts=str(sshd.wrong_known_hosts),
                                 check_host_key=False))
    assert login.ok, login.error
    assert conn is not None
    conn.close()


def test_host_keys_reads_every_family_without_logging_in(sshd: Sshd) -> None:
    found = host_keys(sshd.host, sshd.port, 5.0)
    assert found.error is None
    assert dict(found.keys) == sshd.fingerprints


def test_host_keys_of_a_closed_port() -> None:
    found = host_keys("127.0.0.1", closed_port(), 2.0)
    assert (found.keys, found.error) == ((), "connection refused")


# -- broken targets ---------------------------------------------------------------------------

def test_connection_refused(sshd: Sshd) -> None:
    port = closed_port()
    login, conn = connect(target(sshd, port=port))
    assert conn is None
    assert login.reason == f"cannot ssh to {sshd.user}@127.0.0.1:{port}: connection refused"


def test_banner_that_never_comes_is_cut_at_the_timeout(sshd: Sshd) -> None:
    with silent_server() as port:
        login, conn = connect(target(sshd, port=port, timeout=1.0))
    assert conn is None
    assert login.error == "no SSH banner within 1.0 s"
    assert 0.9 <= login.elapsed < 5.0


# -- our own mistakes -------------------------------------------------------------------------

def test_encrypted_key_without_passphrase_is_our_mistake(sshd: Sshd) -> None:
    with pytest.raises(ProbeSetupError) as caught:
        connect(target(sshd, key_files=(str(sshd.locked_key),)))
    assert str(caught.value) == (f"SSH key file {sshd.locked_key} is encrypted: give its "
                                 "passphrase (a passphrase column or ssh_key_passphrase)")


def test_wrong_passphrase_is_our_mistake_and_not_echoed(sshd: Sshd) -> None:
    with pytest.raises(ProbeSetupError) as caught:
        connect(target(sshd, key_files=(str(sshd.locked_key),), passphrase="Guess-123"))
    assert str(caught.value) == (f"cannot read SSH key file {sshd.locked_key}: "
                                 "wrong passphrase, or not a private key")


def test_missing_key_file_is_our_mistake(sshd: Sshd) -> None:
    with pytest.raises(ProbeSetupError, match="SSH key file /nonexistent/id does not exist"):
        connect(target(sshd, key_files=("/nonexistent/id",)))


# -- commands ---------------------------------------------------------------------------------

def test_command_output_and_exit_status(connection: Connection, sshd: Sshd) -> None:
    result = connection.run("echo hello; echo oops >&2; exit 3", 5.0)
    assert (result.exit_status, result.output, result.output_bytes, result.error) == (
        3, "hello\noops\n", 11, None)
    assert result.address == f"127.0.0.1:{sshd.port}"


def test_command_that_hangs_is_cut_and_the_connection_still_works(
        connection: Connection, sshd: Sshd) -> None:
    result = connection.run("echo started; sleep 60", 1.0)
    assert result.exit_status is None
    assert result.error == f"still running after 1.0 s on 127.0.0.1:{sshd.port}: cut"
    assert result.output == "started\n"
    assert 0.9 <= result.elapsed < 5.0
    assert connection.run("echo again", 5.0).output == "again\n"


def test_output_is_bounded_but_counted(connection: Connection) -> None:
    result = connection.run("head -c 300000 /dev/zero | tr '\\0' x", 5.0, limit=1000)
    assert (result.exit_status, result.output_bytes, result.output) == (0, 300000, "x" * 1000)


def test_command_killed_by_a_signal_has_no_exit_status(connection: Connection, sshd: Sshd
                                                       ) -> None:
    result = connection.run("kill -9 $$", 5.0)
    assert (result.exit_status, result.error) == (
        None, f"no exit status from 127.0.0.1:{sshd.port} (killed by a signal?)")


# -- file ages --------------------------------------------------------------------------------

def test_file_age_uses_the_servers_mtime(connection: Connection, sshd: Sshd) -> None:
    path = str(sshd.files / "old.bak")
    mtime = int((sshd.files / "old.bak").stat().st_mtime)  # SFTP sends whole seconds
    result = connection.file_age(path, 5.0, now=lambda: mtime + 42.0)
    assert (result.path, result.age, result.error) == (path, 42.0, None)
    real = connection.file_age(path, 5.0)
    assert real.age is not None
    assert FILE_AGES["old.bak"] - 5 < real.age < FILE_AGES["old.bak"] + 600


def test_missing_and_unreadable_files_are_errors(connection: Connection, sshd: Sshd) -> None:
    missing = connection.file_age(f"{sshd.files}/nope.bak", 5.0)
    assert (missing.age, missing.error) == (
        None, f"cannot stat {sshd.files}/nope.bak on 127.0.0.1:{sshd.port}: No such file")
    hidden = connection.file_age("/root/secret.bak", 5.0)
    assert hidden.error == (f"cannot stat /root/secret.bak on 127.0.0.1:{sshd.port}: "
                            "Permission denied")
