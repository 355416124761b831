"""How the worker words the end of a step: behave's step (status, exception, message) to a
StepResult. A table, one row per kind of end, on stand-ins for behave's step objects."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from escalator.probes import ProbeSetupError
from escalator.redact import Redactor
from escalator.results import StepResult
from escalator.runner.worker import _step
from escalator.steps.support import StepSetupError


class SiteKeyError(ProbeSetupError):
    """A site's own probe refines ProbeSetupError: still our mistake, not the target's."""


def step(status: str, exception: BaseException | None = None, message: str | None = None
         ) -> SimpleNamespace:
    return SimpleNamespace(status=SimpleNamespace(name=status), exception=exception,
                           error_message=message, keyword="When", name='I go to "/"', line=4,
                           duration=0.5)


def ended(status: str, error: str | None, detail: str | None = None) -> StepResult:
    return StepResult("When", 'I go to "/"', 4, status, 0.5, error, detail)


@pytest.mark.parametrize(("case", "given", "expected"), [
    ("passed", step("passed"), ended("passed", None)),
    ("an assertion is the target's failure, without a traceback",
     step("failed", AssertionError("no answer\n  from h"), "Traceback..."),
     ended("failed", "no answer from h")),
    ("a step's setup error is ours, in one line",
     step("error", StepSetupError("unknown variable ${x}"), "Traceback..."),
     ended("error", "unknown variable ${x}", "Traceback...")),
    ("a probe's setup error is ours, in one line",
     step("error", ProbeSetupError("bad port 0"), "Traceback..."),
     ended("error", "bad port 0", "Traceback...")),
    ("a subclass of a setup error is matched by its class, not its name",
     step("error", SiteKeyError("key file /k is locked"), "Traceback..."),
     ended("error", "key file /k is locked", "Traceback...")),
    ("any other exception is an error in step code",
     step("error", KeyError("x"), "Traceback..."),
     ended("error", "error in step code: KeyError: 'x'", "Traceback...")),
    ("undefined", step("undefined"),
     ended("undefined", "undefined step: no step definition matches this text (see "
                        "`escalator steps`)")),
    ("pending", step("pending"), ended("pending", "step not implemented yet (pending)")),
    ("a message without an exception", step("failed", None, "hook\nfailed"),
     ended("failed", "hook failed")),
])
def test_how_a_step_ended(case: str, given: SimpleNamespace, expected: StepResult) -> None:
    assert _step(given, Redactor(())) == expected, case
