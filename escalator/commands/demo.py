"""`escalator demo`: the whole story on loopback with nothing to install.

It starts the demo shop (escalator.demo.service) on a free loopback port, writes a project
(the example features/, thin steps/, an escalator.toml with a ladder) into a scratch directory,
and runs the same commands an operator would, printing each: the suite in CI form, as a Nagios
check, the shop broken, the ladder repairing it, the checks green again, the audit trail.
`--serve` only starts the shop on port 8080, for `escalator run -e demo` in this repository.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import textwrap
from importlib import resources
from pathlib import Path
from typing import Any

from escalator.env import Env
from escalator.exit_codes import ExitCode


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="the whole story on loopback",
                                   description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--dir", metavar="DIR", help="write the demo project here (kept)")
    parser.add_argument("--serve", action="store_true",
                        help="only serve the demo shop on 127.0.0.1:8080 until interrupted")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace, env: Env) -> int:
    from escalator.demo.service import DemoService

    if args.serve:
        return _serve(DemoService(port=8080), env)
    shop = DemoService().start()
    scratch = None if args.dir else tempfile.mkdtemp(prefix="escalator-demo-")
    root = Path(args.dir or scratch or ".").resolve()
    try:
        write_project(root, shop.url)
        return Story(root, shop, env).tell()
    finally:
        shop.stop()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def write_project(root: Path, url: str) -> None:
    """The example features, thin steps and a config with a ladder whose actions repair `url`."""
    from escalator.steps import thin_module

    root.mkdir(parents=True, exist_ok=True)
    source = resources.files("escalator.demo").joinpath("features")
    (root / "features").mkdir(exist_ok=True)
    for item in source.iterdir():
        if item.name.endswith(".feature"):
            (root / "features" / item.name).write_text(item.read_text())
    (root / "steps").mkdir(exist_ok=True)
    (root / "steps" / "library_steps.py").write_text(thin_module())
    python = sys.executable
    level = ('[[ladder.level]]\nid = "{id}"\nrun = ["{py}", "-m", "escalator.demo.repair", '
             '"{id}", "{url}"]\ntimeout = "30s"\nquiesce = "500ms"\nidempotent = true\n')
    (root / "escalator.toml").write_text(textwrap.dedent(f"""\
        [run]
        jobs = 8
        timeout = "30s"
        step_timeout = "5s"

        [environments.demo]
        base_url = "{url}"
        shop_password = {{ env = "SHOP_PASSWORD" }}

        [ladder]
        settle = "1s"
        confirm = 1
        verify = 1

        """) + "\n".join(level.format(id=i, py=python, url=url) for i in ("converge", "deploy")))


class Story:
    """Runs the demo's commands in order, printing each as an operator would type it."""

    def __init__(self, root: Path, shop: Any, env: Env) -> None:
        self.root, self.shop, self.env = root, shop, env
        from escalator.demo.service import PASSWORD

        self.inner = Env(stdout=env.stdout, stderr=env.stderr,
                         environ={**env.environ, "SHOP_PASSWORD": PASSWORD}, cwd=root)

    def tell(self) -> int:
        say = self.say
        say(f"The demo shop is up at {self.shop.url}; the suite is in {self.root}/features.\n")
        say("1. Before a deploy, in CI: readable output, JUnit for the pipeline, exit 0/1/2.")
        ci = self.command("run", "-e", "demo", "-f", "pretty",
                          "-f", "junit", "-o", "reports/junit.xml")
        say("2. In production, as a Nagios/Icinga plugin: one status line, perfdata, exit 0-3.")
        ok = self.command("check", "-e", "demo")
        say("3. Now a bad deploy breaks the storefront (home page and sign-in answer 500)\n"
            "   and the same check goes CRITICAL.")
        self.shop.break_()
        broken = self.command("check", "-e", "demo")
        say("4. The ladder: the failing scenarios are tagged @escalate.deploy. It settles,\n"
            "   checks again, runs the deepest level any confirmed failure needs and every level\n"
            "   after it (here: deploy), then verifies that the checks pass again.")
        self.command("ladder", "plan", "-e", "demo")
        healed = self.command("escalate", "-e", "demo")
        self.command("check", "-e", "demo")
        say("5. Everything the ladder decided and did is in its audit log:")
        self.command("ladder", "history", "-e", "demo")
        self.say(_NEXT.format(root=self.root))
        story_holds = (ci, ok, broken, healed) == (0, 0, 2, 0)
        return ExitCode.OK if story_holds else ExitCode.FAILED

    def command(self, *argv: str) -> int:
        from escalator.cli import main

        self.env.stdout.write(f"$ escalator {' '.join(argv)}\n")
        self.env.stdout.flush()
        code = main(list(argv), self.inner)
        self.env.stdout.write(f"(exit {code})\n\n")
        return code

    def say(self, text: str) -> None:
        self.env.stdout.write(text + "\n")


_NEXT = """What to try next:
  - Read the features in features/ of this repository: plain Gherkin, one requirement each.
  - `escalator steps` lists every phrase you can write, with an example.
  - `escalator demo --serve` keeps the shop up on 127.0.0.1:8080; in another terminal run
    `escalator run -e demo`, `escalator check -e demo`, `escalator report`, `escalator status`.
  - `escalator init DIR` starts a project of your own.
"""


def _serve(shop: Any, env: Env) -> int:
    shop.start()
    env.stdout.write(f"demo shop at {shop.url}; Ctrl-C stops it\n")
    env.stdout.flush()
    try:
        while True:
            env.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        shop.stop()
