"""A Griffe extension for the API reference: lazy re-exports and reST roles.

1. The engine's sub-packages re-export their names lazily (PEP 562, see
   ``hfselect_widgets/engine/_lazy.py``): ``__init__.py`` holds a literal ``_EXPORTS`` dict of
   ``name -> module`` and ``__all__ = sorted(_EXPORTS)``, which static analysis cannot follow.
   This extension reads that dict and adds each name to the package as an alias of the object in
   its module, and makes the names the package's exports. ``::: hfselect_widgets.engine.data``
   then documents what the package offers, wherever the modules behind it move: only
   ``_EXPORTS`` has to be right (and a name whose target is gone fails ``mkdocs build --strict``).
2. Docstrings use Sphinx roles (``:class:`~x.Y```) and ``::`` before literal blocks; Markdown has
   neither, so a role becomes inline code (``Y``) and ``::`` a colon.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const|term):`([^`]+)`")
_LITERAL_BLOCK = re.compile(r"(\S)::[ \t]*$", re.MULTILINE)


def _role_text(match: re.Match) -> str:
    target = match.group(1).strip()
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target.lstrip('.')}`"


def clean_docstring(text: str) -> str:
    """Sphinx roles -> inline code, ``text::`` -> ``text:``."""
    return _LITERAL_BLOCK.sub(r"\1:", _ROLE.sub(_role_text, text))


def literal_exports(path: Path) -> dict[str, str] | None:
    """The ``_EXPORTS = {...}`` dict literal at the top level of ``path``, if any."""
    try:
        tree = ast.parse(path.read_text("utf-8"))
    except (OSError, SyntaxError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets
        ):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def _absolute(package: str, module: str) -> str:
    """``".model"`` relative to ``package`` -> ``package.model`` (``..x`` goes one level up)."""
    if not module.startswith("."):
        return module
    level = len(module) - len(module.lstrip("."))
    base = package.rsplit(".", level - 1)[0] if level > 1 else package
    rest = module[level:]
    return f"{base}.{rest}" if rest else base


def _walk(obj: griffe.Object):
    yield obj
    for member in obj.members.values():
        if member.is_alias:
            continue
        yield from _walk(member)


class LazyExports(griffe.Extension):
    """See the module docstring."""

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        for obj in list(_walk(pkg)):
            if obj.docstring is not None:
                obj.docstring.value = clean_docstring(obj.docstring.value)
            if not (obj.is_module and obj.is_init_module and obj.filepath):
                continue
            exports = literal_exports(Path(obj.filepath))
            if not exports:
                continue
            for name, module in exports.items():
                if name in obj.members and not obj.members[name].is_alias:
                    continue  # defined right there
                target = f"{_absolute(obj.path, module)}.{name}"
                alias = griffe.Alias(name, target, parent=obj)
                obj.set_member(name, alias)
                try:
                    alias.resolve_target()
                except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                    # mkdocstrings would silently leave the name out: make --strict fail
                    griffe.logger.warning(
                        f"{obj.filepath}: _EXPORTS names {name!r} in {module!r}, "
                        f"but {target} does not exist"
                    )
            if not obj.exports:
                obj.exports = sorted(exports)
