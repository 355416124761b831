from escalator.steps.amqp import *  # noqa: F403
