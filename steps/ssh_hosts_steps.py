from escalator.steps.ssh_hosts import *  # noqa: F403
