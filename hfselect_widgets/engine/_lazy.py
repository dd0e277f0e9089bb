"""Lazy re-exports for the engine's sub-packages (PEP 562).

A sub-package's ``__init__`` names what it offers without importing its modules: importing
``engine.embedding.model`` must not drag in ``engine.embedding.pairs`` (and through it the
training code), or the sub-packages would import each other in circles.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``exports`` maps a name to its module
    (relative to the package, e.g. ``".model"``)."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module, package), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
