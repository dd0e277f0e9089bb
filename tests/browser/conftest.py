"""Fixtures of the real-browser tests: one JupyterLab server and one chromium for the session.

These tests are marked ``browser``; ``pytest --no-browser`` skips them locally (refused in CI,
see ``tests/conftest.py``). A missing chromium or Playwright is an error with the install
command, never a silent skip. Screenshots of every step go to ``HFSELECT_SCREENSHOT_DIR``
(default ``out/browser-screenshots``), printed at the end of the run.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from jupyterlab_session import (
    REPO,
    check_browser_prerequisites,
    chromium_browser,
    jupyterlab_server,
)

from hfselect_widgets.demo import demo_esm_dir

SCREENSHOT_DIR = Path(
    os.environ.get("HFSELECT_SCREENSHOT_DIR", REPO / "out" / "browser-screenshots")
).resolve()
BIG_POOL_SIZE = 4000  # enough ESMs that a ranking lasts a minute: Cancel cannot race the end


def pytest_terminal_summary(terminalreporter):
    if SCREENSHOT_DIR.is_dir() and any(SCREENSHOT_DIR.iterdir()):
        terminalreporter.write_line(f"browser test screenshots: {SCREENSHOT_DIR}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test leaves a screenshot of the page as it was when it failed."""
    report = yield
    page = item.funcargs.get("page") if report.when == "call" and report.failed else None
    if page is not None:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"FAILED-{item.name}.png"
        try:
            page.screenshot(path=path, full_page=True)
            report.sections.append(("browser", f"screenshot of the failure: {path}"))
        except Exception as exc:  # the page may be gone; the failure itself matters more
            report.sections.append(("browser", f"no failure screenshot: {exc}"))
    return report


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """The folder for this run's screenshots (emptied first)."""
    shutil.rmtree(SCREENSHOT_DIR, ignore_errors=True)
    SCREENSHOT_DIR.mkdir(parents=True)
    print(f"browser test screenshots: {SCREENSHOT_DIR}")
    return SCREENSHOT_DIR


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    check_browser_prerequisites()
    with jupyterlab_server(tmp_path_factory.mktemp("jupyterlab")) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    check_browser_prerequisites()
    with chromium_browser() as browser:
        yield browser


@pytest.fixture
def page(browser, lab_server):
    """A fresh browser tab, tall enough that the whole App fits on screen (element screenshots
    of what JupyterLab scrolled out of view come out grey); browser console errors are collected in ``page.console_errors``."""
    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    tab = context.new_page()
    tab.console_errors = []
    tab.on("console", lambda m: tab.console_errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda exc: tab.console_errors.append(str(exc)))
    yield tab
    if tab.console_errors:
        print("browser console errors:\n  " + "\n  ".join(tab.console_errors))
    context.close()


@pytest.fixture(scope="session")
def big_esm_pool(tmp_path_factory) -> Path:
    """``BIG_POOL_SIZE`` MiniLM ESMs: one bundled ESM's weights hard-linked under other task ids
    (no disk cost), so a ranking against them takes long enough to be cancelled."""
    source = demo_esm_dir() / "rotten_tomatoes"
    config = json.loads((source / "config.json").read_text())
    root = tmp_path_factory.mktemp("big-esm-pool")
    for i in range(BIG_POOL_SIZE):
        folder = root / f"esm_{i:05d}"
        folder.mkdir()
        config["task_id"] = f"generated/task_{i:05d}"
        (folder / "config.json").write_text(json.dumps(config))
        try:
            os.link(source / "model.safetensors", folder / "model.safetensors")
        except OSError:  # another file system: copy
            shutil.copyfile(source / "model.safetensors", folder / "model.safetensors")
    return root
