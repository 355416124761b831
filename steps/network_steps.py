from escalator.steps.network import *  # noqa: F403
