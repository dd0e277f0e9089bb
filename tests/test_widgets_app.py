"""The App: Rank / Results / Train & publish tabs, and the latest ranking from Python."""

from __future__ import annotations

import pandas as pd
import pytest
from esm_factory import write_esm
from tiny_models import HIDDEN_SIZE, TINY_TEXTS, make_tiny_model

import hfselect_widgets
from hfselect_widgets import widgets as hw
from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.scoring.result import TaskRanking
from hfselect_widgets.widgets._compat import get_titles
from hfselect_widgets.widgets.app import RANK_TAB, RESULTS_TAB, TAB_TITLES, App

pytestmark = pytest.mark.filterwarnings("ignore:The base model has no known Hub id")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny", "sentence-transformers")


@pytest.fixture(scope="module")
def esm_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("esms")
    for i, task in enumerate(("org/alpha", "org/beta")):
        write_esm(root / task.split("/")[1], HIDDEN_SIZE, task_id=task, seed=i)
    return root


def small_ranking() -> TaskRanking:
    configs = [ESMConfig(base_model_name="m", task_id=f"org/t{i}") for i in range(3)]
    return TaskRanking(configs, [0.3, 0.1, 0.2])


def test_app_starts_ready_for_the_offline_demo():
    """Out of the box: four tabs, the demo target and the demo ESM collection, Rank enabled."""
    app = App(namespace={})
    assert get_titles(app) == TAB_TITLES  # ipywidgets 7.7 has no titles trait
    assert TAB_TITLES == ("Rank", "Results", "Verify", "Train & publish")
    assert app.selected_index == RANK_TAB
    assert app.children[1] is app.results and app.children[2] is app.verify_panel
    assert app.children[3] is app.train_panel
    assert app.verify_panel.verify_button.disabled  # nothing ranked yet: nothing to verify
    assert app.picker.source.value == "demo" and app.pool.esm_source.value == "demo"
    assert not app.run_panel.rank_button.disabled
    assert app.ranking is None


def test_finished_ranking_goes_to_the_results_tab_and_app_ranking(tiny_model, esm_dir):
    """A ranking from the Rank tab is shown in the Results tab, which is selected, and is
    available as app.ranking."""
    frame = pd.DataFrame({"text": TINY_TEXTS, "label": [i % 2 for i in range(len(TINY_TEXTS))]})
    app = App(namespace={"target": frame}, run_options={"embedding_cache": None})
    app.picker.source.value = "dataframe"
    app.pool.model_kind.value = "folder"
    app.pool.model_folder.value = str(tiny_model)
    app.pool.esm_source.value = "folder"
    app.pool.esm_dir.value = str(esm_dir)

    task = app.run_panel.rank(wait=True)

    assert task.state == "succeeded", task.traceback
    assert app.selected_index == RESULTS_TAB
    assert app.ranking is app.run_panel.ranking
    assert app.results.ranking is app.ranking
    assert sorted(app.ranking.task_ids) == ["org/alpha", "org/beta"]


def test_app_rank_from_code_uses_pool_options_and_returns_the_ranking(tiny_model, esm_dir):
    """App(pool_options=...) sets up the pool; app.rank() blocks and returns what the Rank button
    would produce, and a failing ranking raises the engine's error instead of returning None."""
    frame = pd.DataFrame({"text": TINY_TEXTS, "label": [i % 2 for i in range(len(TINY_TEXTS))]})
    app = App(
        namespace={"target": frame},
        picker_source="dataframe",
        pool_options={"source": "folder", "model_name": str(tiny_model), "esm_dir": str(esm_dir)},
        run_options={"embedding_cache": None},
    )
    assert app.pool.esm_source.value == "folder"

    ranking = app.rank()

    assert ranking is app.ranking
    assert sorted(ranking.task_ids) == ["org/alpha", "org/beta"]

    app.pool.esm_dir.value = str(esm_dir / "missing")  # no ESMs there: nothing to rank
    with pytest.raises(ValueError, match="Cannot rank yet"):
        app.rank()


def test_app_opens_on_results_when_given_a_ranking():
    ranking = small_ranking()
    app = App(namespace={}, ranking=ranking)
    assert app.selected_index == RESULTS_TAB
    assert app.ranking is ranking


def test_components_are_exported_lazily():
    """Every component is importable from hfselect_widgets.widgets; App from the top level."""
    assert set(hw.__all__) >= {
        "App",
        "DatasetPicker",
        "ESMPoolSelector",
        "RunPanel",
        "TrainPublishPanel",
        "ResultsExplorer",
    }
    for name in hw.__all__:
        assert getattr(hw, name).__name__ == name
    assert hfselect_widgets.App is App
    with pytest.raises(AttributeError):
        hw.NoSuchWidget  # noqa: B018
