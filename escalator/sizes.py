"""Sizes as operators write them: "10 MiB", "512KB", "1048576".

Read by the HTTP steps (the `http_max_body` setting, body size limits) and the disk space steps.
Decimal units are powers of 1000 (kB, KB, MB, GB, TB), binary ones powers of 1024 (KiB, MiB,
GiB, TiB), as `df -H` and `df -h` print them; a bare number is bytes.

>>> parse_size("10 MiB"), parse_size("512KB"), parse_size("1048576"), parse_size("1.5 GiB")
(10485760, 512000, 1048576, 1610612736)
>>> parse_size("lots")
Traceback (most recent call last):
ValueError: bad size 'lots': write a number and a unit, e.g. 10 MiB or 500 KB
"""

from __future__ import annotations

import re

_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


def parse_size(text: str) -> int:
    """Bytes in `text`; ValueError with a one-line reason when it is not a size."""
    match = _SIZE.fullmatch(str(text))
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ValueError(f"bad size {text!r}: write a number and a unit, e.g. 10 MiB or 500 KB")
    return int(float(match.group(1)) * _UNITS[unit])


def is_size_unit(word: str) -> bool:
    """
    >>> is_size_unit("MiB"), is_size_unit("kB"), is_size_unit("%")
    (True, True, False)
    """
    return word.lower() in _UNITS and word != ""
