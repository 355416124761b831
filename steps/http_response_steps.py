from escalator.steps.http_response import *  # noqa: F403
