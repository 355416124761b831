"""The escalation ladder: turn confirmed scenario failures into an ordered, bounded cascade of
remediation levels, verify recovery, and page a human when automation should stop.

Modules, one noun each: `model` (frozen values), `config` (parse `[ladder]`, check programs),
`decide` (pure decisions), `store` (state file, intent record, level lock, audit log, locks),
`actions` (run a level or the notifier as a bounded subprocess), `keeper` (the process that runs
a level and outlives its engine), `step` (one level with its record keeping), `procs` (a level's
processes in /proc), `recovery` (what a gone engine left), `stop` (SIGTERM/SIGHUP as one clean
stop), `engine` (one engagement), `resume` (a human's resume), `paging` (pure: problems, dedup
keys, pages, what to send or resolve), `pager` (sends pages and keeps them open in the state),
`webhook` (the built-in notifier), `heartbeat` (the watcher's sign of life), `notes` (what
`check` and `status` say about the ladder), `render` (tables). The commands `escalate`, `watch`
and `ladder` drive them; `escalator.config` calls `config.parse_ladder`.
"""
