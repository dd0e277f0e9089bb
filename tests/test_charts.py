"""Chart builders: tidy ranking frames, the specs' encodings and selections, selection filtering."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import pytest
import vl_convert

from hfselect_widgets import charts
from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.scoring.result import TaskRanking

TOOLTIP_TITLES = [
    "Rank",
    "Task ID",
    "Description",
    "Subset",
    "Language",
    "Training rows",
    "Text column(s)",
    "Label column",
    "Split",
    "Score",
    "ESM",
]


def make_ranking(n: int = 12) -> TaskRanking:
    """``n`` ESMs ``org/t0..`` with scores that put ``org/t0`` last and ``org/t{n-1}`` first."""
    configs = [
        ESMConfig(
            base_model_name="m",
            task_id=f"org/t{i}",
            task_subset="sub" if i % 3 == 0 else None,
            text_column=["premise", "hypothesis"] if i % 2 else "text",
            label_column="label",
            task_split="train",
            num_examples=100 + i,
            repo_id=f"esms/t{i}",
        )
        for i in range(n)
    ]
    scores = [-1.0 + 0.05 * i for i in range(n)]
    return TaskRanking(configs, scores, metadata={"model_name": "m"})


def _data_values(spec: dict, *views: dict) -> list[dict]:
    """The inline rows of the first of ``views`` with data (a layer inherits its chart's);
    altair consolidates inline rows under the spec's top-level ``datasets``."""
    data = next(view["data"] for view in views if "data" in view)
    if "values" in data:
        return data["values"]
    return spec["datasets"][data["name"]]


def _layers(view: dict) -> list[dict]:
    return view.get("layer", [view])


def _condition_params(channel: dict) -> list[str]:
    condition = channel["condition"]
    conditions = condition if isinstance(condition, list) else [condition]
    return [c["param"] for c in conditions]


def test_ranking_frame_is_tidy_sorted_and_links_hub_ids():
    """A TaskRanking becomes one row per ESM, best first, with text columns as text and Hub URLs."""
    frame = charts.ranking_frame(make_ranking(5))
    assert list(frame.columns) == list(charts.FRAME_COLUMNS)
    assert frame["rank"].tolist() == [1, 2, 3, 4, 5]
    assert frame["task_id"].tolist() == ["org/t4", "org/t3", "org/t2", "org/t1", "org/t0"]
    assert frame.loc[1, "text_column"] == "premise, hypothesis"
    assert frame.loc[0, "text_column"] == "text"
    assert frame.loc[0, "hub_url"] == "https://huggingface.co/datasets/org/t4"
    assert frame.loc[0, "repo_id"] == "esms/t4"
    assert frame["score"].is_monotonic_decreasing
    assert frame.loc[0, "size"] == 104  # no num_train_examples: hfselect's num_examples


def test_ranking_frame_accepts_to_pandas_tables_and_none():
    """to_pandas() (indexed by Rank) and its reset_index() give the same frame; None is empty."""
    ranking = make_ranking(6)
    direct = charts.ranking_frame(ranking)
    indexed = charts.ranking_frame(ranking.to_pandas())
    flat = charts.ranking_frame(ranking.to_pandas(with_repo_id=True).reset_index())
    pd.testing.assert_frame_equal(direct, flat)
    pd.testing.assert_frame_equal(direct.drop(columns="repo_id"), indexed.drop(columns="repo_id"))
    empty = charts.ranking_frame(None)
    assert empty.empty and list(empty.columns) == list(charts.FRAME_COLUMNS)
    with pytest.raises(ValueError, match="Score"):
        charts.ranking_frame(pd.DataFrame({"x": [1]}))


@pytest.mark.parametrize(
    ("task_id", "linked"),
    [
        ("org/name", True),
        ("imdb", True),
        ("org/name-with.dots_1", True),
        ("/abs/path/data", False),
        ("./data", False),
        ("train.csv", False),
        ("demo target (held-out rows)", False),
        (None, False),
    ],
)
def test_hub_links_only_for_hub_like_ids(task_id, linked):
    """Only ids that look like Hub dataset ids get a link to the Hub."""
    url = charts.hub_dataset_url(task_id)
    assert (url == f"https://huggingface.co/datasets/{task_id}") if linked else url is None


def test_top_scores_chart_has_k_sorted_bars_tooltips_and_bars_selection():
    """Top-k bars: k rows best first, score on x, label on y, every column in the tooltip,
    a point selection "bars" on task_id and rank that colours the selected bars."""
    spec = charts.top_scores_chart(make_ranking(12), k=4).to_dict()
    values = _data_values(spec, spec)
    assert [row["rank"] for row in values] == [1, 2, 3, 4]
    encoding = spec["encoding"]
    assert encoding["x"]["field"] == "score" and encoding["x"]["type"] == "quantitative"
    assert encoding["y"]["field"] == "label"
    assert encoding["y"]["sort"] == [row["label"] for row in values]
    assert values[0]["label"] == "1. org/t11"
    assert values[2]["label"] == "3. org/t9 (sub)"
    assert [t["title"] for t in encoding["tooltip"]] == TOOLTIP_TITLES
    (param,) = spec["params"]
    assert param["name"] == "bars"
    assert param["select"] == {"type": "point", "fields": ["task_id", "rank"]}
    assert _condition_params(encoding["color"]) == ["bars"]


def test_bars_start_left_of_the_lowest_score():
    """All-negative LogME scores still give visible bars: they start left of the lowest score."""
    spec = charts.top_scores_chart(make_ranking(12), k=12).to_dict()
    values = _data_values(spec, spec)
    assert spec["encoding"]["x2"]["field"] == "baseline"
    assert all(row["baseline"] < row["score"] for row in values)
    assert spec["encoding"]["x"]["scale"]["domain"][0] == values[0]["baseline"]


def test_score_distribution_chart_bins_all_scores_with_a_brush_on_score():
    """The distribution counts every ESM in round bins (binned in Python: a few dozen rows of
    data whatever the pool's size) and carries the interval "brush" on score."""
    spec = charts.score_distribution_chart(make_ranking(12)).to_dict()
    layers = spec["layer"]
    base = layers[0]
    bins = _data_values(spec, base, spec)
    assert sum(row["count"] for row in bins) == 12
    assert all(row["score"] < row["score_end"] for row in bins)
    assert base["encoding"]["x"]["field"] == "score"
    assert base["encoding"]["x2"]["field"] == "score_end"
    assert base["encoding"]["y"]["field"] == "count"
    # altair lifts the params of a layer to the top level, naming the view they belong to.
    (param,) = spec["params"]
    assert param["name"] == "brush" and param["views"] == [base["name"]]
    assert param["select"] == {"type": "interval", "encodings": ["x"]}
    assert {"param": "brush"} in [t.get("filter") for t in layers[1]["transform"]]
    # The axis spans the bins exactly: no bin overhangs the plot.
    domain = base["encoding"]["x"]["scale"]["domain"]
    assert domain == [bins[0]["score"], bins[-1]["score_end"]]


@pytest.mark.parametrize("counts", [[1, 2, 2, 1], [3], [5, 9, 17, 40, 12], [1200, 3400, 800]])
def test_histogram_count_ticks_are_whole_and_distinct(counts):
    """The count axis has whole, distinct tick labels (it once read "0 1 1 2 2")."""
    scores = [float(i) + 0.5 for i, c in enumerate(counts) for _ in range(c)]
    _edges, binned = charts.histogram_bins(scores)
    assert binned.sum() == sum(counts)
    spec = charts.score_distribution_chart(_frame_of_scores(scores)).to_dict()
    axis = spec["layer"][0]["encoding"]["y"]["axis"]
    ticks = axis["values"]
    assert axis["format"] == "d"
    assert ticks == sorted(set(ticks)) and all(isinstance(t, int) for t in ticks)
    assert ticks[0] == 0 and ticks[-1] >= max(binned)
    assert len(ticks) <= 7


def _frame_of_scores(scores):
    return pd.DataFrame({"Task ID": [f"t{i}" for i in range(len(scores))], "Score": scores})


def test_histogram_bins_have_round_edges_and_hold_every_score():
    """Bin edges are round numbers; the lowest and highest scores are inside the bins."""
    scores = [-0.6495, -0.6577, -0.6601, -0.667, -0.672, -0.680, -0.6885]
    edges, counts = charts.histogram_bins(scores)
    assert counts.sum() == len(scores)
    assert edges[0] <= min(scores) and edges[-1] >= max(scores)
    step = edges[1] - edges[0]
    assert step == pytest.approx(0.005) or step == pytest.approx(0.01)
    same, one = charts.histogram_bins([2.0, 2.0, 2.0])
    assert one.sum() == 3 and same[0] <= 2.0 <= same[-1]


def test_ranking_chart_links_both_selections_and_inlines_its_data():
    """The composed chart stacks both views, defines "bars" and "brush" once each, and inlines
    its rows (no data URL) so that it renders offline."""
    chart = charts.ranking_chart(make_ranking(12), k=5)
    spec = chart.to_dict()
    assert len(spec["vconcat"]) == 2
    assert sorted(p["name"] for p in spec["params"]) == ["bars", "brush"]
    top, distribution = spec["vconcat"]
    assert len(_data_values(spec, top)) == 5
    bins = _data_values(spec, _layers(distribution)[0], distribution)
    assert sum(row["count"] for row in bins) == 12
    # Brushing fades bars outside the range; clicked bars show up in the distribution.
    assert _condition_params(top["encoding"]["opacity"]) == ["brush"]
    rule = _layers(distribution)[2]
    assert {"param": "bars", "empty": False} in [t.get("filter") for t in rule["transform"]]
    assert '"url"' not in json.dumps(spec)
    # A valid Vega-Lite spec: vl-convert compiles it.
    vega = vl_convert.vegalite_to_vega(spec)
    assert vega["$schema"].startswith("https://vega.github.io/schema/vega/")


def test_ranking_chart_of_10000_esms_is_small_and_quick():
    """10,000 ESMs: the histogram counts all of them in a few dozen inlined bins, the bars
    hold the top k only, so the spec stays small and quick to build (it once inlined every
    row: 2.4 s and megabytes per redraw)."""
    import time

    frame = charts.ranking_frame(make_ranking(10_000))
    started = time.perf_counter()
    spec = charts.ranking_chart(frame, k=30).to_dict()
    elapsed = time.perf_counter() - started
    top, distribution = spec["vconcat"]
    bins = _data_values(spec, _layers(distribution)[0], distribution)
    assert sum(row["count"] for row in bins) == 10_000 and len(bins) <= 40
    assert len(_data_values(spec, top)) == 30
    assert len(json.dumps(spec)) < 200_000
    assert elapsed < 1.5, f"building the chart took {elapsed:.2f} s"


def test_ranking_chart_of_an_empty_ranking_is_still_a_valid_chart():
    """An empty ranking (nothing loaded yet) gives an empty chart, not an error."""
    spec = charts.ranking_chart(None, k=10).to_dict()
    assert sorted(p["name"] for p in spec["params"]) == ["bars", "brush"]
    assert vl_convert.vegalite_to_vega(spec)


def test_filter_frame_by_bars_brush_both_and_none():
    """Bars keep their rows, a brush keeps scores in range, both intersect, none keeps all."""
    frame = charts.ranking_frame(make_ranking(10))
    picked = [{"task_id": "org/t9", "rank": 1}, {"task_id": "org/t7", "rank": 3.0}]
    assert charts.filter_frame(frame, {"bars": picked})["rank"].tolist() == [1, 3]
    brushed = charts.filter_frame(frame, {"brush": {"score": [-0.66, -0.5]}})
    assert brushed["task_id"].tolist() == ["org/t9", "org/t8", "org/t7"]
    both = {"bars": picked, "brush": {"score": [-0.62, -0.5]}}
    assert charts.filter_frame(frame, both)["rank"].tolist() == [1]
    assert len(charts.filter_frame(frame, {})) == 10
    assert len(charts.filter_frame(frame, {"bars": [], "brush": {}})) == 10


def test_filter_frame_reads_raw_vega_selection_state():
    """The raw ``_vl_selections`` shape of JupyterChart (Vega signal values) filters too."""
    frame = charts.ranking_frame(make_ranking(10))
    raw = {
        "bars": {
            "value": {"task_id": ["org/t8"], "vlPoint": {"or": [{"task_id": "org/t8", "rank": 2}]}},
            "store": [],
        },
        "brush": {"value": None, "store": []},
    }
    assert charts.filter_frame(frame, raw)["task_id"].tolist() == ["org/t8"]


def test_selections_from_a_jupyter_chart_filter_the_frame():
    """JupyterChart turns simulated front-end selections into ``selections`` we can filter by."""
    ranking = make_ranking(10)
    jchart = alt.JupyterChart(charts.ranking_chart(ranking, k=5))
    assert set(jchart._selection_types) == {"bars", "brush"}
    jchart._vl_selections = {
        "bars": {"value": None, "store": []},
        "brush": {"value": {"score": [-0.61, -0.5]}, "store": []},
    }
    rows = charts.filter_frame(charts.ranking_frame(ranking), jchart.selections)
    assert rows["task_id"].tolist() == ["org/t9", "org/t8"]


# --- ranking quality: evaluation_chart and evaluation_target_chart ---------------------------


def make_report():
    """An EvaluationReport by hand: two rankers and the three baselines, two targets."""
    from hfselect_widgets.engine.evaluation import EvaluationReport, MetricSummary

    def summaries(spearman, regret, per_target):
        return {
            "spearman": MetricSummary(spearman, spearman - 0.2, spearman + 0.1, per_target),
            "regret@3": MetricSummary(regret, max(regret - 1.0, 0.0), regret + 2.0, per_target),
        }

    rankers = {
        "esm-logme": summaries(0.4, 0.5, {"a": 0.5, "b": 0.3}),
        "knn": summaries(0.6, 2.0, {"a": 0.7, "b": 0.5}),
        "static (mean score)": summaries(0.2, 1.0, {"a": 0.1, "b": 0.3}),
        "static (mean transfer)": summaries(0.3, 3.0, {"a": 0.2, "b": 0.4}),
        "random": summaries(0.0, 4.0, {"a": -0.1, "b": 0.1}),
    }
    versus = {
        "esm-logme": summaries(0.2, -0.5, {"a": 0.4, "b": 0.0}),
        "knn": summaries(0.4, 1.0, {"a": 0.6, "b": 0.2}),
    }
    return EvaluationReport(rankers=rankers, versus_static=versus)


def _layer_with(spec: dict, mark: str) -> dict:
    (layer,) = [
        layer
        for layer in spec["layer"]
        if (layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]) == mark
        and "field" in layer["encoding"].get("y", {})
    ]
    return layer


def test_evaluation_chart_has_every_ranker_best_first_with_its_interval():
    """Spearman: one point per ranker at its mean, a rule from low to high, best on top, the
    baselines in the muted colour, a rule at zero, "higher is better" and tooltips."""
    spec = charts.evaluation_chart(make_report(), "spearman").to_dict()
    point, interval = _layer_with(spec, "point"), _layer_with(spec, "rule")
    values = _data_values(spec, point, spec)
    order = ["knn", "esm-logme", "static (mean transfer)", "static (mean score)", "random"]
    assert [row["ranker"] for row in values] == order
    assert point["encoding"]["y"]["sort"] == order == interval["encoding"]["y"]["sort"]
    assert point["encoding"]["x"]["field"] == "mean"
    assert interval["encoding"]["x"]["field"] == "low"
    assert interval["encoding"]["x2"]["field"] == "high"
    knn = values[0]
    assert (knn["mean"], knn["low"], knn["high"]) == pytest.approx((0.6, 0.4, 0.7))
    kinds = {row["ranker"]: row["kind"] for row in values}
    assert kinds == {
        "knn": "ranker",
        "esm-logme": "ranker",
        "static (mean transfer)": "baseline",
        "static (mean score)": "baseline",
        "random": "baseline",
    }
    scale = point["encoding"]["color"]["scale"]
    assert dict(zip(scale["domain"], scale["range"], strict=True))["baseline"] == (
        charts.BASELINE_COLOR
    )
    tooltips = {t["field"] for t in point["encoding"]["tooltip"]}
    assert {"ranker", "mean", "low", "high"} <= tooltips
    zero = [
        layer for layer in spec["layer"] if layer["encoding"].get("x", {}).get("field") == "zero"
    ]
    assert len(zero) == 1
    assert "higher is better" in spec["title"]["text"]
    assert vl_convert.vegalite_to_vega(spec)


def test_evaluation_chart_of_regret_puts_the_lowest_first_and_says_lower_is_better():
    spec = charts.evaluation_chart(make_report(), "regret@3").to_dict()
    values = _data_values(spec, _layer_with(spec, "point"), spec)
    means = [row["mean"] for row in values]
    assert means == sorted(means) and values[0]["ranker"] == "esm-logme"
    assert "lower is better" in spec["title"]["text"]
    assert all(layer["encoding"]["x"]["field"] != "zero" for layer in spec["layer"])


def test_evaluation_chart_versus_static_charts_the_paired_differences_around_zero():
    spec = charts.evaluation_chart(make_report(), "spearman", versus_static=True).to_dict()
    values = _data_values(spec, _layer_with(spec, "point"), spec)
    assert [row["ranker"] for row in values] == ["knn", "esm-logme"]
    assert values[0]["mean"] == pytest.approx(0.4)
    assert "static (mean score)" in spec["title"]["text"]
    assert any(layer["encoding"].get("x", {}).get("field") == "zero" for layer in spec["layer"])


def test_evaluation_target_chart_has_every_target_of_every_ranker():
    """One cell per ranker and target with its per-target value; rankers best first."""
    spec = charts.evaluation_target_chart(make_report(), "spearman").to_dict()
    cells = _layer_with(spec, "rect")
    values = _data_values(spec, cells, spec)
    assert len(values) == 5 * 2
    assert {(row["ranker"], row["target"]): row["value"] for row in values}[("knn", "a")] == 0.7
    assert cells["encoding"]["y"]["sort"][:2] == ["knn", "esm-logme"]
    assert cells["encoding"]["x"]["field"] == "target"
    assert cells["encoding"]["color"]["field"] == "value"
    assert "higher is better" in spec["title"]["text"]
    regret = charts.evaluation_target_chart(make_report(), "regret@3").to_dict()
    assert "lower is better" in regret["title"]["text"]
    assert _layer_with(regret, "rect")["encoding"]["y"]["sort"][0] == "esm-logme"
    assert vl_convert.vegalite_to_vega(spec) and vl_convert.vegalite_to_vega(regret)


@pytest.mark.parametrize("build", [charts.evaluation_chart, charts.evaluation_target_chart])
def test_evaluation_charts_name_the_metrics_of_the_report_for_a_bad_metric(build):
    with pytest.raises(ValueError, match="'ndcg@7'.*regret@3, spearman"):
        build(make_report(), "ndcg@7")


def test_evaluation_chart_of_a_built_report_is_a_valid_chart():
    """From build_report on a small hand-made truth: every ranker and baseline is charted."""
    from hfselect_widgets.engine.evaluation import NO_TRANSFER, build_report

    truth = {
        target: {
            NO_TRANSFER: {0: 0.5, 1: 0.52},
            **{f"s{i}": {0: 0.5 + shift * i, 1: 0.51 + shift * i} for i in range(4)},
        }
        for target, shift in (("t1", 0.01), ("t2", -0.01), ("t3", 0.02))
    }
    scores = {"mine": {t: {f"s{i}": float(i) for i in range(4)} for t in truth}}
    report = build_report(scores, truth, num_bootstrap=20, random_draws=5)
    spec = charts.evaluation_chart(report, "ndcg@3").to_dict()
    rankers = {row["ranker"] for row in _data_values(spec, _layer_with(spec, "point"), spec)}
    assert rankers == set(report.rankers) >= {"mine", "random", "static (mean score)"}
    assert vl_convert.vegalite_to_vega(spec)
    assert vl_convert.vegalite_to_vega(charts.evaluation_target_chart(report, "ndcg@3").to_dict())


# --- why this dataset, how sure, and an axis that does not exaggerate ------------------------


def make_rich_ranking(intervals=None, ranker: str = "esm-logme") -> TaskRanking:
    """Four ESMs with what our configs record (description, language, training rows), every
    ranker's score and, optionally, rank intervals ``[(low, high, p_first, p_top3), ...]`` in
    rank order; the last ESM records nothing optional (hfselect's bare config)."""
    configs = []
    for i in range(4):
        extra = (
            {"dataset_description": f"sentiment of reviews {i}", "num_train_examples": 900 + i}
            if i < 3
            else {}
        )
        config = ESMConfig(
            base_model_name="m",
            task_id=f"org/t{i}",
            language="en" if i < 3 else None,
            num_examples=1000 + i,
            repo_id=f"esms/t{i}",
            **extra,
        )
        config.ranker_scores = {"esm-logme": -0.6 - 0.01 * i, "textemb": 0.9 - 0.1 * i}
        if intervals:
            low, high, p_first, p_top3 = intervals[i]
            config.rank_interval = {
                "rank_low": low,
                "rank_high": high,
                "p_first": p_first,
                "p_top3": p_top3,
            }
        configs.append(config)
    scores = [-0.6495, -0.6577, -0.6601, -0.6885]
    return TaskRanking(configs, scores, metadata={"ranker": ranker})


OVERLAPPING = [(1, 3, 0.5, 0.9), (1, 3, 0.3, 0.8), (1, 4, 0.2, 0.7), (3, 4, 0.0, 0.3)]
SEPARATE = [(1, 1, 1.0, 1.0), (2, 3, 0.0, 1.0), (2, 3, 0.0, 1.0), (4, 4, 0.0, 0.0)]


def _tooltip(values_row: dict, tooltip: list[dict], title: str) -> str:
    (field,) = [t["field"] for t in tooltip if t["title"] == title]
    return values_row[field]


def test_frame_carries_why_this_dataset():
    """Description (dataset_description), language, training rows (num_train_examples, else
    num_examples) and every ranker's score come from the ESM configs into the frame."""
    frame = charts.ranking_frame(make_rich_ranking())
    first, bare = frame.iloc[0], frame.iloc[3]
    assert first["description"] == "sentiment of reviews 0"
    assert first["language"] == "en" and first["size"] == 900
    assert bare["size"] == 1003 and pd.isna(bare["description"])
    assert charts.ranker_columns(frame) == ["score (esm-logme)", "score (textemb)"]
    assert frame["score (textemb)"].tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6])


def test_a_single_ranker_score_is_not_repeated():
    """When ESM-LogME alone was computed, its score is the Score column: no second column."""
    ranking = make_ranking(3)
    for config in ranking.esm_configs:
        config.ranker_scores = {"esm-logme": -1.0}
    assert charts.ranker_columns(charts.ranking_frame(ranking)) == []


def test_tooltips_show_details_and_a_dash_for_missing_values_never_null():
    """The bar tooltip has the description, language, training rows and each ranker's score;
    a missing subset or description reads "—", not "null" or "None"."""
    spec = charts.top_scores_chart(make_rich_ranking(), k=4).to_dict()
    tooltip = spec["encoding"]["tooltip"]
    titles = [t["title"] for t in tooltip]
    assert {"Description", "Language", "Training rows", "Score (textemb)"} <= set(titles)
    values = _data_values(spec, spec)
    assert _tooltip(values[0], tooltip, "Description") == "sentiment of reviews 0"
    assert _tooltip(values[0], tooltip, "Training rows") == "900"
    assert _tooltip(values[0], tooltip, "Score (textemb)") == "0.9000"
    assert _tooltip(values[0], tooltip, "Subset") == charts.MISSING
    assert _tooltip(values[3], tooltip, "Language") == charts.MISSING
    shown = [row[t["field"]] for row in values for t in tooltip]
    assert all(isinstance(v, str) for v in shown)
    assert not {"null", "None", "nan", ""} & set(shown)


@pytest.mark.parametrize("value", [None, float("nan"), "None", "null", "", pd.NA])
def test_display_value_of_missing_values_is_a_dash(value):
    assert charts.display_value(value) == charts.MISSING


def test_frame_reads_intervals_and_ranker_scores_from_to_pandas():
    """to_pandas()'s "Rank Interval", "P(Rank 1)", "P(Top 3)" and "Score (<ranker>)" columns
    become the same tidy columns as from the ranking itself."""
    ranking = make_rich_ranking(OVERLAPPING, ranker="textemb")
    direct = charts.ranking_frame(ranking)
    table = charts.ranking_frame(ranking.to_pandas(with_repo_id=True))
    for column in ("rank_interval", "rank_low", "rank_high", "p_first", "p_top3"):
        assert table[column].tolist() == direct[column].tolist(), column
    assert table["rank_interval"].tolist() == ["1-3", "1-3", "1-4", "3-4"]
    assert charts.ranker_columns(table) == ["score (esm-logme)", "score (textemb)"]


def test_bootstrapped_ranking_draws_rank_interval_bars_beside_the_scores():
    """With rank intervals the top row is the bars plus a panel with one rule per candidate
    from its lowest to its highest rank; the tooltips carry the interval and P(top 3)."""
    spec = charts.ranking_chart(make_rich_ranking(OVERLAPPING), k=4).to_dict()
    bars, intervals = spec["vconcat"][0]["hconcat"]
    assert bars["mark"]["type"] == "bar"
    rule = next(layer for layer in intervals["layer"] if layer["mark"]["type"] == "rule")
    assert rule["encoding"]["x"]["field"] == "rank_low"
    assert rule["encoding"]["x2"]["field"] == "rank_high"
    assert rule["encoding"]["y"]["sort"] == bars["encoding"]["y"]["sort"]
    rows = _data_values(spec, rule, intervals)
    assert [(r["rank_low"], r["rank_high"]) for r in rows] == [(1, 3), (1, 3), (1, 4), (3, 4)]
    tooltip = bars["encoding"]["tooltip"]
    values = _data_values(spec, bars)
    assert _tooltip(values[0], tooltip, "Rank interval") == "1-3"
    assert _tooltip(values[0], tooltip, "P(top 3)") == "0.90"
    assert vl_convert.vegalite_to_vega(spec)
    # Without intervals the bars stand alone, as before.
    assert "hconcat" not in charts.ranking_chart(make_rich_ranking(), k=4).to_dict()["vconcat"][0]


@pytest.mark.parametrize(
    ("intervals", "expected"),
    [(OVERLAPPING, 4), (SEPARATE, 1), ([(1, 2, 0.6, 1), (2, 3, 0.4, 1), (3, 4, 0, 0.9)], 2)],
)
def test_inseparable_top_says_how_far_rank_one_overlaps(intervals, expected):
    """Rank 1 whose interval reaches other candidates' is not separable from them."""
    if len(intervals) < 4:
        intervals = [*intervals, (4, 4, 0.0, 0.0)]
    frame = charts.ranking_frame(make_rich_ranking(intervals))
    assert charts.inseparable_top(frame) == expected
    assert charts.inseparable_top(charts.ranking_frame(make_rich_ranking())) == 0


def test_score_axis_does_not_exaggerate_a_small_spread():
    """A 0.039 spread: the axis is titled "... score (higher is better)", starts at a round
    baseline well below the lowest score (the lowest bar is at least half as long as the best,
    it once was 8 px against 420 px), and the subtitle states the spread and the baseline."""
    spec = charts.top_scores_chart(make_rich_ranking(), k=4).to_dict()
    x = spec["encoding"]["x"]
    assert x["title"] == "ESM-LogME score (higher is better)"
    low, high = x["scale"]["domain"]
    best, worst = -0.6495, -0.6885
    assert (worst - low) >= 0.5 * (best - low)
    assert high > best and x["scale"]["zero"] is False
    assert low == pytest.approx(round(low, 2))  # a round number the axis can label
    subtitle = " ".join(spec["title"]["subtitle"])
    assert "span 0.039" in subtitle and f"start at {low:g}" in subtitle
    assert "another sample" in subtitle  # the tiny-spread note
    # Another ranker's scores are titled with its name.
    ranked = charts.ranking_chart(make_rich_ranking(ranker="textemb"), k=4).to_dict()
    top = ranked["vconcat"][0]
    assert top["encoding"]["x"]["title"] == "TextEmb similarity (higher is better)"


def test_permutation_scores_are_drawn_from_zero_the_chance_level():
    """The default ranker's score is 0 for a candidate no better than shuffled labels, so its
    bars start at 0 (a bar's length is the gain over chance; a negative one points left), the
    subtitle says so and the axis names the score. With the truncated-axis rule instead, the
    0.005-gain candidate would look half as good as the best, not a twentieth."""
    ranking = make_rich_ranking(ranker="logme-permutation")
    ranking.scores = [0.1, 0.06, 0.005, -0.01]
    spec = charts.top_scores_chart(ranking, k=4).to_dict()
    x = spec["encoding"]["x"]
    assert x["title"] == "LogME gain over shuffled labels (higher is better)"
    low, high = x["scale"]["domain"]
    assert low < -0.01 < 0.1 < high and low > -0.02
    rows = spec["datasets"][spec["data"]["name"]]
    assert [row["baseline"] for row in rows] == [0.0] * 4
    assert "bars start at 0 (no better than shuffled labels)" in " ".join(spec["title"]["subtitle"])


def test_only_a_chance_zero_is_called_chance_in_the_subtitle():
    """kNN accuracies whose rounded baseline happens to be 0 start there, but the subtitle
    must not call 0 "no better than shuffled labels": only the permutation control's zero
    means that (it once did, because the subtitle guessed from the baseline's value)."""
    ranking = make_rich_ranking(ranker="knn")
    ranking.scores = [0.35, 0.3, 0.25, 0.2]
    spec = charts.top_scores_chart(ranking, k=4).to_dict()
    assert spec["encoding"]["x"]["scale"]["domain"][0] == 0.0
    subtitle = " ".join(spec["title"]["subtitle"])
    assert "shuffled labels" not in subtitle and "bars start at 0" in subtitle
    assert "not at 0" not in subtitle  # it once read "bars start at 0, not at 0"


def test_a_wide_spread_gets_no_tiny_spread_note():
    ranking = make_ranking(12)  # scores -1.0 ... -0.45
    subtitle = " ".join(charts.top_scores_chart(ranking, k=12).to_dict()["title"]["subtitle"])
    assert "span 0.55" in subtitle and "another sample" not in subtitle
