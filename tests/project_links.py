"""The repository's public address and every link derived from it, for the tests.

The address lives in one place, ``[project.urls] Repository`` in ``pyproject.toml``; the README
badges, the notebooks' install cells and the Binder configuration are checked against the links
built here, so moving the repository means changing that one line (and what these tests then
point at).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
QUICKSTART = "notebooks/01_quickstart.ipynb"
DEFAULT_BRANCH = "main"


def repository_url() -> str:
    """``[project.urls] Repository`` of pyproject.toml, e.g. ``https://github.com/o/r``."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        match = re.search(r'^Repository\s*=\s*"([^"]+)"', PYPROJECT.read_text(), re.M)
        assert match, "no Repository URL in pyproject.toml [project.urls]"
        return match.group(1)
    return tomllib.loads(PYPROJECT.read_text())["project"]["urls"]["Repository"]


def github_slug() -> str:
    """``owner/name`` of the GitHub repository."""
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)/?", repository_url())
    assert match, f"the Repository URL {repository_url()!r} is not a GitHub repository"
    return match.group(1)


def binder_url(notebook: str = QUICKSTART) -> str:
    """mybinder.org launch link that opens JupyterLab on ``notebook``."""
    return f"https://mybinder.org/v2/gh/{github_slug()}/HEAD?urlpath=lab/tree/{notebook}"


def colab_url(notebook: str = QUICKSTART) -> str:
    """Google Colab link that opens ``notebook`` from the default branch."""
    return (
        f"https://colab.research.google.com/github/{github_slug()}/blob/{DEFAULT_BRANCH}/{notebook}"
    )


def pip_install_spec(extras: str = "demo") -> str:
    """What the notebooks' install cell gives pip: the package from the repository."""
    return f"hfselect-widgets[{extras}] @ git+{repository_url()}"
