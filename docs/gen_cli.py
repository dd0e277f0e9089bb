"""Generate the command-line and magic references of the docs from the argument parsers.

Nothing is copied by hand: ``hfselect-widgets`` is rendered from
:func:`hfselect_widgets.cli.build_parser` (the top-level ``--help`` and each sub-command's), the
``%esm_rank`` magic from :data:`hfselect_widgets.magics.PARSER` and the traits of
``EsmRankMagics``. ``docs/hooks/mkdocs_hooks.py`` calls these functions while MkDocs builds;
run this file to print them::

    .venv/bin/python docs/gen_cli.py          # the CLI page's generated part
    .venv/bin/python docs/gen_cli.py magic    # the magic's options and %config defaults
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator

HELP_WIDTH = 80
"""Columns of the rendered ``--help`` (argparse reads ``COLUMNS``)."""


@contextlib.contextmanager
def _help_width(width: int = HELP_WIDTH) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in ("COLUMNS", "NO_COLOR")}
    os.environ["COLUMNS"] = str(width)
    os.environ["NO_COLOR"] = "1"  # Python 3.14's argparse colours help otherwise
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _code_block(text: str) -> str:
    return f"```text\n{text.rstrip()}\n```\n"


def subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """``(name, one-line help, parser)`` of each sub-command, in the order ``--help`` lists them."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, subparser in action.choices.items():
                found.append((name, helps.get(name, ""), subparser))
    return found


def render_cli() -> str:
    """Markdown: ``hfselect-widgets --help``, then a section per sub-command with its ``--help``."""
    from hfselect_widgets.cli import build_parser

    parser = build_parser()
    with _help_width():
        parts = ["## `hfselect-widgets`\n", _code_block(parser.format_help())]
        for name, summary, subparser in subcommands(parser):
            parts.append(f"## `hfselect-widgets {name}`\n")
            if summary:
                parts.append(f"{summary[0].upper()}{summary[1:]}.\n")
            parts.append(_code_block(subparser.format_help()))
    return "\n".join(parts)


def _markdown_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render_magic() -> str:
    """Markdown: the ``%esm_rank`` help, the cell-body keys and the ``%config`` defaults."""
    from hfselect_widgets import magics

    with _help_width():
        help_text = magics.PARSER.format_help()
    # IPython's magic parser starts its help with a reST "::" line and an indented usage
    if help_text.startswith("::"):
        help_text = help_text.split("\n", 1)[1].lstrip("\n")
        help_text = "usage: " + help_text.lstrip(" ")
    cell_help = getattr(magics, "_CELL_HELP", "")
    parts = [
        "### Options\n",
        _code_block(help_text + ("\n" + cell_help.strip("\n") if cell_help else "")),
        "### Cell-body keys\n",
        "A `%%esm_rank` cell body may set these with `key: value` lines: "
        + ", ".join(f"`{key}`" for key in magics.CELL_KEYS)
        + ".\n",
        "`--filter KEY=VALUE` (and `filter: KEY=VALUE` in a cell) accepts the keys "
        + ", ".join(f"`{key}`" for key in magics.FILTER_KEYS)
        + ".\n",
        "### Defaults (`%config EsmRankMagics`)\n",
        "| option | default | what it sets |",
        "|---|---|---|",
    ]
    traits = magics.EsmRankMagics.class_traits(config=True)
    for name in sorted(traits):
        trait = traits[name]
        default = trait.default_value
        parts.append(f"| `{name}` | `{default!r}` | {_markdown_cell(trait.help or '')} |")
    parts.append("")
    return "\n".join(parts)


RENDERERS = {"cli": render_cli, "magic": render_magic}


def main(argv: list[str] | None = None) -> int:
    which = (argv if argv is not None else sys.argv[1:]) or ["cli"]
    for name in which:
        if name not in RENDERERS:
            print(f"unknown page {name!r}: choose from {', '.join(RENDERERS)}", file=sys.stderr)
            return 2
        print(RENDERERS[name]())
    return 0


if __name__ == "__main__":
    sys.exit(main())
