from escalator.steps.dns_checks import *  # noqa: F403
