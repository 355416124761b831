"""The commands: `escalator.commands.<name>` for each name in `escalator.cli.COMMANDS`.

Each has `register(subparsers)` and `main(args, env) -> int`. Commands are the top layer under
the CLI: they turn argv into values, call the runner, the ladder and the renderers, and are the
only code that writes to the streams (`env.stdout`, `env.stderr`). See docs/internals.md.
"""
