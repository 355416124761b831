"""cucumber-nagios 0.9.2's file, command and form phrases that were missing, end to end through
`escalator run`: each passes where the machine is as the feature says, and fails (or is UNKNOWN,
for our own mistakes) with a one-line reason otherwise."""

from __future__ import annotations

import email.parser
import email.policy
import grp
import os
import pwd
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.servers.http import Reply, Request, serve

MOTD = "Welcome\nlocalhost localhost\nbye localhost\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """motd (0640, owned by nobody) and spool/ (0750, owned by root) in a fresh directory."""
    root = tmp_path / "tree"
    root.mkdir()
    motd = root / "motd"
    motd.write_text(MOTD)
    motd.chmod(0o640)
    nobody = pwd.getpwnam("nobody")
    os.chown(motd, nobody.pw_uid, nobody.pw_gid)
    (root / "spool").mkdir(mode=0o750)
    (root / "spool").chmod(0o750)
    (root / "report.csv").write_text("host,ok\nweb1,yes\n")
    return root


def _results(root: Path) -> dict[str, tuple[str, Any]]:
    out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    assert out.stderr == ""
    return {s["name"]: (s["outcome"], s["reason"]) for s in out.json["scenarios"]}


FILES = """
Feature: cucumber-nagios's file phrases
  Scenario: all as the feature says
    Then a file named '${dir}/motd' should exist
    And a file named '${dir}/none' should not exist
    And a file named '${dir}/motd' should contain 'Welcome'
    And a file named '${dir}/motd' should contain 'localhost' only '3' times
    And a file named '${dir}/motd' should contain 'bye' only '1' time
    And a file named '${dir}/motd' should contain 'Goodbye' only '0' times
    And the file named '${dir}/motd' should be owned by 'nobody'
    And the file named '${dir}/motd' should have mode '0640'
    And the file named '${dir}/motd' should have mode '640'
    And a directory named '${dir}/spool' should exist
    And a directory named '${dir}/none' should not exist
    And a directory named '${dir}/motd' should not exist
    And the directory named '${dir}/spool' should be owned by 'root'
    And the directory named '${dir}/spool' should have mode '0750'

  Scenario: a missing file
    Then a file named '${dir}/none' should exist

  Scenario: a directory is not a file
    Then a file named '${dir}/spool' should exist

  Scenario: a file that should not be there
    Then a file named '${dir}/motd' should not exist

  Scenario: a directory where no file should be
    Then a file named '${dir}/spool' should not exist

  Scenario: text not in the file
    Then a file named '${dir}/motd' should contain 'Goodbye'

  Scenario: text there too often
    Then a file named '${dir}/motd' should contain 'localhost' only '2' times

  Scenario: text with regular expression characters is literal
    Then a file named '${dir}/motd' should contain 'W.lcome'

  Scenario: the wrong owner
    Then the file named '${dir}/motd' should be owned by 'root'

  Scenario: the wrong mode
    Then the file named '${dir}/motd' should have mode '0644'

  Scenario: a file is not a directory
    Then a directory named '${dir}/motd' should exist

  Scenario: a directory that should not be there
    Then a directory named '${dir}/spool' should not exist

  Scenario: the wrong directory owner
    Then the directory named '${dir}/spool' should be owned by 'nobody'

  Scenario: the wrong directory mode
    Then the directory named '${dir}/spool' should have mode '0755'

  Scenario: a mode that is not octal
    Then the file named '${dir}/motd' should have mode 'rw-r--r--'

  Scenario: a file that cannot be read
    Then a file named '${dir}/spool/../motd/x' should contain 'x'
"""


def test_file_phrases(tmp_path: Path, tree: Path) -> None:
    root = make_project(tmp_path / "project", {"files.feature": FILES},
                        variables={"dir": str(tree)})
    nogroup = grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
    d = tree
    assert _results(root) == {
        "all as the feature says": ("passed", None),
        "a missing file": ("failed", f"{d}/none does not exist"),
        "a directory is not a file": ("failed", f"{d}/spool is a directory, not a file"),
        "a file that should not be there": ("failed", f"{d}/motd exists (a file)"),
        "a directory where no file should be": ("failed", f"{d}/spool exists (a directory)"),
        "text not in the file": (
            "failed", f"{d}/motd does not contain 'Goodbye' (read {len(MOTD)} bytes)"),
        "text there too often": (
            "failed", f"'localhost' occurs 3 times in {d}/motd, expected 2 times"),
        "text with regular expression characters is literal": (
            "failed", f"{d}/motd does not contain 'W.lcome' (read {len(MOTD)} bytes)"),
        "the wrong owner": ("failed", f"{d}/motd is owned by nobody:{nogroup}, not root"),
        "the wrong mode": ("failed", f"{d}/motd has mode 0640, not 0644"),
        "a file is not a directory": ("failed", f"{d}/motd is a file, not a directory"),
        "a directory that should not be there": ("failed", f"{d}/spool exists (a directory)"),
        "the wrong directory owner": ("failed", f"{d}/spool is owned by root:root, not nobody"),
        "the wrong directory mode": ("failed", f"{d}/spool has mode 0750, not 0755"),
        "a mode that is not octal": (
            "unknown", "bad mode 'rw-r--r--': write octal permission bits, e.g. '0644'"),
        "a file that cannot be read": ("failed", f"{d}/spool/../motd/x does not exist"),
    }


COMMANDS = """
Feature: cucumber-nagios's command phrases
  Scenario: killed by a signal
    When I run 'echo going; echo going again >&2; kill -KILL $$'
    Then it should exit from being signaled
    And 'going' should appear on 'stdout' '1' times
    And 'going' should appear on 'stderr' '1' times
    And 'stdout' should appear on 'going' '1' times
    And 'again' should appear on 'stdout' '0' times

  Scenario: exited on its own
    When I run 'echo fine; exit 3'
    Then it should exit from being signaled

  Scenario: text there more often
    When I run 'echo going going; echo going'
    Then 'going' should appear on 'stdout' '2' times

  Scenario: no such stream
    When I run 'echo going'
    Then 'going' should appear on 'stdin' '1' times

  Scenario: no command yet
    Then it should exit from being signaled
"""


def test_command_phrases(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"commands.feature": COMMANDS})
    assert _results(root) == {
        "killed by a signal": ("passed", None),
        "exited on its own": (
            "failed", "`echo fine; exit 3` exited 3, expected it to die of a signal; output: fine"),
        "text there more often": (
            "failed", "'going' appears 3 times in the stdout of `echo going going; echo going`, "
                      "expected 2: going going going"),
        "no such stream": ("unknown", "no stream 'stdin': use 'stdout' or 'stderr'"),
        "no command yet": ("unknown", "no command has run in this scenario yet (When I run '...')"),
    }


# ---- forms: a file upload, and request labels of several words -----------------------------

UPLOAD = """<html><body>
<form action="/receive" method="post" enctype="multipart/form-data">
  <label for="c">Comment</label> <input id="c" name="comment">
  <label for="r">Report</label> <input id="r" type="file" name="report">
  <input type="file" name="extra">
  <input type="submit" value="Send">
</form>
<form action="/receive" method="post" name="plain">
  <input type="file" name="report" id="plain-report"> <input type="submit" value="Send plain">
</form></body></html>"""


def _upload(_: Request) -> Reply:
    return Reply(200, UPLOAD, {"Content-Type": "text/html; charset=utf-8"})


def _receive(req: Request) -> Reply:
    """Each part of the body as a line: `name=value`, or `name=file (size, type): content`."""
    media = req.headers.get("Content-Type", "")
    if not media.startswith("multipart/form-data"):
        return Reply(200, f"not multipart: {req.body.decode()}", {"Content-Type": "text/plain"})
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {media}\r\n\r\n".encode() + req.body)
    lines = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is None:
            lines.append(f"{name}={data.decode()}")
        else:
            lines.append(f"{name}={filename} ({len(data)} bytes, {part.get_content_type()}): "
                         f"{data.decode()!r}")
    return Reply(200, "\n".join(lines), {"Content-Type": "text/plain"})


@pytest.fixture
def upload_server() -> Iterator[str]:
    with serve({"/upload": _upload, "/receive": _receive}) as url:
        yield url


FORMS = """
Feature: cucumber-nagios's upload and request phrases
  Scenario: a multipart upload
    When I go to "/upload"
    And I fill in "Comment" with "nightly"
    And I attach the file at "${dir}/report.csv" to "Report"
    And I press "Send"
    Then the upload request should succeed
    And I should see "comment=nightly"
    And I should see "report=report.csv (17 bytes, text/csv): 'host,ok\\nweb1,yes\\n'"
    And I should see "extra= (0 bytes, application/octet-stream): ''"

  Scenario: a form without multipart sends the file's name only
    When I go to "/upload"
    And I attach the file at "${dir}/report.csv" to "plain-report"
    And I submit the form named "plain"
    Then I should see "not multipart: report=report.csv"

  Scenario: labels of several words
    When I go to "/upload"
    Then the home page request should succeed
    When I go to "/missing"
    Then the missing page request should fail
    And the home page request should succeed

  Scenario: a file that is not there
    When I go to "/upload"
    And I attach the file at "${dir}/none.csv" to "Report"

  Scenario: a field that is not there
    When I go to "/upload"
    And I attach the file at "${dir}/report.csv" to "Photo"
"""


def test_upload_and_request_labels(tmp_path: Path, tree: Path, upload_server: str) -> None:
    root = make_project(tmp_path / "project", {"forms.feature": FORMS},
                        variables={"dir": str(tree), "base_url": upload_server})
    results = _results(root)
    assert results == {
        "a multipart upload": ("passed", None),
        "a form without multipart sends the file's name only": ("passed", None),
        "labels of several words": ("failed", results["labels of several words"][1]),
        "a file that is not there": (
            "unknown", f"cannot attach {tree}/none.csv: no such file or directory"),
        "a field that is not there": (
            "failed", f'no file field "Photo" on {upload_server}/upload (file fields: '
                      '"Report", "extra", "report")'),
    }
    assert results["labels of several words"][1].startswith(
        f"GET {upload_server}/missing answered 404 Not Found in ")
