"""Step keywords do not matter for matching, as in Cucumber: `Given I go to "/"`, `And I go to`
after a Given, and `Then I lookup ...` find the phrase registered with `@when`.

behave files each definition under its keyword and looks a step up only among the definitions of
the step's own type (an `And` takes the type of the step before it), so a cucumber-nagios feature
that wrote its keywords differently from our decorators was UNKNOWN "undefined step". `install`
changes behave's one step registry in place, before any step module is loaded: the step
decorators every step module uses (`@given`, `@when`, `@then`, ours and a site's alike) are bound
to that instance, so this is the one place that covers them all. Called by the runner
(`suite.load_suite`) and by `escalator steps`.

Lookup tries the step's own type first (then behave's generic `@step`), then the other types, so
a feature that does use the decorator's keyword gets exactly what it got before. Ambiguity is
checked across types when a definition is added, the way behave checks it within one type: a
definition whose phrase an existing definition of any type already matches is refused with
behave's `AmbiguousStep`, naming both (the runner reports it as "cannot load steps: file:line:
..."). One function under several keywords (stacked `@given` and `@when`) is not ambiguous.
"""

from __future__ import annotations

from typing import Any

from behave.matchers import make_step_matcher
from behave.step_registry import AmbiguousStep, StepRegistry
from behave.textutil import text as _text

_ORDER = ("given", "when", "then", "step")


class KeywordBlindRegistry(StepRegistry):  # type: ignore[misc]
    """behave's StepRegistry that ignores keywords when it matches a step to a definition."""

    def add_step_definition(self, keyword: str, step_text: str, func: Any) -> None:
        new = make_step_matcher(func, _text(step_text), keyword.lower())
        for step_type in _ORDER:
            if step_type == new.step_type:
                continue  # behave's own check below covers the definition's own type
            for existing in self.steps[step_type]:
                if existing.location == new.location:
                    continue  # the same function, stacked under another keyword
                if existing.matches(new.pattern):
                    raise AmbiguousStep(
                        f"{new.describe()} has already been defined (for any keyword) in\n"
                        f"  existing step {existing.describe(existing.SCHEMA_AT_LOCATION)}")
        super().add_step_definition(keyword, step_text, func)

    def candidates(self, step_type: str) -> list[Any]:
        """The definitions to try for a step of `step_type`, its own type first."""
        order = (step_type, "step", *(t for t in _ORDER if t not in (step_type, "step")))
        return [matcher for name in order for matcher in self.steps[name]]

    def find_step_definition(self, step: Any) -> Any:
        return next((m for m in self.candidates(step.step_type) if m.match(step.name)), None)

    def find_match(self, step: Any) -> Any:
        for matcher in self.candidates(step.step_type):
            result = matcher.match(step.name)
            if result:
                return result
        return None


def install(registry: Any) -> None:
    """Make `registry` (behave's global StepRegistry instance) keyword-blind; idempotent.

    The instance's class is swapped rather than the instance replaced: the decorators that step
    modules import from behave were made for this very instance and call its methods.
    """
    if not isinstance(registry, KeywordBlindRegistry):
        registry.__class__ = KeywordBlindRegistry
