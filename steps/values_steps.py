from escalator.steps.values import *  # noqa: F403
