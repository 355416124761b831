"""Local probes: commands (real /bin/sh), files, TCP ports and ping, all on loopback.

"Does not respond" for ping runs the probe in a private network namespace (`unshare -n`) whose
loopback ignores ICMP echo: a real silent host, without touching the machine's own network.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from escalator.probes import ProbeSetupError
from escalator.probes.command import CommandTarget, program, run
from escalator.probes.files import FileTarget, stat_file
from escalator.probes.ping import PingTarget, parse_summary, ping
from escalator.probes.tcp import TcpTarget, connect

# ---------------------------------------------------------------------------------- commands


def _alive(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return [line.strip() for line in out.stdout.splitlines() if marker in line]


def test_a_command_line_runs_through_the_shell() -> None:
    result = run(CommandTarget("printf 'a\\nb\\n' | wc -l; echo oops >&2; exit 3", timeout=5))
    assert (result.exit_status, result.signal, result.timed_out) == (3, None, False)
    assert (result.stdout.strip(), result.stderr) == ("2", "oops\n")
    assert result.ended == "exited 3"


def test_an_unknown_command_is_exit_127_not_an_exception() -> None:
    result = run(CommandTarget("no-such-command-here", timeout=5))
    assert result.exit_status == 127
    assert result.stderr == "/bin/sh: 1: no-such-command-here: not found\n"


def test_a_hanging_command_is_killed_with_its_children() -> None:
    marker = "sleep 31.4159"
    start = time.monotonic()
    result = run(CommandTarget(f"sh -c '{marker} & {marker}; echo never'", timeout=0.5))
    took = time.monotonic() - start
    assert (result.timed_out, result.exit_status, result.stdout) == (True, None, "")
    assert result.ended == "did not finish within 0.5 s and was killed"
    assert took < 3
    assert _alive(marker) == []


def test_a_background_child_does_not_outlive_a_finished_command() -> None:
    marker = "sleep 27.1828"
    result = run(CommandTarget(f"({marker} &); echo started", timeout=5))
    assert (result.exit_status, result.stdout, result.timed_out) == (0, "started\n", False)
    assert _alive(marker) == []


def test_a_killed_worker_takes_its_command_group_with_it() -> None:
    # The runner SIGKILLs a worker stuck past its step timeout; its command must not linger.
    marker = "sleep 33.1416"
    code = ("from escalator.probes.command import CommandTarget, run\n"
            f"run(CommandTarget('{marker} & {marker}', timeout=30))")
    worker = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parent.parent)
    try:
        deadline = time.monotonic() + 10
        while _alive(marker).count(marker) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _alive(marker).count(marker) == 2
    finally:
        worker.kill()
        worker.wait()
    deadline = time.monotonic() + 3
    while _alive(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive(marker) == []


def test_output_is_capped_and_the_rest_drained() -> None:
    result = run(CommandTarget("head -c 300000 /dev/zero | tr '\\0' x; echo done >&2",
                               timeout=10, max_output=1000))
    assert (result.exit_status, len(result.stdout), result.truncated) == (0, 1000, True)
    assert result.stderr == "done\n"


def test_death_by_signal_is_reported() -> None:
    result = run(CommandTarget("kill -TERM $$", timeout=5))
    assert (result.exit_status, result.signal) == (None, 15)
    assert result.ended == "was killed by signal 15 (SIGTERM)"


def test_the_command_runs_in_the_given_directory(tmp_path: Path) -> None:
    assert run(CommandTarget("pwd", timeout=5, cwd=str(tmp_path))).stdout == f"{tmp_path}\n"


def test_a_pipe_whose_reader_is_gone_ends_its_writer_quietly() -> None:
    """As in a terminal: `yes` dies of SIGPIPE, which Python ignores in the worker (a command
    must not inherit that), instead of complaining on stderr."""
    result = run(CommandTarget("yes | head -1", timeout=5))
    assert (result.exit_status, result.stdout, result.stderr) == (0, "y\n", "")


def test_a_program_runs_without_a_shell_in_its_own_environment() -> None:
    result = run(program(["sh", "-c", 'echo "$ONLY" "$HOME"; echo err >&2; exit 4'], timeout=5,
                         environ={"ONLY": "this", "PATH": "/usr/bin:/bin"},
                         merge_stderr=True))
    assert (result.command, result.exit_status, result.stdout, result.stderr) == (
        "sh -c 'echo \"$ONLY\" \"$HOME\"; echo err >&2; exit 4'", 4, "this \nerr\n", "")  # no HOME
    missing = run(program(["no-such-tool-here", "-x"], timeout=5, environ={"PATH": "/usr/bin"}))
    assert (missing.exit_status, missing.stderr) == (127, "no-such-tool-here: not found\n")
    assert run(program(["sleep", "30"], timeout=0.3)).ended == (
        "did not finish within 0.3 s and was killed")


# ------------------------------------------------------------------------------------- files


def test_a_file_age_comes_from_its_mtime(tmp_path: Path) -> None:
    path = tmp_path / "backup.tar"
    path.write_text("data")
    os.utime(path, (1_000_000, 1_000_000))
    result = stat_file(FileTarget(str(path)), now=lambda: 1_000_600.0)
    assert (result.exists, result.modified, result.age, result.error) == (
        True, 1_000_000.0, 600.0, None)


def test_missing_files_are_data(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("")
    missing = stat_file(FileTarget(str(tmp_path / "nope")))
    under_file = stat_file(FileTarget(str(tmp_path / "plain" / "child")))
    assert (missing.exists, missing.error) == (False, f"{tmp_path}/nope does not exist")
    assert under_file.error == f"{tmp_path}/plain/child does not exist (a parent is a file)"


# ------------------------------------------------------------------------------------- ports


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        yield int(sock.getsockname()[1])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_open_port(listener: int) -> None:
    result = connect(TcpTarget("127.0.0.1", listener, timeout=3))
    assert (result.state, result.is_open, result.address, result.error) == (
        "open", True, "127.0.0.1", None)


def test_a_closed_port_refuses() -> None:
    port = _closed_port()
    result = connect(TcpTarget("localhost", port, timeout=3))
    assert (result.state, result.is_open) == ("refused", False)
    assert result.error == f"localhost:{port} refused the connection"


def test_a_port_that_never_answers_times_out() -> None:
    # Linux drops SYNs while a listener's accept queue is full: a real silent port on loopback.
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        port = int(full.getsockname()[1])
        queued = socket.create_connection(("127.0.0.1", port), timeout=2)
        start = time.monotonic()
        result = connect(TcpTarget("127.0.0.1", port, timeout=0.5))
        took = time.monotonic() - start
        queued.close()
    assert (result.state, result.error) == (
        "timeout", f"no answer from 127.0.0.1:{port} within 0.5 s")
    assert 0.4 < took < 3


def test_a_bad_port_is_our_mistake() -> None:
    with pytest.raises(ProbeSetupError, match="bad port 70000"):
        connect(TcpTarget("127.0.0.1", 70000))


# -------------------------------------------------------------------------------------- ping


def test_loopback_responds() -> None:
    result = ping(PingTarget("127.0.0.1", timeout=5))
    assert (result.responded, result.transmitted, result.received, result.error) == (
        True, 3, 3, None)
    assert result.rtt_ms is not None and result.rtt_ms > 0
    assert result.loss == 0.0


def test_a_host_that_is_not_a_host_is_our_mistake() -> None:
    with pytest.raises(ProbeSetupError, match="bad host '-f' to ping"):
        ping(PingTarget("-f"))


@pytest.mark.parametrize(("output", "expected"), [
    ("5 packets transmitted, 0 received, 100% packet loss, time 1004ms\n", (5, 0, None)),
    ("", (0, 0, None)),
])
def test_ping_summaries(output: str, expected: tuple[int, int, float | None]) -> None:
    assert parse_summary(output) == expected


SILENT_PING = textwrap.dedent("""
    import time
    from escalator.probes.ping import PingTarget, ping
    start = time.monotonic()
    r = ping(PingTarget("127.0.0.1", timeout=5, wait=1))
    print(r.responded, r.received, r.transmitted > 0, r.error, time.monotonic() - start < 4)
""")


def _in_silent_namespace(code: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare for a private network namespace")
    shell = ("ip link set lo up && sysctl -q -w net.ipv4.icmp_echo_ignore_all=1 && "
             f"exec {sys.executable} -c \"$0\"")
    return subprocess.run(["unshare", "-n", "sh", "-c", shell, code], capture_output=True,
                          text=True, timeout=30, cwd=Path(__file__).parent.parent)


def test_a_host_that_ignores_echo_does_not_respond() -> None:
    done = _in_silent_namespace(SILENT_PING)
    assert (done.returncode, done.stdout, done.stderr) == (0, "False 0 True None True\n", "")


def test_an_unreachable_network_is_an_error() -> None:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare for a private network namespace")
    code = ("from escalator.probes.ping import PingTarget, ping\n"
            "r = ping(PingTarget('127.0.0.1', timeout=5, wait=1)); print(r.responded, r.error)")
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=30, cwd=Path(__file__).parent.parent)
    assert done.stdout == "False cannot ping 127.0.0.1: connect: Network is unreachable\n"
