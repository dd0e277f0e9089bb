"""Output folders: refusing to replace a folder unless asked, and writing a folder atomically.

Training writes whole folders (an ESM, a fine-tuned model). They are filled in a staging folder
beside the target (same file system) and renamed into place in one step, so that a crash never
leaves a half-written folder; an existing folder is replaced only when the caller allows it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from hfselect_widgets.errors import OutputExistsError

TRAIN_INFO_NAME = "train_info.json"
"""The training record written beside an ESM (hfselect's trainer writes it too)."""


def _folder_in_use(path: Path) -> bool:
    """Whether ``path`` is a file, or a folder with anything in it."""
    if not path.exists():
        return False
    return not path.is_dir() or any(path.iterdir())


def check_output_dir(output_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Raise :class:`OutputExistsError` unless ``output_dir`` may be written.

    Free: it does not exist, or is an empty folder. With ``overwrite``, an existing folder
    (never a file) may be replaced as a whole.
    """
    path = Path(output_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise OutputExistsError(str(path))
    if _folder_in_use(path) and not overwrite:
        raise OutputExistsError(str(path))
    return path


def _staging_folder(target: Path) -> Path:
    """A new hidden folder beside ``target`` (same file system, so a rename is atomic)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    staging.mkdir()  # os.mkdir honours the umask (tempfile.mkdtemp would make it private)
    return staging


def write_folder_atomically(
    output_dir: Path, write: Callable[[Path], None], *, overwrite: bool
) -> None:
    """Let ``write`` fill a staging folder, then rename it to ``output_dir`` in one step.

    An existing ``output_dir`` (allowed by ``overwrite`` or empty) is moved aside first and
    deleted only once the new folder is in place; on any failure the staging folder is
    removed and the old folder, if any, is put back.
    """
    staging = _staging_folder(output_dir)
    try:
        write(staging)
        check_output_dir(output_dir, overwrite)  # again: the folder may have appeared meanwhile
        if output_dir.exists():
            aside = output_dir.parent / f".{output_dir.name}.old-{uuid.uuid4().hex[:12]}"
            os.rename(output_dir, aside)
            try:
                os.rename(staging, output_dir)
            except BaseException:
                os.rename(aside, output_dir)
                raise
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(staging, output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def replace_files_atomically(output_dir: Path, write: Callable[[Path], None]) -> None:
    """Let ``write`` fill a staging folder, then move each of its files into ``output_dir``.

    Other files in ``output_dir`` are kept (as hfselect's ``save_pretrained`` keeps them); each
    file is replaced in one rename, after all of them were written in full.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = _staging_folder(output_dir)
    try:
        write(staging)
        for file in sorted(staging.iterdir()):
            os.replace(file, output_dir / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


__all__ = [
    "TRAIN_INFO_NAME",
    "check_output_dir",
    "replace_files_atomically",
    "write_folder_atomically",
]
