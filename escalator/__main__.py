"""`python -m escalator`: the same entry point as the console script."""

from escalator.console import main

main()
