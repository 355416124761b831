"""The fleet benchmark: 200 hosts x 1 scenario (`@each.web`) with `--jobs 32` against loopback.

Each host is its own HTTP server on its own loopback address (127.0.1.1 ... 127.0.1.200, all
in this process, threads), named web-1 ... web-200 in the project's inventory with its own
`base_url`. The same 200 checks written out as 200 scenarios (one host each, no fan-out) run
alternately beside it, so the figure says what fan-out costs over a hand-written suite.

    python bench/fleet.py [--hosts 200] [--jobs 32] [--runs 5]

Prints the median wall time of `escalator check` for each, and the load average before and
after (the machine is shared: only the ratio means much under load).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import Command, alternate, load_average

REPO = Path(__file__).resolve().parent.parent
FEATURE = """Feature: Web fleet
  @each.web
  Scenario: Home page welcomes
    When I go to "/"
    Then I should see "Welcome"
"""


class _Page(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"<html><body><h1>Welcome</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def fleet(count: int) -> Iterator[list[str]]:
    servers = []
    for n in range(1, count + 1):
        server = ThreadingHTTPServer((f"127.0.1.{n}", 0), _Page)
        server.daemon_threads = True
        Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        yield [f"http://127.0.1.{n}:{s.server_address[1]}" for n, s in enumerate(servers, 1)]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def projects(root: Path, urls: list[str]) -> tuple[Path, Path]:
    fanout, written = root / "fanout", root / "written"
    hosts = ",\n".join(f'  {{ host = "web-{n}", base_url = "{url}" }}'
                       for n, url in enumerate(urls, 1))
    scenarios = "".join(f'\n  Scenario: Home page welcomes [web-{n}]\n    When I go to "{url}/"\n'
                        '    Then I should see "Welcome"\n' for n, url in enumerate(urls, 1))
    for project, feature, config in (
            (fanout, FEATURE, f"[environments.bench.groups]\nweb = [\n{hosts}\n]\n"),
            (written, "Feature: Web fleet\n" + scenarios, "")):
        (project / "features").mkdir(parents=True)
        (project / "features" / "web.feature").write_text(feature)
        shutil.copytree(REPO / "steps", project / "steps",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (project / "escalator.toml").write_text(
            f'[environments.bench]\nbase_url = "{urls[0]}"\n\n{config}')
    return fanout, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    escalator = shutil.which("escalator") or "escalator"
    argv = (escalator, "check", "-e", "bench", "--jobs", str(args.jobs))
    with tempfile.TemporaryDirectory(prefix="escalator-fleet-bench-") as tmp, \
            fleet(args.hosts) as urls:
        # a bytecode cache of the bench's own, as bench/run's bytecode_cache() explains
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        fanout, written = projects(Path(tmp), urls)
        before = load_average()
        samples = alternate([Command("written out", argv, written),
                             Command("fan-out (@each.web)", argv, fanout)], args.runs)
        after = load_average()
    print(f"{args.hosts} hosts x 1 scenario, --jobs {args.jobs}, {args.runs} runs each; "
          f"load average before {before[0]:.2f}, after {after[0]:.2f} (1 min)")
    for sample in samples:
        times = sorted(t.seconds for t in sample.timings)
        print(f"  {sample.command.label:22} median {sample.median:.3f} s  "
              f"(min {times[0]:.3f}, max {times[-1]:.3f})  {sample.timings[-1].first_line[:70]}")
        for bad in sample.unexpected:
            print(f"    unexpected exit {bad.code}: {bad.first_line}")


if __name__ == "__main__":
    main()
