"""`escalator init` scaffolds a project that runs, and never overwrites."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from escalator.steps import LIBRARY
from tests.project import REPO, child_environ, run_cli


def test_init_scaffolds_and_keeps_existing_files(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site/escalator.toml").write_text("# mine\n")
    out = run_cli(["init", "site"], cwd=tmp_path)
    assert out.code == 0
    assert f"kept     {tmp_path / 'site/escalator.toml'}\n" in out.stdout
    assert f"created  {tmp_path / 'site/features/health.feature'}\n" in out.stdout
    assert (tmp_path / "site/escalator.toml").read_text() == "# mine\n"
    steps = (tmp_path / "site/steps/library_steps.py").read_text().splitlines()
    assert steps == [f"from escalator.steps.{m} import *  # noqa: F403" for m in LIBRARY]


def test_scaffolded_project_runs(tmp_path: Path, http_server: str) -> None:
    run_cli(["init", "site"], cwd=tmp_path)
    root = tmp_path / "site"
    (root / "escalator.toml").write_text(f'[environments.local]\nbase_url = "{http_server}"\n')
    (root / "features/health.feature").write_text(
        (root / "features/health.feature").read_text().replace('"/health"', '"/json"'))
    out = run_cli(["check", "-e", "local"], cwd=root)
    assert out.line1.startswith("ESCALATOR OK - 1 scenario passed |"), out.stdout


def test_the_repository_steps_are_the_module_init_writes(tmp_path: Path) -> None:
    run_cli(["init", "site"], cwd=tmp_path)
    generated = tmp_path / "site" / "steps"
    ours = REPO / "steps"
    names = sorted(p.name for p in ours.iterdir() if p.suffix == ".py")
    # the scaffold adds an example of the site-step API beside the library module
    assert sorted(p.name for p in generated.iterdir()) == sorted([*names, "site_steps.py"])
    for name in names:
        assert (ours / name).read_text() == (generated / name).read_text()


def test_init_writes_behaves_hook_and_an_example_site_step(tmp_path: Path) -> None:
    run_cli(["init", "site"], cwd=tmp_path)
    root = tmp_path / "site"
    assert "from escalator.hooks import *" in (root / "environment.py").read_text()
    # a child process: `escalator steps` loads the project's steps into behave's registry,
    # which would then clash with another scaffold's copy of the same step in this process
    out = subprocess.run([sys.executable, "-m", "escalator", "steps", "--search", "waiting jobs"],
                         cwd=root, capture_output=True, text=True, check=True, timeout=60,
                         env=child_environ())
    assert out.stdout.splitlines() == [
        "This site's own steps, beside Escalator's library: an example of the site-step API.  "
        "(site_steps)", '  Then the "mail" queue should have fewer than 100 waiting jobs',
        '  Then the "mail" queue should have fewer than 100 waiting jobs, warning above 50']
