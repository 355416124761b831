"""Writing a run's formats where the operator asked: stdout or `-o FILE`, and exit codes.

Used by `run` and `check`. Renderers are pure (escalator.formatters); this is the only place that
writes their text out.
"""

from __future__ import annotations

from pathlib import Path

from escalator.commands.common import DEFAULT_LABEL, RunOptions
from escalator.env import Env
from escalator.errors import UsageError
from escalator.exit_codes import ExitCode
from escalator.results import Outcome, RunResult


def check_formats(options: RunOptions) -> None:
    from escalator.formatters import FORMATS

    for name, _ in options.formats:
        if name not in FORMATS:
            raise UsageError(f"-f {name}: unknown format (known: {', '.join(FORMATS)})")


def write_outputs(run: RunResult, options: RunOptions, env: Env, default: str) -> None:
    from escalator.formatters import FormatOptions, render

    for name, outfile in options.formats or ((default, None),):
        text = render(name, run, FormatOptions(label=options.label, verbose=options.verbose,
                                               color=outfile is None and env.interactive))
        if outfile is None:
            env.stdout.write(text)
            continue
        path = Path(env.cwd, outfile)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        except OSError as exc:
            raise UsageError(f"-o {outfile}: cannot write: {exc.strerror or exc}") from None


def store_run(options: RunOptions, run: RunResult) -> None:
    """Keep the result for `escalator status`, the reports and the ladder.

    A run that could not run (bad input) leaves the stored state as it was: the last real
    observation is still the truth about the targets.
    """
    if run.errors or not run.scenarios:
        return
    from escalator.commands.status import verdict
    from escalator.laststatus import Rendered
    from escalator.state import ResultStore

    # What `escalator status` prints for this run, rendered now: a status check every minute
    # then reads one small file instead of loading the result and the formatters.
    answer = Rendered(verdict(run, options.label), options.label,
                      options.label == DEFAULT_LABEL, options.config.fingerprint)
    ResultStore(options.state_dir).save(run, answer)


def run_exit_code(run: RunResult) -> int:
    """`escalator run`: 0 all passed, 1 a scenario failed, 2 could not run."""
    if run.errors or not run.scenarios or run.count(Outcome.UNKNOWN):
        return ExitCode.NOT_RUN
    return ExitCode.FAILED if run.count(Outcome.FAILED) else ExitCode.OK
