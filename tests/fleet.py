"""A fleet on loopback for the fan-out tests: one real sshd per address (127.0.0.2, 127.0.0.3,
...), each holding a `db.dump` of a chosen age, and the escalator.toml group that lists them.

`running_fleet(ages)` starts one sshd per age (seconds) on its own loopback address and yields
the servers; `db_group(fleet)` is the `[environments.test.groups]` text naming them db-1, db-2
... with each host's address, port, key and known_hosts as its variables.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence

from tests.project import toml_value
from tests.servers.sshd import Sshd, running_sshd

FRESH = 3600          # an hour old
STALE = 30 * 3600     # older than a day


@contextlib.contextmanager
def running_fleet(ages: Sequence[int], first: int = 2) -> Iterator[list[Sshd]]:
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(running_sshd(f"127.0.0.{first + n}"))
                   for n in range(len(ages))]
        now = time.time()
        for server, age in zip(servers, ages, strict=True):
            dump = server.files / "db.dump"
            dump.write_text("-- dump\n")
            os.utime(dump, (now - age, now - age))
        yield servers


def db_group(servers: Sequence[Sshd], group: str = "db") -> str:
    hosts = [{"host": f"db-{n}", "address": s.host, "port": s.port, "backup_dir": str(s.files),
              "ssh_key": str(s.client_key), "known_hosts": str(s.known_hosts)}
             for n, s in enumerate(servers, 1)]
    return f"[environments.test.groups]\n{group} = {toml_value(hosts)}\n"
