"""Level actions as real subprocesses: exit codes, output tail, stdin, and a hung level whose
whole process group (children included) dies at the timeout."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from escalator.ladder.actions import TAIL_BYTES, run_action


def script(tmp_path: Path, body: str, name: str = "level.sh") -> tuple[str, ...]:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return (str(path),)


ENV = {"PATH": "/usr/bin:/bin"}


def gone(pid: int, within: float = 10.0) -> bool:
    """True once `pid` no longer runs (a zombie nobody reaped counts as gone)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_exit_codes_and_output(tmp_path: Path) -> None:
    ok = run_action(script(tmp_path, 'echo "out $ESCALATOR_LEVEL"; echo err >&2'), timeout=10,
                    environ={**ENV, "ESCALATOR_LEVEL": "vm"})
    bad = run_action(script(tmp_path, "exit 4", "bad.sh"), timeout=10, environ=ENV)
    assert (ok.status, ok.exit_code, ok.output) == ("succeeded", 0, "out vm\nerr\n")
    assert (bad.status, bad.exit_code, bad.ok) == ("failed", 4, False)


def test_only_the_tail_of_long_output_is_kept(tmp_path: Path) -> None:
    result = run_action(script(tmp_path, "seq 1 5000"), timeout=10, environ=ENV)
    expected = "".join(f"{i}\n" for i in range(1, 5001))[-TAIL_BYTES:]
    assert result.output == expected


def test_a_program_that_cannot_start_is_an_error_not_an_exception(tmp_path: Path) -> None:
    result = run_action((str(tmp_path / "missing.sh"),), timeout=5, environ=ENV)
    assert result.status == "error" and result.error is not None
    assert result.error.startswith(f"could not start {tmp_path / 'missing.sh'}: ")


def test_stdin_gets_the_payload(tmp_path: Path) -> None:
    result = run_action(script(tmp_path, "cat"), timeout=10, environ=ENV,
                        stdin=b'{"event": "latched"}')
    assert result.output == '{"event": "latched"}'


def test_hung_level_is_killed_at_its_timeout_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    argv = script(tmp_path, f'sleep 300 &\necho $! > "{pid_file}"\nwait\n')
    started = time.monotonic()
    result = run_action(argv, timeout=1.0, environ=ENV, kill_grace=2.0)
    elapsed = time.monotonic() - started
    assert (result.status, result.exit_code, result.timed_out) == ("timeout", None, True)
    assert elapsed < 30  # generous: the point is that it did not wait 300 s
    assert gone(int(pid_file.read_text()))


def test_a_level_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    argv = script(tmp_path, f"trap '' TERM\nsleep 300 &\necho $! > \"{pid_file}\"\n"
                            "while true; do sleep 1; done\n")
    result = run_action(argv, timeout=1.0, environ=ENV, kill_grace=0.5)
    assert result.status == "timeout"
    assert gone(int(pid_file.read_text()))


def test_output_streams_through_a_pipe_never_a_file(tmp_path: Path) -> None:
    result = run_action(script(tmp_path, "readlink /proc/$$/fd/1"), timeout=10, environ=ENV)
    assert result.output.startswith("pipe:"), result.output


def test_a_level_that_floods_its_output_keeps_only_the_tail(tmp_path: Path) -> None:
    result = run_action(script(tmp_path, "yes"), timeout=1.0, environ=ENV, kill_grace=1.0)
    assert (result.status, result.output) == ("timeout", "y\n" * (TAIL_BYTES // 2))


@pytest.mark.parametrize(("secret", "inside"), [
    *((s, n) for s in ("Zq7-hunter2-Kw9-correct-horse",
                       "p@ss w/rd+&=?%:#Zq7Kw9")  # its URL-encoded forms are longer
      for n in (1, 2, 5, 19)),
    ("Zq7-x", 1), ("Zq7-x", 4)])
def test_no_part_of_a_secret_survives_the_cut(tmp_path: Path, secret: str, inside: int) -> None:
    """The secret (as written, or URL-encoded) straddles the point where the tail is cut."""
    from urllib.parse import quote

    for form in (secret, quote(secret, safe="")):
        if inside >= len(form):
            continue
        text = "start " + form + "." * (TAIL_BYTES - inside)
        path = tmp_path / "out.txt"
        path.write_text(text)
        result = run_action(script(tmp_path, f'cat "{path}"'), timeout=10, environ=ENV,
                            secrets=(secret,))
        assert result.output.endswith("." * (TAIL_BYTES - inside))
        assert len(result.output.encode()) <= TAIL_BYTES
        survivors = [form[-k:] for k in range(2, len(form) + 1) if form[-k:] in result.output]
        assert survivors == [], (form, result.output[:40])


def test_a_secret_whole_inside_the_tail_is_masked(tmp_path: Path) -> None:
    result = run_action(script(tmp_path, "seq 1 3000; echo token=s3cr3t-value; echo done"),
                        timeout=10, environ=ENV, secrets=("s3cr3t-value",))
    assert result.output.endswith("\ntoken=***\ndone\n")
    assert "s3cr3t" not in result.output
