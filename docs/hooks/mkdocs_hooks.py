"""MkDocs hooks (``hooks:`` in mkdocs.yml): generated pages and the one repository address.

* A page line ``<!-- generated: NAME -->`` is replaced by the Markdown that ``docs/gen_cli.py``
  renders for NAME (``cli``: every ``hfselect-widgets`` sub-command's ``--help``; ``magic``: the
  ``%esm_rank`` options and ``%config`` defaults), straight from the argument parsers.
* ``repo_url`` comes from ``[project.urls] Repository`` in pyproject.toml, the one place the
  repository's address lives (``tests/project_links.py``).

Nothing here touches the network.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
MARKER = re.compile(r"^<!--\s*generated:\s*([\w-]+)\s*-->\s*$", re.MULTILINE)


def _gen_cli():
    name = "hfselect_widgets_docs_gen_cli"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, DOCS / "gen_cli.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


def on_config(config, **kwargs):
    if not config.get("repo_url"):
        text = (ROOT / "pyproject.toml").read_text("utf-8")
        match = re.search(r'^Repository\s*=\s*"([^"]+)"', text, re.MULTILINE)
        if match is None:
            raise PluginError("pyproject.toml has no [project.urls] Repository")
        url = match.group(1)
        config["repo_url"] = url
        config["repo_name"] = url.rstrip("/").split("github.com/", 1)[-1]
    return config


def on_page_markdown(markdown, page, **kwargs):
    renderers = _gen_cli().RENDERERS

    def render(match: re.Match) -> str:
        name = match.group(1)
        if name not in renderers:
            raise PluginError(
                f"{page.file.src_path}: unknown generated block {name!r} "
                f"(known: {', '.join(sorted(renderers))})"
            )
        return renderers[name]()

    return MARKER.sub(render, markdown)
