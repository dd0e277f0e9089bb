"""The tutorial notebooks in notebooks/: committed clean, and each one runs top to bottom offline.

Fast checks (no kernel) protect the conventions every notebook follows: no outputs or execution
counts are committed, the first code cell is the one setting ``USE_HUB = False`` and the second
installs the package where it is missing (Colab).

The ``notebook`` tests execute each notebook in a fresh kernel that runs this interpreter
(``sys.executable``, the project's venv), in a temporary working directory (exports and trained
ESMs land there, not in the repository), with the offline environment and temporary caches of
``conftest.py``. A notebook fails on any error output, on a traceback written to stderr, on a
cell running past ``CELL_TIMEOUT_S`` and on the whole notebook running past
``NOTEBOOK_TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest
from project_links import pip_install_spec

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NOTEBOOK_IDS = [path.name for path in NOTEBOOKS]

CELL_TIMEOUT_S = 240
NOTEBOOK_TIMEOUT_S = 300
KERNEL_NAME = "hfselect-widgets-test-python"

SETTINGS_CELL = """\
# The one setting: False runs offline on the bundled demo collection and the pip-packaged
# MiniLM; True uses the Hugging Face Hub (needs the internet).
USE_HUB = False"""

# The install cell points at the repository's one public address (pyproject.toml).
INSTALL_CELL = f"""\
# In Colab (or any environment without the package), install it first.
import importlib.util

if importlib.util.find_spec("hfselect_widgets") is None:
    %pip install --quiet "{pip_install_spec()}\""""

# Set by conftest.py; the kernel inherits them, so it stays offline and writes only temp caches.
OFFLINE_ENV = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
TEMP_CACHE_ENV = ("HF_HOME", "HFSELECT_WIDGETS_CACHE")


def _code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def convention_problems(nb: nbformat.NotebookNode) -> list[str]:
    """What in ``nb`` breaks the notebook conventions (empty when it follows them)."""
    problems = []
    if nb.nbformat != 4:
        problems.append(f"nbformat {nb.nbformat}, expected 4")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append("the kernelspec is not python3")
    if not nb.cells or nb.cells[0].cell_type != "markdown":
        problems.append("the first cell is not markdown (title and introduction)")
    elif not nb.cells[0].source.startswith("# "):
        problems.append("the first markdown cell does not start with a '# ' title")
    code = _code_cells(nb)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {index} has committed outputs")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {index} has an execution count")
    if not code or code[0].source != SETTINGS_CELL:
        problems.append("the first code cell is not the settings cell with USE_HUB = False")
    if len(code) < 2 or code[1].source != INSTALL_CELL:
        problems.append("the second code cell is not the install cell")
    return problems


def error_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """Error outputs and tracebacks written to stderr, as ``"cell N: ..."`` lines."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
            elif (
                output.get("output_type") == "stream"
                and output.get("name") == "stderr"
                and "Traceback" in output.get("text", "")
            ):
                found.append(f"cell {index}: traceback on stderr:\n{output['text']}")
    return found


def test_notebooks_are_found():
    # An empty glob would silently parametrize the tests below away.
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_notebook_is_committed_clean_with_the_settings_and_install_cells(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert convention_problems(nb) == [], path.name


def test_convention_check_catches_outputs_and_a_hub_setting():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell(SETTINGS_CELL),
        nbformat.v4.new_code_cell(INSTALL_CELL),
    ]
    assert convention_problems(nb) == []
    nb.cells[1].source = SETTINGS_CELL.replace("USE_HUB = False", "USE_HUB = True")
    nb.cells[2].execution_count = 3
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi")]
    problems = convention_problems(nb)
    assert any("USE_HUB = False" in p for p in problems)
    assert any("committed outputs" in p for p in problems)
    assert any("execution count" in p for p in problems)


def test_error_check_catches_error_outputs_and_stderr_tracebacks():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "1/0",
            outputs=[nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="x")],
        ),
        nbformat.v4.new_code_cell(
            "",
            outputs=[
                nbformat.v4.new_output(
                    "stream", name="stderr", text="Traceback (most recent call last):\n"
                )
            ],
        ),
        nbformat.v4.new_code_cell(
            "", outputs=[nbformat.v4.new_output("stream", name="stderr", text="a warning\n")]
        ),
    ]
    found = error_outputs(nb)
    assert len(found) == 2
    assert found[0].startswith("cell 0: ZeroDivisionError")
    assert found[1].startswith("cell 1: traceback")


# --- execution -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kernel_spec_manager(tmp_path_factory):
    """A kernelspec whose kernel is this interpreter, so the notebooks run in this venv."""
    from jupyter_client.kernelspec import KernelSpecManager

    kernels = tmp_path_factory.mktemp("kernels")
    spec_dir = kernels / KERNEL_NAME
    spec_dir.mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (hfselect_widgets tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return KernelSpecManager(kernel_dirs=[str(kernels)])


def kernel_env(tmp_path: Path) -> dict[str, str]:
    """The kernel's environment: this process's (offline, temp caches) plus a temp IPython dir."""
    for name in OFFLINE_ENV:
        assert os.environ.get(name) == "1", f"{name} is not set to 1 (see tests/conftest.py)"
    for name in TEMP_CACHE_ENV:
        assert os.environ.get(name), f"{name} is not set (see tests/conftest.py)"
    env = dict(os.environ)
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # the debugger's frozen-modules warning
    return env


async def _execute(client, env: dict[str, str]) -> None:
    # cleanup_kc: shut the kernel down at the end although we made its manager.
    await asyncio.wait_for(
        client.async_execute(env=env, cleanup_kc=True), timeout=NOTEBOOK_TIMEOUT_S
    )


def _run_in_own_thread(coroutine) -> None:
    """``asyncio.run(coroutine)`` in a thread of its own: this thread may already run an event
    loop (Playwright's sync API keeps one while the browser tests' session fixtures live)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_notebook_runs_offline_without_errors(path, tmp_path, kernel_spec_manager):
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.read(path, as_version=4)
    code = _code_cells(nb)
    assert code and code[0].source == SETTINGS_CELL, f"{path.name}: USE_HUB must be False"
    workdir = tmp_path / "work"
    workdir.mkdir()
    km = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=kernel_spec_manager)
    assert km.kernel_spec.argv[0] == sys.executable
    client = NotebookClient(
        nb,
        km=km,
        timeout=CELL_TIMEOUT_S,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(workdir)}},  # the kernel's working directory
        shutdown_kernel="immediate",
    )
    started = time.perf_counter()
    try:
        _run_in_own_thread(_execute(client, kernel_env(tmp_path)))
    except CellTimeoutError as exc:
        pytest.fail(f"{path.name}: a cell ran longer than {CELL_TIMEOUT_S} s:\n{exc}")
    except TimeoutError:
        pytest.fail(f"{path.name} did not finish within {NOTEBOOK_TIMEOUT_S} s")
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} raised an error:\n{exc}")
    elapsed = time.perf_counter() - started
    print(f"{path.name}: executed in {elapsed:.1f} s")

    errors = error_outputs(nb)
    assert not errors, f"{path.name}:\n" + "\n".join(errors)
    not_run = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    not_run = [i for i in not_run if nb.cells[i].get("execution_count") is None]
    assert not not_run, f"{path.name}: cells {not_run} were not executed"
