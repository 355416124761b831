"""`python -m escalator.demo.repair LEVEL URL`: the demo ladder's level action.

Prints what the level does and, for the level that redeploys, asks the demo service to repair
itself. Real ladders run real tools here (terraform, ansible, a deploy script).
"""

from __future__ import annotations

import sys
import urllib.request


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m escalator.demo.repair LEVEL URL", file=sys.stderr)
        return 2
    level, url = argv
    print(f"{level}: working on {url}")
    if level == "deploy":
        request = urllib.request.Request(f"{url}/admin/repair", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=5) as answer:
            print(f"{level}: service says {answer.read().decode()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
