"""Where hfselect_widgets keeps its own caches (ESM index, target embeddings).

``HFSELECT_WIDGETS_CACHE`` overrides the location; otherwise it is
``$XDG_CACHE_HOME/hfselect_widgets`` (``~/.cache/hfselect_widgets``). ESM files themselves live in
the Hugging Face cache, managed by ``huggingface_hub``.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "HFSELECT_WIDGETS_CACHE"


def cache_dir(*parts: str) -> Path:
    """The cache folder (or a sub-folder of it); not created here."""
    root = os.environ.get(ENV_VAR)
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "hfselect_widgets")
    return Path(root).joinpath(*parts)
