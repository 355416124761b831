"""What a check no longer loads at start (escalator.runner.deferred, escalator.runner.library),
and that nothing is lost: behave's async steps and requests' character detection still work the
moment they are used, a project's steps find the library's phrases they use, a site's phrases
are still checked against the whole library, and the coordinator turns the cyclic collector back
on once the suite is loaded.

The check runs as a child process (`python -m escalator`): this test process has loaded behave
and more, and a coordinator forked from it would inherit all of that.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.project import child_environ, make_project, run_escalator

# Steps of the project's own, in the process that runs the scenario (the coordinator, for a
# plan of one): they report what that process holds.
PROCESS_STEPS = '''
import gc
import sys

from behave import then


@then("asyncio and the charset detector are not loaded")
def step_nothing_heavy(context):
    assert "asyncio" not in sys.modules, "asyncio is loaded"
    assert "charset_normalizer.api" not in sys.modules, "charset_normalizer is loaded"


@then("the collector is on and the loaded suite is frozen")
def step_collector(context):
    assert gc.isenabled(), "the cyclic collector is off"
    assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()
'''

# An async step: registering it loads behave's async support (and asyncio) on the spot.
ASYNC_STEPS = '''
from behave import then


@then("an async step runs")
async def step_async(context):
    import asyncio

    await asyncio.sleep(0)
    context.async_ran = True


@then("the async step ran")
def step_async_ran(context):
    assert context.async_ran
'''


def check(project: Path) -> subprocess.CompletedProcess[str]:
    return run_escalator(["check"], project)


def test_a_check_loads_neither_asyncio_nor_charset_detection(tmp_path: Path,
                                                              http_server: str) -> None:
    project = make_project(tmp_path, {"light.feature": """
        Feature: Light
          Scenario: Home
            When I go to "/"
            Then the response status should be 200
            And asyncio and the charset detector are not loaded
            And the collector is on and the loaded suite is frozen
        """}, variables={"base_url": http_server}, steps={"process_steps.py": PROCESS_STEPS})
    done = check(project)
    assert done.stdout.startswith("ESCALATOR OK - 1 scenario passed"), done.stdout + done.stderr
    assert done.returncode == 0


def test_the_same_holds_in_workers(tmp_path: Path, http_server: str) -> None:
    scenario = """
          Scenario: Home {n}
            When I go to "/"
            Then asyncio and the charset detector are not loaded
            And the collector is on and the loaded suite is frozen
    """
    project = make_project(tmp_path, {"light.feature": "Feature: Light\n" + "".join(
        scenario.format(n=n) for n in range(3))}, variables={"base_url": http_server},
        steps={"process_steps.py": PROCESS_STEPS})
    done = check(project)
    assert done.stdout.startswith("ESCALATOR OK - 3 scenarios passed"), done.stdout + done.stderr


def test_an_async_step_still_runs(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"async.feature": """
        Feature: Async
          Scenario: Awaits
            Then an async step runs
            And the async step ran
        """}, steps={"async_steps.py": ASYNC_STEPS})
    done = check(project)
    assert done.stdout.startswith("ESCALATOR OK - 1 scenario passed"), done.stdout + done.stderr


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-W", "error", "-c", code], text=True,
                          capture_output=True, env=child_environ(), timeout=60, check=False)


def test_requests_imports_without_a_warning_and_still_detects_an_encoding() -> None:
    done = _python("""
import sys
from escalator.runner import deferred
deferred.install()
import charset_normalizer
import requests
assert "charset_normalizer.api" not in sys.modules
assert charset_normalizer.__version__ == charset_normalizer.version.__version__
response = requests.Response()
response._content = "Größe über alles, naïve café".encode("utf-8")
print(response.apparent_encoding, response.text)
assert "charset_normalizer.api" in sys.modules
assert type(sys.modules["charset_normalizer"]).__name__ == "module"
""")
    assert done.stderr == ""
    assert done.stdout == "utf-8 Größe über alles, naïve café\n"


def test_a_submodule_imports_while_its_package_waits() -> None:
    done = _python("""
import sys
from escalator.runner import deferred
deferred.install()
from charset_normalizer.md import mess_ratio
assert "charset_normalizer.api" not in sys.modules
from charset_normalizer import from_bytes
print(from_bytes("héllo wörld".encode("utf-8")).best().encoding, mess_ratio("hello") < 0.1)
""")
    assert done.stderr == ""
    assert done.stdout == "utf_8 True\n"


def test_modules_already_loaded_are_left_as_they_are() -> None:
    done = _python("""
import sys
import behave.async_step
import charset_normalizer
from escalator.runner import deferred
before = dict(sys.modules)
deferred.install()
assert sys.modules["behave.async_step"] is before["behave.async_step"]
assert sys.modules["charset_normalizer"] is before["charset_normalizer"]
print(type(sys.modules["behave.async_step"]).__name__, callable(charset_normalizer.from_bytes))
""")
    assert done.stderr == ""
    assert done.stdout == "module True\n"


# A hook, not a step: a step file of the project's own would make it load the whole library.
LIBRARY_HOOK = """
import sys


def after_scenario(context, scenario):
    with open("library.txt", "w") as handle:
        handle.write(" ".join(sorted(name.rpartition(".")[2] for name in sys.modules
                                     if name.startswith("escalator.steps."))))
"""
WEB = """
    Feature: Web
      Scenario: Home
        When I go to "/"
        Then the response status should be 200
    """


def hooked(project: Path) -> Path:
    """The project, with LIBRARY_HOOK as its environment.py (beside steps/, where behave looks)."""
    (project / "environment.py").write_text(textwrap.dedent(LIBRARY_HOOK))
    return project


def library_loaded(project: Path) -> set[str]:
    return set((project / "library.txt").read_text().split())


def test_the_thin_module_alone_loads_only_what_the_steps_need(tmp_path: Path,
                                                              http_server: str) -> None:
    project = hooked(make_project(tmp_path, {"web.feature": WEB},
                                  variables={"base_url": http_server}))
    done = check(project)
    assert done.stdout.startswith("ESCALATOR OK - 1 scenario passed"), done.stdout + done.stderr
    loaded = library_loaded(project)
    assert {"http"} <= loaded
    assert not loaded & {"ssh", "ssh_hosts", "dns", "dns_checks", "files", "files_ssh", "system",
                         "network", "host_state", "http_forms", "http_json"}


SITE_PHRASE = """
from behave import then


@then("the site is happy")
def step_happy(context):
    pass
"""


@pytest.mark.parametrize("where", ["steps/site_steps.py", "environment.py"])
def test_a_site_phrase_loads_the_whole_library_first(tmp_path: Path, http_server: str,
                                                     where: str) -> None:
    project = hooked(make_project(tmp_path, {"web.feature": WEB},
                                  variables={"base_url": http_server}))
    with (project / where).open("a") as handle:
        handle.write(SITE_PHRASE)
    done = check(project)
    assert done.stdout.startswith("ESCALATOR OK - 1 scenario passed"), done.stdout + done.stderr
    assert {"ssh", "dns", "files", "system", "tls"} <= library_loaded(project)


def test_a_site_phrase_that_clashes_with_an_unused_library_phrase_is_still_refused(
        tmp_path: Path, http_server: str) -> None:
    site = """
        from behave import then

        @then('I lookup "{name}"')
        def step_my_lookup(context, name):
            pass
    """
    project = make_project(tmp_path, {"web.feature": WEB}, variables={"base_url": http_server},
                           steps={"site_steps.py": site})
    done = check(project)
    assert done.stdout.startswith("ESCALATOR UNKNOWN - cannot load steps: steps/site_steps.py"), \
        done.stdout
    assert "has already been defined" in done.stdout


def test_a_thin_module_listing_part_of_the_library_loads_that_part(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"dns.feature": """
        Feature: Names
          Scenario: Lookup
            When I lookup "db.example.test"
        """}, steps={"library_steps.py": "from escalator.steps.http import *  # noqa: F403\n"})
    done = check(project)
    assert done.stdout.startswith("ESCALATOR UNKNOWN"), done.stdout
    assert "undefined step" in done.stdout
