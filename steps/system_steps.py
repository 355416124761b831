from escalator.steps.system import *  # noqa: F403
