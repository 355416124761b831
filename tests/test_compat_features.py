"""cucumber-nagios features run unchanged: a project written only in cucumber-nagios 0.9.2's
phrases, in the shapes of its generator's feature template and its README's examples (one
directory per site, keywords as its users wrote them), checked by `escalator check` against real
servers on loopback: a web shop, nsd, sshd and RabbitMQ. The whole output is compared; only the
ports and the times vary, and those are masked explicitly."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest

from tests.project import make_project, run_cli
from tests.servers.dns import nsd_server
from tests.servers.http import serve, site_routes
from tests.servers.rabbitmq import Rabbit
from tests.servers.sshd import Sshd

pytestmark = pytest.mark.servers


def features(site: str, rabbit: str, ssh: str, user: str, password: str, tree: Path
             ) -> dict[str, str]:
    """The project's features, as a cucumber-nagios user would have written them."""
    return {
        # cucumber-nagios-gen feature <site> home
        "shop/home.feature": f"""
            Feature: {site}
              It should be up

              Scenario: Visiting home page
                When I go to "http://{site}/site"
                Then the request should succeed
            """,
        # README: "your tests will look something like this"
        "shop/search.feature": f"""
            Feature: {site}
              To broaden their knowledge
              A user should be able
              To search for things

              Scenario: Searching for things
                When I go to "http://{site}/site"
                And I fill in "q" with "haddock"
                And I press "Search"
                Then I should see "GET q=haddock"
            """,
        "shop/login.feature": f"""
            Feature: {site} accounts
              Customers must be able to log in

              Scenario: Logging in
                Given I go to "http://{site}/login"
                When I fill in "Username" with "monitor"
                And I fill in "Password" with "s3cret"
                And I check "Remember me"
                And I press "Log in"
                Then I should see "Welcome back, monitor"
                And the login request should succeed

              Scenario: A wrong password
                Given I go to "http://{site}/login"
                When I fill in "Username" with "monitor"
                And I fill in "Password" with "guess"
                And I press "Log in"
                Then I should see an error message

              Scenario: The members area
                Given I am HTTP digest authenticated with the following credentials:
                  | username | password |
                  | monitor  | s3cret   |
                When I go to "http://{site}/digest"
                Then the members area request should succeed
            """,
        # README: benchmarking, the elapsed time step reused in one scenario
        "shop/responsive.feature": f"""
            Feature: {site}
              To keep the hungry masses satisfied
              The shop must be responsive

              Scenario: Visiting a responsive front page
                Given I am benchmarking
                When I go to "http://{site}/site"
                Then the elapsed time should be less than 5 seconds

              Scenario: Visiting the about page
                Given I am benchmarking
                And I go to "http://{site}/site"
                Then the elapsed time should be less than 5 seconds
                When I follow "About us"
                Then the elapsed time should be less than 4 seconds
                And I should not see "Internal Server Error"
            """,
        "shop/headers.feature": f"""
            Feature: {site} headers
              Scenario: Caching
                When I fetch headers from "http://{site}/headers"
                Then the "Cache-Control" header should contain "max-age"
                And the "X-Frame-Options" header should be "DENY"
                And the "Server" header should not contain "Apache"
                And the response should contain the "Content-Type" header
            """,
        # README: AMQP message queues
        "queues/fork.feature": f"""
            Feature: {rabbit}
              To make sure the rest of the system is in order
              All our message queues must not be backed up

              Scenario: test queue 2
                Given I have a AMQP server on {rabbit}
                And I want to check on the fork queue
                Then it should have less than 400 messages
                Then it should have at least 5 consumers
                Then it should have less than 50 messages per consumer
                And It should have 5 consumers
            """,
        "hosts/dns.feature": """
            Feature: example.test
              Scenario: Resolving the web server
                When I lookup "www.example.test"
                Then the name should resolve to "127.0.0.10"

              Scenario: Reverse lookups
                Then I reverse lookup "127.0.0.10"
                And the IP should resolve to "www.example.test"
            """,
        "hosts/ssh.feature": f"""
            Feature: {ssh}
              Scenario: Logging in with a password
                Given I have no public keys set
                Then I can ssh to "{ssh}" with the following credentials:
                  | username | password   |
                  | {user}   | {password} |

              Scenario: Running a command
                When I ssh to "{ssh}" with the following credentials:
                  | username | password   |
                  | {user}   | {password} |
                And I run "id -un"
                Then I should see "{user}" in the output
            """,
        "hosts/system.feature": f"""
            Feature: this machine
              Scenario: Commands
                When I run 'echo running; echo warning >&2'
                Then it should exit '0'
                And 'stdout' should have 'running'
                And 'stderr' should not have 'error'
                And 'warning' should appear on 'stderr' '1' times

              Scenario: A crashing command
                When I run 'kill -SEGV $$'
                Then it should exit from being signaled

              Scenario: Files
                Then a file named '{tree}/motd' should exist
                And a file named '{tree}/nologin' should not exist
                And a file named '{tree}/motd' should contain 'Welcome'
                And a file named '{tree}/motd' should contain 'localhost' only '2' times
                And the file named '{tree}/motd' should be owned by 'root'
                And the file named '{tree}/motd' should have mode '0644'
                And a directory named '{tree}/spool' should exist
                And a directory named '{tree}/upgrade' should not exist
                And the directory named '{tree}/spool' should be owned by 'root'
                And the directory named '{tree}/spool' should have mode '0755'

              Scenario: Pinging
                When I ping "127.0.0.1"
                Then it should respond
            """,
    }


@pytest.fixture(scope="module")
def fork_queue(rabbitmq: Rabbit) -> Iterator[Rabbit]:
    """The queue `fork`: 12 messages, 5 consumers each holding one, so 7 ready."""
    connection = pika.BlockingConnection(
        pika.ConnectionParameters(rabbitmq.host, rabbitmq.port, socket_timeout=10))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.queue_declare("fork")
    channel.queue_purge("fork")
    for _ in range(12):
        channel.basic_publish("", "fork", b"fork")
    consumers = connection.channel()
    consumers.basic_qos(prefetch_count=1)
    for _ in range(5):
        consumers.basic_consume("fork", lambda *args: None)
    deadline = time.monotonic() + 30
    while channel.queue_declare("fork", passive=True).method.message_count != 7:
        assert time.monotonic() < deadline, "the consumers never got their messages"
        connection.process_data_events(0.05)
    yield rabbitmq
    connection.close()


@pytest.fixture(scope="module")
def nsd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with nsd_server(tmp_path_factory.mktemp("nsd")) as address:
        yield address


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, fork_queue: Rabbit, nsd: str,
            sshd: Sshd) -> Iterator[tuple[Path, dict[str, str]]]:
    tree = tmp_path_factory.mktemp("tree")
    (tree / "motd").write_text("Welcome to localhost\nlocalhost.localdomain\n")
    (tree / "motd").chmod(0o644)
    (tree / "spool").mkdir(mode=0o755)
    (tree / "spool").chmod(0o755)
    with serve(site_routes()) as url:
        site = url.removeprefix("http://")
        root = make_project(
            tmp_path_factory.mktemp("compat"),
            features(site, fork_queue.address, sshd.address, sshd.user, sshd.password, tree),
            # the environment says what cucumber-nagios took from the system: the resolver
            # and the known hosts
            variables={"nameserver": nsd, "known_hosts": str(sshd.known_hosts)})
        yield root, {"site": site, "rabbit": fork_queue.address, "ssh": sshd.address}


def masked(text: str, ports: dict[str, Any]) -> str:
    """The output with what varies from run to run replaced: the servers' addresses and every
    time measured (values in s or ms, in perfdata and in reasons)."""
    for name, address in ports.items():
        text = text.replace(address, f"<{name}>")
    text = re.sub(r" in \d+ ms\b", " in <t> ms", text)
    return re.sub(r"=\d+(?:\.\d+)?(ms|s)\b", r"=<t>\1", text)


def test_all_features_pass_as_one_check(project: tuple[Path, dict[str, str]]) -> None:
    root, ports = project
    out = run_cli(["check", "-e", "test", "features"], cwd=root)
    assert out.stderr == ""
    assert (out.code, masked(out.stdout, ports)) == (0, EXPECTED_OK)


def broken(site: str, rabbit: str, tree: Path) -> dict[str, str]:
    """Features that find the world other than they say, and one that needs a site's step."""
    return {
        # README: "You can write custom steps": this project has not written it
        "smh.feature": f"""
            Feature: {site}
              It should be up
              And provide links to content

              Scenario: Visiting home page
                When I go to http://{site}/site
                Then I should see site navigation
            """,
        "moved.feature": f"""
            Feature: {site}
              It should be up

              Scenario: Visiting the old home page
                When I go to "http://{site}/index.html"
                Then the request should succeed
            """,
        "fork.feature": f"""
            Feature: {rabbit}
              Scenario: backed up
                Given I have a AMQP server on {rabbit}
                And I want to check on the fork queue
                Then it should have less than 5 messages
            """,
        "system.feature": f"""
            Feature: this machine
              Scenario: Maintenance is over
                Then a file named '{tree}/motd' should not exist

              Scenario: A failing command
                When I run 'echo nope >&2; exit 1'
                Then it should exit '0'
            """,
    }


def test_failures_are_named_one_line_each(project: tuple[Path, dict[str, str]],
                                          tmp_path: Path) -> None:
    _, ports = project
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "motd").write_text("Welcome\n")
    broken_root = make_project(tmp_path / "broken", broken(ports["site"], ports["rabbit"], tree))
    out = run_cli(["check", "-e", "test", "features"], cwd=broken_root)
    assert out.stderr == ""
    assert (out.code, masked(out.stdout, ports)) == (2, EXPECTED_BROKEN.replace(
        "<tree>", str(tree)))


EXPECTED_OK = (
    "ESCALATOR OK - 17 scenarios passed | scenarios=17;;;0 passed=17;;;0 failed=0;;;0 "
    "unknown=0;;;0 time=<t>s;;50;0 'Resolving the web server lookup_time'=<t>ms "
    "'Reverse lookups lookup_time'=<t>ms 'Logging in with a password ssh <ssh>'=<t>s "
    "'Running a command ssh <ssh>'=<t>s 'Commands command_time'=<t>s "
    "'A crashing command command_time'=<t>s 'Pinging rtt'=<t>ms "
    "'Pinging packet_loss'=0%;;;0;100 'test queue 2 fork messages'=7;;399;0 "
    "'test queue 2 fork consumers'=5;;5:5;0 'test queue 2 fork messages per consumer'=1.4;;@50:;0 "
    "'Caching response_time'=<t>ms "
    "'Visiting home page response_time'=<t>ms 'Logging in response_time'=<t>ms "
    "'Logging in response_time_2'=<t>ms 'A wrong password response_time'=<t>ms "
    "'A wrong password response_time_2'=<t>ms 'The members area response_time'=<t>ms "
    "'Visiting a responsive front page response_time'=<t>ms "
    "'Visiting a responsive front page elapsed'=<t>s;;@5: "
    "'Visiting the about page response_time'=<t>ms 'Visiting the about page elapsed'=<t>s;;@5: "
    "'Visiting the about page response_time_2'=<t>ms "
    "'Visiting the about page elapsed_2'=<t>s;;@4: 'Searching for things response_time'=<t>ms "
    "'Searching for things response_time_2'=<t>ms\n")

EXPECTED_BROKEN = """\
ESCALATOR CRITICAL - 4 of 5 scenarios failing: backed up, Visiting the old home page, \
Maintenance is over, A failing command, 1 unknown: Visiting home page | scenarios=5;;;0 \
passed=0;;;0 failed=4;;;0 unknown=1;;;0 time=<t>s;;50;0 'backed up fork messages'=7;;4;0 \
'backed up fork consumers'=5;;;0 'Visiting the old home page response_time'=<t>ms \
'Visiting home page response_time'=<t>ms 'A failing command command_time'=<t>s
CRITICAL backed up (features/fork.feature:2)
  Then it should have less than 5 messages: the queue 'fork' on <rabbit> has 7 messages, \
wanted less than 5
CRITICAL Visiting the old home page (features/moved.feature:4)
  Then the request should succeed: GET http://<site>/index.html answered 404 Not Found in \
<t> ms; body: 'not found'
UNKNOWN Visiting home page (features/smh.feature:5)
  Then I should see site navigation: undefined step: no step definition matches this text \
(see `escalator steps`)
CRITICAL Maintenance is over (features/system.feature:2)
  Then a file named '<tree>/motd' should not exist: <tree>/motd exists (a file)
CRITICAL A failing command (features/system.feature:5)
  Then it should exit '0': `echo nope >&2; exit 1` exited 1, expected exit 0; output: nope
"""
