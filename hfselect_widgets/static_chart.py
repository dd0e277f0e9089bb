"""A self-contained HTML report of a ranking: an SVG bar chart and the table, no JavaScript.

The command line writes this next to the CSV. It must open offline anywhere (a browser, a CI
artifact viewer), so it embeds no script and loads nothing from a CDN; the interactive Altair
charts live in ``charts.py`` for notebooks.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path

from hfselect_widgets.engine._io import atomic_write
from hfselect_widgets.engine.scoring.result import TaskRanking

_ROW_HEIGHT = 22
_LABEL_WIDTH = 300
_PLOT_WIDTH = 420
_SCORE_WIDTH = 90
_AXIS_HEIGHT = 44
_DOT_COLOUR = "#4c78a8"


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / max(1, ticks)
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


MIN_AXIS_FRACTION = 0.05
"""The score axis spans at least this share of the largest absolute score shown..."""
MIN_AXIS_SPAN = 0.01
"""...and at least this much: a spread far below the scores' scale stays a small gap."""


def score_axis(scores: list[float], ticks: int = 5) -> tuple[float, float, list[float]]:
    """``(low, high, tick values)``: a domain with round ends around ``scores``.

    The domain is never narrower than :data:`MIN_AXIS_FRACTION` of the largest absolute
    score (and :data:`MIN_AXIS_SPAN`), centred on the scores: a spread of 0.00001 between
    scores near -0.77 is drawn as the near-tie it is, not stretched across the plot.
    """
    low, high = min(scores), max(scores)
    floor = max(MIN_AXIS_FRACTION * max(abs(low), abs(high)), MIN_AXIS_SPAN)
    if high - low < floor:
        middle = (low + high) / 2
        low, high = middle - floor / 2, middle + floor / 2
    step = _nice_step(high - low, ticks)
    start = math.floor(low / step) * step
    stop = math.ceil(high / step) * step
    count = int(round((stop - start) / step))
    return start, stop, [start + i * step for i in range(count + 1)]


def _tick_label(value: float, step: float) -> str:
    """``value`` with the decimals ``step`` needs (distinct labels for distinct ticks)."""
    decimals = max(0, math.ceil(-math.log10(step)))
    if abs(step * 10**decimals - round(step * 10**decimals)) > 1e-6:
        decimals += 1
    text = f"{value:.{decimals}f}"
    return "0" if text.strip("-0.") == "" else text


def ranking_svg(ranking: TaskRanking, top: int = 15) -> str:
    """A dot plot (SVG markup) of the ``top`` scores, best at the top, on a labelled axis.

    Each score is a dot on an axis named after the ranking's score (e.g. "LogME gain over
    shuffled labels (higher is better)") whose ticks show
    the values, so a tiny spread looks tiny in numbers (no bar lengths that suggest one
    candidate is many times better than another); the score is printed beside each row and
    a rank interval, when computed, is drawn as a whisker of the scores' positions.
    """
    from hfselect_widgets.engine.scoring.explain import format_score, score_axis_label

    rows = ranking[:top]
    scores = rows.scores
    if not scores:
        return "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'></svg>"
    low, high, ticks = score_axis(scores)
    span = high - low

    def x_of(value: float) -> float:
        return _LABEL_WIDTH + 8 + (_PLOT_WIDTH - 16) * (value - low) / span

    width = _LABEL_WIDTH + _PLOT_WIDTH + _SCORE_WIDTH
    plot_bottom = 5 + _ROW_HEIGHT * len(scores)
    height = plot_bottom + _AXIS_HEIGHT
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        "font-family='sans-serif' font-size='12' role='img' "
        f"aria-label='Top {len(scores)} scores: {html.escape(score_axis_label(ranking))}'>"
    ]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else span
    for tick in ticks:
        x = x_of(tick)
        parts.append(
            f"<line x1='{x:.1f}' y1='5' x2='{x:.1f}' y2='{plot_bottom}' stroke='#e5e5e5'/>"
            f"<text x='{x:.1f}' y='{plot_bottom + 16}' text-anchor='middle' fill='#333'>"
            f"{html.escape(_tick_label(tick, step))}</text>"
        )
    parts.append(
        f"<line x1='{_LABEL_WIDTH}' y1='{plot_bottom}' x2='{_LABEL_WIDTH + _PLOT_WIDTH}' "
        f"y2='{plot_bottom}' stroke='#888'/>"
        f"<text class='axis-title' x='{_LABEL_WIDTH + _PLOT_WIDTH / 2:.1f}' "
        f"y='{plot_bottom + 36}' text-anchor='middle'>{html.escape(score_axis_label(ranking))}</text>"
    )
    for i, (config, score) in enumerate(zip(rows.esm_configs, scores, strict=True)):
        y = 5 + i * _ROW_HEIGHT
        label = f"{rows.ranks[i]}. {config.task_id}"
        if config.task_subset:
            label += f" ({config.task_subset})"
        tip = f"{label}: {format_score(score, scores)}"
        description = config.get("dataset_description")
        if description:
            tip += f" - {description}"
        x = x_of(score)
        parts.append(
            f"<text x='{_LABEL_WIDTH - 6}' y='{y + 15}' text-anchor='end'>"
            f"{html.escape(label[:48])}</text>"
            f"<circle cx='{x:.1f}' cy='{y + 11}' r='5' fill='{_DOT_COLOUR}'>"
            f"<title>{html.escape(tip)}</title></circle>"
            f"<text x='{_LABEL_WIDTH + _PLOT_WIDTH + 6}' y='{y + 15}'>"
            f"{format_score(score, scores)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def ranking_html(
    ranking: TaskRanking, top: int = 15, title: str = "Intermediate-dataset ranking"
) -> str:
    """A complete HTML page: title, run metadata, warnings (amber), the dot plot, how to read
    the scores, and the ranking table."""
    from hfselect_widgets.engine.scoring.explain import (
        explain_scores,
        how_to_read_score,
        ranking_warnings,
    )
    from hfselect_widgets.engine.scoring.result import warnings_html

    meta = ranking.metadata
    facts = []
    for key, label in (
        ("model_name", "Base model"),
        ("pooling", "Pooling"),
        ("num_examples", "Target examples"),
        ("esm_source", "ESMs"),
        ("created_at", "Created"),
    ):
        if meta.get(key) is not None:
            facts.append(f"<li>{label}: {html.escape(str(meta[key]))}</li>")
    dataset = meta.get("dataset") or {}
    if dataset.get("task_id"):
        facts.insert(0, f"<li>Target: {html.escape(str(dataset['task_id']))}</li>")
    if ranking.failures:
        facts.append(f"<li>Skipped ESMs: {len(ranking.failures)}</li>")
    explanation = "".join(
        f"<li>{html.escape(s)}</li>" for s in explain_scores(ranking, general=False)
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em;}table{border-collapse:collapse}"
        "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left;"
        "vertical-align:top}</style>"
        f"</head><body><h1>{html.escape(title)}</h1><ul>{''.join(facts)}</ul>"
        f"{warnings_html(ranking_warnings(ranking))}"
        f"<h2>Top {min(top, len(ranking))} of {len(ranking)} (higher is better)</h2>"
        f"{ranking_svg(ranking, top)}"
        f"<h2>How to read the scores</h2><p>{html.escape(how_to_read_score(ranking))}</p>"
        f"<ul>{explanation}</ul>"
        f"<h2>Ranking</h2>{ranking.to_html(max_rows=len(ranking), show_warnings=False)}"
        "</body></html>\n"
    )


def write_ranking_html(
    ranking: TaskRanking,
    path: str | os.PathLike,
    top: int = 15,
    title: str = "Intermediate-dataset ranking",
) -> Path:
    """Write :func:`ranking_html` atomically to ``path``; return the path."""
    path = Path(path)
    atomic_write(path, ranking_html(ranking, top, title))
    return path
