"""The compact format: one character per scenario, then only what went wrong.

`.` passed, `R` passed after a retry, `F` failed, `U` unknown; 80 to a line. Then one block per
scenario that did not pass cleanly (the same block as the pretty format), the run's notices and
errors, and the summary line. For long suites in CI logs, where pretty output is too much.

>>> from escalator.results import Outcome, RunResult, ScenarioResult
>>> ok = ScenarioResult("Web", "web.feature", 3, "Home", Outcome.PASSED)
>>> odd = ScenarioResult("Web", "web.feature", 9, "Login", Outcome.UNKNOWN, reason="no key")
>>> print(render(RunResult(scenarios=(ok, ok, odd), duration=0.5), FormatOptions()), end="")
..U
<BLANKLINE>
UNKNOWN Login (web.feature:9)
  no key
<BLANKLINE>
3 scenarios (2 passed, 1 unknown) in 0.50s
"""

from __future__ import annotations

from escalator.formatters import FormatOptions, notable_tags
from escalator.formatters.pretty import failure_lines, finish, mark, paint
from escalator.results import Outcome, RunResult, ScenarioResult

WIDTH = 80
_CHARS = {"PASS": ".", "WARN": "F", "FAIL": "F", "UNKN": "U"}


def render(run: RunResult, options: FormatOptions) -> str:
    chars = [_char(s, options) for s in run.scenarios]
    lines = ["".join(chars[i:i + WIDTH]) for i in range(0, len(chars), WIDTH)]
    for scenario in run.scenarios:
        if scenario.outcome is not Outcome.PASSED or scenario.retried:
            lines.extend(["", _heading(scenario)])
            lines.extend(f"  {line}" for line in failure_lines(scenario, options))
    return finish(lines, run, options)


def _char(scenario: ScenarioResult, options: FormatOptions) -> str:
    word = mark(scenario)
    char = "R" if scenario.retried and scenario.outcome is Outcome.PASSED else _CHARS[word]
    return paint(char, word, options)


def _heading(scenario: ScenarioResult) -> str:
    word = "RETRIED" if scenario.outcome is Outcome.PASSED else scenario.status.name
    tags = "".join(f" {t}" for t in notable_tags(scenario))
    return f"{word} {scenario.name} ({scenario.location}){tags}"
