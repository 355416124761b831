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

What every start would otherwise pay for a library of a few hundred phrases (most of a cold
check's CPU time, bench/README.md): the shipped library's phrases (`escalator.steps.*`) are
checked against each other once, by tests/test_step_library.py (`CHECK_LIBRARY`), not at every
start, and each one's pattern is compiled when a step first needs it; a site's phrases are
checked as before, against the library and each other, as they are added. A parse pattern that
is case-sensitive matches only a text that starts with its literal head (the text before its
first field), so lookups and checks skip every definition whose head the text does not start
with, and compile only the few left.
"""

from __future__ import annotations

from typing import Any

from behave.matchers import (
    Match,
    Matcher,
    ParseMatcher,
    _the_step_matcher_factory,
    make_step_matcher,
)
from behave.step_registry import AmbiguousStep, StepRegistry
from behave.textutil import text as _text

_ORDER = ("given", "when", "then", "step")
_LIBRARY = "escalator.steps."
CHECK_LIBRARY = False  # True: the shipped phrases are checked as a site's are (the tests' way)


class _LibraryMatcher(ParseMatcher):  # type: ignore[misc]
    """A phrase of the shipped library: behave's ParseMatcher, whose parse.Parser (and the
    regular expression it compiles) is made on first use, with the step types registered when
    the phrase was (as behave would have made it then)."""

    def __init__(self, func: Any, pattern: str, step_type: str) -> None:
        Matcher.__init__(self, func, pattern, step_type)
        self.head = pattern.split("{", 1)[0]  # see _may_match
        self._types = dict(self.TYPE_REGISTRY)
        self._parser: Any = None

    @property
    def parser(self) -> Any:
        if self._parser is None:
            self._parser = self.PARSER_CLASS(self.pattern, extra_types=self._types,
                                             case_sensitive=self.CASE_SENSITIVE)
        return self._parser


class KeywordBlindRegistry(StepRegistry):  # type: ignore[misc]
    """behave's StepRegistry that ignores keywords when it matches a step to a definition."""

    def add_step_definition(self, keyword: str, step_text: str, func: Any) -> None:
        step_type, pattern = keyword.lower(), _text(step_text)
        library = shipped(func) and not CHECK_LIBRARY
        if library and _the_step_matcher_factory.current_matcher is ParseMatcher:
            new = _LibraryMatcher(func, pattern, step_type)
        else:
            new = make_step_matcher(func, pattern, step_type)
            if not self.is_good_step_definition(new):
                return  # behave's handling of a bad pattern: reported, left out
        site = self.__dict__.setdefault("site_steps", {t: [] for t in _ORDER})
        for existing_type in (*(t for t in _ORDER if t != step_type), step_type):
            same_type = existing_type == step_type
            # a shipped phrase is checked against a site's only: the library's own were once
            for existing in site[existing_type] if library else self.steps[existing_type]:
                if same_type and self.same_step_matcher(existing, new):
                    return  # the same function again (a module imported twice)
                if not same_type and existing.location == new.location:
                    continue  # the same function, stacked under another keyword
                if _may_match(existing, pattern) and existing.matches(pattern):
                    raise AmbiguousStep(_ambiguity(new, existing, same_type))
        self.steps[step_type].append(new)
        self.__dict__.pop("found", None)  # a text may now find this definition first
        self.__dict__.pop("matches", None)
        if not library:
            site[step_type].append(new)

    def candidates(self, step_type: str) -> list[Any]:
        """The definitions to try for a step of `step_type`, its own type first."""
        order = (step_type, "step", *(t for t in _ORDER if t not in (step_type, "step")))
        return [matcher for name in order for matcher in self.steps[name]]

    def find_step_definition(self, step: Any) -> Any:
        return self._definition(step.step_type, step.name)

    def find_match(self, step: Any) -> Any:
        """behave's Match of the step's text (its function and arguments), None when no
        definition matches. A shipped phrase's Match is kept and given again for the same text,
        as its definition is (`_definition`): its arguments come from the text alone (the
        library's types are pure; a `${name}` is resolved when the step runs), and parsing them
        again, with the `Match` and the file location behave makes for it, cost 30 us a step. A
        site's phrase is matched every time: its types may not be pure."""
        key = (step.step_type, step.name)
        matches: dict[tuple[str, str], Any] = self.__dict__.setdefault("matches", {})
        match = matches.get(key)
        if match is None:
            matcher = self._definition(*key)
            match = None if matcher is None else matcher.match(step.name)
            if isinstance(matcher, _LibraryMatcher) and type(match) is Match:
                matches[key] = match  # not a MatchWithError: its exception is raised anew
        return match

    def _definition(self, step_type: str, text: str) -> Any:
        """The first definition that matches `text` for a step of `step_type`, or None. The
        answer is kept until a definition is added: a suite runs the same few texts in every
        scenario, and trying the definitions before the one that matches cost more than running
        it (20 us a step)."""
        found: dict[tuple[str, str], Any] = self.__dict__.setdefault("found", {})
        key = (step_type, text)
        if key not in found:
            found[key] = next((m for m in self.candidates(step_type)
                               if _may_match(m, text) and m.match(text)), None)
        return found[key]


def install(registry: Any) -> None:
    """Make `registry` (behave's global StepRegistry instance) keyword-blind; idempotent.

    The instance's class is swapped rather than the instance replaced: the decorators that step
    modules import from behave were made for this very instance and call its methods.
    """
    if not isinstance(registry, KeywordBlindRegistry):
        registry.__class__ = KeywordBlindRegistry


def shipped(func: Any) -> bool:
    """Whether `func` is a step of the shipped library (escalator.steps.*)."""
    return str(getattr(func, "__module__", None) or "").startswith(_LIBRARY)


def head_of(matcher: Any) -> str | None:
    """The literal text that every text `matcher` matches starts with, or None when that is not
    known: a case-sensitive parse pattern matches only a text that starts with the literal text
    before its first field (parse anchors its regular expression and escapes the literal
    parts)."""
    head = getattr(matcher, "head", None)
    if head is None and isinstance(matcher, ParseMatcher) and matcher.CASE_SENSITIVE:
        head = matcher.pattern.split("{", 1)[0]
    return head if isinstance(head, str) else None


def _may_match(matcher: Any, text: str) -> bool:
    """False when `matcher` cannot match `text` (see head_of)."""
    head = head_of(matcher)
    return head is None or text.startswith(head)


def _ambiguity(new: Any, existing: Any, same_type: bool) -> str:
    where = existing.describe(existing.SCHEMA_AT_LOCATION)
    said = "" if same_type else " (for any keyword)"  # within one type: behave's own wording
    return f"{new.describe()} has already been defined{said} in\n  existing step {where}"
