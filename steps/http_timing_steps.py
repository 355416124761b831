from escalator.steps.http_timing import *  # noqa: F403
