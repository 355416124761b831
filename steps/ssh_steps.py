from escalator.steps.ssh import *  # noqa: F403
