"""Escalator: behaviour-driven monitoring on behave.

Importing the package is cheap on purpose: it loads nothing but the version. The runner, the
probes and their libraries (behave, requests, paramiko, dnspython) load only when a command needs
them.
"""

__version__ = "0.1.0"
