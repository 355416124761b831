"""The keeper of one local command: a process forked by `escalator.probes.command.run` that
runs the command (a shell line, or a tool a probe asks) and makes sure nothing it starts
outlives it.

A shell line reaches `/bin/sh -s` on its stdin, a pipe that is at its end once the shell has
read the line (for the command as good as /dev/null; sh's messages are those of `sh -c`), never
in an argv: every user's `ps` shows argv, and the line may hold a `${secret}`. A tool (pgrep,
`openssl s_client`...) is executed with its argv and /dev/null as stdin. The keeper is a
child subreaper (PR_SET_CHILD_SUBREAPER): whatever the command leaves behind, even a daemon that
called `setsid` and forked twice, is re-parented to it rather than to init, so when the shell
ends it kills every descendant. It cleans up the same way when told to (SIGTERM from the worker
at the step's deadline, or as its parent-death signal when the worker dies: the runner killed
it, or Nagios killed the whole check), and at its own limit, a last line of defence a little
beyond the worker's. Its exit mirrors the command's (the same status, or death by the same
signal), as coreutils `timeout` does; 124 at its limit, 127 for a program that is not there.

It is forked, not executed: a Python interpreter's start-up cost every command step about 30 ms
of CPU here, the fork about 2 ms. So it runs in a copy of the worker, and touches nothing of it:
no garbage collection (a finalizer could close a descriptor that is now ours), no library code,
only `os`, `signal`, `time` and `escalator.lifetime`'s libc function, resolved before the fork.
"""

from __future__ import annotations

import contextlib
import gc
import os
import resource
import signal
import time
from collections.abc import Callable, Mapping, Sequence

from escalator.lifetime import become_subreaper, die_with_parent

_STOPS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
_WAKE = {signal.SIGCHLD, *_STOPS}
_RESTORED = (signal.SIGPIPE, signal.SIGXFSZ)  # as subprocess's restore_signals
TIMED_OUT = 124
_MAX_FD = 65536


def keep(argv: Sequence[str], script: bytes | None, limit: float, parent: int, stdout: int,
         stderr: int, cwd: str | None = None, environ: Mapping[str, str] | None = None) -> int:
    """In the forked child: run `argv` (in `cwd`, with `environ` or ours; `script` on its
    stdin, else /dev/null) to its end, clean up, and return the exit code to use (or die by the
    command's signal). `parent` is the worker's pid."""
    gc.disable()
    if cwd is not None:
        os.chdir(cwd)
    os.setsid()  # out of reach of a kill aimed at the runner's processes
    signal.pthread_sigmask(signal.SIG_BLOCK, _WAKE)
    if not die_with_parent(parent, signal.SIGTERM):
        return 1  # the worker died before the signal was set: nobody to run it for
    become_subreaper()
    shell = _start(argv, script, stdout, stderr, environ)
    deadline = time.monotonic() + limit
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            _kill_descendants(shell)
            return TIMED_OUT
        woken = signal.sigtimedwait(_WAKE, min(left, 1.0))
        if woken is not None and woken.si_signo in _STOPS:
            _kill_descendants(shell)
            return 128 + woken.si_signo
        status = _reap(shell)
        if status is not None:
            _kill_descendants(shell)
            return _mirror(status)


def _start(argv: Sequence[str], script: bytes | None, stdout: int, stderr: int,
           environ: Mapping[str, str] | None) -> int:
    """Fork the command in a process group of its own, `script` (if any) on its stdin; only
    the command's processes hold the output pipes, so their end is the output's end."""
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    os.closerange(3, _MAX_FD)  # the worker's sockets and pipes are not the command's
    script_read, script_write = os.pipe() if script is not None else (-1, -1)
    pid = os.fork()
    if pid == 0:
        try:
            stdin = script_read if script is not None else os.open(os.devnull, os.O_RDONLY)
            os.dup2(stdin, 0)
            os.closerange(3, _MAX_FD)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            for number in _RESTORED:  # Python ignores these; a command must not inherit that
                signal.signal(number, signal.SIG_DFL)
            os.setpgid(0, 0)  # its own group: killing it never kills the keeper
            if environ is None:
                os.execvp(argv[0], list(argv))
            os.execvpe(argv[0], list(argv), dict(environ))
        except OSError as exc:  # as a shell says it: `tool: not found`, exit 127
            why = "not found" if isinstance(exc, FileNotFoundError) else exc.strerror
            os.write(2, f"{argv[0]}: {why}\n".encode(errors="replace"))
        finally:
            os._exit(127)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    if script is not None:
        os.close(script_read)
        data = memoryview(script)
        with contextlib.suppress(BrokenPipeError):  # the shell ended before reading it all
            while data:
                data = data[os.write(script_write, data):]
        os.close(script_write)
    return pid


def _reap(shell: int) -> int | None:
    """Reap every child that has ended; the shell's wait status once it has."""
    found = None
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return found
        if pid == 0:
            return found
        if pid == shell:
            found = status


def _kill_descendants(shell: int) -> None:
    """SIGKILL the shell's group, then every child left (re-parented here, as a subreaper
    gets them) with its group, until none is left; an escaping fork bomb gets two seconds."""
    _quietly(os.killpg, shell)
    give_up = time.monotonic() + 2.0
    while time.monotonic() < give_up:
        _reap(shell)
        children = _children()
        if not children:
            return
        for pid in children:
            _quietly(os.killpg, pid)
            _quietly(os.kill, pid)
        time.sleep(0.005)


def _quietly(kill: Callable[[int, int], None], pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        kill(pid, signal.SIGKILL)


def _children() -> list[int]:
    me = str(os.getpid()).encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and fields[1] == me:
            found.append(int(name))
    return found


def _mirror(status: int) -> int:
    """Exit as the shell did: its status, or death by its signal (without a core file)."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        with contextlib.suppress(OSError, ValueError):  # SIGKILL and SIGSTOP keep theirs
            signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        os.kill(os.getpid(), number)
        return 128 + number  # a signal that does not end a process
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1
