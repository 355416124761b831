from escalator.steps.files import *  # noqa: F403
