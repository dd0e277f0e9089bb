"""Test set-up: everything offline, every cache inside a temporary folder.

Nothing here may reach the network: the Hub code path is tested through a pre-filled Hugging Face
cache and injected ``HfApi``-like objects.
"""

from __future__ import annotations

import os
import tempfile

# Set before any Hugging Face library is imported, so that their constants see it.
_SESSION_HOME = tempfile.mkdtemp(prefix="hfselect-widgets-tests-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HOME"] = os.path.join(_SESSION_HOME, "hf-home")
os.environ["HFSELECT_WIDGETS_CACHE"] = os.path.join(_SESSION_HOME, "hfselect-cache")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """A fresh hfselect_widgets cache folder for one test."""
    path = tmp_path / "hfselect-cache"
    monkeypatch.setenv("HFSELECT_WIDGETS_CACHE", str(path))
    return path


# -- the real-browser tests (tests/browser/) --------------------------------------------------


def pytest_addoption(parser):
    parser.addoption(
        "--no-browser",
        action="store_true",
        default=False,
        help="Skip the real-browser tests (JupyterLab + chromium); refused when CI is set.",
    )


def pytest_collection_modifyitems(config, items):
    # The browser tests last: they are the slowest, and every quicker failure shows first.
    items.sort(key=lambda item: "browser" in item.keywords)
    if not config.getoption("--no-browser"):
        return
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        # CI must run them: a skipped browser test would hide a blank widget.
        raise pytest.UsageError("--no-browser is not allowed in CI (CI is set).")
    skip = pytest.mark.skip(reason="real-browser tests skipped with --no-browser")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
