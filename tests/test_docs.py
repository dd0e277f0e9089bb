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


def test_readme_layout_names_every_engine_subpackage():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    engine = ROOT / "hfselect_widgets" / "engine"
    packages = sorted(p.name for p in engine.iterdir() if (p / "__init__.py").is_file())
    assert packages, "no engine sub-packages found"
    for name in packages:
        assert re.search(rf"^\s+{re.escape(name)}/", layout, re.M), f"engine/{name}/ not in README"
    assert "errors.py" in layout


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
