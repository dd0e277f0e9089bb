"""A real JupyterLab server and Debian's chromium, driven by Playwright, for the browser tests.

Kept apart from the tests so that each test reads as the user's steps. The server serves a
temporary copy of ``notebooks/`` on 127.0.0.1 with a random token; chromium runs headless with
the flags this closed network needs (no background connections, no sandbox as root).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
CHROMIUM = Path(os.environ.get("HFSELECT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these, chromium keeps trying hosts this machine cannot reach.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 90
NOTEBOOK_RUN_TIMEOUT_S = 300
RUN_ALL_START_TIMEOUT_S = 20  # Run All that queued no cell by then is clicked again
ERROR_MIME = "application/vnd.jupyter.error"

# JupyterLab settings for a quiet, fully rendered notebook: no news prompt, and every cell in
# the DOM (the default windowing leaves cells out of view unrendered, so locators miss them).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
PAGE_CONFIG = {
    "disabledExtensions": {
        "@jupyterlab/apputils-extension:announcements": True,
        "@jupyterlab/extensionmanager-extension": True,
    }
}


class BrowserSetupError(RuntimeError):
    """Chromium, Playwright or JupyterLab is missing or did not start."""


def check_browser_prerequisites() -> None:
    """Raise :class:`BrowserSetupError` saying what to install when something is missing."""
    problems = []
    if not CHROMIUM.exists():
        problems.append(
            f"{CHROMIUM} not found: install Debian's chromium (`apt-get install chromium`, "
            "as `make test` does) or set HFSELECT_CHROMIUM"
        )
    for module, package in (("playwright", "playwright"), ("jupyterlab", "jupyterlab")):
        try:
            __import__(module)
        except ImportError:
            problems.append(f"Python package {package!r} missing: pip install -e '.[browser]'")
    if problems:
        raise BrowserSetupError(
            "The real-browser tests cannot run: "
            + "; ".join(problems)
            + ". Skip them locally with `pytest --no-browser`."
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_json(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=1))


class JupyterLabServer:
    """A running ``jupyter lab`` whose root holds a copy of ``notebooks/``."""

    def __init__(self, root: Path, port: int, token: str, process: subprocess.Popen, log: Path):
        self.root, self.port, self.token, self.process, self.log = root, port, token, process, log

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        """The notebook alone in the main area: ``reset`` drops the workspace that JupyterLab
        saved from an earlier page (it would reopen that page's notebooks beside this one)."""
        return f"{self.base_url}/lab/tree/notebooks/{name}?reset&token={self.token}"

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@contextmanager
def jupyterlab_server(workdir: Path) -> Iterator[JupyterLabServer]:
    """Start JupyterLab on 127.0.0.1 with a token; stop it (and its kernels) on exit."""
    root = workdir / "lab-root"
    shutil.copytree(NOTEBOOKS, root / "notebooks")
    config_dir = workdir / "jupyter-config"
    settings_dir = workdir / "lab-settings"
    for plugin, settings in LAB_SETTINGS.items():
        extension, name = plugin.rsplit("/", 1)
        _write_json(settings_dir / extension / name, settings)
    _write_json(config_dir / "labconfig" / "page_config.json", PAGE_CONFIG)

    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
        JUPYTERLAB_WORKSPACES_DIR=str(workdir / "lab-workspaces"),
        JUPYTER_RUNTIME_DIR=str(workdir / "jupyter-runtime"),
    )
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.port_retries=0",
        "--allow-root",  # CI runs as root
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = workdir / "jupyterlab.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    server = JupyterLabServer(root, port, token, process, log)
    try:
        _wait_for_server(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_server(server: JupyterLabServer) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    url = f"{server.base_url}/api/status?token={server.token}"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BrowserSetupError(
                f"JupyterLab exited with code {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise BrowserSetupError(
        f"JupyterLab did not answer within {SERVER_START_TIMEOUT_S} s:\n{server.log_tail()}"
    )


@contextmanager
def chromium_browser() -> Iterator[object]:
    """Debian's chromium, headless, through Playwright (which downloads no browser here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


# -- steps in a notebook --------------------------------------------------------------------


def open_notebook(page, server: JupyterLabServer, name: str) -> None:
    """Open ``notebooks/<name>`` and wait until its kernel is idle."""
    page.goto(server.notebook_url(name))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    # JupyterLab adds the cells in batches: wait for all of them, or a count taken now is short.
    expected = len(json.loads((server.root / "notebooks" / name).read_text())["cells"])
    cells = page.locator(".jp-Notebook .jp-Cell")
    wait_until(lambda: cells.count() >= expected, 60, f"all {expected} cells of {name} shown")
    wait_kernel_idle(page, timeout_s=120)


def _execution_status(page) -> str | None:
    return page.evaluate(
        "() => document.querySelector('.jp-mod-current .jp-Notebook-ExecutionIndicator, "
        ".jp-Notebook-ExecutionIndicator')?.getAttribute('data-status') ?? null"
    )


def wait_kernel_idle(page, timeout_s: float) -> None:
    wait_until(lambda: _execution_status(page) == "idle", timeout_s, "the kernel becoming idle")


def run_all_cells(page, timeout_s: float = NOTEBOOK_RUN_TIMEOUT_S) -> None:
    """Run > Run All Cells from the menu bar, then wait until every code cell has run."""
    code_cells = page.locator(".jp-Notebook .jp-CodeCell")
    deadline = time.monotonic() + timeout_s
    started_by = time.monotonic() + RUN_ALL_START_TIMEOUT_S
    prompts: list[str] = []
    _click_run_all(page)
    while time.monotonic() < deadline:
        prompts = [p.strip() for p in code_cells.locator(".jp-InputArea-prompt").all_inner_texts()]
        done = sum(bool(re.fullmatch(r"\[\d+\]:", p)) for p in prompts)
        if prompts and done == len(prompts) and _execution_status(page) == "idle":
            return
        queued = any(p == "[*]:" or re.fullmatch(r"\[\d+\]:", p) for p in prompts)
        if not queued and time.monotonic() > started_by:
            # No cell was queued: the menu click was lost (the menu bar was not ready yet).
            _click_run_all(page)
            started_by = time.monotonic() + RUN_ALL_START_TIMEOUT_S
        if page.locator(f'.jp-OutputArea-output[data-mime-type="{ERROR_MIME}"]').count():
            break  # a cell failed: "Run all" stops there
        time.sleep(0.5)
    errors = error_outputs(page)
    raise AssertionError(
        f"Not every cell ran within {timeout_s} s (prompts {prompts}, kernel "
        f"{_execution_status(page)})" + (f"; errors: {errors}" if errors else "")
    )


def _click_run_all(page) -> None:
    page.locator(".jp-Notebook:visible").first.click(
        position={"x": 5, "y": 5}
    )  # focus the notebook
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()


def error_outputs(page) -> list[str]:
    """The text of every error output in the open notebook."""
    return page.locator(f'.jp-OutputArea-output[data-mime-type="{ERROR_MIME}"]').all_inner_texts()


def wait_until(predicate, timeout_s: float, what: str, interval_s: float = 0.25) -> None:
    """Poll ``predicate()`` until it is true, else fail saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise AssertionError(f"Within {timeout_s} s: {what} did not happen")
