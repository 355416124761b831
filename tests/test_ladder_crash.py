"""Never two copies of one level: engines killed (SIGKILL), stopped (SIGTERM, SIGHUP, also in
the first milliseconds of a level), a reused pid, and a disk that fails for a while, all with
real `python -m escalator escalate|watch` processes and level scripts that record every start and
notice any other live copy of themselves (overlap.log)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.project import child_environ
from tests.test_ladder_process import project, verdicts

# A level that notices a live copy of itself, records its start, starts a child in its own
# process group (the kill must take it too), prints, says it runs (NAME.running) and sleeps
# SECONDS; it "repairs" on the way out.
LEVEL = '''#!PYTHON
import os, subprocess, time
from pathlib import Path

root, level = Path(ROOT), os.environ["ESCALATOR_LEVEL"]
running = root / f"{level}.running"
if running.exists():
    previous = int(running.read_text())
    try:
        state = Path(f"/proc/{previous}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        state = "gone"
    if state not in ("gone", "Z", "X"):
        with (root / "overlap.log").open("a") as log:
            log.write(f"{previous} {os.getpid()}\\n")
with (root / "ran.log").open("a") as log:
    log.write(f"{level} {os.getpid()}\\n")
child = subprocess.Popen(["sleep", "300"])
print("working on", level, flush=True)
running.write_text(str(os.getpid()))  # last: a test that sees it knows all of the above ran
time.sleep(SECONDS)
child.kill()
(root / f"{level}.state").write_text("pass")
'''


def level(root: Path, name: str, seconds: float, timeout: str | None = None,
          idempotent: bool | None = None) -> None:
    """Make `name` the recording python level above; optionally change its timeout."""
    path = root / "ops" / f"{name}.sh"
    path.write_text(LEVEL.replace("PYTHON", sys.executable).replace("ROOT", repr(str(root)))
                    .replace("SECONDS", repr(seconds)))
    path.chmod(0o755)
    config = root / "escalator.toml"
    text = config.read_text()
    block = text.index(f'id = "{name}"')
    end = text.find("[[ladder.level]]", block)
    end = len(text) if end < 0 else end
    section = text[block:end]
    if timeout is not None:
        section = section.replace('timeout = "60s"', f'timeout = "{timeout}"')
    if idempotent is not None:
        section = section.replace("idempotent = true\n", "")
        section = section.rstrip("\n") + f"\nidempotent = {'true' if idempotent else 'false'}\n\n"
    config.write_text(text[:block] + section + text[end:])


class Engines:
    """Spawns engines for one project; every process they start carries a token in its
    environment, so the test can find any level process left alive."""

    def __init__(self, root: Path) -> None:
        self.root, self.token = root, uuid.uuid4().hex
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, *argv: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "escalator", *argv, "-e", "test", "-c",
             str(self.root / "escalator.toml")], cwd=self.root, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=child_environ(USER="tester", LADDER_TEST_TOKEN=self.token))
        self.procs.append(proc)
        return proc

    def level_processes(self) -> list[int]:
        """Live (not zombie) processes of a level started by these engines."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if (f"LADDER_TEST_TOKEN={self.token}".encode() in environ
                    and any(v.startswith(b"ESCALATOR_LEVEL=") for v in environ)
                    and state not in ("Z", "X")):
                found.append(int(entry.name))
        return found

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for pid in self.level_processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def engines(tmp_path: Path) -> Engines:
    made = Engines(project(tmp_path))
    yield made  # type: ignore[misc]
    made.cleanup()


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def wait_for(condition: Callable[[], object], timeout: float = 60.0, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    pytest.fail("condition not met in time")


def ran(root: Path) -> list[str]:
    log = root / "ran.log"
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


def audit(root: Path) -> list[dict[str, object]]:
    path = root / ".escalator" / "ladder" / "test" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def events(root: Path) -> list[object]:
    return [r["event"] for r in audit(root)]


def intent(root: Path) -> dict[str, object] | None:
    path = root / ".escalator" / "ladder" / "test" / "intent.json"
    return json.loads(path.read_text()) if path.exists() else None


def quick_kill(root: Path) -> None:
    """A 1 s kill grace, so that tests waiting for a kill do not wait for the default 5 s."""
    config = root / "escalator.toml"
    config.write_text(config.read_text().replace("[ladder]\n", '[ladder]\nkill_grace = "1s"\n'))


def test_a_killed_engines_level_still_ends_at_its_timeout_and_is_on_record(
        engines: Engines) -> None:
    """No engine starts again: the level's keeper still stops it at its timeout and audits
    how it ended, with its output."""
    root = engines.root
    quick_kill(root)
    level(root, "vm", seconds=60, timeout="2s")
    (root / "vm.state").write_text("down")
    first = engines.start("escalate")
    wait_for(lambda: (root / "vm.running").exists())
    first.kill()
    first.wait()
    assert engines.level_processes(), "the level runs on without its engine"
    status = finish(engines.start("ladder", "status"))[1].splitlines()
    assert [line.split(None, 3)[3].split(" since ")[0] for line in status
            if line.startswith("level in flight ")] == ["vm"]
    wait_for(lambda: "step_finished" in events(root), timeout=2 + 1 + 20)
    assert engines.level_processes() == []
    finished = [r for r in audit(root) if r["event"] == "step_finished"]
    assert [(r["data"]["level"], r["data"]["status"], r["data"]["output"])  # type: ignore
            for r in finished] == [("vm", "timeout", "working on vm\n")]
    assert intent(root) is not None  # for the next engine to settle


def test_a_new_engine_waits_for_a_killed_engines_level_and_never_runs_a_second_copy(
        engines: Engines) -> None:
    root = engines.root
    quick_kill(root)
    level(root, "vm", seconds=60, timeout="3s")
    (root / "vm.state").write_text("down")
    first = engines.start("escalate")
    wait_for(lambda: (root / "vm.running").exists())
    first.kill()
    first.wait()
    code, out, err = finish(engines.start("escalate"))
    # The new engine never ran a second copy; it waited while the level ran to its timeout
    # (counted from the level's start), then latched: vm is not idempotent.
    assert engines.level_processes() == []
    assert ran(root) == ["vm"]
    assert not (root / "overlap.log").exists()
    assert code == 2
    assert verdicts(out)[0].startswith("test: latched - level vm (not idempotent) was "
                                       "interrupted by an engine crash; its effect is "
                                       "unknown (run ")
    assert err.startswith("escalator: test: level vm of an engine that is gone still runs (")
    found = events(root)
    assert found.index("level_orphaned") < found.index("step_finished") < found.index(
        "state_recovered")
    recovered = next(r for r in audit(root) if r["event"] == "state_recovered")
    assert recovered["reason"] == ("level vm was running when the engine stopped; its keeper "
                                   "recorded it timeout")
    state = json.loads((root / ".escalator/ladder/test/state.json").read_text())
    assert (state["last_engagement"]["verdict"],
            [(s["level"], s["status"]) for s in state["last_engagement"]["steps"]]) == (
        "crashed", [("vm", "timeout")])
    assert intent(root) is None


def test_a_level_whose_engine_and_keeper_were_killed_is_stopped_by_the_next_engine(
        engines: Engines) -> None:
    root = engines.root
    quick_kill(root)
    level(root, "vm", seconds=60, timeout="2s")
    (root / "vm.state").write_text("down")
    first = engines.start("escalate")
    wait_for(lambda: (root / "vm.running").exists() and (intent(root) or {}).get("pid"))
    first.kill()
    first.wait()
    record = intent(root)
    assert record is not None
    os.kill(int(record["keeper_pid"]), signal.SIGKILL)  # type: ignore[arg-type]
    code, _, _ = finish(engines.start("escalate"))
    assert engines.level_processes() == []
    assert (code, ran(root)) == (2, ["vm"])
    found = events(root)
    assert found.index("level_orphaned") < found.index("level_killed") < found.index(
        "state_recovered")
    killed = next(r for r in audit(root) if r["event"] == "level_killed")
    assert (killed["data"]["level"], killed["data"]["stopped"]) == ("vm", True)  # type: ignore


def test_an_idempotent_level_of_a_killed_engine_is_never_run_twice_at_once(
        engines: Engines) -> None:
    root = engines.root
    level(root, "deploy", seconds=2.5)
    (root / "deploy.state").write_text("500")
    first = engines.start("escalate")
    wait_for(lambda: (root / "deploy.running").exists())
    first.kill()
    first.wait()
    code, _, _ = finish(engines.start("escalate"))
    assert not (root / "overlap.log").exists()
    assert engines.level_processes() == []
    # The orphan finished its work while the new engine waited; nothing needed running again.
    assert (code, ran(root)) == (0, ["deploy"])
    found = events(root)
    after = found[found.index("level_orphaned"):]  # the second engine: wait, settle, then run
    assert after.index("step_interrupted") < after.index("observed")


def test_sigterm_stops_escalate_kills_the_level_group_and_records_it_as_interrupted(
        engines: Engines) -> None:
    root = engines.root
    level(root, "vm", seconds=60)
    (root / "vm.state").write_text("down")
    proc = engines.start("escalate")
    wait_for(lambda: (root / "vm.running").exists())
    wait_for(lambda: "step_intent" in events(root) and (intent(root) or {}).get("pid"))
    proc.send_signal(signal.SIGTERM)
    code, out, err = finish(proc)
    assert engines.level_processes() == []
    assert (code, err) == (2, "")
    assert verdicts(out)[0].startswith("test: interrupted - stopped by SIGTERM while level vm "
                                       "ran (run ")
    finished = [r for r in audit(root) if r["event"] == "step_finished"]
    assert [(r["data"]["level"], r["data"]["status"]) for r in finished] == [  # type: ignore[index]
        ("vm", "interrupted")]
    assert finished[0]["data"]["output"] == "working on vm\n"  # type: ignore[index]
    ended = [r for r in audit(root) if r["event"] == "ended"]
    assert [r["data"]["verdict"] for r in ended] == ["interrupted"]  # type: ignore[index]
    left = intent(root)
    assert left is not None and (left["level"], left["stopped_by"]) == ("vm", "SIGTERM")
    # The next engine records an orderly stop, not a crash, and keeps the non-idempotent latch.
    code, out, _ = finish(engines.start("escalate"))
    assert code == 2 and verdicts(out)[0].startswith(
        "test: latched - level vm (not idempotent) was stopped by SIGTERM while it ran (an "
        "orderly stop of the engine, not a crash); it may have done part of its work (run ")
    assert "step_interrupted" in events(root) and "state_recovered" not in events(root)
    assert ran(root) == ["vm"]


def test_sighup_stops_watch_and_kills_the_level_group(engines: Engines) -> None:
    root = engines.root
    level(root, "deploy", seconds=60)
    (root / "deploy.state").write_text("500")
    proc = engines.start("watch", "--interval", "100ms")
    wait_for(lambda: (root / "deploy.running").exists())
    proc.send_signal(signal.SIGHUP)
    code, _, err = finish(proc)
    assert engines.level_processes() == []
    assert (code, err) == (0, "escalator watch: stopped\n")
    finished = [r for r in audit(root) if r["event"] == "step_finished"]
    assert [r["data"]["status"] for r in finished] == ["interrupted"]  # type: ignore[index]


@pytest.mark.parametrize("trial", range(4))
def test_sigterm_in_the_first_milliseconds_of_a_level_leaves_nothing_running(
        engines: Engines, trial: int) -> None:
    """The signal lands while the intent is being written and the level spawned: whatever
    the moment, no level process outlives `watch`, and a level that started is on record."""
    root = engines.root
    level(root, "deploy", seconds=60)
    (root / "deploy.state").write_text("500")
    proc = engines.start("watch", "--interval", "100ms")
    intent_path = root / ".escalator" / "ladder" / "test" / "intent.json"
    wait_for(intent_path.exists, every=0.0002)
    time.sleep(trial * 0.002)  # spread the signal over the first milliseconds
    proc.send_signal(signal.SIGTERM)
    code, _, err = finish(proc)
    assert (code, err) == (0, "escalator watch: stopped\n")
    assert engines.level_processes() == []
    started = [r for r in audit(root) if r["event"] == "step_finished"]
    assert [r["data"]["status"] for r in started] == ["interrupted"]  # type: ignore[index]


def test_a_reused_pid_is_not_mistaken_for_the_level(engines: Engines) -> None:
    """An intent whose pid now belongs to another process (another start time) is a dead
    level: the new engine neither waits for that process nor kills it."""
    root = engines.root
    stranger = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        stat = Path(f"/proc/{stranger.pid}/stat").read_text().rsplit(")", 1)[1].split()
        directory = root / ".escalator" / "ladder" / "test"
        directory.mkdir(parents=True)
        (directory / "intent.json").write_text(json.dumps({
            "run_id": "r0", "level": "vm", "idempotent": False, "started": time.time() - 5,
            "pid": stranger.pid, "pid_start": int(stat[19]) - 100, "timeout": 60.0}))
        code, out, _ = finish(engines.start("escalate"))
        assert stranger.poll() is None, "the stranger was killed"
        assert "level_orphaned" not in events(root)
        assert (code, verdicts(out)[0].split(" - ")[0]) == (2, "test: latched")
    finally:
        stranger.kill()
        stranger.wait()


def test_watch_survives_a_disk_that_fails_for_a_while_and_still_acts(engines: Engines) -> None:
    root = engines.root
    proc = engines.start("watch", "--interval", "100ms")
    directory = root / ".escalator" / "ladder" / "test"
    state = directory / "state.json"
    wait_for(lambda: events(root).count("observed") >= 2)
    # Every state write fails for 2.5 s: a directory takes the name of the engine's temporary
    # file, so writing it fails with an OSError (a directory in place of state.json itself is
    # refused as unsafe, like a link or a FIFO: that is not a failing disk).
    blocker = directory / f".{state.name}.{proc.pid}.tmp"
    blocker.mkdir()
    wait_for(lambda: "io_error" in events(root))
    time.sleep(2.5)
    blocker.rmdir()
    assert proc.poll() is None, proc.communicate()
    (root / "deploy.state").write_text("500")
    wait_for(lambda: ran(root) == ["deploy"])
    wait_for(lambda: "recovered" in events(root))
    proc.send_signal(signal.SIGTERM)
    code, _, err = finish(proc)
    assert code == 0
    assert "escalator watch: I/O error, retrying in " in err
    io_errors = [r for r in audit(root) if r["event"] == "io_error"]
    assert io_errors and "state.json" in str(io_errors[0]["reason"])


ORDERLY = ("level vm (not idempotent) was stopped by SIGTERM while it ran (an orderly stop of "
           "the engine, not a crash); it may have done part of its work")
CHECK = ("check what level vm (ops/vm.sh) did before it was cut short (its output: escalator "
         "ladder history -e test); finish or undo it by hand, then: escalator ladder resume -e "
         "test --reason TEXT")


@pytest.mark.parametrize("kill_mode", ["mixed", "control-group"])
def test_a_restart_of_watch_during_a_level_that_is_not_idempotent_is_an_orderly_stop(
        engines: Engines, kill_mode: str) -> None:
    """`systemctl restart`: SIGTERM to the main process (KillMode=mixed, as in docs/ladder.md)
    or to every process of the service at once (systemd's default), then a new watch. It is
    recorded as the orderly stop it was, never as a crash, and says what to check."""
    root = engines.root
    level(root, "vm", seconds=60)
    (root / "vm.state").write_text("down")
    first = engines.start("watch", "--interval", "100ms")
    wait_for(lambda: (root / "vm.running").exists() and (intent(root) or {}).get("pid"))
    record = intent(root)
    assert record is not None
    if kill_mode == "control-group":
        os.killpg(int(record["pid"]), signal.SIGTERM)  # type: ignore[arg-type]
        os.kill(int(record["keeper_pid"]), signal.SIGTERM)  # type: ignore[arg-type]
    first.send_signal(signal.SIGTERM)
    code, out1, err = finish(first)
    assert (code, err) == (0, "escalator watch: stopped\n")
    second = engines.start("watch", "--interval", "100ms")
    wait_for(lambda: "notify_sent" in events(root))
    second.send_signal(signal.SIGTERM)
    code, out2, _ = finish(second)
    assert engines.level_processes() == []
    assert (code, ran(root)) == (0, ["vm"])
    found = events(root)
    assert "step_interrupted" in found and "state_recovered" not in found
    assert [r["reason"] for r in audit(root) if r["event"] == "no_action"][-1] == (
        f"latched: {ORDERLY}")
    state = json.loads((root / ".escalator/ladder/test/state.json").read_text())
    assert (state["latch"]["reason"], state["latch"]["next_step"]) == (ORDERLY, CHECK)
    pages = [json.loads(p) for p in (root / "pages.log").read_text().splitlines() if p]
    assert [(p["event"], p["next_step"]) for p in pages] == [("latched", CHECK)]
    assert "crash" not in (root / ".escalator/ladder/test/audit.jsonl").read_text() \
        .replace("not a crash", "")
    assert "crash" not in (out1 + out2).replace("not a crash", "")
    status = finish(engines.start("ladder", "status"))[1]
    assert f"next step                 {CHECK}\n" in status


def test_a_stop_that_reaches_the_engine_while_a_killed_levels_end_is_on_its_way(
        engines: Engines) -> None:
    """The level dies of the service manager's SIGTERM and its keeper records it `failed`;
    the engine (paused here, as a busy machine may) gets its own SIGTERM before it reads that.
    The level was stopped with the engine: an orderly stop, and vm latches, never runs again."""
    root = engines.root
    level(root, "vm", seconds=60)
    (root / "vm.state").write_text("down")
    proc = engines.start("escalate")
    wait_for(lambda: (root / "vm.running").exists() and (intent(root) or {}).get("pid"))
    record = intent(root)
    assert record is not None
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        os.killpg(int(record["pid"]), signal.SIGTERM)  # type: ignore[arg-type]
        wait_for(lambda: "step_finished" in events(root))
        finished = next(r for r in audit(root) if r["event"] == "step_finished")
        assert (finished["data"]["status"], finished["data"]["exit_code"]) == (  # type: ignore
            "failed", -15)
        proc.send_signal(signal.SIGTERM)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    code, out, _ = finish(proc)
    assert (code, verdicts(out)[0].split(" (run ")[0]) == (
        2, "test: interrupted - stopped by SIGTERM while level vm ran")
    assert (intent(root) or {}).get("stopped_by") == "SIGTERM"
    code, out, _ = finish(engines.start("escalate"))
    assert (code, ran(root)) == (2, ["vm"])
    assert verdicts(out)[0].startswith(f"test: latched - {ORDERLY} (run ")
