"""`python -m escalator`: the same entry point as the console script."""

import sys

from escalator.cli import main

sys.exit(main())
