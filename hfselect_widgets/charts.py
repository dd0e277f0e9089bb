"""Altair charts of a ranking: pure functions from a ranking (or its table) to a chart.

The results explorer shows :func:`ranking_chart` in an ``altair.JupyterChart`` and reads two
selections back from it:

* ``"bars"``: a point selection on ``task_id`` and ``rank`` in the top-k bar chart (click a
  bar, shift-click for several, double-click to clear);
* ``"brush"``: an interval selection on ``score`` in the distribution of all scores (drag).

:func:`evaluation_chart` and :func:`evaluation_target_chart` draw an
:class:`~hfselect_widgets.engine.evaluation.EvaluationReport` (how good the rankings are against
real transfer): one metric per chart, every ranker beside the random and static baselines.

Everything here is display logic only; it never computes a ranking or a metric. The data is inlined in the
spec (no data URLs, no ``max_rows`` limit), so a chart renders offline and saves with the
notebook.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import altair as alt
import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hfselect_widgets.engine.evaluation.report import EvaluationReport
    from hfselect_widgets.engine.scoring.result import TaskRanking

BARS_SELECTION = "bars"
"""Name of the point selection on the top-k bars."""
BRUSH_SELECTION = "brush"
"""Name of the interval selection on the score distribution."""

FRAME_COLUMNS = (
    "rank",
    "task_id",
    "task_subset",
    "text_column",
    "label_column",
    "task_split",
    "num_examples",
    "score",
    "repo_id",
    "hub_url",
)
"""The columns of :func:`ranking_frame`, in order."""

TOOLTIP_TITLES = {
    "rank": "Rank",
    "task_id": "Task ID",
    "task_subset": "Subset",
    "text_column": "Text column(s)",
    "label_column": "Label column",
    "task_split": "Split",
    "num_examples": "Examples",
    "score": "Score",
    "repo_id": "ESM",
}

# TaskRanking.to_pandas() column -> tidy column.
_PANDAS_TO_TIDY = {
    "Rank": "rank",
    "Task ID": "task_id",
    "Task Subset": "task_subset",
    "Text Column": "text_column",
    "Label Column": "label_column",
    "Task Split": "task_split",
    "Num Examples": "num_examples",
    "Score": "score",
    "ESM Repo ID": "repo_id",
}

HUB_DATASET_URL = "https://huggingface.co/datasets/{}"
# "org/name" (or a bare canonical name such as "imdb"): what the Hub accepts as a dataset id.
# A bare name with a dot is more likely a file ("train.csv") than a Hub id, so it gets no link.
_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]*/[\w.-]+|[A-Za-z0-9][\w-]*)$")

SELECTED_COLOR = "#4c78a8"
UNSELECTED_COLOR = "#c6d3e3"
HIGHLIGHT_COLOR = "#e45756"
BASELINE_COLOR = "#a0a0a0"
"""The muted colour of the baselines (random, static) in the evaluation charts."""
BAR_HEIGHT = 22
CHART_WIDTH = 420
LABEL_LIMIT = 320
"""Widest y-axis label of the bar chart, in pixels (longer labels are cut with an ellipsis)."""


def hub_dataset_url(task_id: Any) -> str | None:
    """The Hub page of ``task_id`` when it looks like a Hub dataset id, else ``None``."""
    if not isinstance(task_id, str) or not _HUB_ID.match(task_id):
        return None
    if task_id.startswith((".", "~")) or os.path.exists(task_id):
        return None  # a local folder that happens to look like an id
    return HUB_DATASET_URL.format(task_id)


def _as_text(value: Any) -> str | None:
    """Text column(s) as one string: several columns become ``"a, b"``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in value)
    return str(value)


def ranking_frame(ranking: TaskRanking | pd.DataFrame | None) -> pd.DataFrame:
    """A tidy table of a ranking: one row per ESM, sorted by rank, columns ``FRAME_COLUMNS``.

    Accepts a :class:`TaskRanking`, its ``to_pandas()`` table (indexed by Rank or with a Rank
    column, with or without ``ESM Repo ID``), an already tidy frame, or ``None`` (an empty
    frame). ``text_column`` holds text (several columns joined with ``", "``) and ``hub_url``
    the dataset's Hub page where ``task_id`` looks like a Hub id.
    """
    if ranking is None:
        frame = pd.DataFrame(columns=list(FRAME_COLUMNS))
    elif isinstance(ranking, pd.DataFrame):
        frame = ranking.copy()
        if "Rank" not in frame.columns and frame.index.name == "Rank":
            frame = frame.reset_index()
        frame = frame.rename(columns=_PANDAS_TO_TIDY)
    else:
        frame = ranking.to_pandas(with_repo_id=True).reset_index().rename(columns=_PANDAS_TO_TIDY)
    if "score" not in frame.columns or "task_id" not in frame.columns:
        raise ValueError(
            "A ranking table needs 'Task ID' and 'Score' columns (from TaskRanking.to_pandas())."
        )
    if "rank" not in frame.columns:
        frame = frame.sort_values("score", ascending=False, kind="stable")
        frame["rank"] = range(1, len(frame) + 1)
    for column in FRAME_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame["text_column"] = [_as_text(v) for v in frame["text_column"]]
    frame["hub_url"] = [hub_dataset_url(t) for t in frame["task_id"]]
    frame["score"] = pd.to_numeric(frame["score"], errors="coerce").astype(float)
    frame["rank"] = pd.to_numeric(frame["rank"], errors="coerce").astype("Int64")
    frame["num_examples"] = pd.to_numeric(frame["num_examples"], errors="coerce").astype("Int64")
    frame = frame.sort_values("rank", kind="stable").reset_index(drop=True)
    return frame[list(FRAME_COLUMNS)]


def _frame(data: TaskRanking | pd.DataFrame | None) -> pd.DataFrame:
    """``data`` as a tidy frame; a frame that is tidy already is used as it is."""
    if isinstance(data, pd.DataFrame) and set(FRAME_COLUMNS) <= set(data.columns):
        return data
    return ranking_frame(data)


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _inline(frame: pd.DataFrame, columns: list[str]) -> alt.InlineData:
    """Rows as inline values (JSON-ready Python objects): no data URL, no row limit."""
    records = [
        {column: _json_value(value) for column, value in zip(columns, row, strict=True)}
        for row in frame[columns].itertuples(index=False, name=None)
    ]
    return alt.InlineData(values=records)


def _tooltips() -> list[alt.Tooltip]:
    return [
        alt.Tooltip("rank:O", title=TOOLTIP_TITLES["rank"]),
        alt.Tooltip("task_id:N", title=TOOLTIP_TITLES["task_id"]),
        alt.Tooltip("task_subset:N", title=TOOLTIP_TITLES["task_subset"]),
        alt.Tooltip("text_column:N", title=TOOLTIP_TITLES["text_column"]),
        alt.Tooltip("label_column:N", title=TOOLTIP_TITLES["label_column"]),
        alt.Tooltip("task_split:N", title=TOOLTIP_TITLES["task_split"]),
        alt.Tooltip("num_examples:Q", title=TOOLTIP_TITLES["num_examples"]),
        alt.Tooltip("score:Q", title=TOOLTIP_TITLES["score"], format=".6f"),
        alt.Tooltip("repo_id:N", title=TOOLTIP_TITLES["repo_id"]),
    ]


def bar_label(rank: Any, task_id: Any, task_subset: Any = None) -> str:
    """The y-axis label of a bar: ``"3. org/name (subset)"``."""
    label = f"{rank}. {task_id}"
    if task_subset is not None and not (isinstance(task_subset, float) and math.isnan(task_subset)):
        label += f" ({task_subset})"
    return label


def _bars_param() -> alt.Parameter:
    return alt.selection_point(name=BARS_SELECTION, fields=["task_id", "rank"])


def _brush_param() -> alt.Parameter:
    return alt.selection_interval(name=BRUSH_SELECTION, encodings=["x"])


def _score_domain(frame: pd.DataFrame) -> list[float] | None:
    """A score axis a little wider than the scores, so the lowest bar is still visible.

    LogME scores are often all negative and close together: bars from zero would all look the
    same, so bars start at the left edge of this domain instead.
    """
    scores = frame["score"].dropna()
    if scores.empty:
        return None
    low, high = float(scores.min()), float(scores.max())
    pad = (high - low) * 0.08 or max(abs(low) * 0.05, 0.05)
    return [low - pad, high + pad / 4]


def _label_extent(top: pd.DataFrame) -> int:
    """About how many pixels the y labels of ``top`` need (Vega's default 10 px font)."""
    longest = max((len(str(label)) for label in top.get("label", [])), default=0)
    return int(min(LABEL_LIMIT, 6 * longest + 8))


def _top_labels(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """The best ``k`` rows, by rank, with their bar labels."""
    top = frame.nsmallest(max(int(k), 0), "rank") if len(frame) else frame
    top = top.sort_values("rank", kind="stable").copy()
    top["label"] = [
        bar_label(r, t, s)
        for r, t, s in zip(top["rank"], top["task_id"], top["task_subset"], strict=True)
    ]
    return top


def _top_scores(
    frame: pd.DataFrame,
    k: int,
    bars: alt.Parameter,
    brush: alt.Parameter | None,
    domain: list[float] | None,
) -> alt.Chart:
    top = _top_labels(frame, k)
    # Bars start at the left edge of the axis, not at zero (see _score_domain).
    top["baseline"] = domain[0] if domain else 0.0
    columns = [c for c in FRAME_COLUMNS if c != "hub_url"] + ["label", "baseline"]
    scale = alt.Scale(zero=False, domain=domain) if domain else alt.Scale(zero=False)
    color = alt.when(bars).then(alt.value(SELECTED_COLOR)).otherwise(alt.value(UNSELECTED_COLOR))
    encoding: dict[str, Any] = {
        "y": alt.Y(
            "label:N",
            sort=list(top["label"]),
            title=None,
            axis=alt.Axis(labelLimit=LABEL_LIMIT, minExtent=_label_extent(top)),
        ),
        "x": alt.X("score:Q", scale=scale, title="ESM-LogME score (higher is better)"),
        "x2": alt.X2("baseline"),
        "color": color,
        "tooltip": _tooltips(),
    }
    if brush is not None:
        # Bars outside the brushed score range fade, so both selections read together.
        encoding["opacity"] = alt.when(brush).then(alt.value(1.0)).otherwise(alt.value(0.35))
    return (
        alt.Chart(_inline(top, columns))
        .mark_bar(cursor="pointer")
        .encode(**encoding)
        .add_params(bars)
        .properties(
            title=f"Top {len(top)} of {len(frame)} intermediate datasets",
            width=CHART_WIDTH,
            height=max(BAR_HEIGHT * len(top), BAR_HEIGHT),
        )
    )


def top_scores_chart(frame: TaskRanking | pd.DataFrame, k: int = 10) -> alt.Chart:
    """Horizontal bars of the ``k`` best scores, best at the top.

    Bars carry tooltips with every column and a point selection named ``"bars"`` on
    ``task_id`` and ``rank``; selected bars stay dark, the others turn light.
    """
    frame = _frame(frame)
    return _top_scores(frame, k, _bars_param(), None, _score_domain(frame))


def _distribution(
    frame: pd.DataFrame,
    brush: alt.Parameter,
    bars: alt.Parameter | None,
    domain: list[float] | None,
    label_extent: int = 0,
) -> alt.LayerChart:
    columns = [c for c in FRAME_COLUMNS if c != "hub_url"]
    scale = alt.Scale(zero=False, domain=domain) if domain else alt.Scale(zero=False)
    # Fewer, wider bins for small pools, so that a handful of ESMs still reads as a histogram.
    maxbins = int(min(30, max(6, len(frame) // 3)))
    bins = alt.Bin(maxbins=maxbins, extent=domain) if domain else alt.Bin(maxbins=maxbins)
    x = alt.X("score:Q", bin=bins, scale=scale, title="ESM-LogME score of every ESM in the pool")
    # No axis title and a y-axis as wide as the bar labels above: both plots then start at
    # the same x, so their shared score axis lines up.
    y = alt.Y(
        "count():Q",
        title=None,
        axis=alt.Axis(tickMinStep=1, format="d", minExtent=label_extent),
    )
    base = alt.Chart(_inline(frame, columns))
    # clip: Vega's bins step in round numbers, so the last bin can end past the shared score
    # axis (it would overhang the plot on the right).
    everything = (
        base.mark_bar(color=UNSELECTED_COLOR, clip=True)
        .encode(x=x, y=y, tooltip=[alt.Tooltip("count():Q", title="ESMs")])
        .add_params(brush)
    )
    brushed = (
        base.mark_bar(color=SELECTED_COLOR, clip=True).encode(x=x, y=y).transform_filter(brush)
    )
    layers: list[alt.Chart] = [everything, brushed]
    if bars is not None:
        # Where the clicked bars sit in the whole pool: one red rule per selected ESM.
        layers.append(
            base.mark_rule(color=HIGHLIGHT_COLOR, strokeWidth=2)
            .encode(x=alt.X("score:Q", scale=scale), tooltip=_tooltips())
            .transform_filter({"param": BARS_SELECTION, "empty": False})
        )
    return alt.layer(*layers).properties(
        title=f"Score distribution of all {len(frame)} ESMs (drag to select a range)",
        width=CHART_WIDTH,
        height=120,
    )


def score_distribution_chart(frame: TaskRanking | pd.DataFrame) -> alt.LayerChart:
    """A histogram of every score in the ranking with an interval selection named ``"brush"``.

    Dragging over the histogram selects a score range (the brushed part turns dark).
    """
    frame = _frame(frame)
    return _distribution(frame, _brush_param(), None, _score_domain(frame))


def ranking_chart(
    ranking_or_frame: TaskRanking | pd.DataFrame | None, k: int = 10
) -> alt.VConcatChart:
    """The top-k bars above the score distribution, linked by the ``"bars"`` and ``"brush"``
    selections: brushing fades bars outside the range, clicking bars marks them in the
    distribution. Both views share one score axis."""
    frame = _frame(ranking_or_frame)
    domain = _score_domain(frame)
    bars, brush = _bars_param(), _brush_param()
    return alt.vconcat(
        _top_scores(frame, k, bars, brush, domain),
        _distribution(frame, brush, bars, domain, _label_extent(_top_labels(frame, k))),
        spacing=24,
    ).configure_view(stroke=None)


def selection_values(selections: Any) -> dict[str, Any]:
    """``{"bars": [...], "brush": {...}}`` from a JupyterChart's ``selections`` (or a dict).

    Accepts ``jchart.selections`` (traitlets with ``.value``), the raw ``_vl_selections``
    dict (``{"bars": {"value": ..., "store": ...}}``) or a plain ``{"bars": [...], ...}``.
    """
    out: dict[str, Any] = {BARS_SELECTION: [], BRUSH_SELECTION: {}}
    for name in (BARS_SELECTION, BRUSH_SELECTION):
        if isinstance(selections, Mapping):
            value = selections.get(name)
        else:
            value = getattr(selections, name, None)
        if value is not None and hasattr(value, "value"):
            value = value.value
        if isinstance(value, Mapping) and "value" in value and "store" in value:
            value = value["value"]  # raw Vega signal
        if name == BARS_SELECTION and isinstance(value, Mapping):
            value = value.get("vlPoint", {}).get("or", [])
        if value:
            out[name] = value
    return out


def filter_frame(frame: pd.DataFrame, selections: Any) -> pd.DataFrame:
    """The rows of a tidy ranking frame picked by the chart's selections.

    Selected bars keep their rows (matched by rank, else task id); a brush keeps the rows whose
    score lies in its range; with both, rows must satisfy both; with neither, every row stays.
    """
    values = selection_values(selections)
    keep = pd.Series(True, index=frame.index)
    points = values[BARS_SELECTION]
    if points:
        # Vega sends numbers as JSON: a rank may arrive as 3 or 3.0.
        ranks = {int(p["rank"]) for p in points if p.get("rank") is not None}
        if ranks:
            keep &= frame["rank"].isin(ranks).fillna(False).astype(bool)
        else:
            keep &= frame["task_id"].isin({p.get("task_id") for p in points})
    interval = values[BRUSH_SELECTION]
    score_range = interval.get("score") if isinstance(interval, Mapping) else None
    if score_range:
        low, high = min(score_range), max(score_range)
        keep &= frame["score"].between(low, high)
    return frame[keep]


# --- ranking quality (EvaluationReport) --------------------------------------------------------

EVALUATION_COLUMNS = ("ranker", "kind", "mean", "low", "high")
"""The columns of :func:`evaluation_frame`, in order; ``kind`` is ``"ranker"`` or ``"baseline"``."""

_METRIC_TITLES = {
    "spearman": "Spearman correlation with real transfer",
    "kendall": "Kendall's tau with real transfer",
    "regret": "regret@{k} (% of the best score lost)",
    "ndcg": "NDCG@{k}",
    "hit": "top-{k} hit rate (the best source in the top {k})",
}
# Metrics whose random baseline sits at zero: a rule at 0 marks "no better than chance".
_CENTRED_AT_ZERO = ("spearman", "kendall")


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is better (``regret@k``; every other metric of the
    report is better when higher)."""
    return metric.split("@", 1)[0] == "regret"


def metric_title(metric: str) -> str:
    """A readable name of a report metric: ``"regret@3"`` -> ``"regret@3 (% of the best ...)"``."""
    name, _, k = metric.partition("@")
    return _METRIC_TITLES.get(name, metric).format(k=k)


def _metric_tables(report: EvaluationReport | Mapping, versus_static: bool = False) -> Mapping:
    """``{ranker: {metric: MetricSummary}}`` of a report (or such a mapping itself)."""
    if isinstance(report, Mapping):
        return report
    return report.versus_static if versus_static else report.rankers


def _check_metric(tables: Mapping, metric: str) -> None:
    known = sorted({name for summaries in tables.values() for name in summaries})
    if not known:
        raise ValueError("The report has no rankers to chart.")
    if metric not in known:
        raise ValueError(f"Unknown metric {metric!r}: the report has {', '.join(known)}.")


def _is_baseline(name: str) -> bool:
    from hfselect_widgets.engine.evaluation.report import RANDOM, STATIC_SCORE, STATIC_TRANSFER

    return name in (RANDOM, STATIC_SCORE, STATIC_TRANSFER) or name.startswith("static")


def _sorted_best_first(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    ascending = lower_is_better(metric)
    frame = frame.sort_values(["mean", "ranker"], ascending=[ascending, True], kind="stable")
    return frame.reset_index(drop=True)


def evaluation_frame(
    report: EvaluationReport | Mapping, metric: str = "spearman", *, versus_static: bool = False
) -> pd.DataFrame:
    """One row per ranker of one metric of a report, best first: ``EVALUATION_COLUMNS``.

    ``report`` is an :class:`~hfselect_widgets.engine.evaluation.EvaluationReport` (or its
    ``rankers`` mapping, ``{ranker: {metric: MetricSummary}}``); with ``versus_static=True``
    the rows are the paired differences to the static baseline (``report.versus_static``).
    Raises ``ValueError`` naming the report's metrics when it has no ``metric``.
    """
    tables = _metric_tables(report, versus_static)
    _check_metric(tables, metric)
    rows = [
        {
            "ranker": name,
            "kind": "baseline" if _is_baseline(name) else "ranker",
            "mean": float(summaries[metric].mean),
            "low": float(summaries[metric].low),
            "high": float(summaries[metric].high),
        }
        for name, summaries in tables.items()
        if metric in summaries
    ]
    return _sorted_best_first(pd.DataFrame(rows, columns=list(EVALUATION_COLUMNS)), metric)


def _kind_color(legend: bool = True) -> alt.Color:
    return alt.Color(
        "kind:N",
        scale=alt.Scale(domain=["ranker", "baseline"], range=[SELECTED_COLOR, BASELINE_COLOR]),
        legend=alt.Legend(title=None, orient="bottom") if legend else None,
    )


def _better(metric: str) -> str:
    return "lower is better" if lower_is_better(metric) else "higher is better"


def evaluation_chart(
    report: EvaluationReport | Mapping, metric: str = "spearman", *, versus_static: bool = False
) -> alt.LayerChart:
    """Every ranker's mean of ``metric`` as a point with its bootstrap interval as a rule.

    Rankers are sorted best first (top); the baselines (random, static) are muted grey; a rule
    at 0 marks chance for Spearman and Kendall (and "no difference" with ``versus_static``);
    the title says whether higher or lower is better (regret: lower). Tooltips show the mean
    and the interval. ``versus_static=True`` charts the paired differences to the static
    baseline instead (an interval that excludes 0 is a real difference).
    """
    frame = evaluation_frame(report, metric, versus_static=versus_static)
    order = list(frame["ranker"])
    title, subtitle = metric_title(metric), "best first; grey: the baselines"
    x_title = f"{metric} (mean over targets, 95% interval)"
    if versus_static:
        from hfselect_widgets.engine.evaluation.report import STATIC_SCORE

        title = f"{metric}, ranker minus {STATIC_SCORE}"
        subtitle = "best first; paired intervals: one that spans 0 is no clear difference"
        x_title = f"{metric} difference (mean over targets, paired 95% interval)"
    y = alt.Y(
        "ranker:N",
        sort=order,
        title=None,
        axis=alt.Axis(
            labelLimit=LABEL_LIMIT,
            minExtent=_label_extent(pd.DataFrame({"label": order})),
        ),
    )
    # Every layer's x has the same title (Vega-Lite would join differing ones).
    x = alt.X("mean:Q", title=x_title, scale=alt.Scale(zero=False))
    tooltip = [
        alt.Tooltip("ranker:N", title="Ranker"),
        alt.Tooltip("mean:Q", title="Mean", format=".3f"),
        alt.Tooltip("low:Q", title="Interval low", format=".3f"),
        alt.Tooltip("high:Q", title="Interval high", format=".3f"),
        alt.Tooltip("kind:N", title="Kind"),
    ]
    color = _kind_color(legend=not versus_static)  # the differences have no baselines
    base = alt.Chart(_inline(frame, list(EVALUATION_COLUMNS)))
    layers: list[alt.Chart] = [
        base.mark_rule(strokeWidth=2).encode(
            y=y,
            x=alt.X("low:Q", title=x_title),
            x2=alt.X2("high"),
            color=color,
            tooltip=tooltip,
        ),
        base.mark_point(filled=True, size=70, opacity=1).encode(
            y=y, x=x, color=color, tooltip=tooltip
        ),
    ]
    if versus_static or metric.split("@", 1)[0] in _CENTRED_AT_ZERO:
        zero = alt.Chart(alt.InlineData(values=[{"zero": 0.0}]))
        rule = zero.mark_rule(color="black", strokeDash=[4, 3])
        layers.insert(0, rule.encode(x=alt.X("zero:Q", title=x_title)))
    return alt.layer(*layers).properties(
        title=alt.Title(f"{title}: {_better(metric)}", subtitle=subtitle),
        width=CHART_WIDTH,
        height=max(BAR_HEIGHT * len(frame), BAR_HEIGHT),
    )


TARGET_COLUMNS = ("ranker", "kind", "target", "value", "mean")
"""The columns of :func:`evaluation_target_frame`, in order."""


def evaluation_target_frame(
    report: EvaluationReport | Mapping, metric: str = "spearman"
) -> pd.DataFrame:
    """One row per ranker and target: the target's value of ``metric`` (``per_target``) beside
    the ranker's mean, rankers best first (as in :func:`evaluation_chart`)."""
    tables = _metric_tables(report)
    order = evaluation_frame(tables, metric)
    rows = [
        {
            "ranker": name,
            "kind": kind,
            "target": target,
            "value": float(value),
            "mean": float(mean),
        }
        for name, kind, mean in zip(order["ranker"], order["kind"], order["mean"], strict=True)
        for target, value in tables[name][metric].per_target.items()
    ]
    return pd.DataFrame(rows, columns=list(TARGET_COLUMNS))


def _target_scale(metric: str, values: pd.Series) -> tuple[alt.Scale, pd.Series]:
    """Blue is good for every metric: diverging around 0 for correlations, reversed for regret.
    Also which cells are dark (their value is written in white)."""
    name = metric.split("@", 1)[0]
    if name in _CENTRED_AT_ZERO:
        return alt.Scale(scheme="redblue", domain=[-1, 1], domainMid=0), values.abs() > 0.6
    if lower_is_better(metric):
        high = max(float(values.max()) if len(values) else 1.0, 1e-9)
        scale = alt.Scale(scheme="blues", domain=[0, high], reverse=True)
        return scale, values / high < 0.35
    return alt.Scale(scheme="blues", domain=[0, 1]), values > 0.65


def evaluation_target_chart(
    report: EvaluationReport | Mapping, metric: str = "spearman"
) -> alt.LayerChart:
    """``metric`` per target and ranker (``per_target``) as a heat map with the values written
    in: rankers on the rows, best mean first, targets on the columns. Blue is good for every
    metric (regret's scale is reversed). Which targets a ranker gets right, and where every
    ranker fails, shows at a glance; tooltips give the value and the ranker's mean."""
    frame = evaluation_target_frame(report, metric)
    ranker_order = list(dict.fromkeys(frame["ranker"]))
    targets = sorted(set(frame["target"]))
    y = alt.Y(
        "ranker:N",
        sort=ranker_order,
        title=None,
        axis=alt.Axis(labelLimit=LABEL_LIMIT),
    )
    x = alt.X("target:N", sort=targets, title="target", axis=alt.Axis(labelAngle=-30))
    tooltip = [
        alt.Tooltip("ranker:N", title="Ranker"),
        alt.Tooltip("target:N", title="Target"),
        alt.Tooltip("value:Q", title=metric, format=".3f"),
        alt.Tooltip("mean:Q", title="Mean over targets", format=".3f"),
    ]
    scale, dark = _target_scale(metric, frame["value"])
    frame = frame.assign(dark=dark.astype(bool))
    base = alt.Chart(_inline(frame, [*TARGET_COLUMNS, "dark"])).encode(x=x, y=y)
    cells = base.mark_rect().encode(
        color=alt.Color("value:Q", scale=scale, title=metric), tooltip=tooltip
    )
    text_color = alt.when(alt.datum.dark).then(alt.value("white")).otherwise(alt.value("black"))
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text("value:Q", format=".2f"), color=text_color, tooltip=tooltip
    )
    return alt.layer(cells, text).properties(
        title=alt.Title(
            f"{metric_title(metric)} per target: {_better(metric)}",
            subtitle="rankers best first (by the mean over targets)",
        ),
        width=max(60 * len(targets), 120),
        height=max(BAR_HEIGHT * len(ranker_order), BAR_HEIGHT),
    )


__all__ = [
    "BARS_SELECTION",
    "BRUSH_SELECTION",
    "EVALUATION_COLUMNS",
    "FRAME_COLUMNS",
    "TARGET_COLUMNS",
    "bar_label",
    "evaluation_chart",
    "evaluation_frame",
    "evaluation_target_chart",
    "evaluation_target_frame",
    "filter_frame",
    "hub_dataset_url",
    "lower_is_better",
    "metric_title",
    "ranking_chart",
    "ranking_frame",
    "score_distribution_chart",
    "selection_values",
    "top_scores_chart",
]
