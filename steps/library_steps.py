from escalator.steps.http import *  # noqa: F403
from escalator.steps.http_forms import *  # noqa: F403
from escalator.steps.http_json import *  # noqa: F403
from escalator.steps.http_timing import *  # noqa: F403
from escalator.steps.http_tls import *  # noqa: F403
from escalator.steps.dns import *  # noqa: F403
from escalator.steps.system import *  # noqa: F403
from escalator.steps.ssh import *  # noqa: F403
