"""Publish an ESM to the Hugging Face Hub so that hfselect and hfselect_widgets can find it.

What gets uploaded is staged in a temporary folder first: ``config.json`` and
``model.safetensors`` in hfselect's format (``model.*`` tensors, ``version: "0.2.1"``; legacy
ESMs are converted) and a ``README.md`` model card. The staged folder must load back with
:meth:`ESM.from_pretrained <hfselect_widgets.engine.esm.format.ESM.from_pretrained>` and give the
source's weights before anything is written to the Hub.

The card, and with it the metadata that makes the ESM discoverable, is :mod:`.card`.

Safety rules: the token comes from the caller, the ``HfApi`` object, ``HF_TOKEN`` or the stored
login and is never printed, stored or put in a message; an existing repo is only written to
when the caller asked for it (``exist_ok`` for an empty repo, ``overwrite`` to replace an ESM);
a repo that holds something other than an ESM is never touched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hfselect_widgets.engine.esm.format import (
    CONFIG_NAME,
    ESM,
    PYTORCH_BIN_NAME,
    SAFETENSORS_NAME,
    ESMConfig,
)
from hfselect_widgets.engine.hub.card import DEFAULT_LICENSE, README_NAME, build_model_card
from hfselect_widgets.engine.hub.preflight import resolve_token
from hfselect_widgets.engine.model_ids import is_hub_id
from hfselect_widgets.errors import (
    Fix,
    InvalidESMConfigError,
    PublishError,
    RepoExistsError,
    UploadError,
)

# Files an existing repo may hold and still count as "empty" (what the Hub's "create repo" page
# writes), and the files an ESM repo may hold (hfselect's trainer writes train_info.json).
_EMPTY_REPO_FILES = frozenset({".gitattributes", README_NAME})
_ESM_REPO_FILES = _EMPTY_REPO_FILES | {
    CONFIG_NAME,
    SAFETENSORS_NAME,
    PYTORCH_BIN_NAME,
    "train_info.json",
}
# Files of an old ESM that would be left stale beside the new upload (deleted in the same commit).
_STALE_ESM_FILES = (PYTORCH_BIN_NAME, "train_info.json")


@dataclass(frozen=True)
class PublishResult:
    """What :func:`publish_esm` did.

    Attributes:
        repo_id: the Hub repo (``namespace/name``).
        url: the repo's page on the Hub.
        files: the names of the uploaded files, sorted.
        created: whether the repo was created (``False``: an existing repo was reused).
        commit_url: the upload commit's page, when the Hub reported it.
    """

    repo_id: str
    url: str
    files: list[str] = field(default_factory=list)
    created: bool = True
    commit_url: str | None = None


# --- staging ---------------------------------------------------------------------------------


def _load_source(esm_dir_or_esm: ESM | str | os.PathLike) -> ESM:
    if isinstance(esm_dir_or_esm, ESM):
        return esm_dir_or_esm
    from hfselect_widgets.engine.hub.preflight import check_esm_folder

    return ESM.from_folder(check_esm_folder(esm_dir_or_esm))


def _standalone_copy(esm: ESM) -> ESM:
    """A copy of ``esm`` with its own config, so staging never mutates the caller's object."""
    config = ESMConfig.from_dict(esm.config.to_dict())
    copy = ESM(architecture="linear", embedding_dim=esm.embedding_dim, config=config)
    weight, bias = esm.weights()
    with torch.no_grad():
        copy.model.weight.copy_(weight)
        copy.model.bias.copy_(bias)
    return copy


def _check_publishable(config: ESMConfig, repo_id: str | None) -> None:
    try:
        config.validate()
    except InvalidESMConfigError as exc:
        raise InvalidESMConfigError(
            f"{exc} Fix config.json before publishing: hfselect skips ESMs without them."
        ) from exc
    from hfselect_widgets.engine.hub.preflight import check_repo_id

    check_repo_id(repo_id)
    if not is_hub_id(config.base_model_name):
        raise PublishError(
            f"The ESM's base_model_name {config.base_model_name!r} is not a Hub model id, so "
            "nobody could find this ESM for their base model. Set config.base_model_name to "
            "the base model's Hub id (e.g. 'sentence-transformers/all-MiniLM-L6-v2') and save "
            "the ESM again."
        )


def stage_upload_folder(
    esm_dir_or_esm: ESM | str | os.PathLike,
    folder: str | os.PathLike,
    *,
    repo_id: str | None = None,
    license: str = DEFAULT_LICENSE,
) -> list[str]:
    """Write what :func:`publish_esm` would upload into ``folder``; return the file names.

    ``folder`` gets ``config.json`` and ``model.safetensors`` in hfselect's current format
    (legacy ``sequential.*`` / version ``"0.1.0"`` ESMs are converted to ``model.*`` with
    version ``"0.2.1"``) and ``README.md`` (:func:`build_model_card`). The folder is then
    loaded back with ``ESM.from_pretrained`` and compared with the source, so a folder that
    would not load never reaches the Hub. Useful on its own for a dry run.

    Raises:
        ESMLoadError / InvalidESMConfigError: the source ESM cannot be read or is invalid.
        PublishError: ``folder`` is not empty, ``repo_id`` or the base model name is not a Hub
            id, or the staged folder does not reproduce the source.
    """
    source = _load_source(esm_dir_or_esm)
    esm = _standalone_copy(source)
    _check_publishable(esm.config, repo_id)
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        # Never mix the upload with files that are already there, nor replace them.
        raise PublishError(f"{str(folder)!r} is not an empty folder; give a new or empty one.")
    esm.save_pretrained(folder)
    card = build_model_card(esm.config, repo_id=repo_id, license=license)
    (folder / README_NAME).write_text(card, encoding="utf-8")

    # Load back exactly as users will, and compare with what we meant to publish.
    staged = ESM.from_pretrained(folder)
    source_weight, source_bias = source.weights()
    staged_weight, staged_bias = staged.weights()
    if not (torch.equal(source_weight, staged_weight) and torch.equal(source_bias, staged_bias)):
        raise PublishError(
            "The staged ESM does not reproduce the source weights; nothing was uploaded. "
            "Please report this as a bug."
        )
    return sorted(p.name for p in folder.iterdir() if p.is_file())


# --- token and Hub calls ---------------------------------------------------------------------


def _cause(exc: BaseException, token: str) -> str:
    """A one-line description of ``exc`` that never contains the token."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if token:
        text = text.replace(token, "***")
    return f"{type(exc).__name__}: {text}"


def _hint(exc: BaseException) -> str | None:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403):
        return (
            "Check that the token is valid and has write access to this namespace "
            "(a 'write' or fine-grained token with repo write permission)."
        )
    name = type(exc).__name__.lower()
    from hfselect_widgets.engine.hub.network import offline_reason

    reason = offline_reason()
    if reason is not None:  # the reachability probe failed: publishing needs the Hub
        return f"You are offline ({reason}): connect and try again."
    if "offline" in name:  # huggingface_hub's OfflineModeIsEnabled
        return "HF_HUB_OFFLINE is set: unset it to publish."
    if isinstance(exc, (ConnectionError, TimeoutError)) or "connect" in name or "timeout" in name:
        return "Check the internet connection and try again."
    return None


def _hub_call(
    repo_id: str, action: str, secret: str, call: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Any:
    """Run one Hub API call; turn any failure into :class:`UploadError` (``secret`` scrubbed).

    Positional-only parameters, so that ``token=`` in ``kwargs`` goes to ``call``.
    """
    try:
        return call(*args, **kwargs)
    except Exception as exc:
        error = UploadError(repo_id, action, _cause(exc, secret), _hint(exc))
        # Keep the original exception for tracebacks unless its text holds the token.
        if secret and secret in str(exc):
            raise error from None
        raise error from exc


def _existing_esm_config(hf_api: Any, repo_id: str, token: str) -> ESMConfig | None:
    """The existing repo's ESM config, or ``None`` if its ``config.json`` is not one."""
    local = _hub_call(
        repo_id,
        "reading the existing config.json",
        token,
        hf_api.hf_hub_download,
        repo_id=repo_id,
        filename=CONFIG_NAME,
        token=token,
    )
    try:
        config = ESMConfig.from_json_file(local, repo_id=repo_id)
    except (InvalidESMConfigError, OSError):
        return None
    return config if config.is_valid else None


def _check_existing_repo(
    hf_api: Any, repo_id: str, token: str, *, exist_ok: bool, overwrite: bool
) -> list[str]:
    """Decide whether an existing repo may be written to; return the stale files to delete.

    Empty repo (at most ``.gitattributes``/``README.md``): needs ``exist_ok`` or ``overwrite``.
    ESM repo: needs ``overwrite``. Anything else: refused, whatever the flags.
    """
    files = sorted(
        _hub_call(
            repo_id,
            "listing the existing repo's files",
            token,
            hf_api.list_repo_files,
            repo_id,
            token=token,
        )
    )
    if set(files) <= _EMPTY_REPO_FILES:
        if exist_ok or overwrite:
            return []
        raise RepoExistsError(
            repo_id,
            f"The Hub repo {repo_id!r} already exists (it holds no ESM yet).",
            advice="{0} to publish into it, or choose another repo id.",
            fixes=[Fix("exist_ok", True)],
        )
    others = [name for name in files if name not in _ESM_REPO_FILES]
    config = (
        _existing_esm_config(hf_api, repo_id, token)
        if not others and CONFIG_NAME in files
        else None
    )
    if config is None:
        found = ", ".join(others or files[:10])
        raise RepoExistsError(
            repo_id,
            f"The Hub repo {repo_id!r} already exists and holds something other than an ESM "
            f"({found}). It is never replaced; choose another repo_id.",
        )
    if not overwrite:
        raise RepoExistsError(
            repo_id,
            f"The Hub repo {repo_id!r} already holds an ESM (task {config.task_id!r}, base "
            f"model {config.base_model_name!r}).",
            advice="{0} to replace it, or choose another repo id.",
            fixes=[Fix("overwrite", True)],
        )
    return [name for name in _STALE_ESM_FILES if name in files]


# --- publishing ------------------------------------------------------------------------------


def publish_esm(
    esm_dir_or_esm: ESM | str | os.PathLike,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    *,
    exist_ok: bool = False,
    overwrite: bool = False,
    commit_message: str | None = None,
    hf_api: Any = None,
    license: str = DEFAULT_LICENSE,
) -> PublishResult:
    """Create the Hub repo ``repo_id`` and upload the ESM with a model card.

    Steps, in order; nothing is written to the Hub before all local checks pass:

    1. Read the ESM (a folder or an :class:`ESM`), check its config and ``repo_id``.
    2. Find the token (``token``, else ``hf_api.token``, else ``HF_TOKEN`` / the stored login).
    3. Stage ``config.json``, ``model.safetensors`` and ``README.md`` in a temporary folder and
       check that it loads back with ``ESM.from_pretrained`` (:func:`stage_upload_folder`).
    4. If the repo exists: an empty one is used only with ``exist_ok=True`` (or
       ``overwrite=True``); one holding an ESM is replaced only with ``overwrite=True``; one
       holding anything else is never touched.
    5. ``create_repo`` (for a new repo), then one ``upload_folder`` commit (which also deletes a
       replaced ESM's stale ``pytorch_model.bin`` / ``train_info.json``).

    Args:
        esm_dir_or_esm: an ESM folder or an :class:`ESM` object (it is not modified).
        repo_id: ``"your-username/esm-name"``.
        token: a Hugging Face token with write access; never printed or stored.
        private: create the repo as private (ignored for an existing repo).
        exist_ok: allow publishing into an existing repo that holds no ESM yet.
        overwrite: allow replacing the ESM in an existing ESM repo (implies ``exist_ok``).
        commit_message: the upload's commit message (a default names the task).
        hf_api: an ``HfApi``-like object (default ``huggingface_hub.HfApi()``); tests pass a fake.
        license: the card's ``license`` (hfselect uses ``apache-2.0``).

    Returns:
        A :class:`PublishResult` with the repo id, its URL and the uploaded files.

    Raises:
        MissingTokenError: no token found (the message says how to log in).
        RepoExistsError: the repo exists and the flags do not allow writing to it.
        UploadError: a Hub call failed; the message carries the cause.
        PublishError, ESMLoadError, InvalidESMConfigError: bad input, found before any upload.
    """
    source = _load_source(esm_dir_or_esm)
    _check_publishable(source.config, repo_id)
    if hf_api is None:
        from hfselect_widgets.engine.hub.network import hub_api

        hf_api = hub_api()  # offline: the first Hub call fails at once, without retries
    token = resolve_token(token, hf_api)

    with tempfile.TemporaryDirectory(prefix="hfselect-widgets-publish-") as staging:
        files = stage_upload_folder(source, staging, repo_id=repo_id, license=license)

        exists = _hub_call(
            repo_id,
            "checking whether the repo exists",
            token,
            hf_api.repo_exists,
            repo_id,
            token=token,
        )
        stale: list[str] = []
        if exists:
            stale = _check_existing_repo(
                hf_api, repo_id, token, exist_ok=exist_ok, overwrite=overwrite
            )
        repo_url = _hub_call(
            repo_id,
            "creating the repo",
            token,
            hf_api.create_repo,
            repo_id,
            private=private,
            exist_ok=bool(exists),
            token=token,
        )
        upload_kwargs: dict[str, Any] = {}
        if stale:
            upload_kwargs["delete_patterns"] = stale
        message = commit_message or f"Upload ESM for {source.config.task_id}"
        commit = _hub_call(
            repo_id,
            "uploading the files",
            token,
            hf_api.upload_folder,
            folder_path=staging,
            repo_id=repo_id,
            commit_message=message,
            token=token,
            **upload_kwargs,
        )

    return PublishResult(
        repo_id=repo_id,
        url=_repo_url(repo_url, repo_id),
        files=files,
        created=not exists,
        commit_url=getattr(commit, "commit_url", None),
    )


def _repo_url(repo_url: Any, repo_id: str) -> str:
    if isinstance(repo_url, str) and repo_url:
        return str(repo_url)
    from huggingface_hub import constants

    return f"{constants.ENDPOINT.rstrip('/')}/{repo_id}"


__all__ = [
    "PublishResult",
    "publish_esm",
    "resolve_token",
    "stage_upload_folder",
]
