"""`escalator demo` tells its whole story and ends green; the demo shop breaks and heals."""

from __future__ import annotations

import io
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from escalator.cli import main
from escalator.demo.service import DemoService
from escalator.env import Env


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_shop_breaks_like_a_bad_deploy_and_heals() -> None:
    shop = DemoService().start()
    try:
        assert [_get(shop.url + p) for p in ("/", "/health", "/api/status", "/x")] == \
            [200, 200, 200, 404]
        shop.break_()
        assert [_get(shop.url + p) for p in ("/", "/health", "/api/status")] == [500, 200, 200]
        shop.repair()
        assert _get(shop.url + "/") == 200
    finally:
        shop.stop()


@pytest.mark.servers
def test_demo_story_from_ci_to_remediation(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["demo", "--dir", str(tmp_path / "demo")], Env(stdout=out, stderr=err,
                                                             environ={}, cwd=tmp_path))
    text = out.getvalue()
    assert code == 0, text + err.getvalue()
    commands = re.findall(r"^\$ escalator (.*)$\n(?:.*\n)*?\(exit (\d)\)", text, re.MULTILINE)
    assert commands == [
        ("run -e demo -f pretty -f junit -o reports/junit.xml", "0"),
        ("check -e demo", "0"),
        ("check -e demo", "2"),
        ("ladder plan -e demo", "0"),
        ("escalate -e demo", "0"),
        ("check -e demo", "0"),
        ("ladder history -e demo", "0"),
    ]
    assert "ESCALATOR CRITICAL - 2 of 7 scenarios failing: The home page renders, A customer " \
           "can sign in |" in text
    assert re.search(r"^deploy +succeeded +0 ", text, re.MULTILINE)
    assert "correct-horse-battery" not in text
    assert (tmp_path / "demo/reports/junit.xml").read_text().count("<testcase") == 7
