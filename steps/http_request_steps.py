from escalator.steps.http_request import *  # noqa: F403
