"""Typed errors in each front end's own words.

The engine's errors carry machine-readable fixes; each front end phrases them: the CLI and the
magic name their options (``--regression``), the widgets their controls (``"Regression"`` as
the "Task"). Here every front end is driven through its real error path (the CLI's ``main()``,
``%esm_rank`` in a fresh IPython shell, the App's panels) with the engine's work replaced by a
function that raises the error, and the shown text must use the front end's names and never
the Python keyword (``pass is_regression=True``, ``overwrite=True``, ``num_examples``...).
"""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from hfselect_widgets import cli
from hfselect_widgets.engine.requests import RankingRequest
from hfselect_widgets.errors import (
    DatasetError,
    DownloadLimitError,
    Fix,
    HubUnavailableError,
    LabelTypeError,
    MissingTextError,
    MissingTokenError,
    NoESMsFoundError,
    OutputExistsError,
    RepoExistsError,
    SingleClassError,
    SubsetNotFoundError,
)
from hfselect_widgets.widgets.dataset_picker import DatasetPicker
from hfselect_widgets.widgets.esm_pool import ESMPoolSelector
from hfselect_widgets.widgets.run_panel import RunPanel
from hfselect_widgets.widgets.train_publish import TrainPublishPanel
from hfselect_widgets.widgets.vocabulary import WIDGET_WORDS, error_text

ERRORS = {
    "single class": lambda: SingleClassError(0, "label"),
    "missing text": lambda: MissingTextError("text", 3, 40),
    "label type": lambda: LabelTypeError(
        "The labels of 'label' are numbers with decimals and also whole numbers.",
        advice="If the column fits one of those, say which: {0} or {1}.",
        field="label_col",
        fixes=[Fix("is_regression", True), Fix("is_regression", False)],
    ),
    "sample size": lambda: DatasetError(
        "The sample size must be a positive number of rows, got -3.",
        advice="To use every row: {0}.",
        field="num_examples",
        fixes=[Fix("num_examples", None)],
    ),
    "no esms": lambda: NoESMsFoundError("org/model"),
    "download cap": lambda: DownloadLimitError(40, 96_000_000, 10_000_000),
    "subset": lambda: SubsetNotFoundError("org/data", None, ["plain", "extra"]),
    "hub dataset": lambda: HubUnavailableError("the dataset 'org/data'"),
    "output exists": lambda: OutputExistsError("/tmp/esm-out"),
    "repo exists": lambda: RepoExistsError(
        "alice/esm",
        "The Hub repo 'alice/esm' already holds an ESM.",
        advice="{0} to replace it, or choose another repo id.",
        fixes=[Fix("overwrite", True)],
    ),
    "token": lambda: MissingTokenError(),
}

# What each front end must say for each error (its own option or control names).
CLI_NAMES = {
    "single class": ["--num-examples N", "--regression"],
    "missing text": ["--drop-missing"],
    "label type": ["--regression", "--classification"],
    "sample size": ["--num-examples 0"],
    "no esms": ["--esm-dir DIR"],
    "download cap": ["--filter KEY=VALUE", "--max-mb 97"],
    "subset": ["--subset NAME"],
    "hub dataset": ["a local CSV, TSV, JSON lines or Parquet file as DATASET"],
    "output exists": ["or pass --overwrite to replace it"],
    "repo exists": ["Pass --overwrite to replace it"],
    "token": ["set the HF_TOKEN environment variable"],
}
MAGIC_NAMES = {
    "single class": ["--num-examples N", "--regression"],
    "missing text": ["--drop-missing"],
    "label type": ["--regression", "--classification"],
    "sample size": ["--num-examples 0"],
    "no esms": ["--esm-dir DIR (or --demo)"],
    "download cap": ["--filter KEY=VALUE", "--max-mb 97"],
    "subset": ["--subset NAME"],
    "hub dataset": ["a DataFrame variable or a local file as DATASET"],
}
WIDGET_NAMES = {
    "single class": ['more rows under "Sample"', 'choose "Regression" as the "Task"'],
    "missing text": ['tick "Drop rows without text or label"'],
    "label type": ['"Regression" as the "Task"', '"Classification" as the "Task"'],
    "sample size": ['set "Sample" to 0 rows (0 = all)'],
    "no esms": ['choose "Local folder" under "ESMs"', '"ESM folder"'],
    "download cap": ['the "Filters" section under "ESMs"'],
    "subset": ['the "Subset" dropdown'],
    "hub dataset": ['"Upload file" or "DataFrame" as the "Source"'],
    "output exists": ['tick "Overwrite" beside the "Output folder"'],
    "repo exists": ['Tick "Replace an existing ESM in the repo" to replace it'],
    "token": ["notebook_login()", "HF_TOKEN environment variable before starting Jupyter"],
}


def assert_own_words(text: str, name: str, expected: list[str]) -> None:
    """``text`` names the front end's controls and none of the Python keywords of the fixes."""
    for words in expected:
        assert words in text, (name, text)
    for fix in ERRORS[name]().fixes:
        assert f"pass {fix.field}=" not in text, (name, text)
        assert f"{fix.field}=" not in text, (name, text)
        if "_" in fix.field:  # e.g. num_examples, drop_missing: never a CLI/widget name
            assert fix.field not in text, (name, text)


@pytest.fixture
def raising_run(monkeypatch):
    """Make the engine's ranking raise the error named by ``raising_run.name``."""

    class Raiser:
        name = ""

        def __call__(self, request, *args, **kwargs):
            raise ERRORS[self.name]()

    raiser = Raiser()
    monkeypatch.setattr(RankingRequest, "run", lambda self, *a, **k: raiser(self, *a, **k))
    return raiser


# --- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CLI_NAMES))
def test_cli_names_its_options(name, raising_run, tmp_path, capsys):
    raising_run.name = name
    csv = tmp_path / "data.csv"
    csv.write_text("text,label\na,0\nb,1\n")
    status = cli.main(["rank", str(csv), "--text-col", "text", "--label-col", "label"])
    err = capsys.readouterr().err
    assert status == cli.EXIT_USAGE and err.startswith("error: ")
    assert_own_words(err, name, CLI_NAMES[name])


# --- the %esm_rank magic -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shell():
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "hfselect_widgets")
    ip.user_ns["reviews"] = pd.DataFrame({"text": ["good", "bad"], "label": [1, 0]})
    return ip


@pytest.mark.parametrize("name", list(MAGIC_NAMES))
def test_magic_names_its_options(name, raising_run, shell):
    raising_run.name = name
    with pytest.raises(type(ERRORS[name]())) as info:
        shell.run_line_magic(
            "esm_rank", "reviews --text-col text --label-col label --demo --no-widget"
        )
    # What the notebook shows for the error: one line, in the magic's words.
    [shown] = info.value._render_traceback_()
    assert_own_words(shown, name, MAGIC_NAMES[name])


# --- the widgets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["single class", "missing text", "label type", "sample size", "no esms", "subset",
     "hub dataset", "download cap"],
)  # fmt: skip
def test_rank_panel_names_the_apps_controls(name):
    def ranker(dataset, **kwargs):
        raise ERRORS[name]()

    panel = RunPanel(DatasetPicker({}, source="demo"), ESMPoolSelector(), ranker=ranker)
    task = panel.rank(wait=True)
    assert task.state == "failed"
    assert_own_words(panel.errors.text, name, WIDGET_NAMES[name])
    # The message shown (HTML-escaped) is the same text.
    assert "&quot;" in panel.errors.message.value or "&#x27;" in panel.errors.message.value


def test_train_panel_names_its_overwrite_checkbox():
    def trainer(dataset, **kwargs):
        raise ERRORS["output exists"]()

    panel = TrainPublishPanel({}, trainer=trainer)
    panel.picker.source.value = "demo"
    panel.output_dir.value = "/tmp/esm-out"
    assert panel.train(wait=True).state == "failed"
    assert_own_words(panel.errors.text, "output exists", WIDGET_NAMES["output exists"])


def test_publish_panel_names_its_replace_checkbox_and_notebook_login(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    panel = TrainPublishPanel({})
    panel.publish_folder.value = "some/esm"
    panel.repo_id.value = "alice/esm"

    assert panel.publish() is None  # no login
    assert_own_words(panel.publish_errors.text, "token", WIDGET_NAMES["token"])

    def refuse(*args, **kwargs):
        raise ERRORS["repo exists"]()

    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_notused")
    monkeypatch.setattr("hfselect_widgets.engine.hub.publish.publish_esm", refuse)
    task = panel.publish(wait=True)
    assert task.state == "failed"
    assert_own_words(panel.publish_errors.text, "repo exists", WIDGET_NAMES["repo exists"])


def test_every_fix_the_widgets_can_meet_has_widget_words():
    """No widget error falls back to Python's words for a fix that the App has a control for."""
    for name, make in ERRORS.items():
        text = make().render(WIDGET_WORDS)
        assert "pass " not in text, (name, text)
        assert error_text(make()) == text


def _all_labels(root) -> set[str]:
    """Every string a user can read on ``root`` and below: descriptions, labels, options,
    titles (hidden tabs and sections included)."""
    import ipywidgets as widgets

    from hfselect_widgets.widgets._compat import get_titles

    found, stack = set(), [root]
    while stack:
        widget = stack.pop()
        for name in ("description", "value", "placeholder"):
            value = getattr(widget, name, None)
            if isinstance(value, str):
                found.add(value)
        for option in getattr(widget, "options", None) or ():
            found.add(option[0] if isinstance(option, tuple) else str(option))
        if isinstance(widget, (widgets.Tab, widgets.Accordion)):
            found.update(t for t in get_titles(widget) if t)
        stack += [c for c in getattr(widget, "children", ()) if isinstance(c, widgets.Widget)]
    return found


def test_the_controls_the_widget_words_name_exist_in_the_app():
    """Every "quoted" control in WIDGET_WORDS is a label the App really shows."""
    import re

    from hfselect_widgets.errors import ANY_VALUE
    from hfselect_widgets.widgets.app import App

    app = App(namespace={})
    app.pool.esm_source.value = "folder"  # shows the "ESM folder" row
    app.pool.model_kind.value = "folder"  # shows the "Model folder" row
    app.picker.source.value = "hub"  # shows "Subset" and "Split"
    labels = _all_labels(app)
    phrases = [
        p if isinstance(p, str) else p(value)
        for p in WIDGET_WORDS.phrases.values()
        for value in ((True, False, None, 5, ANY_VALUE) if callable(p) else (None,))
    ]
    named = {name for phrase in phrases for name in re.findall(r'"([^"]+)"', phrase)}
    assert named - labels == set()


def test_the_drop_rows_checkbox_reaches_the_request():
    picker = DatasetPicker({}, source="demo")
    assert picker.target_request().drop_missing is False
    picker.drop_missing.value = True
    assert picker.target_request().drop_missing is True


def test_python_words_for_an_unreachable_hub_dataset_name_real_constructors():
    """The Python API has no ``dataset=`` keyword to pass: the advice names the constructors
    that read local data instead."""
    from hfselect_widgets.errors import HubUnavailableError

    message = HubUnavailableError("the dataset 'org/data'", offline=True).render()
    assert "Dataset.from_file(" in message and "Dataset.from_pandas(" in message
    assert "pass dataset=" not in message


def test_offline_on_the_hub_pool_every_front_end_names_its_demo_pool():
    """A ranking against the Hub's ESMs cannot work offline whatever the model: the request
    layer adds the bundled demo ESMs to the advice, and each front end names them its own way."""
    from hfselect_widgets.errors import HubUnavailableError
    from hfselect_widgets.magics import MAGIC_WORDS

    error = HubUnavailableError("the base model 'org/model'", offline=True).with_demo_pool()
    assert error.render(cli.CLI_WORDS).endswith("rank against the bundled demo ESMs: --demo.")
    assert error.render(MAGIC_WORDS).endswith(": --demo.")
    assert 'choose "Demo collection" under "ESMs"' in error.render(WIDGET_WORDS)
    assert "esm_dir=demo_esm_dir()" in error.render()
    # only an offline failure gets it: online, the fix is to connect
    assert "demo" not in HubUnavailableError("the base model 'org/model'").with_demo_pool().render()
