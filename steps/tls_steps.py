from escalator.steps.tls import *  # noqa: F403
