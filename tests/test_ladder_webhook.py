"""The built-in webhook notifier against real loopback receivers (tests/servers/http.py, over
TLS with a trustme CA): the page and its resolve as JSON with the same dedup key, a token from
the environment (never written anywhere), retries, a timeout, certificates verified, and the
PagerDuty Events v2 and Alertmanager shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from escalator.ladder.paging import dedup_key
from tests.servers.http import Reply, Request, serve
from tests.servers.tls import TestCA
from tests.test_ladder_engine import _toml
from tests.test_ladder_rig import GREEN, Rig, state_of

OTHER0 = state_of(extra="FPPP")
KEY0 = dedup_key("test", "no_level", ["features/f.feature::other0"])
TOKEN = "hunter2-page-token"


class Receiver:
    """Records what reaches /hook; answers with the statuses queued, then 202."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.statuses: list[int] = []

    def __call__(self, request: Request) -> Reply:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else 202
        return Reply(status, "ok" if status < 300 else "busy", {"Content-Type": "text/plain"})

    @property
    def bodies(self) -> list[dict[str, object]]:
        return [json.loads(r.body) for r in self.requests]


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path)


@pytest.fixture
def receiver(ca: TestCA) -> Iterator[tuple[Receiver, str]]:
    got = Receiver()
    with ca.serve("valid", {"/hook": got}) as url:
        yield got, url


def rig(root: Path, notify: str, **environ: str) -> Rig:
    made = Rig(root, toml=_toml().replace('notify = ["ops/page.sh"]', notify))
    made.env.environ = {**made.env.environ, **environ}  # type: ignore[misc]
    return made


def hook(url: str, ca: TestCA, **extra: str) -> str:
    more = "".join(f", {key} = {value}" for key, value in extra.items())
    return (f'notify = {{ webhook = "{url}/hook", ca_bundle = "{ca.bundle}", '
            f'token = {{ env = "PAGER_TOKEN" }}{more} }}')


def test_the_page_and_its_resolve_are_posted_with_the_token_and_the_dedup_key(
        tmp_path: Path, ca: TestCA, receiver: tuple[Receiver, str]) -> None:
    got, url = receiver
    made = rig(tmp_path, hook(url, ca), PAGER_TOKEN=TOKEN)
    made.store.secrets = (TOKEN,)
    engine = made.engine(OTHER0, OTHER0, GREEN)
    for _ in range(3):
        engine.engage()
    assert [(b["event"], b["dedup_key"]) for b in got.bodies] == [
        ("unactionable", KEY0), ("resolved", KEY0)]
    first = got.requests[0]
    assert (first.method, first.path, first.headers["Authorization"],
            first.headers["Content-Type"]) == ("POST", "/hook", f"Bearer {TOKEN}",
                                               "application/json")
    assert got.bodies[0]["summary"] == "test: failing without a ladder level: other0"
    assert [r["event"] for r in made.store.read_audit() if r["event"].startswith("notify")] == [
        "notify_sent", "notify_resolved"]
    assert TOKEN not in made.store.audit_path.read_text()
    assert TOKEN not in made.store.state_path.read_text()


def test_a_busy_receiver_is_tried_again_and_a_final_answer_is_not(
        tmp_path: Path, ca: TestCA, receiver: tuple[Receiver, str]) -> None:
    got, url = receiver
    got.statuses = [503, 429]
    made = rig(tmp_path, hook(url, ca, retries="2"), PAGER_TOKEN=TOKEN)
    made.engine(OTHER0).engage()
    assert (len(got.requests), made.clock.sleeps) == (3, [1.0, 2.0])
    assert "notify_failed" not in made.events()
    got.statuses = [400]
    made.clock.sleep(3600 * 5)
    made.engine(OTHER0).engage()  # due again (repage 4h): a 400 is final, not retried
    assert len(got.requests) == 4
    failed = next(made.audit("notify_failed"))
    assert failed["reason"] == "HTTP 400 Bad Request: busy"


def test_a_receiver_that_does_not_answer_times_out(tmp_path: Path, ca: TestCA) -> None:
    with ca.serve("valid") as url:  # /hang accepts and never answers
        made = rig(tmp_path, f'notify = {{ webhook = "{url}/hang", ca_bundle = "{ca.bundle}", '
                             'timeout = "300ms", retries = 1 }')
        made.engine(OTHER0).engage()
    failed = next(made.audit("notify_failed"))
    assert failed["reason"] == "no answer within 0.3s"
    assert made.clock.sleeps == [1.0]
    assert made.engine().state.notifier.error == "no answer within 0.3s"


def test_the_receivers_certificate_is_verified(tmp_path: Path, ca: TestCA) -> None:
    (tmp_path / "other").mkdir()
    stranger = TestCA(tmp_path / "other")
    got = Receiver()
    with stranger.serve("valid", {"/hook": got}) as url:
        made = rig(tmp_path, hook(url, ca), PAGER_TOKEN=TOKEN)  # trusts our CA, not theirs
        made.engine(OTHER0).engage()
    failed = next(made.audit("notify_failed"))
    assert failed["reason"].startswith("TLS: ")
    assert "CERTIFICATE_VERIFY_FAILED" in failed["reason"]
    assert (got.requests, made.clock.sleeps) == ([], [])  # never retried, nothing sent


def test_a_missing_token_fails_the_page_and_says_which_variable(
        tmp_path: Path, ca: TestCA, receiver: tuple[Receiver, str]) -> None:
    got, url = receiver
    made = rig(tmp_path, hook(url, ca))
    made.engine(OTHER0).engage()
    assert got.requests == []
    assert next(made.audit("notify_failed"))["reason"] == ("environment variable PAGER_TOKEN "
                                                          "is not set")


def test_pagerduty_events_v2(tmp_path: Path, ca: TestCA,
                             receiver: tuple[Receiver, str]) -> None:
    got, url = receiver
    made = rig(tmp_path, f'notify = {{ webhook = "{url}/hook", ca_bundle = "{ca.bundle}", '
                         'format = "pagerduty", routing_key = { env = "PD_KEY" } }',
               PD_KEY="R0UTING")
    engine = made.engine(OTHER0, GREEN)
    engine.engage()
    engine.engage()
    trigger, resolve = got.bodies
    details = trigger["payload"]["custom_details"]  # type: ignore[index]
    assert trigger == {
        "routing_key": "R0UTING", "event_action": "trigger", "dedup_key": KEY0,
        "payload": {"summary": "test: failing without a ladder level: other0",
                    "source": "escalator/test", "severity": "critical",
                    "timestamp": "2027-01-15T08:00:00Z", "component": "test",
                    "group": "escalator", "class": "no_level", "custom_details": details},
        "links": [], "client": "Escalator"}
    assert (details["event"], details["dedup_key"], details["next_step"]) == (  # type: ignore
        "unactionable", KEY0, "repair by hand, or tag the scenarios @escalate.<level> if a "
                              "ladder level repairs them")
    assert resolve == {"routing_key": "R0UTING", "event_action": "resolve", "dedup_key": KEY0}


def test_alertmanager_webhook_shape(tmp_path: Path, ca: TestCA,
                                    receiver: tuple[Receiver, str]) -> None:
    got, url = receiver
    made = rig(tmp_path, f'notify = {{ webhook = "{url}/hook", ca_bundle = "{ca.bundle}", '
                         'format = "alertmanager" }')
    engine = made.engine(OTHER0, GREEN)
    engine.engage()
    made.clock.sleep(120)
    engine.engage()
    firing, resolved = got.bodies
    labels = {"alertname": "EscalatorLadder", "environment": "test", "kind": "no_level",
              "severity": "critical", "dedup_key": KEY0}
    annotations = {"summary": "test: failing without a ladder level: other0",
                   "description": "failing without a ladder level: other0",
                   "next_step": "repair by hand, or tag the scenarios @escalate.<level> if a "
                                "ladder level repairs them"}
    alert = firing["alerts"][0]  # type: ignore[index]
    assert firing == {
        "version": "4", "groupKey": f'{{}}:{{dedup_key="{KEY0}"}}', "truncatedAlerts": 0,
        "status": "firing", "receiver": "escalator", "groupLabels": {"dedup_key": KEY0},
        "commonLabels": labels, "commonAnnotations": annotations, "externalURL": "",
        "alerts": [{"status": "firing", "labels": labels, "annotations": annotations,
                    "startsAt": "2027-01-15T08:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "", "fingerprint": alert["fingerprint"]}]}
    back = resolved["alerts"][0]  # type: ignore[index]
    assert (resolved["status"], back["status"], back["labels"], back["endsAt"],
            back["fingerprint"]) == ("resolved", "resolved", labels, "2027-01-15T08:02:00Z",
                                     alert["fingerprint"])


def test_a_plain_http_receiver_on_loopback(tmp_path: Path) -> None:
    got = Receiver()
    with serve({"/hook": got}) as url:
        made = rig(tmp_path, f'notify = {{ webhook = "{url}/hook" }}')
        made.engine(OTHER0).engage()
    assert [b["dedup_key"] for b in got.bodies] == [KEY0]
