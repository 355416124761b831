from escalator.steps.http_forms import *  # noqa: F403
