"""A self-contained HTML report of a ranking: an SVG bar chart and the table, no JavaScript.

The command line writes this next to the CSV. It must open offline anywhere (a browser, a CI
artifact viewer), so it embeds no script and loads nothing from a CDN; the interactive Altair
charts live in ``charts.py`` for notebooks.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from hfselect_widgets.engine._io import atomic_write
from hfselect_widgets.engine.scoring.result import TaskRanking

_BAR_HEIGHT = 22
_LABEL_WIDTH = 300
_PLOT_WIDTH = 420
_SCORE_WIDTH = 90


def ranking_svg(ranking: TaskRanking, top: int = 15) -> str:
    """A horizontal bar chart (SVG markup) of the ``top`` scores, best at the top.

    Bars start at the lowest score shown, so that differences between close scores stay
    visible; the score is printed beside each bar.
    """
    rows = ranking[:top]
    scores = rows.scores
    if not scores:
        return "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'></svg>"
    low, high = min(scores), max(scores)
    span = (high - low) or 1.0
    width = _LABEL_WIDTH + _PLOT_WIDTH + _SCORE_WIDTH
    height = _BAR_HEIGHT * len(scores) + 10
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        "font-family='sans-serif' font-size='12' role='img' "
        f"aria-label='Top {len(scores)} ESM-LogME scores'>"
    ]
    for i, (config, score) in enumerate(zip(rows.esm_configs, scores, strict=True)):
        y = 5 + i * _BAR_HEIGHT
        bar = 8 + (_PLOT_WIDTH - 8) * (score - low) / span
        label = f"{rows.ranks[i]}. {config.task_id}"
        if config.task_subset:
            label += f" ({config.task_subset})"
        parts.append(
            f"<text x='{_LABEL_WIDTH - 6}' y='{y + 15}' text-anchor='end'>"
            f"{html.escape(label[:48])}</text>"
            f"<rect x='{_LABEL_WIDTH}' y='{y + 3}' width='{bar:.1f}' height='{_BAR_HEIGHT - 6}' "
            f"fill='#4c78a8'><title>{html.escape(label)}: {score:.6f}</title></rect>"
            f"<text x='{_LABEL_WIDTH + bar + 6:.1f}' y='{y + 15}'>{score:.4f}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def ranking_html(ranking: TaskRanking, top: int = 15, title: str = "ESM-LogME ranking") -> str:
    """A complete HTML page: title, run metadata, the bar chart and the ranking table."""
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
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em;}table{border-collapse:collapse}"
        "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}</style>"
        f"</head><body><h1>{html.escape(title)}</h1><ul>{''.join(facts)}</ul>"
        f"<h2>Top {min(top, len(ranking))} of {len(ranking)}</h2>{ranking_svg(ranking, top)}"
        f"<h2>Ranking</h2>{ranking.to_pandas(with_repo_id=True).to_html(escape=True)}"
        "</body></html>\n"
    )


def write_ranking_html(
    ranking: TaskRanking, path: str | os.PathLike, top: int = 15, title: str = "ESM-LogME ranking"
) -> Path:
    """Write :func:`ranking_html` atomically to ``path``; return the path."""
    path = Path(path)
    atomic_write(path, ranking_html(ranking, top, title))
    return path
