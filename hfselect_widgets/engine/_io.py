"""Writing files: the engine's one atomic writer and its one JSON serialiser.

:func:`atomic_write` writes to a temporary file in the target's folder, flushes and fsyncs it,
then renames it over the target (``os.replace``), so a reader sees the old file or the new one,
never half of one. The file gets the mode a plain ``open()`` would give it (``0o666`` minus the
umask), not the ``0o600`` of ``tempfile.mkstemp``.

:func:`json_default` is the ``default=`` for ``json.dumps`` everywhere: numpy (and torch)
scalars and arrays become numbers and lists, paths strings, sets lists, anything else its
``str``; :func:`to_json`, :func:`json_safe` and :func:`write_json` use it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

_TEMP_SUFFIX = ".tmp"


def atomic_write(path: str | os.PathLike, data: bytes | str | Callable[[IO[bytes]], Any]) -> Path:
    """Write ``data`` to ``path`` atomically; return the path.

    ``data`` is bytes, text (written as UTF-8), or a function that writes to the open binary
    file (e.g. ``lambda f: np.save(f, array)``). Missing parent folders are created. On any
    failure the temporary file is removed and an existing ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}{_TEMP_SUFFIX}"
    # os.open applies the umask to 0o666, as open() does for a new file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            if callable(data):
                data(handle)
            else:
                handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def is_temp_file(path: Path) -> bool:
    """Whether ``path`` is a leftover temporary file of :func:`atomic_write` (a crash's)."""
    return path.name.startswith(".") and path.name.endswith(_TEMP_SUFFIX)


def json_default(value: Any) -> Any:
    """``json.dumps``' ``default=``: numpy/torch values, paths and sets as plain JSON types."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays, torch tensors
    if callable(tolist):
        return tolist()
    return str(value)


def to_json(value: Any, **kwargs: Any) -> str:
    """``json.dumps(value, default=json_default, **kwargs)``."""
    return json.dumps(value, default=json_default, **kwargs)


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON types (what :func:`to_json` would write, read back)."""
    if value is None or type(value) in (str, int, float, bool):  # the usual case, kept fast
        return value
    return json.loads(to_json(value))


def write_json(path: str | os.PathLike, value: Any, **kwargs: Any) -> Path:
    """Write ``value`` as JSON (``kwargs`` go to ``json.dumps``) atomically, newline-terminated."""
    return atomic_write(path, to_json(value, **kwargs) + "\n")


__all__ = ["atomic_write", "is_temp_file", "json_default", "json_safe", "to_json", "write_json"]
