from escalator.steps.host_state import *  # noqa: F403
