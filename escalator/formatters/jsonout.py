"""The JSON format: `RunResult.to_dict()` as sorted, indented JSON (results.json, `-f json`).

Other tools and our own tests read it back with `RunResult.from_dict`, so it is the whole
result and nothing else. Strict JSON: a non-finite number (a measurement of NaN or infinity) is
written as null, since `NaN` and `Infinity` are not JSON and break other tools' parsers.

>>> _finite({"value": float("inf"), "list": [1.5, float("nan")]})
{'value': None, 'list': [1.5, None]}
"""

from __future__ import annotations

import json
import math
from typing import Any

from escalator.formatters import FormatOptions
from escalator.results import RunResult


def render(run: RunResult, options: FormatOptions) -> str:
    return json.dumps(_finite(run.to_dict()), indent=2, sort_keys=True, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
