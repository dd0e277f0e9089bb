"""The results explorer in plain pytest (ipywidgets' DummyComm, no kernel, no browser).

Selections are simulated the way the front end reports them: by setting the JupyterChart's
synced ``_vl_selections`` state, which altair turns into ``chart.selections``.
"""

from __future__ import annotations

import base64
import itertools
import re
import warnings

import altair as alt
import numpy as np
import pandas as pd
import pytest
from esm_factory import write_esm
from IPython.core.formatters import DisplayFormatter
from tiny_models import _WORDS, HIDDEN_SIZE, make_tiny_model

from hfselect_widgets.demo import demo_esm_dir, demo_target_path
from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.scoring.result import TaskRanking
from hfselect_widgets.widgets import results
from hfselect_widgets.widgets.results import ResultsExplorer, ranking_code

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_ranking(n: int = 12, **metadata) -> TaskRanking:
    """``n`` ESMs ``org/t0..``; ``org/t{n-1}`` scores best (-1.0 + 0.05 * i)."""
    configs = [
        ESMConfig(
            base_model_name="m",
            task_id=f"org/t{i}",
            task_subset="sub" if i % 3 == 0 else None,
            text_column="text",
            label_column="label",
            task_split="train",
            num_examples=100 + i,
            esm_architecture="linear",
            repo_id=f"esms/t{i}",
        )
        for i in range(n)
    ]
    scores = [-1.0 + 0.05 * i for i in range(n)]
    failures = {"esms/broken": "the weights are corrupt", "esms/other": "trained for another model"}
    return TaskRanking(configs, scores, failures=failures, metadata=metadata)


def select(explorer: ResultsExplorer, bars=None, brush=None) -> None:
    """Simulate the front end reporting selections (Vega signal values, as index.js sends)."""
    explorer.chart._vl_selections = {
        "bars": {"value": None if bars is None else {"vlPoint": {"or": bars}}, "store": []},
        "brush": {"value": None if brush is None else {"score": brush}, "store": []},
    }


def bar_count(explorer: ResultsExplorer) -> int:
    spec = explorer.chart.spec
    top = spec["vconcat"][0]
    top = top["hconcat"][0] if "hconcat" in top else top  # bars beside rank intervals
    return len(spec["datasets"][top["data"]["name"]])


def table_rows(explorer: ResultsExplorer) -> int:
    return explorer.table.value.count("<tr>") - 1  # minus the header row


@pytest.fixture
def explorer():
    return ResultsExplorer(make_ranking(12, model_name="m"), top_k=5)


def test_explorer_shows_chart_table_and_counts(explorer):
    """A ranking shows as an interactive chart with both selections, a full table and counts."""
    assert isinstance(explorer.chart, alt.JupyterChart)
    assert explorer.chart in explorer.children
    assert set(explorer.chart._selection_types) == {"bars", "brush"}
    assert bar_count(explorer) == 5
    assert table_rows(explorer) == 12
    assert len(explorer.selected_rows()) == 12
    assert "<b>12</b> intermediate datasets" in explorer.summary.value
    assert "<b>2</b> ESMs skipped" in explorer.summary.value
    assert 'href="https://huggingface.co/datasets/org/t11"' in explorer.table.value


def test_skipped_esms_are_listed_behind_a_toggle(explorer):
    """The skipped ESMs and their reasons appear when the toggle is pressed."""
    assert explorer.failures_list.layout.display == "none"
    assert "esms/broken" in explorer.failures_list.value
    assert "the weights are corrupt" in explorer.failures_list.value
    explorer.failures_toggle.value = True
    assert explorer.failures_list.layout.display != "none"
    explorer.failures_toggle.value = False
    assert explorer.failures_list.layout.display == "none"


def test_selecting_bars_filters_the_table(explorer):
    """Clicked bars (a point selection) keep only their rows in the table."""
    select(explorer, bars=[{"task_id": "org/t11", "rank": 1}, {"task_id": "org/t9", "rank": 3}])
    assert explorer.chart.selections.bars.value[0]["task_id"] == "org/t11"
    assert explorer.selected_rows()["task_id"].tolist() == ["org/t11", "org/t9"]
    assert table_rows(explorer) == 2
    assert "org/t10" not in explorer.table.value
    assert "Showing 2 of 12 rows" in explorer.selection_info.value


def test_brushing_the_distribution_filters_by_score(explorer):
    """A brushed score range keeps the rows whose score lies in it; clearing shows all again."""
    select(explorer, brush=[-0.66, -0.52])
    assert explorer.selected_rows()["task_id"].tolist() == ["org/t9", "org/t8", "org/t7"]
    assert table_rows(explorer) == 3
    select(explorer, bars=[{"task_id": "org/t8", "rank": 4}], brush=[-0.66, -0.52])
    assert explorer.selected_rows()["task_id"].tolist() == ["org/t8"]
    select(explorer)
    assert table_rows(explorer) == 12


def test_k_slider_changes_the_number_of_bars(explorer):
    """Moving the slider redraws the chart with that many bars; k never exceeds the ranking."""
    assert explorer.k_slider.max == 12
    explorer.k_slider.value = 8
    assert bar_count(explorer) == 8
    explorer.k_slider.value = 2
    assert bar_count(explorer) == 2
    explorer.ranking = make_ranking(3)
    assert explorer.k_slider.max == 3 and bar_count(explorer) == 2


def test_new_chart_clears_the_table_filter(explorer):
    """A redrawn chart has no selection, so the table shows every row again."""
    select(explorer, bars=[{"task_id": "org/t11", "rank": 1}])
    assert table_rows(explorer) == 1
    explorer.k_slider.value = 7
    assert table_rows(explorer) == 12


def test_export_csv_and_json_round_trip(explorer, tmp_path):
    """Both exports write the whole ranking; loading the files gives the same ranking back."""
    explorer.csv_path.value = str(tmp_path / "out" / "r.csv")
    explorer.export_csv_button.click()
    assert str(tmp_path / "out" / "r.csv") in explorer.status.value
    # CSV keeps the table (hfselect's columns and the ESM repo ids), not full configs.
    pd.testing.assert_frame_equal(
        TaskRanking.load(tmp_path / "out" / "r.csv").to_pandas(with_repo_id=True),
        explorer.ranking.to_pandas(with_repo_id=True),
    )

    explorer.json_path.value = str(tmp_path / "r.json")
    explorer.export_json_button.click()
    loaded = TaskRanking.load(tmp_path / "r.json")
    assert loaded == explorer.ranking
    assert loaded.failures == explorer.ranking.failures
    assert loaded.metadata == {"model_name": "m"}


def test_export_error_is_shown_not_raised(explorer, tmp_path):
    """A path that cannot be written gives the error message in the panel."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    explorer.csv_path.value = str(blocker / "r.csv")  # a folder inside a file
    explorer.export_csv_button.click()
    assert "Export failed" in explorer.status.value
    assert not (blocker / "r.csv").exists()


def test_load_button_shows_a_saved_ranking(tmp_path):
    """Loading a saved ranking (CSV or JSON) replaces what the explorer shows."""
    explorer = ResultsExplorer()
    assert explorer.ranking is None
    assert explorer.export_csv_button.disabled and explorer.code_toggle.disabled
    saved = make_ranking(4, model_name="m")
    saved.to_json(tmp_path / "saved.json")
    explorer.load_path.value = str(tmp_path / "saved.json")
    explorer.load_button.click()
    assert explorer.ranking == saved
    assert "Loaded 4 rows" in explorer.status.value
    assert table_rows(explorer) == 4 and bar_count(explorer) == 4
    assert not explorer.export_csv_button.disabled


def test_loading_a_missing_or_bad_file_keeps_the_ranking(explorer, tmp_path):
    """A wrong path or a file that is no ranking explains itself and changes nothing."""
    before = explorer.ranking
    explorer.load_path.value = str(tmp_path / "missing.csv")
    explorer.load_button.click()
    assert "There is no file" in explorer.status.value
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    explorer.load_path.value = str(tmp_path / "bad.csv")
    explorer.load_button.click()
    assert "not a saved ranking" in explorer.status.value
    assert explorer.ranking is before


def test_setting_the_ranking_rejects_other_objects(explorer):
    """Only a TaskRanking (or None) can be shown."""
    with pytest.raises(TypeError, match="TaskRanking"):
        explorer.ranking = make_ranking(3).to_pandas()


HUB_METADATA = {
    "model_name": "bert-base-multilingual-uncased",
    "pooling": "pooler",
    "is_regression": False,
    "seed": 7,
    "dataset": {
        "task_id": "stanfordnlp/imdb",
        "task_subset": "plain_text",
        "text_column": "text",
        "label_column": "label",
        "task_split": "test",
        "num_examples": 500,
        "seed": 7,
        "streamed": False,
        "source": "hub",
    },
    "esm_source": "repo ids",
    "esm_repo_ids": ["org/esm-a", "org/esm-b", "org/esm-c"],
}


def test_show_code_reproduces_a_hub_ranking(explorer):
    """The code names the dataset, split, subset, columns, sample, model and ESM pool, and
    compiles."""
    explorer.ranking = make_ranking(3, **HUB_METADATA)
    explorer.code_toggle.value = True
    code = explorer.code.value
    assert explorer.code.layout.display != "none"
    compile(code, "<show code>", "exec")
    for expected in (
        "Dataset.from_hugging_face(\n    'stanfordnlp/imdb'",
        "split='test'",
        "subset='plain_text'",
        "text_col='text'",
        "label_col='label'",
        "num_examples=500",
        "seed=7",
        "model_name='bert-base-multilingual-uncased'",
        "'org/esm-b',",
        "compute_task_ranking(",
    ):
        assert expected in code
    explorer.code_toggle.value = False
    assert explorer.code.layout.display == "none"


def test_code_for_the_demo_uses_the_demo_helpers():
    """A ranking of the bundled demo reproduces with load_demo_target() and demo_esm_dir()."""
    metadata = {
        "model_name": "sentence-transformers/all-MiniLM-L6-v2",
        "dataset": {"path": str(demo_target_path()), "source": "file", "num_examples": 200},
        "esm_dir": str(demo_esm_dir()),
    }
    code = ranking_code(make_ranking(2, **metadata))
    compile(code, "<demo>", "exec")
    assert "load_demo_target(\n    num_examples=200," in code
    assert "esm_dir=demo_esm_dir()" in code
    assert "model_name='sentence-transformers/all-MiniLM-L6-v2'" in code


def test_code_without_metadata_still_compiles_and_names_the_esms():
    """A ranking loaded from CSV has no metadata: the code keeps placeholders and its ESMs."""
    ranking = TaskRanking.from_dict(make_ranking(3).to_dict() | {"metadata": {}})
    code = ranking_code(ranking)
    compile(code, "<csv>", "exec")
    assert "dataset = ..." in code
    assert "model_name='m'" in code
    assert "'esms/t2'" in code


def test_code_recomputes_the_same_ranking_end_to_end(tmp_path):
    """Running the shown code for a real (tiny) ranking from a CSV file gives the same scores."""
    from hfselect_widgets import Dataset, compute_task_ranking

    model_dir = make_tiny_model(tmp_path / "model", kind="sentence-transformers")
    (model_dir / "hfselect_model_id").write_text("tiny-org/tiny-model")
    texts = [" ".join(t) for t in itertools.islice(itertools.permutations(_WORDS[:8], 3), 0, 60)]
    labels = np.arange(len(texts)) % 2
    csv = tmp_path / "target.csv"
    pd.DataFrame({"sentence": texts, "y": labels}).to_csv(csv, index=False)
    for i in range(3):
        write_esm(
            tmp_path / "esms" / f"e{i}",
            HIDDEN_SIZE,
            task_id=f"org/e{i}",
            base_model_name="tiny-org/tiny-model",
            seed=i,
        )
    dataset = Dataset.from_file(csv, "sentence", "y", num_examples=40, seed=3)
    ranking = compute_task_ranking(dataset, str(model_dir), esm_dir=tmp_path / "esms")

    code = ResultsExplorer(ranking).python_code()
    assert f"Dataset.from_file(\n    {str(csv)!r}" in code
    namespace: dict = {}
    exec(compile(code, "<shown code>", "exec"), namespace)
    again = namespace["ranking"]
    assert again.task_ids == ranking.task_ids
    assert again.scores == pytest.approx(ranking.scores, abs=1e-9)


def test_output_carries_a_static_png_of_the_chart(explorer):
    """Renderers without widgets (GitHub, nbviewer) get a PNG drawn offline by vl-convert,
    beside the widget view, in what display() sends (ipywidgets 7 and 8 alike)."""
    # IPython's formatter is what display() uses: on ipywidgets 7 it would call the widget's
    # _ipython_display_ (no PNG) if the explorer did not turn it off.
    data, _metadata = DisplayFormatter().format(explorer)
    assert "application/vnd.jupyter.widget-view+json" in data
    assert base64.b64decode(data["image/png"]).startswith(PNG_MAGIC)
    assert data["text/plain"].startswith("TaskRanking of 12")


def test_static_fallback_is_the_table_when_png_fails(explorer, monkeypatch):
    """If vl-convert cannot draw, the output falls back to an HTML table instead of failing."""

    def broken(*_args, **_kwargs):
        raise RuntimeError("no renderer")

    monkeypatch.setattr(results, "chart_png", broken)
    data = explorer._repr_mimebundle_()
    data = data[0] if isinstance(data, tuple) else data
    assert "image/png" not in data
    assert "org/t11" in data["text/html"] and "<table" in data["text/html"]


def test_empty_explorer_has_no_static_picture():
    """Without a ranking there is nothing to draw: no PNG, no error."""
    explorer = ResultsExplorer()
    data = explorer._repr_mimebundle_()
    data = data[0] if isinstance(data, tuple) else data
    assert "image/png" not in data and "text/html" not in data
    assert "No ranking yet" in explorer.summary.value


def test_offline_rendering_failure_only_warns(monkeypatch):
    """Without vl-convert the explorer still works: enabling offline charts warns once."""

    def fail():
        raise ImportError("vl-convert-python is not installed")

    monkeypatch.setattr(results, "_offline_state", None)
    monkeypatch.setattr(alt.JupyterChart, "enable_offline", staticmethod(fail))
    with pytest.warns(RuntimeWarning, match="vl-convert-python"):
        explorer = ResultsExplorer(make_ranking(3))
    assert results._offline_state is False
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        ResultsExplorer(make_ranking(3))  # tried once per process, no second warning
    assert table_rows(explorer) == 3


def test_offline_rendering_is_enabled_by_default():
    """With vl-convert installed, JupyterChart loads Vega from it, not from a CDN."""
    ResultsExplorer()
    assert alt.JupyterChart._is_offline
    assert "cdn.jsdelivr.net" not in alt.JupyterChart._esm


# --- why this dataset, how sure, warnings -----------------------------------------------------


def make_bootstrapped_ranking(intervals, warnings_=()) -> TaskRanking:
    """Four ESMs with descriptions (but the last), every ranker's score and rank intervals
    ``[(low, high, p_first, p_top3), ...]`` in rank order."""
    configs = []
    for i, (low, high, p_first, p_top3) in enumerate(intervals):
        config = ESMConfig(
            base_model_name="m",
            task_id=f"org/t{i}",
            language="de" if i < 3 else None,
            num_examples=500,
            **({"dataset_description": f"topic of news {i}"} if i < 3 else {}),
        )
        config.ranker_scores = {"esm-logme": -0.6 - i / 100, "textemb": 0.9 - i / 10}
        config.rank_interval = {
            "rank_low": low,
            "rank_high": high,
            "p_first": p_first,
            "p_top3": p_top3,
        }
        configs.append(config)
    scores = [-0.6495, -0.6577, -0.6601, -0.6885][: len(configs)]
    return TaskRanking(configs, scores, metadata={"ranker": "esm-logme", "warnings": warnings_})


OVERLAPPING = [(1, 3, 0.5, 0.9), (1, 3, 0.3, 0.8), (1, 3, 0.2, 0.7), (4, 4, 0.0, 0.1)]
SEPARATE = [(1, 1, 1.0, 1.0), (2, 3, 0.0, 1.0), (2, 3, 0.0, 1.0), (4, 4, 0.0, 0.0)]


def header_cells(explorer: ResultsExplorer) -> list[str]:
    head = explorer.table.value.split("<thead>")[1].split("</thead>")[0]
    return re.findall(r"<th[^>]*>([^<]*)</th>", head)


def test_table_shows_the_rank_interval_and_p_top3():
    """A bootstrapped ranking's table has "Rank interval" and "P(top 3)" columns."""
    explorer = ResultsExplorer(make_bootstrapped_ranking(OVERLAPPING))
    headers = header_cells(explorer)
    assert headers[:3] == ["Rank", "Rank interval", "P(top 3)"]
    assert "<td class='num'>1-3</td><td class='num'>0.90</td>" in explorer.table.value
    # A plain ranking has neither column.
    assert "Rank interval" not in header_cells(ResultsExplorer(make_ranking(3)))


def test_note_when_the_top_ranks_are_not_separable():
    """Rank 1's interval overlapping rank 2's gives a visible note naming the ranks and what
    to do; a ranking whose rank 1 stands apart (or has no intervals) gets none."""
    explorer = ResultsExplorer(make_bootstrapped_ranking(OVERLAPPING))
    assert explorer.separability.layout.display != "none"
    assert "Ranks 1-3 are not separable at this sample size" in explorer.separability.value
    assert "Verify tab" in explorer.separability.value
    assert "add target rows" in explorer.separability.value
    explorer.ranking = make_bootstrapped_ranking(SEPARATE)
    assert explorer.separability.layout.display == "none"
    assert explorer.separability.value == ""
    explorer.ranking = make_ranking(5)
    assert explorer.separability.layout.display == "none"


def test_table_shows_why_this_dataset_with_dashes_for_missing_values():
    """Description, language, training rows and each ranker's score are in the table (so a
    pick reads as domain-near, label-structure-near or both); a missing value reads "—",
    never "None", "nan" or "null"."""
    explorer = ResultsExplorer(make_bootstrapped_ranking(OVERLAPPING))
    headers = header_cells(explorer)
    for header in ("Description", "Language", "Training rows", "Score (esm-logme)"):
        assert header in headers
    assert "Score (textemb)" in headers
    table = explorer.table.value
    assert "topic of news 0" in table and "<td>de</td>" in table
    assert "<td class='num'>0.9000</td>" in table  # textemb of rank 1
    assert "<td class='desc'>\u2014</td>" in table  # org/t3 has no description
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", table)
    assert not {"None", "nan", "null", "NaN", "<NA>"} & set(cells)


def test_warnings_are_amber_not_green():
    """The ranking's warnings (e.g. the small-sample warning) show in the Results view in
    amber, apart from the green success messages."""
    message = "LogME scores are unreliable for such samples."
    explorer = ResultsExplorer(make_bootstrapped_ranking(SEPARATE, warnings_=[message]))
    assert explorer.warnings.layout.display != "none"
    assert message in explorer.warnings.value
    assert results.WARNING_STYLE in explorer.warnings.value
    assert "#1b5e20" not in explorer.warnings.value  # the success colour
    assert "#e69500" in explorer.warnings.value
    explorer.ranking = make_ranking(3)
    assert explorer.warnings.layout.display == "none"


def test_results_view_explains_this_rankings_scores():
    """The Results view says how to read the score (higher is better, compares only within
    one ranking) and this ranking's spread, open above the chart."""
    explorer = ResultsExplorer(make_bootstrapped_ranking(OVERLAPPING))
    text = explorer.explanation.value
    assert explorer.explanation.layout.display != "none"
    assert "How to read the score" in text and "<details open>" in text
    assert "higher is better" in text.lower()
    assert "compare only within one ranking" in text
    assert "spread of 0.039" in text
    children = list(explorer.children)
    assert children.index(explorer.explanation) < children.index(explorer.chart)


def test_explanation_and_warnings_come_from_the_shared_explain_module(monkeypatch):
    """The Results view shows explain_scores() under "How to read the score" and
    ranking_warnings() in amber: the text the other front ends share."""
    import sys
    import types

    from hfselect_widgets.engine.scoring import explain as real

    fake = types.ModuleType("hfselect_widgets.engine.scoring.explain")
    fake.__dict__.update({k: v for k, v in vars(real).items() if not k.startswith("__")})
    fake.explain_scores = lambda ranking, **kwargs: [
        f"Higher is better; {len(ranking)} candidates."
    ]
    fake.ranking_warnings = lambda ranking: ["Only 12 target rows."]
    monkeypatch.setitem(sys.modules, "hfselect_widgets.engine.scoring.explain", fake)
    import hfselect_widgets.engine.scoring as scoring

    monkeypatch.setattr(scoring, "explain", fake, raising=False)
    explorer = ResultsExplorer(make_ranking(4))
    assert "How to read the score" in explorer.explanation.value
    assert "Higher is better; 4 candidates." in explorer.explanation.value
    assert "Only 12 target rows." in explorer.warnings.value
    assert explorer.warnings.layout.display != "none"


# --- 10,000 rows ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def large_ranking():
    return make_ranking(10_000)


def test_large_ranking_table_pages_of_50_rows(large_ranking):
    """10,000 rows: the table shows 50 rows a page with "Rows 1-50 of 10,000"; the page
    buttons move through the pages and stop at the ends."""
    explorer = ResultsExplorer(large_ranking, top_k=30)
    assert table_rows(explorer) == results.PAGE_SIZE == 50
    assert explorer.pager.layout.display != "none"
    assert "Rows 1-50 of 10,000 (page 1 of 200)" in explorer.page_info.value
    assert explorer.prev_button.disabled and explorer.first_button.disabled
    explorer.next_button.click()
    assert explorer.page == 1 and "Rows 51-100 of 10,000" in explorer.page_info.value
    assert "<td class='num'>51</td>" in explorer.table.value
    assert "<td class='num'>50</td>" not in explorer.table.value
    explorer.last_button.click()
    assert "Rows 9,951-10,000 of 10,000 (page 200 of 200)" in explorer.page_info.value
    assert explorer.next_button.disabled and not explorer.prev_button.disabled
    explorer.next_button.click()  # nothing past the end
    assert explorer.page == 199
    explorer.first_button.click()
    assert explorer.page == 0 and "<td class='num'>1</td>" in explorer.table.value


def test_large_ranking_brush_filters_and_restarts_the_pages(large_ranking):
    """A brush over the histogram keeps the rows in its score range, counted in the pages;
    the table goes back to its first page."""
    explorer = ResultsExplorer(large_ranking, top_k=30)
    explorer.next_button.click()
    # scores are -1.0 + 0.05 * i: [-1.0, -0.5] holds i = 0..10
    select(explorer, brush=[-1.0, -0.5])
    assert explorer.page == 0
    assert table_rows(explorer) == 11
    assert explorer.pager.layout.display == "none"  # one page
    assert "Showing 11 of 10,000 rows" in explorer.selection_info.value
    select(explorer, brush=[-0.5, 1000.0])  # i = 10 .. 9,999
    assert "Rows 1-50 of 9,990 (page 1 of 200)" in explorer.page_info.value
    explorer.last_button.click()
    assert "Rows 9,951-9,990 of 9,990" in explorer.page_info.value
    assert table_rows(explorer) == 40


def test_large_ranking_chart_shows_top_k_and_all_scores_binned(large_ranking):
    """The chart has k bars (the slider ends at TOP_K_MAX) and a histogram of all 10,000."""
    explorer = ResultsExplorer(large_ranking, top_k=30)
    assert bar_count(explorer) == 30
    assert explorer.k_slider.max == results.TOP_K_MAX
    spec = explorer.chart.spec
    distribution = spec["vconcat"][1]["layer"][0]
    bins = spec["datasets"][distribution["data"]["name"]]
    assert sum(row["count"] for row in bins) == 10_000


def test_large_ranking_exports_quickly(large_ranking, tmp_path):
    """Exporting 10,000 rows to CSV and JSON takes seconds at most, and round-trips."""
    import time

    explorer = ResultsExplorer(large_ranking, top_k=30)
    started = time.perf_counter()
    csv = explorer.export_csv(tmp_path / "big.csv")
    saved = explorer.export_json(tmp_path / "big.json")
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"exports took {elapsed:.1f} s"
    assert len(TaskRanking.load(csv)) == 10_000
    assert len(TaskRanking.load(saved)) == 10_000
