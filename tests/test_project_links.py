"""Binder configuration and the public links: present, consistent, installable.

No Docker engine runs here, so Binder itself cannot be built in the tests. What can be checked
is checked: the repo2docker files exist and are what repo2docker reads, the torch they install
is the CPU build at the Makefile's pin, their install lines resolve with ``pip --dry-run``, and
the README badges and the notebooks' install cells all use the one repository address in
``pyproject.toml`` (see ``project_links.py``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from project_links import (
    QUICKSTART,
    ROOT,
    binder_url,
    colab_url,
    github_slug,
    pip_install_spec,
    repository_url,
)

BINDER = ROOT / "binder"
README = ROOT / "README.md"
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def makefile_torch_pin() -> str:
    match = re.search(r"^TORCH_PIN\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert match, "no TORCH_PIN in the Makefile"
    return match.group(1)


def requirement_lines(path) -> tuple[list[str], list[Requirement]]:
    """The pip options and the requirements of a requirements file (comments dropped)."""
    options, requirements = [], []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            options.append(line)
        else:
            try:
                requirements.append(Requirement(line))
            except InvalidRequirement as exc:
                pytest.fail(f"{path.name}: {line!r} is not a requirement: {exc}")
    return options, requirements


def test_binder_has_the_files_repo2docker_reads():
    """requirements.txt (pip), postBuild (an executable script) and runtime.txt (Python)."""
    assert (BINDER / "requirements.txt").is_file()
    post_build = BINDER / "postBuild"
    assert post_build.is_file() and os.access(post_build, os.X_OK), "postBuild must be executable"
    assert post_build.read_text().startswith("#!/bin/bash")
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.(1[0-9])", runtime), runtime
    # repo2docker ignores configuration at the top level once binder/ exists: keep it in one place
    for name in ("requirements.txt", "environment.yml", "postBuild", "runtime.txt", "Dockerfile"):
        assert not (ROOT / name).exists(), f"{name} at the top level is ignored by repo2docker"


def test_binder_installs_the_cpu_build_of_torch_at_the_makefile_pin():
    """PyPI's torch is a multi-GB CUDA build: Binder takes the same version from the CPU index."""
    options, requirements = requirement_lines(BINDER / "requirements.txt")
    assert f"--extra-index-url {PYTORCH_CPU_INDEX}" in options
    torch = [r for r in requirements if r.name == "torch"]
    assert len(torch) == 1
    pinned = makefile_torch_pin().split("==", 1)[1]
    assert str(torch[0].specifier) == f"=={pinned}+cpu"
    assert any(r.name == "jupyterlab" for r in requirements)


def test_binder_post_build_installs_the_package_with_the_demo_model():
    script = (BINDER / "postBuild").read_text()
    assert re.search(r'pip install [^\n]*"\.\[demo\]"', script), script
    assert "set -euo pipefail" in script  # a failed install fails the Binder build


def _dry_run(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_binder_requirements_resolve_with_pip_dry_run():
    """Each requirement line resolves (torch's CPU build included, from the package index this
    machine has; PyTorch's own index cannot be reached from the tests)."""
    _options, requirements = requirement_lines(BINDER / "requirements.txt")
    lines = [str(r) for r in requirements]
    result = _dry_run("--no-deps", "--ignore-installed", *lines)
    assert result.returncode == 0, result.stderr[-3000:]


def test_binder_post_build_install_resolves_with_pip_dry_run():
    """``pip install ".[demo]"``: the package and its dependencies resolve beside that torch."""
    result = _dry_run("--no-build-isolation", ".[demo]", makefile_torch_pin())
    assert result.returncode == 0, result.stderr[-3000:]


def test_repository_url_is_a_github_https_address():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repository_url())


def test_readme_badges_open_the_quickstart_on_binder_and_colab():
    readme = README.read_text()
    assert f"]({binder_url()})" in readme, f"no Binder badge linking to {binder_url()}"
    assert f"]({colab_url()})" in readme, f"no Colab badge linking to {colab_url()}"
    assert (ROOT / QUICKSTART).is_file()
    # and every notebook has its own Colab and Binder links in the notebook table
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        name = f"notebooks/{path.name}"
        assert colab_url(name) in readme and binder_url(name) in readme, name


def test_every_link_to_the_repository_uses_the_one_address():
    """No stale copy of another address: every GitHub link in the README, binder/ and the
    notebooks names the repository of pyproject.toml."""
    slug = github_slug()
    texts = {README.name: README.read_text()}
    texts.update({f"binder/{p.name}": p.read_text() for p in BINDER.iterdir() if p.is_file()})
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        texts[path.name] = "\n".join("".join(cell["source"]) for cell in cells)
    pattern = re.compile(
        r"(?:github\.com|colab\.research\.google\.com/github|v2/gh)/([\w.-]+/[\w.-]+)"
    )
    for name, text in texts.items():
        for found in pattern.findall(text):
            assert found == slug, f"{name} links to {found}, not {slug}"
    notebook_installs = [t for n, t in texts.items() if n.endswith(".ipynb")]
    assert all(pip_install_spec() in t for t in notebook_installs)


def test_readme_images_are_in_the_repository():
    """The README's screenshots (taken by the browser tests) are committed where it points."""
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README.read_text())
    local = [path for path in images if not path.startswith("http")]
    assert local, "the README shows no screenshot"
    for path in local:
        assert (ROOT / path).is_file(), f"README image {path} is missing"
        assert (ROOT / path).read_bytes().startswith(b"\x89PNG"), f"{path} is not a PNG"
