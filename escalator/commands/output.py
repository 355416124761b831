"""Writing a run's formats where the operator asked: stdout, `-o FILE` or carbon, and exit codes.

Used by `run` and `check`. Renderers are pure (escalator.formatters); this is the only place that
writes their text out.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable
from pathlib import Path

from escalator.commands.common import RunOptions
from escalator.env import Env
from escalator.errors import EscalatorError, UsageError
from escalator.exit_codes import ExitCode
from escalator.results import Outcome, RunResult


def check_formats(options: RunOptions) -> None:
    from escalator.formatters import FORMATS

    for name, _ in options.formats:
        if name not in FORMATS:
            raise UsageError(f"-f {name}: unknown format (known: {', '.join(FORMATS)})")


GRAPHITE_TIMEOUT = 3.0


def write_outputs(run: RunResult, options: RunOptions, env: Env, default: str) -> None:
    from escalator.formatters import FormatOptions, render

    for name, outfile in options.formats or ((default, None),):
        text = render(name, run, FormatOptions(label=options.label, verbose=options.verbose,
                                               color=outfile is None and env.interactive,
                                               graphite_prefix=options.graphite_prefix))
        if outfile is None:
            env.stdout.write(text)
            continue
        path = Path(env.cwd, outfile)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        except OSError as exc:
            raise UsageError(f"-o {outfile}: cannot write: {exc.strerror or exc}") from None


def send_metrics(run: RunResult, options: RunOptions) -> RunResult:
    """Send the run to carbon when `--graphite` asks; the run, with a notice if that failed.

    Metrics are a by-product: a carbon that is down or wedged costs at most GRAPHITE_TIMEOUT
    and one notice line in the output, never the verdict or the exit code.
    """
    if options.graphite is None or run.errors or not run.scenarios:
        return run
    from escalator.formatters import FormatOptions, render

    text = render("graphite", run, FormatOptions(graphite_prefix=options.graphite_prefix))
    host, port = options.graphite
    problem = send_text(host, port, text, GRAPHITE_TIMEOUT)
    if problem is None:
        return run
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return dataclasses.replace(run, notices=(*run.notices,
                                             f"graphite {where}: cannot send: {problem}"))


def send_text(host: str, port: int, text: str, timeout: float) -> str | None:
    """Write `text` to a TCP peer and close; None when sent, else why not, in a few words."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(text.encode())
            conn.shutdown(socket.SHUT_WR)
    except TimeoutError:
        return f"no connection within {timeout:g}s"
    except OSError as exc:
        return (exc.strerror or type(exc).__name__).lower()
    return None


def store_run(options: RunOptions, run: RunResult) -> RunResult:
    """Keep the result for `escalator status`, the reports and the ladder; return the run, with
    a notice when it could not be stored.

    A run that could not run (bad input) leaves the stored state as it was: the last real
    observation is still the truth about the targets. A store that cannot be written (a full
    disk, a read-only or unsafe state directory) must not cost the run its verdict: a CRITICAL
    that pages nobody is worse than a missing history line.
    """
    if run.errors or not run.scenarios:
        return run
    from escalator.commands.status import stored_answer
    from escalator.state import ResultStore

    try:
        ResultStore(options.state_dir).save(run, stored_answer(options, run))
    except OSError as exc:
        return _not_stored(run, f"cannot write {exc.filename or options.state_dir}: "
                                f"{exc.strerror or exc}")
    except EscalatorError as exc:
        return _not_stored(run, str(exc))
    return run


def _not_stored(run: RunResult, why: str) -> RunResult:
    notice = f"the result could not be stored: {why}"
    return dataclasses.replace(run, notices=(*run.notices, notice))


def say_to(env: Env) -> Callable[[str], None]:
    """Lines for the person or CI log watching a long command (a gate's progress): stderr,
    flushed at once, so stdout keeps only the formats asked for."""

    def say(text: str) -> None:
        env.stderr.write(text + "\n")
        env.stderr.flush()

    return say


def run_exit_code(run: RunResult) -> int:
    """`escalator run`: 0 all passed, 1 a scenario failed, 2 could not run."""
    if run.errors or not run.scenarios or run.count(Outcome.UNKNOWN):
        return ExitCode.NOT_RUN
    return ExitCode.FAILED if run.count(Outcome.FAILED) else ExitCode.OK
