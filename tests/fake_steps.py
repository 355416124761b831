"""Scripted steps for runner tests (tests/fixtures/fake_steps.py): outcomes written in the
feature text, no network, so verdicts, deadlines, retries and ordering are tested apart from probes.
`make_project(..., steps=FAKE_STEPS)` puts the module into a throwaway project's steps/.
"""

from pathlib import Path

FAKE_STEPS = {"fake_steps.py": (Path(__file__).parent / "fixtures" / "fake_steps.py").read_text()}
