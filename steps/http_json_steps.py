from escalator.steps.http_json import *  # noqa: F403
