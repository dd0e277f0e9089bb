"""``--no-browser`` skips the real-browser tests locally, and is refused in CI.

Run as a child pytest on ``tests/browser`` so that the option's effect on collection is what is
checked, not a re-implementation of it. The browser tests are skipped before their fixtures run,
so no JupyterLab or chromium starts here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
BROWSER_TESTS = TESTS / "browser" / "test_notebooks_in_browser.py"


def run_pytest(*args: str, ci: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(
        command, cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=300
    )


def test_no_browser_skips_every_browser_test_locally():
    result = run_pytest(str(BROWSER_TESTS), "--no-browser", "-rs", ci=None)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\b[1-9]\d* skipped", summary) and "passed" not in summary, summary
    assert "skipped with --no-browser" in result.stdout


def test_no_browser_is_refused_in_ci():
    """In CI a skipped browser test would hide a blank widget: the run stops with a usage
    error instead (pytest's exit status 4)."""
    result = run_pytest(str(BROWSER_TESTS), "--no-browser", ci="true")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "--no-browser is not allowed in CI" in result.stderr
