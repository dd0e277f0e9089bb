"""Altair charts of a ranking: pure functions from a ranking (or its table) to a chart.

The results explorer shows :func:`ranking_chart` in an ``altair.JupyterChart`` and reads two
selections back from it:

* ``"bars"``: a point selection on ``task_id`` and ``rank`` in the top-k bar chart (click a
  bar, shift-click for several, double-click to clear);
* ``"brush"``: an interval selection on ``score`` in the distribution of all scores (drag).

A bootstrapped ranking (``uncertainty=``) gets each bar's rank interval beside the bars, and
the tooltips carry what the ESM configs say about each candidate (description, language,
training rows, every ranker's score; "—" where nothing is recorded). The bars' score axis
starts at a baseline chosen so that it cannot exaggerate small differences (see
:func:`_score_domain`); the histogram is binned here, so 10,000 scores are a few dozen rows.

:func:`evaluation_chart` and :func:`evaluation_target_chart` draw an
:class:`~hfselect_widgets.engine.evaluation.EvaluationReport` (how good the rankings are against
real transfer): one metric per chart, every ranker beside the random and static baselines.

Everything here is display logic only; it never computes a ranking or a metric. The data is
inlined in the spec (no data URLs, no ``max_rows`` limit), so a chart renders offline and saves
with the notebook.
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
    "description",
    "language",
    "size",
    "rank_interval",
    "rank_low",
    "rank_high",
    "p_first",
    "p_top3",
)
"""The columns of :func:`ranking_frame`, in order; each ranker's score follows as a column
``"score (<ranker>)"`` where the ranking recorded several (see :func:`ranker_columns`)."""

RANKER_SCORE_COLUMN = "score ({})"
"""The tidy column of one ranker's score (``TaskRanking.to_pandas()``: ``"Score (<ranker>)"``)."""

MISSING = "\u2014"
"""What a missing value reads as in tooltips and tables (an em dash, never "None" or "null")."""

TOOLTIP_TITLES = {
    "rank": "Rank",
    "task_id": "Task ID",
    "description": "Description",
    "task_subset": "Subset",
    "language": "Language",
    "size": "Training rows",
    "text_column": "Text column(s)",
    "label_column": "Label column",
    "task_split": "Split",
    "score": "Score",
    "rank_interval": "Rank interval",
    "p_first": "P(rank 1)",
    "p_top3": "P(top 3)",
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
    "Rank Interval": "rank_interval",
    "P(Rank 1)": "p_first",
    "P(Top 3)": "p_top3",
    "Description": "description",
    "Language": "language",
}
_RANKER_SCORE = re.compile(r"^[Ss]core \((.+)\)$")

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


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in ("", "none", "null", "nan")


def display_value(value: Any, number_format: str | None = None) -> str:
    """``value`` as a person reads it: :data:`MISSING` for a missing value (``None``, NaN, an
    empty or ``"None"``/``"null"`` string), several text columns as ``"a, b"``, numbers in
    ``number_format`` (e.g. ``",d"``, ``".2f"``)."""
    if not isinstance(value, (list, tuple, np.ndarray)) and _is_missing(value):
        return MISSING
    if number_format and isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        if number_format.endswith("d"):
            value = int(value)
        return format(value, number_format)
    return _as_text(value) or MISSING


def ranker_columns(frame: pd.DataFrame) -> list[str]:
    """The tidy frame's per-ranker score columns (``"score (<ranker>)"``), in order."""
    return [c for c in frame.columns if isinstance(c, str) and _RANKER_SCORE.match(c)]


def ranker_of(column: str) -> str:
    """The ranker of a per-ranker score column: ``"score (knn)"`` -> ``"knn"``."""
    match = _RANKER_SCORE.match(column)
    return match[1] if match else column


def _config_fields(frame: pd.DataFrame, ranking: TaskRanking) -> pd.DataFrame:
    """What the ESM configs say about each candidate that ``to_pandas()`` leaves out: its
    description, language, training rows, rank interval and every ranker's score."""
    configs = ranking.esm_configs
    frame["description"] = [c.get("dataset_description") for c in configs]
    frame["language"] = [c.language for c in configs]
    # The rows the ESM's fine-tune saw: ours record num_train_examples, hfselect's num_examples.
    frame["size"] = [
        c.get("num_train_examples") if c.get("num_train_examples") is not None else c.num_examples
        for c in configs
    ]
    if any(c.rank_interval for c in configs):
        for key in ("rank_low", "rank_high", "p_first", "p_top3"):
            frame[key] = [(c.rank_interval or {}).get(key) for c in configs]
    names = list(dict.fromkeys(name for c in configs for name in (c.ranker_scores or {})))
    # One ranker's score alone is the Score column again: show them when there are several.
    if names and names != [ranking.ranker]:
        for name in names:
            frame[RANKER_SCORE_COLUMN.format(name)] = [
                (c.ranker_scores or {}).get(name, float("nan")) for c in configs
            ]
    return frame


def _interval_bounds(label: Any) -> tuple[float, float]:
    """``"1-3"`` -> ``(1, 3)``, ``"2"`` -> ``(2, 2)``; anything else -> NaNs."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[-\u2013]\s*(\d+))?\s*", str(label)) if label else None
    if not match:
        return float("nan"), float("nan")
    low = float(match[1])
    return low, float(match[2]) if match[2] else low


def ranking_frame(ranking: TaskRanking | pd.DataFrame | None) -> pd.DataFrame:
    """A tidy table of a ranking: one row per ESM, sorted by rank, columns ``FRAME_COLUMNS``
    followed by the per-ranker score columns (:func:`ranker_columns`), if any.

    Accepts a :class:`TaskRanking`, its ``to_pandas()`` table (indexed by Rank or with a Rank
    column, with or without ``ESM Repo ID``), an already tidy frame, or ``None`` (an empty
    frame). ``text_column`` holds text (several columns joined with ``", "``) and ``hub_url``
    the dataset's Hub page where ``task_id`` looks like a Hub id. From a ranking the frame also
    carries each candidate's ``description`` (ESM config ``dataset_description``),
    ``language`` and ``size`` (the rows its fine-tune saw); where the ranking was bootstrapped,
    its ``rank_interval`` (``"1-3"``), ``rank_low``/``rank_high``, ``p_first`` and ``p_top3``.
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
        # The configs say it all (to_pandas shows ranker scores only for some rankers).
        frame = frame.drop(columns=[c for c in frame.columns if _RANKER_SCORE.match(str(c))])
        frame = _config_fields(frame, ranking)
    frame = frame.rename(
        columns={
            c: RANKER_SCORE_COLUMN.format(_RANKER_SCORE.match(c)[1])
            for c in frame.columns
            if isinstance(c, str) and _RANKER_SCORE.match(c)
        }
    )
    if "score" not in frame.columns or "task_id" not in frame.columns:
        raise ValueError(
            "A ranking table needs 'Task ID' and 'Score' columns (from TaskRanking.to_pandas())."
        )
    if "rank" not in frame.columns:
        frame = frame.sort_values("score", ascending=False, kind="stable")
        frame["rank"] = range(1, len(frame) + 1)
    if "size" not in frame.columns and "num_examples" in frame.columns:
        frame["size"] = frame["num_examples"]
    for column in FRAME_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    if frame["rank_low"].isna().all() and frame["rank_interval"].notna().any():
        bounds = [_interval_bounds(v) for v in frame["rank_interval"]]
        frame["rank_low"] = [b[0] for b in bounds]
        frame["rank_high"] = [b[1] for b in bounds]
    frame["text_column"] = [_as_text(v) for v in frame["text_column"]]
    frame["hub_url"] = [hub_dataset_url(t) for t in frame["task_id"]]
    numeric = ["score", "rank_low", "rank_high", "p_first", "p_top3", *ranker_columns(frame)]
    for column in numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in ("rank", "num_examples", "size"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    if frame["rank_interval"].isna().all() and frame["rank_low"].notna().any():
        frame["rank_interval"] = [
            None if pd.isna(low) else (f"{low:.0f}" if low == high else f"{low:.0f}-{high:.0f}")
            for low, high in zip(frame["rank_low"], frame["rank_high"], strict=True)
        ]
    frame = frame.sort_values("rank", kind="stable").reset_index(drop=True)
    return frame[[*FRAME_COLUMNS, *ranker_columns(frame)]]


def _frame(data: TaskRanking | pd.DataFrame | None) -> pd.DataFrame:
    """``data`` as a tidy frame; a frame that is tidy already is used as it is."""
    if isinstance(data, pd.DataFrame) and set(FRAME_COLUMNS) <= set(data.columns):
        return data
    return ranking_frame(data)


def has_intervals(frame: pd.DataFrame) -> bool:
    """Whether the ranking carries rank intervals (a bootstrap over the target rows)."""
    return "rank_low" in frame.columns and bool(frame["rank_low"].notna().any())


def inseparable_top(frame: pd.DataFrame) -> int:
    """The last rank that cannot be told apart from rank 1: ``n >= 2`` when rank 1's interval
    overlaps another's (ranks 1-n: every candidate whose interval reaches into rank 1's, and
    as far as rank 1's own interval goes), ``1`` when rank 1 stands apart, ``0`` when the
    ranking has no intervals."""
    if frame.empty or not has_intervals(frame):
        return 0
    rows = frame.dropna(subset=["rank_low", "rank_high"])
    first = rows[rows["rank"] == 1]
    if first.empty:
        return 0
    reach = max(float(first["rank_high"].iloc[0]), 1.0)
    overlapping = rows.loc[rows["rank_low"] <= reach, "rank"]
    return int(max(reach, float(overlapping.max())))


def score_title(ranker: str | None = None) -> str:
    """The score axis title of ``ranker``'s score, e.g. ``"ESM-LogME score (higher is
    better)"`` (:func:`~hfselect_widgets.engine.scoring.explain.score_axis_label`; ``None``:
    ESM-LogME, what a ranking without a recorded ranker holds)."""
    from hfselect_widgets.engine.scoring.explain import score_axis_label

    return score_axis_label(ranker or "esm-logme")


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


def _tooltip_fields(frame: pd.DataFrame) -> list[tuple[str, str, str | None]]:
    """``(frame column, title, number format)`` of every tooltip line, in order: the rank
    interval lines only for a bootstrapped ranking, one line per ranker where there are several."""
    fields: list[tuple[str, str, str | None]] = [
        ("rank", TOOLTIP_TITLES["rank"], None),
        ("task_id", TOOLTIP_TITLES["task_id"], None),
        ("description", TOOLTIP_TITLES["description"], None),
        ("task_subset", TOOLTIP_TITLES["task_subset"], None),
        ("language", TOOLTIP_TITLES["language"], None),
        ("size", TOOLTIP_TITLES["size"], ",d"),
        ("text_column", TOOLTIP_TITLES["text_column"], None),
        ("label_column", TOOLTIP_TITLES["label_column"], None),
        ("task_split", TOOLTIP_TITLES["task_split"], None),
        ("score", TOOLTIP_TITLES["score"], ".6f"),
    ]
    fields += [(c, f"Score ({ranker_of(c)})", ".4f") for c in ranker_columns(frame)]
    if has_intervals(frame):
        fields += [
            ("rank_interval", TOOLTIP_TITLES["rank_interval"], None),
            ("p_first", TOOLTIP_TITLES["p_first"], ".2f"),
            ("p_top3", TOOLTIP_TITLES["p_top3"], ".2f"),
        ]
    fields.append(("repo_id", TOOLTIP_TITLES["repo_id"], None))
    return fields


def _tooltip_key(index: int) -> str:
    return f"tip_{index}"


def _with_tooltips(top: pd.DataFrame, fields: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    """``top`` plus one display string per tooltip line (missing values read :data:`MISSING`,
    never "null": Vega's tooltip prints a null as "null")."""
    top = top.copy()
    for index, (column, _title, number_format) in enumerate(fields):
        top[_tooltip_key(index)] = [display_value(v, number_format) for v in top[column]]
    return top


def _tooltips(fields: list[tuple[str, str, str | None]]) -> list[alt.Tooltip]:
    return [
        alt.Tooltip(field=_tooltip_key(index), type="nominal", title=title)
        for index, (_column, title, _format) in enumerate(fields)
    ]


def bar_label(rank: Any, task_id: Any, task_subset: Any = None) -> str:
    """The y-axis label of a bar: ``"3. org/name (subset)"`` (no subset: ``"3. org/name"``)."""
    label = f"{rank}. {task_id}"
    if not _is_missing(task_subset):
        label += f" ({task_subset})"
    return label


def _bars_param() -> alt.Parameter:
    return alt.selection_point(name=BARS_SELECTION, fields=["task_id", "rank"])


def _brush_param() -> alt.Parameter:
    return alt.selection_interval(name=BRUSH_SELECTION, encodings=["x"])


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 (times a power of ten) that is at least ``raw``."""
    if not raw > 0 or not math.isfinite(raw):
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if factor * power >= raw * (1 - 1e-9):
            return factor * power
    return 10.0 * power  # pragma: no cover - the loop always returns


MIN_BAR_PAD = 0.05
"""The least room (in score units) below the lowest bar shown, see :func:`_score_domain`."""
MIN_BAR_PAD_FRACTION = 0.05
"""... and at least this share of the largest absolute score."""
TINY_SPREAD = 0.1
"""A spread of the shown scores below this (in score units) gets a note in the subtitle."""


def _score_domain(frame: pd.DataFrame) -> list[float] | None:
    """The score axis of the top-k bars: ``[baseline, right edge]``; bars start at the baseline.

    LogME scores have no meaningful zero (they are often all negative and close together), so
    bars from zero would all look the same, and bars from just left of the lowest score (as
    this chart once drew them) turn a spread of 0.039 into bars from 8 px to 420 px. The
    baseline here sits below the lowest score shown by at least the whole spread of the scores
    shown (and at least MIN_BAR_PAD, or MIN_BAR_PAD_FRACTION of the largest absolute score,
    for a spread near zero), rounded down to a round number. So the lowest bar is always at
    least half as long as the best one: a bar's length never suggests a gap many times the
    real one, while close scores still read as close. The axis is titled "... score (higher is
    better)" and the subtitle states the spread and the baseline, so the truncated axis is
    visible, not hidden.
    """
    scores = frame["score"].dropna()
    if scores.empty:
        return None
    low, high = float(scores.min()), float(scores.max())
    pad = max(high - low, MIN_BAR_PAD, MIN_BAR_PAD_FRACTION * max(abs(low), abs(high)))
    step = _nice_step((high - low + pad) / 4)
    baseline = math.floor((low - pad) / step) * step
    return [baseline, high + (high - baseline) * 0.02]


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


ZERO_IS_CHANCE = frozenset({"logme-permutation"})
"""Rankers whose score 0 means "no better than shuffled labels": their bars start at 0."""


def _chance_domain(frame: pd.DataFrame) -> list[float] | None:
    """The score axis of a ranker whose zero means chance: it spans 0 and every score shown,
    so each bar is drawn from 0 and its length is the gain over shuffled labels (negative
    ones point left)."""
    scores = frame["score"].dropna()
    if scores.empty:
        return None
    low, high = min(float(scores.min()), 0.0), max(float(scores.max()), 0.0)
    pad = 0.02 * ((high - low) or 1.0)
    return [low - pad if low < 0 else 0.0, high + pad]


def _spread_subtitle(
    top: pd.DataFrame, domain: list[float] | None, zero_is_chance: bool = False
) -> list[str]:
    scores = top["score"].dropna()
    if len(scores) < 2 or domain is None:
        return []
    spread = float(scores.max() - scores.min())
    if zero_is_chance:
        start = "bars start at 0 (no better than shuffled labels)"
    else:
        start = f"bars start at {domain[0]:g}" + (", not at 0" if domain[0] else "")
    lines = [f"the {len(scores)} scores shown span {spread:.2g}; {start}"]
    if spread < TINY_SPREAD:
        lines.append("a spread this small can change with another sample of the target rows")
    return lines


def _bar_y(top: pd.DataFrame, labels: bool = True) -> alt.Y:
    axis = alt.Axis(labelLimit=LABEL_LIMIT, minExtent=_label_extent(top)) if labels else None
    return alt.Y("label:N", sort=list(top["label"]), title=None, axis=axis)


def _top_scores(
    frame: pd.DataFrame,
    k: int,
    bars: alt.Parameter,
    brush: alt.Parameter | None,
    title: str | None = None,
    ranker: str | None = None,
) -> tuple[alt.Chart, pd.DataFrame, list[tuple[str, str, str | None]]]:
    top = _top_labels(frame, k)
    zero_is_chance = ranker in ZERO_IS_CHANCE
    # Bars start at chance (0) for such a ranker, else at the baseline of the axis, not at
    # zero (see _score_domain).
    domain = _chance_domain(top) if zero_is_chance else _score_domain(top)
    top["baseline"] = domain[0] if domain and not zero_is_chance else 0.0
    fields = _tooltip_fields(frame)
    top = _with_tooltips(top, fields)
    columns = ["rank", "task_id", "label", "score", "baseline", "rank_low", "rank_high"]
    columns += [_tooltip_key(i) for i in range(len(fields))]
    scale = alt.Scale(zero=False, nice=False, domain=domain) if domain else alt.Scale(zero=False)
    color = alt.when(bars).then(alt.value(SELECTED_COLOR)).otherwise(alt.value(UNSELECTED_COLOR))
    encoding: dict[str, Any] = {
        "y": _bar_y(top),
        "x": alt.X("score:Q", scale=scale, title=title or score_title(ranker)),
        "x2": alt.X2("baseline"),
        "color": color,
        "tooltip": _tooltips(fields),
    }
    if brush is not None:
        # Bars outside the brushed score range fade, so both selections read together.
        encoding["opacity"] = alt.when(brush).then(alt.value(1.0)).otherwise(alt.value(0.35))
    chart = (
        alt.Chart(_inline(top, columns))
        .mark_bar(cursor="pointer")
        .encode(**encoding)
        .add_params(bars)
        .properties(
            title=alt.Title(
                f"Top {len(top)} of {len(frame):,} intermediate datasets",
                subtitle=_spread_subtitle(top, domain, zero_is_chance),
            ),
            width=CHART_WIDTH,
            height=max(BAR_HEIGHT * len(top), BAR_HEIGHT),
        )
    )
    return chart, top, fields


INTERVAL_WIDTH = 170


def _rank_intervals(top: pd.DataFrame, fields: list[tuple[str, str, str | None]]) -> alt.LayerChart:
    """Beside the bars, on the same rows: each candidate's rank interval under the bootstrap
    (a rule from its lowest to its highest rank) and its rank (a dot)."""
    shown = top.dropna(subset=["rank_low", "rank_high"])
    last = int(max(shown["rank_high"].max(), shown["rank"].max(), 2)) if len(shown) else 2
    step = max(1, int(_nice_step(last / 6)))
    scale = alt.Scale(domain=[0.5, last + 0.5], nice=False, zero=False)
    # Ticks at 1 and at round ranks (1, 5, 10, ... rather than 1, 6, 11, ...).
    ticks = sorted({1, *range(step, last + 1, step)}) if step > 1 else list(range(1, last + 1))
    axis = alt.Axis(values=ticks, format="d", grid=True)
    x_title = "Rank interval (bootstrap)"
    columns = ["rank", "task_id", "label", "rank_low", "rank_high"]
    columns += [_tooltip_key(i) for i in range(len(fields))]
    base = alt.Chart(_inline(top, columns))
    tooltip = _tooltips(fields)
    y = _bar_y(top, labels=False)
    interval = base.mark_rule(strokeWidth=4, color=SELECTED_COLOR, strokeCap="round").encode(
        y=y,
        x=alt.X("rank_low:Q", scale=scale, axis=axis, title=x_title),
        x2=alt.X2("rank_high"),
        tooltip=tooltip,
    )
    point = base.mark_point(filled=True, color="black", size=30, opacity=1).encode(
        y=y, x=alt.X("rank:Q", scale=scale, axis=axis, title=x_title), tooltip=tooltip
    )
    return alt.layer(interval, point).properties(
        title=alt.Title("How sure", subtitle=["ranks under resampling", "of the target rows"]),
        width=INTERVAL_WIDTH,
        height=max(BAR_HEIGHT * len(top), BAR_HEIGHT),
    )


def top_scores_chart(frame: TaskRanking | pd.DataFrame, k: int = 10) -> alt.Chart:
    """Horizontal bars of the ``k`` best scores, best at the top.

    Bars carry tooltips (the candidate's description, size, language, every ranker's score,
    its rank interval; missing values read "—") and a point selection named ``"bars"`` on
    ``task_id`` and ``rank``; selected bars stay dark, the others turn light.
    """
    ranker = frame.metadata.get("ranker") if hasattr(frame, "metadata") else None
    return _top_scores(_frame(frame), k, _bars_param(), None, ranker=ranker)[0]


HISTOGRAM_MAX_BINS = 30


def histogram_bins(
    scores: Any, max_bins: int = HISTOGRAM_MAX_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """``(edges, counts)`` of a histogram of ``scores`` with round bin edges and at most about
    ``max_bins`` bins (fewer for small pools, so a handful of ESMs still reads as one)."""
    values = np.asarray(pd.to_numeric(pd.Series(scores), errors="coerce").dropna(), dtype=float)
    if values.size == 0:
        return np.array([0.0, 1.0]), np.array([0])
    bins = int(min(max_bins, max(6, values.size // 3)))
    low, high = float(values.min()), float(values.max())
    spread = high - low
    step = _nice_step(spread / bins if spread > 0 else max(abs(low) * 0.01, 1e-3))
    start = math.floor(low / step) * step
    count = max(1, math.ceil((high - start) / step - 1e-9))
    if start + count * step < high:
        count += 1
    edges = start + step * np.arange(count + 1)
    counts, _ = np.histogram(values, bins=edges)
    return edges, counts


def _count_axis_values(top: int) -> list[int]:
    """Whole-number ticks 0..top for the count axis (no "1, 1, 2, 2" from rounded halves)."""
    step = max(1, int(math.ceil(_nice_step(max(top, 1) / 4))))
    return list(range(0, max(top, 1) + step, step))


def _distribution(
    frame: pd.DataFrame,
    brush: alt.Parameter,
    bars: alt.Parameter | None,
    label_extent: int = 0,
    top: pd.DataFrame | None = None,
    fields: list[tuple[str, str, str | None]] | None = None,
    title: str | None = None,
) -> alt.LayerChart:
    """A histogram of every score (binned here: some 30 rows of data, whatever the pool's size;
    10,000 inlined scores made the chart spec slow to build and to send)."""
    edges, counts = histogram_bins(frame["score"])
    bins = pd.DataFrame(
        {
            "score": edges[:-1],
            "score_end": edges[1:],
            "count": counts,
            "range": [f"{a:.4g} to {b:.4g}" for a, b in zip(edges[:-1], edges[1:], strict=True)],
        }
    )
    ticks = _count_axis_values(int(counts.max()) if counts.size else 1)
    # The scores' own range: the histogram needs no baseline (its bars' heights are counts).
    scale = alt.Scale(domain=[float(edges[0]), float(edges[-1])], nice=False, zero=False)
    x = alt.X(
        "score:Q",
        scale=scale,
        title=(title or score_title()).replace(" (higher is better)", "") + " of every ESM",
    )
    # No axis title and a y-axis as wide as the bar labels above: both plots then start at
    # the same x.
    y = alt.Y(
        "count:Q",
        title=None,
        scale=alt.Scale(domain=[0, ticks[-1]], nice=False),
        axis=alt.Axis(values=ticks, format="d", minExtent=label_extent),
    )
    tooltip = [
        alt.Tooltip("range:N", title="Scores"),
        alt.Tooltip("count:Q", title="ESMs", format=",d"),
    ]
    base = alt.Chart(_inline(bins, list(bins.columns)))
    everything = (
        base.mark_rect(color=UNSELECTED_COLOR, stroke="white", strokeWidth=0.5)
        .encode(x=x, x2=alt.X2("score_end"), y=y, y2=alt.datum(0), tooltip=tooltip)
        .add_params(brush)
    )
    brushed = (
        base.mark_rect(color=SELECTED_COLOR, stroke="white", strokeWidth=0.5)
        .encode(x=x, x2=alt.X2("score_end"), y=y, y2=alt.datum(0), tooltip=tooltip)
        .transform_filter(brush)
    )
    layers: list[alt.Chart] = [everything, brushed]
    if bars is not None and top is not None and fields is not None:
        # Where the clicked bars sit in the whole pool: one red rule per selected ESM (only a
        # top-k bar can be clicked, so the top-k rows are all this layer needs).
        columns = ["rank", "task_id", "score", *(_tooltip_key(i) for i in range(len(fields)))]
        layers.append(
            alt.Chart(_inline(top, columns))
            .mark_rule(color=HIGHLIGHT_COLOR, strokeWidth=2)
            .encode(x=alt.X("score:Q", scale=scale), tooltip=_tooltips(fields))
            .transform_filter({"param": BARS_SELECTION, "empty": False})
        )
    return alt.layer(*layers).properties(
        title=f"Score distribution of all {len(frame):,} ESMs (drag to select a range)",
        width=CHART_WIDTH,
        height=120,
    )


def score_distribution_chart(frame: TaskRanking | pd.DataFrame) -> alt.LayerChart:
    """A histogram of every score in the ranking with an interval selection named ``"brush"``.

    Dragging over the histogram selects a score range (the brushed part turns dark).
    """
    frame = _frame(frame)
    return _distribution(frame, _brush_param(), None)


def ranking_chart(
    ranking_or_frame: TaskRanking | pd.DataFrame | None,
    k: int = 10,
    *,
    ranker: str | None = None,
) -> alt.VConcatChart:
    """The top-k bars above the score distribution of the whole pool, linked by the ``"bars"``
    and ``"brush"`` selections: brushing fades bars outside the range, clicking bars marks them
    in the distribution. A bootstrapped ranking gets each bar's rank interval beside it.

    ``ranker`` names the score in the axis titles (default: the ranking's own ranker, else
    ESM-LogME). The bars' axis starts at a baseline explained in :func:`_score_domain`, or at
    0 for a score whose zero means chance (:data:`ZERO_IS_CHANCE`); the
    histogram spans the scores themselves.
    """
    if ranker is None and ranking_or_frame is not None and hasattr(ranking_or_frame, "metadata"):
        ranker = ranking_or_frame.metadata.get("ranker")
    title = score_title(ranker)
    frame = _frame(ranking_or_frame)
    bars, brush = _bars_param(), _brush_param()
    top_chart, top, fields = _top_scores(frame, k, bars, brush, title, ranker)
    upper: alt.Chart | alt.HConcatChart = top_chart
    if has_intervals(top):
        upper = alt.hconcat(top_chart, _rank_intervals(top, fields), spacing=12)
    return alt.vconcat(
        upper,
        _distribution(frame, brush, bars, _label_extent(top), top, fields, title),
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
    "MISSING",
    "RANKER_SCORE_COLUMN",
    "TARGET_COLUMNS",
    "bar_label",
    "display_value",
    "evaluation_chart",
    "evaluation_frame",
    "evaluation_target_chart",
    "evaluation_target_frame",
    "filter_frame",
    "has_intervals",
    "histogram_bins",
    "hub_dataset_url",
    "inseparable_top",
    "lower_is_better",
    "metric_title",
    "ranker_columns",
    "ranker_of",
    "ranking_chart",
    "ranking_frame",
    "score_distribution_chart",
    "score_title",
    "selection_values",
    "top_scores_chart",
]
