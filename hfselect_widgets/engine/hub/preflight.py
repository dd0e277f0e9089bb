"""Cheap checks of a publish request, before torch or the Hub is touched.

:func:`check_publish_inputs` answers a missing ESM folder, a malformed repo id or a missing
login at once (the command line calls it before importing the publishing code, which loads
torch); :func:`resolve_token` finds the login.
:func:`~.publish.publish_esm` runs the same checks, so the messages are the same everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hfselect_widgets.errors import ESMLoadError, MissingTokenError, PublishError

CONFIG_FILE = "config.json"


def check_esm_folder(esm_dir: str | os.PathLike) -> Path:
    """The ESM folder as a path; :class:`ESMLoadError` when there is no such folder or it
    holds no ``config.json``."""
    folder = Path(os.path.expanduser(str(esm_dir)))
    if not folder.is_dir():
        raise ESMLoadError(
            str(esm_dir),
            "there is no such folder; give the ESM folder that train_esm or "
            "ESM.save_pretrained wrote (it holds config.json and model.safetensors)",
        )
    if not (folder / CONFIG_FILE).is_file():
        raise ESMLoadError(
            str(esm_dir),
            f"the folder holds no {CONFIG_FILE}, so it is no ESM folder; give the folder that "
            "train_esm or ESM.save_pretrained wrote",
        )
    return folder


def check_repo_id(repo_id: str | None) -> None:
    """:class:`PublishError` unless ``repo_id`` is ``'owner/name'`` in the Hub's syntax."""
    from hfselect_widgets.engine.model_ids import is_hub_id

    if repo_id is not None and not (is_hub_id(repo_id) and "/" in repo_id):
        raise PublishError(
            f"{repo_id!r} is not a Hub repo id. Give repo_id as 'your-username/esm-name' "
            "(letters, digits, '-', '_', '.'; an organisation name works too)."
        )


def resolve_token(token: str | None = None, hf_api: Any = None) -> str:
    """The token to publish with: ``token``, else the ``HfApi`` object's, else the login.

    The login means ``huggingface_hub.get_token()``: ``HF_TOKEN`` or the token stored by
    ``hf auth login`` / ``notebook_login()``. Raises :class:`MissingTokenError` when none is
    found.
    """
    if token:
        return token
    api_token = getattr(hf_api, "token", None)
    if isinstance(api_token, str) and api_token:
        return api_token
    from huggingface_hub import get_token

    try:
        found = get_token()
    except Exception as exc:  # e.g. a failed OIDC exchange; its message holds no token
        raise MissingTokenError(f"reading the stored login failed: {type(exc).__name__}") from exc
    if not found:
        raise MissingTokenError()
    return found


def check_publish_inputs(
    esm_dir: str | os.PathLike, repo_id: str | None, *, token: bool = False
) -> Path:
    """The checks above (the login too with ``token=True``); the ESM folder as a path."""
    folder = check_esm_folder(esm_dir)
    check_repo_id(repo_id)
    if token:
        resolve_token()
    return folder


__all__ = ["check_esm_folder", "check_publish_inputs", "check_repo_id", "resolve_token"]
