"""The JSON format: `RunResult.to_dict()` as sorted, indented JSON (results.json, `-f json`).

Other tools and our own tests read it back with `RunResult.from_dict`, so it is the whole
result and nothing else.
"""

from __future__ import annotations

import json

from escalator.formatters import FormatOptions
from escalator.results import RunResult


def render(run: RunResult, options: FormatOptions) -> str:
    return json.dumps(run.to_dict(), indent=2, sort_keys=True) + "\n"
