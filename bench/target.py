"""The loopback target of the benchmarks: an HTTP server whose answers take as long as asked.

Run by `bench/run` as a child process (`python bench/target.py`): it prints its port on stdout,
serves until its stdin closes (so it dies with the bench, however the bench ends), and answers
`/page?ms=N` after N milliseconds with a small HTML page that says "Welcome", and `/hang` never
(it holds the connection until the server stops). It runs apart from the bench so that the
server's threads never share a GIL with the process that times the cases.
"""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PAGE = b"<html><body><h1>Welcome</h1><p>All systems go.</p></body></html>"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # thousands of requests: no log
        pass

    def do_GET(self) -> None:  # the name http.server calls
        parts = urlsplit(self.path)
        if parts.path == "/hang":
            self.server.stopping.wait(3600)
            self.close_connection = True
            return
        delay = int(parse_qs(parts.query).get("ms", ["0"])[0]) / 1000
        if delay:
            time.sleep(delay)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog (5) drops SYNs when 32 clients connect at once; a dropped SYN is
    # retried after a second, which would measure the kernel, not the suite.
    request_queue_size = 1024
    stopping: threading.Event

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a worker killed at the run deadline resets its connection: expected, no traceback


def main() -> None:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.stopping = threading.Event()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # returns when the bench closes the pipe or dies
    server.stopping.set()
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
