"""One line of text for an operator: how every reason, label and error message is flattened.

Used by the probes (library errors), the runner's worker (step errors), the formatters (reasons,
labels, tags) and the CLI (its last-resort error line). A multi-line or control-laden message
from a target or a library never breaks a Nagios status line, a table row or a log line.
"""

from __future__ import annotations


def one_line(text: str | BaseException, limit: int | None = None) -> str:
    """`text` on one line: whitespace runs (newlines too) become one space, control characters
    go, and beyond `limit` characters it is cut with "...". An exception reads as its message,
    or its type's name when it has none.

    >>> one_line("a\\n  b\\x00c\\td")
    'a bc d'
    >>> one_line("connection  refused by the server", 20)
    'connection refuse...'
    >>> one_line(EOFError()), one_line(OSError("No route\\nto host"))
    ('EOFError', 'No route to host')
    """
    if isinstance(text, BaseException):
        return one_line(str(text), limit) or type(text).__name__
    kept = "".join(c for c in text if c.isprintable() or c.isspace())
    line = " ".join(kept.split())
    return line if limit is None or len(line) <= limit else line[: limit - 3] + "..."
