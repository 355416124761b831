from escalator.steps.http import *  # noqa: F403
