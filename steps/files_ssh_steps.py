from escalator.steps.files_ssh import *  # noqa: F403
