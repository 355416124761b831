"""An environment's variables as steps see them: `${name}` expansion, escapes, unset secrets.

`load_run_options` builds one `Variables` per run (plain values, secrets read from the process
environment, and the secrets that were not set); each scenario's `Session` holds it. A secret
that is not set is not a run error: only a scenario that refers to it, by `${name}` in a step or
through a step that reads it, cannot be checked, and is UNKNOWN with the reason. Numeric step
arguments written as `${name}` arrive as `Deferred` values (escalator.steps.types) and are
resolved when the step runs. Light on purpose: the CLI imports this before any run.

>>> v = Variables({"host": "db1"}, {"pw": "the environment variable PW is not set"})
>>> expand("ssh ${host} $${HOME} $$", v)
'ssh db1 ${HOME} $$'
>>> expand("${pw}", v)
Traceback (most recent call last):
...
escalator.variables.VariableError: ${pw}: the environment variable PW is not set
>>> sorted(references("a ${x} $${y} ${z.1}"))
['x', 'z.1']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from escalator.errors import SetupError

_NAME = r"[A-Za-z_][A-Za-z0-9_.-]*"
# `$${name}` is the escape: it stays `${name}` (for a shell or a template), never looked up.
_VARIABLE = re.compile(rf"\$(\$?)\{{({_NAME})\}}")
DEFERRED = re.compile(rf"\$\{{({_NAME})\}}")


class VariableError(SetupError):
    """A variable cannot be used: unknown, an unset secret, or not a number where one is due.
    Our side, not the target's: the scenario is UNKNOWN, as for a StepSetupError."""


class Variables(Mapping[str, str]):
    """Names to values, plus the names whose value is missing and why: such a name is known
    (`in` is true) but reading it raises VariableError with the reason."""

    def __init__(self, values: Mapping[str, str] | None = None,
                 unset: Mapping[str, str] | None = None) -> None:
        self.defined = dict(values or {})
        self.unset = {k: v for k, v in (unset or {}).items() if k not in self.defined}

    def __getitem__(self, name: str) -> str:
        if name in self.unset:
            raise VariableError(f"${{{name}}}: {self.unset[name]}")
        return self.defined[name]

    def __contains__(self, name: object) -> bool:
        return name in self.defined or name in self.unset

    def __iter__(self) -> Iterator[str]:
        return iter([*self.defined, *self.unset])

    def __len__(self) -> int:
        return len(self.defined) + len(self.unset)

    def __repr__(self) -> str:  # never the values: some are secrets
        return f"Variables({sorted(self)})"


def overlay(base: Mapping[str, str], extra: Mapping[str, str]) -> Variables:
    """`base` with `extra` on top (a fan-out host's variables over its environment's), keeping
    what `base` knows of unset secrets: copying a `Variables` as a dict would read them.

    >>> v = overlay(Variables({"a": "1"}, {"pw": "not set"}), {"a": "2", "host": "db1"})
    >>> v["a"], v["host"], "pw" in v
    ('2', 'db1', True)
    """
    if isinstance(base, Variables):
        return Variables({**base.defined, **extra}, base.unset)
    return Variables({**base, **extra})


def expand(text: str, variables: Mapping[str, str]) -> str:
    """`text` with every `${name}` replaced; `$${name}` becomes a literal `${name}`."""

    def value(match: re.Match[str]) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped:
            return "${" + name + "}"
        if name not in variables:
            known = ", ".join(sorted(variables)) or "none"
            raise VariableError(f"unknown variable ${{{name}}} (known: {known})")
        return variables[name]

    return _VARIABLE.sub(value, text)


def references(text: str) -> set[str]:
    """The names `text` refers to with `${name}` (not the escaped `$${name}`)."""
    return {m.group(2) for m in _VARIABLE.finditer(text) if not m.group(1)}


@dataclass(frozen=True)
class Deferred:
    """A numeric step argument written as `${name}`: converted when the step runs, because the
    environment is known only then."""

    name: str
    convert: Callable[[str], Any]
    kind: str = "number"

    def resolve(self, variables: Mapping[str, str]) -> Any:
        text = expand("${" + self.name + "}", variables).strip()
        try:
            return self.convert(text)
        except ValueError:
            raise VariableError(f"${{{self.name}}} is {text!r}, not a {self.kind}") from None


def resolve(arguments: dict[str, Any], variables: Mapping[str, str]) -> dict[str, Any]:
    """`arguments` with every Deferred value resolved against `variables`."""
    return {key: value.resolve(variables) if isinstance(value, Deferred) else value
            for key, value in arguments.items()}
