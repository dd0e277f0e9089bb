"""Local ESMs: a folder of ESM folders (as ``ESM.save_pretrained`` writes them), or one ESM.

The layout is free: ESM folders may sit at any depth below ``esm_dir`` (e.g.
``esms/<task>/<subset>/``). A folder is an ESM when it holds ``config.json`` and a weights file
(``model.safetensors`` or ``pytorch_model.bin``); we do not look inside an ESM folder, nor into
hidden folders. A folder with weights but no config, or an ESM config but no weights, is
reported as broken instead of being skipped silently.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from hfselect_widgets.engine.esm.format import (
    CONFIG_NAME,
    ESM,
    PYTORCH_BIN_NAME,
    SAFETENSORS_NAME,
    ESMConfig,
)
from hfselect_widgets.engine.progress import (
    STAGE_DOWNLOAD,
    STAGE_METADATA,
    CancelToken,
    ProgressCallback,
    check_cancel,
    report,
)
from hfselect_widgets.errors import ESMFolderNotFoundError, InvalidESMConfigError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hfselect_widgets.engine.hub.download import FetchReport

_WEIGHTS_NAMES = (SAFETENSORS_NAME, PYTORCH_BIN_NAME)
# Keys that tell an ESM config.json from, say, a transformers model's.
_ESM_MARKER_KEYS = ("task_id", "esm_architecture", "esm_embedding_dim")


def _looks_like_esm_config(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and any(key in data for key in _ESM_MARKER_KEYS)


def scan_esm_dir(esm_dir: str | os.PathLike) -> tuple[list[Path], dict[str, str]]:
    """``(ESM folders, broken folders -> reason)`` below ``esm_dir``, sorted by path.

    Raises :class:`ESMFolderNotFoundError` if ``esm_dir`` does not exist or is a file.
    """
    root = Path(os.path.expanduser(str(esm_dir)))
    if not root.exists():
        raise ESMFolderNotFoundError(str(esm_dir))
    if not root.is_dir():
        raise ESMFolderNotFoundError(str(esm_dir), "is a file, not a folder")
    found: list[Path] = []
    broken: dict[str, str] = {}
    seen: set[Path] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        real = folder.resolve()
        if real in seen:  # a symlink loop, or two links to the same ESM
            continue
        seen.add(real)
        has_config = (folder / CONFIG_NAME).is_file()
        has_weights = any((folder / name).is_file() for name in _WEIGHTS_NAMES)
        if has_config and has_weights:
            found.append(folder)
            continue
        if has_weights:
            broken[str(folder)] = f"weights but no {CONFIG_NAME}"
        elif has_config and _looks_like_esm_config(folder / CONFIG_NAME):
            broken[str(folder)] = (
                f"no weights found (expected {SAFETENSORS_NAME} or {PYTORCH_BIN_NAME})"
            )
        try:
            children = sorted(
                (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                reverse=True,  # popped from the end: visited in sorted order
            )
        except OSError as exc:
            broken[str(folder)] = f"cannot list the folder ({exc})"
            continue
        stack.extend(children)
    found.sort()
    return found, dict(sorted(broken.items()))


def find_esm_folders(esm_dir: str | os.PathLike) -> list[Path]:
    """The ESM folders below ``esm_dir`` (recursively, sorted); ``[esm_dir]`` if it is an ESM.

    Only complete folders are returned (``config.json`` plus a weights file); use
    :func:`read_esm_folder_configs` to hear about broken ones. Raises
    :class:`ESMFolderNotFoundError` if ``esm_dir`` does not exist.
    """
    return scan_esm_dir(esm_dir)[0]


def read_esm_folder_configs(
    esm_dir: str | os.PathLike,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> FetchReport[ESMConfig]:
    """The valid configs of the ESMs below ``esm_dir`` (no weights loaded).

    Each config's ``.source`` is its folder path (``.repo_id`` is ``None``). Folders with
    unreadable or invalid configs, and broken folders, are in ``.failures`` (folder -> reason).
    Progress stage ``"metadata"``.
    """
    # Lazily: local folders need no Hub code (the Hub's downloads build on this package).
    from hfselect_widgets.engine.hub.download import FetchReport
    from hfselect_widgets.engine.hub.network import describe_failure

    folders, broken = scan_esm_dir(esm_dir)
    result: FetchReport[ESMConfig] = FetchReport(failures=broken, what="ESM configs")
    report(progress, STAGE_METADATA, 0, len(folders))
    for done, folder in enumerate(folders, start=1):
        check_cancel(cancel, STAGE_METADATA)
        try:
            config = ESMConfig.from_json_file(folder / CONFIG_NAME)
            config.source = str(folder)
            reason = config.validation_error()
            if reason is not None:
                raise InvalidESMConfigError(f"invalid ESM config: {reason}")
            result.append(config)
        except Exception as exc:  # one broken ESM never stops the others
            result.failures[str(folder)] = describe_failure(exc)
        report(progress, STAGE_METADATA, done, len(folders))
    return result


def load_esm_folder(
    esm_dir: str | os.PathLike,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> FetchReport[ESM]:
    """Load every ESM below ``esm_dir``; broken ones go to ``.failures`` with the reason.

    Holds all ESMs in memory; to rank many, iterate over :func:`find_esm_folders` and load
    lazily. Progress stage ``"download"`` (one step per ESM loaded).
    """
    from hfselect_widgets.engine.hub.download import FetchReport
    from hfselect_widgets.engine.hub.network import describe_failure

    folders, broken = scan_esm_dir(esm_dir)
    result: FetchReport[ESM] = FetchReport(failures=broken, what="ESMs")
    report(progress, STAGE_DOWNLOAD, 0, len(folders))
    for done, folder in enumerate(folders, start=1):
        check_cancel(cancel, STAGE_DOWNLOAD)
        try:
            result.append(ESM.from_folder(folder))
        except Exception as exc:  # one broken ESM never stops the others
            result.failures[str(folder)] = describe_failure(exc)
        report(progress, STAGE_DOWNLOAD, done, len(folders))
    return result


__all__ = ["find_esm_folders", "load_esm_folder", "read_esm_folder_configs", "scan_esm_dir"]


def common_base_model(
    source: str | os.PathLike | Iterable[str | os.PathLike], limit: int = 200
) -> str | None:
    """The base model every readable ESM names, or ``None`` if they differ or none can be read.

    ``source`` is a folder of ESM folders or a list of ESM folders; at most ``limit`` configs
    are read (front ends use this to pick a default base model for a local pool).
    """
    if isinstance(source, (str, os.PathLike)):
        folders: list[Path] = find_esm_folders(source)
    else:
        folders = [Path(os.path.expanduser(str(f))) for f in source]
    names = set()
    for folder in folders[:limit]:
        try:
            names.add(ESMConfig.from_pretrained(folder).base_model_name)
        except Exception:  # a broken ESM is reported by the ranking; here we only pick a model
            continue
    return names.pop() if len(names) == 1 else None
