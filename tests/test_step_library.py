"""The shipped step library's phrases are checked here, once, as every start used to check them:
each compiles, and none is matched by another of any keyword (runner/keywords.py). A start
registers them without those checks and compiles a pattern when a step first needs it; a site's
phrases are still checked against the library and each other as they are added, in either
order, and a step finds the same definition either way.

Each case runs in a child interpreter: behave's step registry is one global per process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.project import child_environ

LOAD = """
import json
from behave.step_registry import AmbiguousStep, registry
from escalator.runner import keywords
keywords.install(registry)
keywords.CHECK_LIBRARY = {check}
from escalator.steps import load_library
"""


def child(code: str, check: bool = False) -> dict[str, object]:
    """Run `code` after LOAD in a fresh interpreter; what it prints last, as JSON."""
    done = subprocess.run([sys.executable, "-c", LOAD.format(check=check)
                           + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, env=child_environ(), check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_the_library_phrases_compile_and_no_one_matches_another() -> None:
    """The check every start made before: behave's, within a keyword, and ours, across."""
    found = child("""
        load_library()
        print(json.dumps({"phrases": sum(len(m) for m in registry.steps.values())}))
        """, check=True)
    assert found["phrases"] > 200  # type: ignore[operator]


AMBIGUOUS = """
def step_again(context, url):
    '''Given I go to "/again"'''
step_again.__module__ = "escalator.steps.again"  # as if the library shipped it
try:
    registry.add_step_definition("given", 'I go to "{url}"', step_again)
    refused = None
except AmbiguousStep as exc:
    refused = str(exc).splitlines()[0]
print(json.dumps({"refused": refused}))
"""


def test_that_check_catches_a_library_phrase_another_one_matches() -> None:
    found = child("load_library()\n" + AMBIGUOUS, check=True)
    assert found == {"refused": "@given('I go to \"{url}\"') has already been defined (for "
                                "any keyword) in"}
    # a start trusts the library's own phrases: the test above is where they are checked
    assert child("load_library()\n" + AMBIGUOUS) == {"refused": None}


SITE = """
def step_site(context, url):
    '''Given I go to "/shop"'''
def register():
    try:
        registry.add_step_definition("given", 'I go to "{url}"', step_site)
    except AmbiguousStep as exc:
        return str(exc).splitlines()[0]
"""


def test_a_site_phrase_is_checked_against_the_library_in_either_order() -> None:
    after = child(SITE + textwrap.dedent("""
        load_library()
        print(json.dumps({"refused": register()}))
        """))
    before = child(SITE + textwrap.dedent("""
        register()
        try:
            load_library()
            refused = None
        except AmbiguousStep as exc:
            refused = str(exc).splitlines()[0]
        print(json.dumps({"refused": refused}))
        """))
    assert after == {"refused": "@given('I go to \"{url}\"') has already been defined (for "
                                "any keyword) in"}
    assert before == {"refused": "@when('I go to \"{url:Q}\"') has already been defined (for "
                                 "any keyword) in"}


FIND = """
from behave.model import Step
load_library()
matchers = [m for ms in registry.steps.values() for m in ms]
compiled_at_start = sum(1 for m in matchers if getattr(m, "_parser", 1) is not None)
found = {}
for m in matchers:
    example = (m.func.__doc__ or "").strip().splitlines()[0]
    keyword, _, text = example.partition(" ")
    step = Step("x.feature", 1, keyword, keyword.lower() if keyword != "And" else "given", text)
    match = registry.find_match(step)
    found[example] = f"{match.func.__module__}.{match.func.__qualname__}" if match else None
compiled = sum(1 for m in matchers if getattr(m, "_parser", 1) is not None)
print(json.dumps({"found": found, "compiled_at_start": compiled_at_start,
                  "compiled": compiled, "phrases": len(matchers)}))
"""


def test_each_example_finds_the_same_definition_with_and_without_the_shortcuts() -> None:
    lazy, strict = child(FIND), child(FIND, check=True)
    assert lazy["found"] == strict["found"]
    assert None not in lazy["found"].values()  # type: ignore[union-attr]
    # nothing compiled at start; finding every example compiles each pattern once, at most
    assert lazy["compiled_at_start"] == 0
    assert lazy["compiled"] == lazy["phrases"]


def test_one_step_compiles_only_the_patterns_it_could_match() -> None:
    found = child("""
        from behave.model import Step
        load_library()
        registry.find_match(Step("x.feature", 1, "When", "when", 'I go to "/health"'))
        matchers = [m for ms in registry.steps.values() for m in ms]
        compiled = [m.pattern for m in matchers if m._parser is not None]
        print(json.dumps({"compiled": compiled}))
        """)
    assert found["compiled"] == ['I go to "{url:Q}"']


def test_the_heads_table_is_the_library_s() -> None:
    """escalator/steps/heads.py, which a run of the thin module alone loads modules by, is what
    the library registers (rewrite it with `python -m escalator.runner.library`)."""
    found = child("""
        from escalator.runner import library
        load_library()
        print(json.dumps({"text": library.render(library.heads(registry), library.variables())}))
        """)
    from pathlib import Path

    import escalator.steps

    table = Path(escalator.steps.__file__).with_name("heads.py")
    assert found["text"] == table.read_text(), "run: python -m escalator.runner.library"


def test_each_example_s_steps_load_the_module_that_defines_its_phrase() -> None:
    """A run of the thin module alone imports only the modules whose heads begin its steps'
    texts (escalator.runner.library): for each phrase's example, that includes the module of
    the definition the whole library finds for it."""
    whole = child(FIND)["found"]
    assert isinstance(whole, dict)
    needed = child(f"""
        from escalator.runner import library
        examples = {sorted(whole)!r}
        print(json.dumps({{example: library.needed([example.partition(" ")[2]])
                           for example in examples}}))
        """)
    missing = {example: (definition, needed[example]) for example, definition in whole.items()
               if definition.rpartition(".")[0] not in needed[example]}  # type: ignore[union-attr]
    assert missing == {}
    # and not the whole library: a step of one protocol loads its own modules (and the
    # modules with a phrase of unknown head, which any text may match)
    assert len(needed['When I go to "/health"']) <= 3  # type: ignore[arg-type]
