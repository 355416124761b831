"""Escalator's step library: one module per protocol, imported by the thin modules in `steps/`.

Each module registers its phrases with behave's decorators when imported and names the probe
modules it needs in `PROBES`, so the runner can load those libraries once, before it forks the
scenario workers, and only when a selected scenario uses them.
"""
