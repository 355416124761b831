from escalator.steps.http_tls import *  # noqa: F403
