"""ipywidgets 7.7 (Google Colab) and 8.x: the helpers of ``widgets/_compat.py`` and the widgets'
use of them.

These tests run on whichever ipywidgets is installed: 8.1 in ``.venv`` (``make test``) and 7.7
in ``.venv-ipywidgets7`` (``scripts/test_ipywidgets7.sh``). The FileUpload formats of both
versions are checked on either, with stand-ins for the widget.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import ipywidgets as widgets
import pytest

from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.scoring.result import TaskRanking
from hfselect_widgets.widgets import _compat
from hfselect_widgets.widgets.app import App
from hfselect_widgets.widgets.results import ResultsExplorer

# What traitlets says when a widget is given an argument it has no trait for: ipywidgets 7
# then ignores it (e.g. ``Accordion(titles=...)``, which only 8 knows).
IGNORED_ARGUMENT = "Passing unrecognized arguments"


def test_version_flag_matches_the_installed_ipywidgets():
    """IPYWIDGETS_7 is true exactly for ipywidgets 7.x."""
    major = int(widgets.__version__.split(".")[0])
    assert _compat.IPYWIDGETS_VERSION[0] == major
    assert _compat.IPYWIDGETS_7 == (major == 7)


def test_uploaded_files_reads_the_ipywidgets_8_format():
    """8: a tuple of dicts whose content is a memoryview."""
    upload = SimpleNamespace(
        value=(
            {"name": "a.csv", "type": "text/csv", "size": 3, "content": memoryview(b"x,y")},
            {"name": "b.csv", "type": "text/csv", "size": 1, "content": memoryview(b"z")},
        )
    )
    assert _compat.uploaded_files(upload) == [("a.csv", b"x,y"), ("b.csv", b"z")]


def test_uploaded_files_reads_the_ipywidgets_7_format():
    """7: a dict from file name to its metadata and bytes."""
    upload = SimpleNamespace(
        value={
            "a.csv": {"metadata": {"name": "a.csv", "size": 3}, "content": b"x,y"},
            "b.csv": {"metadata": {"name": "b.csv", "size": 1}, "content": b"z"},
        }
    )
    assert _compat.uploaded_files(upload) == [("a.csv", b"x,y"), ("b.csv", b"z")]


def test_uploaded_files_of_an_empty_upload_widget():
    """A real FileUpload before any upload (empty tuple on 8, empty dict on 7)."""
    assert _compat.uploaded_files(widgets.FileUpload()) == []


@pytest.mark.parametrize("container", [widgets.Accordion, widgets.Tab])
def test_titles_are_set_and_read_back(container):
    """Page titles by index, on the installed version."""
    box = container(children=[widgets.HTML("a"), widgets.HTML("b")])
    _compat.set_titles(box, ["First", "Second"])
    assert _compat.get_titles(box) == ("First", "Second")
    assert box.get_title(1) == "Second"


def test_no_widget_gets_an_argument_the_installed_ipywidgets_ignores():
    """Every component is built with arguments this ipywidgets knows (on 7 an 8-only argument
    would only warn and be dropped, e.g. the titles of the tabs and accordions)."""
    ranking = TaskRanking(
        [ESMConfig(base_model_name="m", task_id=f"org/t{i}") for i in range(3)],
        [0.3, 0.1, 0.2],
        failures={"esms/broken": "corrupt"},
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=IGNORED_ARGUMENT)
        app = App(namespace={}, ranking=ranking)
    assert _compat.get_titles(app) == ("Rank", "Results", "Verify", "Train & publish")
    accordions = [
        app.picker.children[-1],
        app.run_panel.skipped,
        app.run_panel.errors.details,
        app.train_panel.advanced,
        app.verify_panel.errors.details,
    ]
    assert [a.get_title(0) for a in accordions] == [
        "Preview",
        "Skipped ESMs",
        "Traceback",
        "Advanced settings",
        "Traceback",
    ]
    assert "Filters" in [
        c.get_title(0) for c in app.pool.children if isinstance(c, widgets.Accordion)
    ]


def test_display_sends_the_widget_view_and_the_static_png():
    """What display() sends for the results explorer: the widget view (ipywidgets' own
    mimetype and model id) plus the PNG, whichever display hook the version uses."""
    from IPython.core.formatters import DisplayFormatter

    ranking = TaskRanking(
        [ESMConfig(base_model_name="m", task_id=f"org/t{i}") for i in range(3)], [0.3, 0.1, 0.2]
    )
    explorer = ResultsExplorer(ranking)
    data, _metadata = DisplayFormatter().format(explorer)
    view = data[_compat.WIDGET_VIEW_MIMETYPE]
    assert view["model_id"] == explorer.model_id and view["version_major"] == 2
    assert "image/png" in data
    assert data["text/plain"].startswith("TaskRanking of 3")
