from escalator.steps.dns import *  # noqa: F403
