"""The package's shape: no import cycles, the engine below the front ends, one atomic writer.

The import graph is read from the source with ``ast`` (nothing is imported). Only imports that
run when a module is imported count (module level, class bodies, ``try``/``if`` blocks; not
function bodies, which are the usual way to import lazily, nor ``if TYPE_CHECKING:`` blocks).
"""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import stat
from pathlib import Path

import pytest

import hfselect_widgets
from hfselect_widgets.engine._io import atomic_write, json_safe, to_json, write_json

PACKAGE = hfselect_widgets.__name__
ROOT = Path(hfselect_widgets.__file__).parent
FRONT_ENDS = (f"{PACKAGE}.widgets", f"{PACKAGE}.cli", f"{PACKAGE}.magics")


def _modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> source file."""
    found = {PACKAGE: ROOT / "__init__.py"}
    for info in pkgutil.walk_packages([str(ROOT)], prefix=f"{PACKAGE}."):
        relative = Path(*info.name.split(".")[1:])
        path = ROOT / relative / "__init__.py" if info.ispkg else ROOT / f"{relative}.py"
        if path.is_file():
            found[info.name] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_nodes(body: list[ast.stmt]):
    """The import statements that run when the module is imported."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _import_time_nodes(node.body)
            yield from _import_time_nodes(node.orelse)
        elif isinstance(node, ast.ClassDef):
            yield from _import_time_nodes(node.body)
        else:
            for name in ("body", "orelse", "finalbody", "handlers", "cases"):
                children = getattr(node, name, None)
                if isinstance(children, list):
                    yield from _import_time_nodes([c for c in children if isinstance(c, ast.AST)])


def _all_import_nodes(tree: ast.Module):
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known) -> set[str]:
    """The package's modules that ``node`` imports."""
    names: set[str] = set()
    if isinstance(node, ast.Import):
        candidates = [alias.name for alias in node.names]
    else:
        if node.level:
            parts = module.split(".")
            base_parts = parts if is_package else parts[:-1]
            base_parts = base_parts[: len(base_parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        candidates = []
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            candidates.append(submodule if submodule in known else base)
    for name in candidates:
        # ``import a.b.c`` binds ``a`` but runs ``a.b.c``: the deepest known module counts.
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name.startswith(PACKAGE):
            names.add(name)
    return names


def _graph(import_time_only: bool) -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        nodes = _import_time_nodes(tree.body) if import_time_only else _all_import_nodes(tree)
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in nodes:
            edges |= _targets(node, name, is_package, modules)
        edges.discard(name)
        graph[name] = edges
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path ``[a, b, ..., a]``, or ``None``."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = GREY
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if colour.get(target, BLACK) == GREY:
                return stack[stack.index(target) :] + [target]
            if colour.get(target) == WHITE:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        colour[node] = BLACK
        return None

    for start in sorted(graph):
        if colour[start] == WHITE:
            found = visit(start)
            if found:
                return found
    return None


def test_the_walk_sees_the_whole_package():
    modules = _modules()
    assert f"{PACKAGE}.engine.data.dataset" in modules
    assert f"{PACKAGE}.engine.hub.discovery" in modules
    assert f"{PACKAGE}.widgets" in modules
    assert len(modules) > 40


def test_no_import_cycles():
    cycle = _find_cycle(_graph(import_time_only=True))
    assert cycle is None, "import cycle (module-level imports): " + " -> ".join(cycle)


def test_cycle_finder_reports_the_path():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _find_cycle(graph) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_engine_never_imports_the_front_ends():
    # Every import counts here, lazy ones too: the engine is below the front ends.
    offenders = [
        f"{module} imports {target}"
        for module, targets in _graph(import_time_only=False).items()
        if module.startswith(f"{PACKAGE}.engine")
        for target in sorted(targets)
        if target.startswith(FRONT_ENDS)
    ]
    assert not offenders, "\n".join(offenders)


ENGINE_ONLY = {
    # loading a target dataset
    "from_file",
    "from_pandas",
    "from_hugging_face",
    "load_builder",
    "stream_sample",
    # resolving an ESM pool and ranking it
    "common_base_model",
    "find_esm_repo_ids",
    "read_esm_folder_configs",
    "resolve_esm_handles",
    "compute_task_ranking",
}
"""What only the engine does: a front end builds a request (engine/requests.py) instead."""


def _engine_only_uses(tree: ast.Module) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = node.attr
            if name == "load" and isinstance(node.value, ast.Name) and node.value.id == "Dataset":
                name = "Dataset.load"
        elif isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.alias):
            name = node.name.rpartition(".")[2]
        else:
            continue
        if name in ENGINE_ONLY or name == "Dataset.load":
            found.append((getattr(node, "lineno", 0), name))
    return found


def test_front_ends_build_requests_and_never_load_or_resolve_themselves():
    """The CLI, the magic and the widgets hand a RankingRequest / TargetRequest / PoolRequest to
    the engine: none of them loads a dataset or resolves an ESM pool with its own code."""
    offenders, users = [], set()
    graph = _graph(import_time_only=False)
    for module, path in _modules().items():
        if not module.startswith(FRONT_ENDS):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{module}:{line} uses {name}" for line, name in _engine_only_uses(tree)]
        if f"{PACKAGE}.engine.requests" in graph[module]:
            users.add(module.rpartition(".")[2])
    assert not offenders, "\n".join(offenders)
    # Each front end reaches the engine through the request layer.
    assert {"cli", "magics", "run_panel", "dataset_picker", "esm_pool"} <= users


def test_the_engine_only_check_sees_a_front_end_that_loads_data_itself():
    tree = ast.parse(
        "from hfselect_widgets.engine.scoring.ranking import compute_task_ranking\n"
        "def f(path):\n"
        "    return Dataset.load(path, 'text', 'label'), Dataset.from_file(path, 't', 'l')\n"
    )
    assert [name for _, name in _engine_only_uses(tree)] == [
        "compute_task_ranking",
        "Dataset.load",
        "from_file",
    ]


def test_engine_imports_no_ui_libraries():
    ui = ("ipywidgets", "altair", "IPython", "anywidget")
    offenders = []
    for module, path in _modules().items():
        if not module.startswith(f"{PACKAGE}.engine"):
            continue
        for node in _all_import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            offenders += [f"{module} imports {n}" for n in names if n and n.startswith(ui)]
    assert not offenders, "\n".join(offenders)


def test_every_lazy_export_resolves():
    """Each ``_EXPORTS`` entry (top level and sub-packages) names an object that exists."""
    missing = []
    for module, path in _modules().items():
        if path.name != "__init__.py" or "_EXPORTS" not in path.read_text(encoding="utf-8"):
            continue
        package = importlib.import_module(module)
        for name in getattr(package, "_EXPORTS", {}):
            try:
                getattr(package, name)
            except AttributeError as exc:
                missing.append(f"{module}.{name}: {exc}")
    assert not missing, "\n".join(missing)


# --- the atomic writer -----------------------------------------------------------------------


def test_atomic_write_gives_the_umask_mode(tmp_path):
    previous = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "sub" / "file.bin", b"data")
        json_path = write_json(tmp_path / "file.json", {"a": 1})
    finally:
        os.umask(previous)
    assert path.read_bytes() == b"data"
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~0o022 == 0o644
    assert stat.S_IMODE(json_path.stat().st_mode) == 0o644
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_atomic_write_follows_another_umask_and_replaces(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("old")
    previous = os.umask(0o077)
    try:
        atomic_write(path, b"new")
    finally:
        os.umask(previous)
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path):
    path = tmp_path / "file.json"
    path.write_text("old")

    def half_then_crash(handle):
        handle.write(b"half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic_write(path, half_then_crash)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.json"]


def test_json_serialiser_handles_numpy_and_paths():
    import numpy as np

    value = {
        "int": np.int64(3),
        "float": np.float32(0.5),
        "array": np.arange(3),
        "path": Path("/tmp/x"),
        "tuple": (1, 2),
        "set": {4},
    }
    assert to_json(value) == (
        '{"int": 3, "float": 0.5, "array": [0, 1, 2], "path": "/tmp/x", "tuple": [1, 2], '
        '"set": [4]}'
    )
    assert json_safe({"a": np.float64(1.5), "b": (Path("p"),)}) == {"a": 1.5, "b": ["p"]}
