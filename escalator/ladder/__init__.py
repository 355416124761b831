"""The escalation ladder: turn confirmed scenario failures into an ordered, bounded cascade of
remediation levels, verify recovery, and page a human when automation should stop.

Modules, one noun each: `model` (frozen values), `config` (parse `[ladder]`), `decide` (pure
decisions), `store` (state file, intent record, audit log, lock), `actions` (run a level or the
notifier as a subprocess), `engine` (one engagement and the watch loop), `render` (tables).
The commands `escalate`, `watch` and `ladder` drive them; `escalator.config` calls
`config.parse_ladder`.
"""
