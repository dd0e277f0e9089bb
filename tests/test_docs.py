"""The documentation's generated parts and the README's layout, offline and fast.

``make test`` builds the whole site with ``mkdocs build --strict`` (broken references fail it);
these tests check what the build cannot: that the generated command-line page shows every
sub-command and option of the real parser, and that the README's layout names every engine
sub-package that exists.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _gen_cli():
    spec = importlib.util.spec_from_file_location("docs_gen_cli", ROOT / "docs" / "gen_cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings}


def test_cli_page_shows_every_subcommand_and_option():
    from hfselect_widgets.cli import build_parser

    gen_cli = _gen_cli()
    page = gen_cli.render_cli()
    subcommands = gen_cli.subcommands(build_parser())
    assert {name for name, _, _ in subcommands} >= {"rank", "demo", "train", "publish"}
    for name, _summary, parser in subcommands:
        assert f"## `hfselect-widgets {name}`" in page
        section = page.split(f"## `hfselect-widgets {name}`", 1)[1].split("\n## ", 1)[0]
        for option in _option_strings(parser):
            assert option in section, f"{option} of {name!r} missing from the CLI page"


def test_magic_page_shows_every_option_and_config_trait():
    pytest.importorskip("IPython")
    from hfselect_widgets import magics

    page = _gen_cli().render_magic()
    for option in _option_strings(magics.PARSER):
        assert option in page, option
    for name in magics.EsmRankMagics.class_traits(config=True):
        assert f"| `{name}` |" in page, name


def _readme_layout() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("## Layout", 1)[1].split("\n## ", 1)[0]


def _layout_block(layout: str, name: str) -> str:
    """The lines of the layout from the one that starts with ``name`` to the next entry of
    the same or a lower indent."""
    lines = layout.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(name):
            indent = len(line) - len(line.lstrip())
            block = [line]
            for following in lines[i + 1 :]:
                stripped = following.lstrip()
                own = len(following) - len(stripped)
                # A continuation line is indented past the entry's name column.
                if stripped and own <= indent + len(name):
                    break
                block.append(following)
            return "\n".join(block)
    raise AssertionError(f"{name} is not in the README's layout")


def test_readme_layout_names_every_engine_module_in_its_subpackage():
    """The layout is the tree: each engine sub-package's entry names every module in it, and
    every module directly under engine/ has its own line."""
    layout = _readme_layout()
    engine = ROOT / "hfselect_widgets" / "engine"
    packages = sorted(p for p in engine.iterdir() if (p / "__init__.py").is_file())
    assert len(packages) >= 8, "no engine sub-packages found"
    for package in packages:
        block = _layout_block(layout, f"{package.name}/")
        for module in sorted(package.glob("*.py")):
            if module.stem != "__init__":
                assert re.search(rf"\b{module.stem}\b", block), (
                    f"engine/{package.name}/{module.name} is not named in the README's layout"
                )
    for module in sorted(engine.glob("*.py")):
        if module.stem != "__init__":
            assert re.search(rf"^\s+{re.escape(module.name)}\s", layout, re.M), module.name


def test_readme_layout_names_every_top_level_module_and_folder():
    """Every module and folder of the package and every folder of the repository is in the
    layout (hfselect's alias modules count as one line), and every path it names exists."""
    import hfselect_widgets

    layout = _readme_layout()
    package = ROOT / "hfselect_widgets"
    aliases = set(hfselect_widgets._SUBMODULES) - {"errors"}
    for entry in sorted(package.iterdir()):
        if entry.name.startswith((".", "__pycache__")) or entry.stem in aliases:
            continue
        if entry.suffix == ".py" and entry.stem not in ("_version", "__init__"):
            assert entry.name in layout, f"hfselect_widgets/{entry.name} not in the layout"
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            assert f"{entry.name}/" in layout, f"hfselect_widgets/{entry.name}/ not in the layout"
    for folder in ("scripts", "notebooks", "binder", "docs", "tests", "benchmarks"):
        assert re.search(rf"^{folder}/", layout, re.M), folder
    assert re.search(r"^\s+browser/", layout, re.M)
    for widget_module in (package / "widgets").glob("*.py"):
        if widget_module.stem not in ("__init__",):
            assert widget_module.stem.lstrip("_") in _layout_block(layout, "widgets/"), (
                widget_module.name
            )
    # Nothing named that is not there.
    for name in re.findall(r"\b([\w]+\.py)\b", layout):
        assert list(ROOT.rglob(name)), f"{name} is in the layout but not in the repository"


def test_readme_points_only_inside_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "../" not in readme, "the README refers to a path outside the repository"


def test_readme_carries_the_shared_how_to_read_the_scores_paragraph():
    """The README explains the scores with the very paragraph the Results tab, the HTML report
    and `rank --help` show (issue 10), so the four never drift apart."""
    from hfselect_widgets.engine.scoring.explain import HOW_TO_READ_SCORE

    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "How to read the scores" in readme
    assert " ".join(HOW_TO_READ_SCORE.split()) in readme
