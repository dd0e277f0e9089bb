"""The results explorer: an interactive chart and a filtered table of a :class:`TaskRanking`.

Selecting bars in the top-k chart or brushing the score distribution filters the table below,
which shows 50 rows a page (a 10,000-row ranking stays quick); buttons export the ranking to
CSV/JSON, load a saved one back, and show the Python code that reproduces it. Above the chart:
how to read the score and the ranking's warnings (amber), from
:mod:`hfselect_widgets.engine.scoring.explain`, and a note when the top ranks are not separable
(bootstrapped rankings). Where widgets cannot render (GitHub, nbviewer, an exported notebook) the output
carries a PNG of the chart drawn by ``vl-convert`` instead.

The widget is a thin controller: charts come from :mod:`hfselect_widgets.charts`, files are read
and written by :class:`TaskRanking`.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import re
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import altair as alt
import ipywidgets as widgets
import pandas as pd

from hfselect_widgets.engine.scoring.codegen import ranking_code
from hfselect_widgets.engine.scoring.result import TaskRanking
from hfselect_widgets.widgets._compat import USES_IPYTHON_DISPLAY, widget_mimebundle
from hfselect_widgets.widgets.vocabulary import error_text

from .. import charts

logger = logging.getLogger(__name__)

DEFAULT_CSV_PATH = "ranking.csv"
DEFAULT_JSON_PATH = "ranking.json"
TABLE_MAX_ROWS = 200
"""Rows of the static HTML table (outputs without widgets); the rest are counted."""
PAGE_SIZE = 50
"""Rows per page of the explorer's table (a 10,000-row ranking stays quick to show)."""
TOP_K_MAX = 100
"""The most bars the chart draws (the *Top k* slider's end); the histogram shows every score."""
WARNING_STYLE = (
    "background:#fff4e0;border-left:4px solid #e69500;color:#5c3b00;padding:4px 8px;margin:2px 0"
)
"""Amber, for warnings: not the green of a success message."""
PNG_SCALE = 1.0

_offline_lock = threading.Lock()
_offline_state: bool | None = None  # None: not tried yet


# The "..." menu keeps "Save as SVG/PNG" only: the editor link needs the internet.
CHART_EMBED_OPTIONS = {
    "renderer": "svg",
    "actions": {"export": True, "source": False, "compiled": False, "editor": False},
}


def enable_offline_charts() -> bool:
    """Make ``JupyterChart`` load Vega from ``vl-convert`` instead of a CDN (once per process).

    Returns whether offline rendering is on. A failure (``vl-convert-python`` missing or broken)
    only warns: the chart then needs internet to draw, everything else keeps working.
    """
    global _offline_state
    with _offline_lock:
        if _offline_state is None:
            try:
                alt.JupyterChart.enable_offline()
                _offline_state = True
            except Exception as error:  # any failure here must not break the explorer
                _offline_state = False
                message = (
                    f"Interactive charts need internet: offline rendering failed ({error}). "
                    "Install vl-convert-python to draw them offline."
                )
                logger.warning(message)
                warnings.warn(message, RuntimeWarning, stacklevel=2)
        return _offline_state


def _vl_convert_version(vl_convert: Any) -> str | None:
    """altair's Vega-Lite version in vl-convert's naming (``"v6_4"``), if vl-convert has it."""
    match = re.match(r"v(\d+)\.(\d+)", alt.SCHEMA_VERSION)
    if not match or f"{match[1]}.{match[2]}" not in vl_convert.get_vegalite_versions():
        return None  # vl-convert then uses its newest Vega-Lite
    return f"v{match[1]}_{match[2]}"


def chart_png(chart: alt.TopLevelMixin, scale: float = PNG_SCALE) -> bytes:
    """Render an altair chart to PNG bytes with ``vl-convert`` (offline)."""
    import vl_convert

    version = _vl_convert_version(vl_convert)
    options = {"vl_version": version} if version else {}
    return vl_convert.vegalite_to_png(chart.to_dict(), scale=scale, **options)


# --- the table ------------------------------------------------------------------------------

_TABLE_STYLE = (
    "<style>.hfsw-results td,.hfsw-results th{padding:2px 8px;text-align:left;"
    "border-bottom:1px solid #e0e0e0;white-space:nowrap;vertical-align:top}"
    ".hfsw-results td.num,.hfsw-results th.num{text-align:right}"
    ".hfsw-results td.desc{white-space:normal;min-width:260px;max-width:420px}</style>"
)


def _cell(value: Any, number_format: str | None = None) -> str:
    """A table cell's text: missing values read "—" (never "None" or "nan")."""
    return html.escape(charts.display_value(value, number_format))


def _table_columns(frame: pd.DataFrame) -> list[tuple[str, str, str | None, str]]:
    """``(frame column, header, number format, cell class)`` of the table, in order: the rank
    interval and P(top 3) for a bootstrapped ranking, one score per ranker where there are
    several."""
    columns: list[tuple[str, str, str | None, str]] = [("rank", "Rank", None, "num")]
    if charts.has_intervals(frame):
        columns += [
            ("rank_interval", "Rank interval", None, "num"),
            ("p_top3", "P(top 3)", ".2f", "num"),
        ]
    columns += [
        ("task_id", "Task ID", None, ""),
        ("description", "Description", None, "desc"),
        ("task_subset", "Subset", None, ""),
        ("language", "Language", None, ""),
        ("size", "Training rows", ",d", "num"),
        ("text_column", "Text column(s)", None, ""),
        ("label_column", "Label column", None, ""),
        ("task_split", "Split", None, ""),
        ("score", "Score", ".6f", "num"),
    ]
    columns += [
        (c, f"Score ({charts.ranker_of(c)})", ".4f", "num") for c in charts.ranker_columns(frame)
    ]
    return columns


def table_html(frame: pd.DataFrame, max_rows: int = TABLE_MAX_ROWS, start: int = 0) -> str:
    """An HTML table of rows ``start`` to ``start + max_rows`` of a tidy ranking frame; task
    ids that are Hub ids link to the Hub. Missing values read "—"."""
    columns = _table_columns(frame)
    start = max(int(start), 0)
    rows = []
    for row in frame.iloc[start : start + max_rows].to_dict("records"):
        cells = []
        for column, _header, number_format, css in columns:
            text = _cell(row.get(column), number_format)
            if column == "task_id" and row.get("hub_url"):
                url = html.escape(row["hub_url"])
                text = f'<a href="{url}" target="_blank" rel="noopener">{text}</a>'
            cells.append(f"<td class='{css}'>{text}</td>" if css else f"<td>{text}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    more = len(frame) - start - max_rows
    footer = (
        f"<p>… and {more} more rows (export the ranking to see them all).</p>"
        if more > 0 and start == 0 and max_rows == TABLE_MAX_ROWS
        else ""
    )
    header = "".join(
        f"<th class='{css}'>{html.escape(title)}</th>" if css else f"<th>{html.escape(title)}</th>"
        for _column, title, _format, css in columns
    )
    return (
        f"{_TABLE_STYLE}<div style='max-height:420px;overflow:auto'>"
        f"<table class='hfsw-results'><thead><tr>{header}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>{footer}"
    )


def warnings_html(messages: list[str]) -> str:
    """Warnings as amber boxes (empty when there are none)."""
    return "".join(
        f"<div class='hfsw-warning' style='{WARNING_STYLE}'>\u26a0 {html.escape(str(m))}</div>"
        for m in messages
    )


def separability_note(frame: pd.DataFrame) -> str:
    """The note "Ranks 1-n are not separable ..." when rank 1's interval overlaps another's
    (see :func:`charts.inseparable_top`), else ``""``."""
    last = charts.inseparable_top(frame)
    if last < 2:
        return ""
    return (
        f"Ranks 1-{last} are not separable at this sample size: verify them (Verify tab, or "
        "verify_transfer()) or add target rows."
    )


_FALLBACK_EXPLANATION = [
    "Higher is better. Scores compare the candidates of this ranking with one another only: "
    "their scale depends on the target, its size and the base model."
]


def ranking_notes(ranking: TaskRanking | None) -> tuple[list[str], list[str]]:
    """``(explanation, warnings)`` of a ranking: how to read its scores and what to watch out
    for, from :mod:`hfselect_widgets.engine.scoring.explain` (the text every front end shares);
    the warnings recorded with the ranking if that module cannot say."""
    from hfselect_widgets.engine.scoring import explain

    if ranking is None:
        return [], []
    recorded = [str(m) for m in ranking.metadata.get("warnings") or []]
    try:
        explanation = [str(line) for line in explain.explain_scores(ranking, front_end="widget")]
    except Exception as error:  # an explanation is optional; the ranking still shows
        logger.warning("Could not explain the scores: %s", error)
        explanation = list(_FALLBACK_EXPLANATION)
    try:
        found = [str(line) for line in explain.ranking_warnings(ranking)]
    except Exception as error:  # the recorded warnings still show
        logger.warning("Could not collect the ranking's warnings: %s", error)
        found = []
    return explanation, found or recorded


def _message(text: str, error: bool = False) -> str:
    color = "#b00020" if error else "#1b5e20"
    return f"<span style='color:{color}'>{html.escape(text)}</span>"


# --- the widget -----------------------------------------------------------------------------


def _ranker_of(ranking: TaskRanking | None) -> str | None:
    return ranking.metadata.get("ranker") if ranking is not None else None


def _check_ranking(ranking: Any) -> None:
    if ranking is not None and not isinstance(ranking, TaskRanking):
        raise TypeError(f"ResultsExplorer shows a TaskRanking, not {type(ranking).__name__}.")


class ResultsExplorer(widgets.VBox):
    """Explore a ranking: top-k bars, score distribution, a filtered table, export and load.

    Args:
        ranking: the ranking to show (``None``: empty until one is set or loaded).
        top_k: how many bars the chart shows at first (the slider changes it).

    Attributes:
        chart: the ``altair.JupyterChart`` (selections ``"bars"`` and ``"brush"``).
        table: an ``ipywidgets.HTML`` with one page (:data:`PAGE_SIZE` rows) of the rows the
            selections pick; ``first_button``, ``prev_button``, ``next_button``,
            ``last_button`` turn the pages and ``page_info`` reads "Rows 51-100 of 10,000".
        k_slider: the number of bars (at most :data:`TOP_K_MAX`).
        summary: counts of ranked datasets and skipped ESMs.
        warnings: the ranking's warnings, in amber (hidden when there are none).
        separability: the note that the top ranks are not separable (bootstrapped rankings).
        explanation: how to read the score (a collapsible paragraph).
        status: the last export/load message (or error).
    """

    def __init__(self, ranking: TaskRanking | None = None, top_k: int = 10, **kwargs: Any):
        enable_offline_charts()
        _check_ranking(ranking)
        self._ranking: TaskRanking | None = None
        self._frame = charts.ranking_frame(ranking)
        self._top_k = max(int(top_k), 1)
        self._syncing = False  # True while the ranking setter moves the slider
        self._page = 0
        self._rows = self._frame  # the rows the selections pick
        first_k = max(min(self._top_k, len(self._frame), TOP_K_MAX), 1)

        self.summary = widgets.HTML()
        self.failures_toggle = widgets.ToggleButton(
            description="Skipped ESMs", icon="list", tooltip="List the ESMs that were skipped"
        )
        self.failures_list = widgets.HTML(layout=widgets.Layout(display="none"))
        self.warnings = widgets.HTML(layout=widgets.Layout(display="none"))
        self.warnings.add_class("hfsw-results-warnings")
        self.separability = widgets.HTML(layout=widgets.Layout(display="none"))
        self.separability.add_class("hfsw-separability-note")
        self.explanation = widgets.HTML()
        self.explanation.add_class("hfsw-score-explanation")
        self.k_slider = widgets.IntSlider(
            value=first_k,
            min=1,
            max=max(min(len(self._frame), TOP_K_MAX), 1),
            description="Top k",
            continuous_update=False,
        )
        # Drawn once here with the first ranking: building a chart spec takes a good fraction
        # of a second (altair validates it), so the setter below does not draw it again.
        # SVG rather than canvas: each bar is an element with an aria-label, which screen
        # readers (and the browser tests) can find and click.
        self.chart = alt.JupyterChart(
            charts.ranking_chart(self._frame, first_k, ranker=_ranker_of(ranking)),
            embed_options=CHART_EMBED_OPTIONS,
        )
        self.selection_info = widgets.HTML()
        self.table = widgets.HTML()
        self.table.add_class("hfsw-results-table")  # a stable hook for styling and browser tests
        pager_button = widgets.Layout(width="auto")
        self.first_button = widgets.Button(
            description="First", icon="angle-double-left", layout=pager_button
        )
        self.prev_button = widgets.Button(
            description="Previous", icon="angle-left", layout=pager_button
        )
        self.next_button = widgets.Button(
            description="Next", icon="angle-right", layout=pager_button
        )
        self.last_button = widgets.Button(
            description="Last", icon="angle-double-right", layout=pager_button
        )
        self.page_info = widgets.HTML()
        self.page_info.add_class("hfsw-page-info")
        self.pager = widgets.HBox(
            [
                self.first_button,
                self.prev_button,
                self.page_info,
                self.next_button,
                self.last_button,
            ]
        )
        self.pager.add_class("hfsw-results-pager")

        text_layout = widgets.Layout(width="260px")
        self.csv_path = widgets.Text(value=DEFAULT_CSV_PATH, layout=text_layout)
        self.export_csv_button = widgets.Button(description="Export CSV", icon="download")
        self.json_path = widgets.Text(value=DEFAULT_JSON_PATH, layout=text_layout)
        self.export_json_button = widgets.Button(description="Export JSON", icon="download")
        self.load_path = widgets.Text(placeholder="ranking.csv or ranking.json", layout=text_layout)
        self.load_button = widgets.Button(description="Load", icon="upload")
        self.code_toggle = widgets.ToggleButton(description="Show code", icon="code")
        self.code = widgets.Textarea(
            layout=widgets.Layout(width="100%", display="none"), disabled=False
        )
        self.status = widgets.HTML()

        self.failures_toggle.observe(self._on_failures_toggle, names="value")
        self.k_slider.observe(self._on_k_change, names="value")
        # _vl_selections is the synced state behind chart.selections; unlike the selections
        # object it survives a new chart (k changes), so one observer is enough.
        self.chart.observe(self._on_selection_change, names="_vl_selections")
        self.export_csv_button.on_click(
            lambda _: self._export(self.export_csv, self.csv_path, DEFAULT_CSV_PATH)
        )
        self.export_json_button.on_click(
            lambda _: self._export(self.export_json, self.json_path, DEFAULT_JSON_PATH)
        )
        self.load_button.on_click(self._on_load_click)
        self.code_toggle.observe(self._on_code_toggle, names="value")
        self.first_button.on_click(lambda _: self.show_page(0))
        self.prev_button.on_click(lambda _: self.show_page(self._page - 1))
        self.next_button.on_click(lambda _: self.show_page(self._page + 1))
        self.last_button.on_click(lambda _: self.show_page(self.page_count - 1))

        super().__init__(
            children=[
                widgets.HBox([self.summary, self.failures_toggle]),
                self.failures_list,
                self.warnings,
                self.explanation,
                self.separability,
                self.k_slider,
                self.chart,
                self.selection_info,
                self.table,
                self.pager,
                widgets.HBox(
                    [
                        self.csv_path,
                        self.export_csv_button,
                        self.json_path,
                        self.export_json_button,
                    ]
                ),
                widgets.HBox([self.load_path, self.load_button, self.code_toggle]),
                self.code,
                self.status,
            ],
            **kwargs,
        )
        self._show(ranking, redraw=False)

    # -- state ---------------------------------------------------------------------------------

    @property
    def ranking(self) -> TaskRanking | None:
        """The ranking shown; setting it redraws the chart, table and summary."""
        return self._ranking

    @ranking.setter
    def ranking(self, ranking: TaskRanking | None) -> None:
        _check_ranking(ranking)
        self._show(ranking, redraw=True)

    def _show(self, ranking: TaskRanking | None, redraw: bool) -> None:
        self._ranking = ranking
        self._frame = charts.ranking_frame(ranking)
        count = len(self._frame)
        # _top_k is the k the user asked for: a short ranking shows fewer bars, a longer one
        # that follows shows k again.
        self._syncing = True  # one chart redraw below, not one per slider change
        try:
            with self.k_slider.hold_trait_notifications():
                self.k_slider.max = max(min(count, TOP_K_MAX), 1)
                self.k_slider.value = max(min(self._top_k, count, TOP_K_MAX), 1)
        finally:
            self._syncing = False
        self.k_slider.disabled = count == 0
        for button in (self.export_csv_button, self.export_json_button, self.code_toggle):
            button.disabled = ranking is None
        if redraw:
            self._redraw_chart()
        else:
            self.chart.layout.display = "none" if self._frame.empty else None
            self._update_table()
        self._update_summary()
        self._update_notes()
        if self.code_toggle.value:
            self.code.value = self.python_code()

    @property
    def frame(self) -> pd.DataFrame:
        """The whole ranking as a tidy frame (see :func:`charts.ranking_frame`)."""
        return self._frame

    def selected_rows(self) -> pd.DataFrame:
        """The rows of the ranking picked by the chart's selections (all rows when none)."""
        return charts.filter_frame(self._frame, self.chart.selections)

    @property
    def page(self) -> int:
        """The table's page shown, from 0."""
        return self._page

    @property
    def page_count(self) -> int:
        """How many pages of :data:`PAGE_SIZE` rows the selected rows fill (at least 1)."""
        return max(1, -(-len(self._rows) // PAGE_SIZE))

    def show_page(self, page: int) -> None:
        """Show page ``page`` (from 0; clipped to the pages there are) of the selected rows."""
        self._page = min(max(int(page), 0), self.page_count - 1)
        self._render_page()

    # -- actions -------------------------------------------------------------------------------

    def load(self, path: str | os.PathLike) -> TaskRanking:
        """Load a ranking saved as CSV or JSON and show it; returns it."""
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"There is no file {path}: give the path of a ranking saved as CSV or JSON."
            )
        ranking = TaskRanking.load(path)
        self.ranking = ranking
        return ranking

    def export_csv(self, path: str | os.PathLike = DEFAULT_CSV_PATH) -> Path:
        """Write the whole ranking as CSV (:meth:`TaskRanking.to_csv`); returns the path."""
        return self._write(path, "to_csv")

    def export_json(self, path: str | os.PathLike = DEFAULT_JSON_PATH) -> Path:
        """Write the ranking with its metadata as JSON (:meth:`TaskRanking.to_json`)."""
        return self._write(path, "to_json")

    def python_code(self) -> str:
        """Python code that reproduces the ranking shown (see :func:`ranking_code`)."""
        if self._ranking is None:
            return "# No ranking to reproduce yet.\n"
        return ranking_code(self._ranking)

    def static_png(self) -> bytes | None:
        """A PNG of the chart (top-k bars and distribution), or ``None`` if it cannot be drawn."""
        if self._ranking is None:
            return None
        try:
            chart = charts.ranking_chart(
                self._frame, self.k_slider.value, ranker=_ranker_of(self._ranking)
            )
            return chart_png(chart)
        except Exception as error:  # a picture is optional; the table fallback follows
            logger.warning("Could not draw the ranking chart as PNG: %s", error)
            return None

    # -- rendering -----------------------------------------------------------------------------

    def _write(self, path: str | os.PathLike, method: str) -> Path:
        if self._ranking is None:
            raise ValueError("There is no ranking to export yet: run or load one first.")
        path = Path(path).expanduser()
        getattr(self._ranking, method)(path)
        return path.resolve()

    def _redraw_chart(self) -> None:
        self.chart.chart = charts.ranking_chart(
            self._frame, self.k_slider.value, ranker=_ranker_of(self._ranking)
        )
        self.chart.layout.display = "none" if self._frame.empty else None
        # A new chart starts without selections; redraw the table whether or not the
        # selection state changed.
        self._update_table()

    def _update_summary(self) -> None:
        ranking = self._ranking
        if ranking is None:
            self.summary.value = "<b>No ranking yet.</b> Run one, or load a saved ranking below."
            self.failures_toggle.layout.display = "none"
            self.failures_list.layout.display = "none"
            return
        parts = [f"<b>{len(ranking):,}</b> intermediate datasets ranked"]
        target = (ranking.metadata.get("dataset") or {}).get("task_id")
        if target:
            parts.append(f" for <code>{html.escape(str(target))}</code>")
        model = ranking.metadata.get("model_name")
        if model:
            parts.append(f" with <code>{html.escape(str(model))}</code>")
        failures = ranking.failures
        parts.append(f", <b>{len(failures)}</b> ESMs skipped" if failures else "")
        self.summary.value = "".join(parts)
        self.failures_toggle.layout.display = None if failures else "none"
        items = "".join(
            f"<li><code>{html.escape(str(source))}</code>: {html.escape(str(reason))}</li>"
            for source, reason in failures.items()
        )
        self.failures_list.value = f"<ul>{items}</ul>" if items else ""
        self._on_failures_toggle()

    def _update_notes(self) -> None:
        explanation, messages = ranking_notes(self._ranking)
        self.warnings.value = warnings_html(messages)
        self.warnings.layout.display = None if messages else "none"
        note = separability_note(self._frame)
        self.separability.value = warnings_html([note]) if note else ""
        self.separability.layout.display = None if note else "none"
        if explanation:
            paragraphs = "".join(
                f"<p style='margin:2px 0'>{html.escape(t)}</p>" for t in explanation
            )
            summary = "<summary><b>How to read the score</b></summary>"
            self.explanation.value = f"<details open>{summary}{paragraphs}</details>"
        else:
            self.explanation.value = ""
        self.explanation.layout.display = None if explanation else "none"

    def _render_page(self) -> None:
        rows, count = self._rows, len(self._rows)
        start = self._page * PAGE_SIZE
        self.table.value = table_html(rows, max_rows=PAGE_SIZE, start=start) if count else ""
        end = min(start + PAGE_SIZE, count)
        self.page_info.value = (
            f"Rows {start + 1:,}-{end:,} of {count:,} (page {self._page + 1:,} of "
            f"{self.page_count:,})"
            if count
            else "No rows"
        )
        self.first_button.disabled = self.prev_button.disabled = self._page == 0
        self.next_button.disabled = self.last_button.disabled = self._page >= self.page_count - 1
        self.pager.layout.display = None if count > PAGE_SIZE else "none"

    def _update_table(self) -> None:
        rows = self.selected_rows()
        self._rows = rows
        self._page = 0  # a new selection starts at its first row
        total = len(self._frame)
        values = charts.selection_values(self.chart.selections)
        filters = []
        if values[charts.BARS_SELECTION]:
            filters.append(f"{len(values[charts.BARS_SELECTION])} selected bar(s)")
        score_range = values[charts.BRUSH_SELECTION].get("score")
        if score_range:
            filters.append(f"score in [{min(score_range):.4f}, {max(score_range):.4f}]")
        if filters:
            info = f"Showing {len(rows):,} of {total:,} rows: {' and '.join(filters)}."
        elif total:
            info = (
                f"Showing all {total:,} rows. Click bars (shift-click for several) or drag over "
                "the distribution to filter; double-click to clear."
            )
        else:
            info = ""
        self.selection_info.value = html.escape(info)
        self._render_page()

    # -- callbacks -----------------------------------------------------------------------------

    def _on_k_change(self, change: Mapping[str, Any]) -> None:
        if not self._syncing:
            self._top_k = int(change["new"])
            self._redraw_chart()

    def _on_selection_change(self, _change: Any = None) -> None:
        self._update_table()

    def _on_failures_toggle(self, _change: Any = None) -> None:
        shown = self.failures_toggle.value and bool(self._ranking and self._ranking.failures)
        self.failures_list.layout.display = None if shown else "none"

    def _on_code_toggle(self, change: Mapping[str, Any]) -> None:
        if change["new"]:
            self.code.value = self.python_code()
            self.code.rows = min(self.code.value.count("\n") + 1, 30)
        self.code.layout.display = None if change["new"] else "none"
        self.code_toggle.description = "Hide code" if change["new"] else "Show code"

    def _export(self, export: Any, path_widget: widgets.Text, default: str) -> None:
        try:
            written = export(path_widget.value.strip() or default)
        except Exception as error:  # shown to the user, never swallowed silently
            self.status.value = _message(f"Export failed: {error_text(error)}", error=True)
            return
        self.status.value = _message(f"Saved the ranking to {written}")

    def _on_load_click(self, _button: Any = None) -> None:
        path = self.load_path.value.strip()
        if not path:
            self.status.value = _message("Enter the path of a saved ranking to load.", error=True)
            return
        try:
            ranking = self.load(path)
        except Exception as error:  # shown to the user, never swallowed silently
            self.status.value = _message(f"Could not load {path}: {error_text(error)}", error=True)
            return
        self.status.value = _message(f"Loaded {len(ranking)} rows from {path}")

    # -- static output -------------------------------------------------------------------------

    if USES_IPYTHON_DISPLAY:
        # ipywidgets 7 displays widgets with _ipython_display_, which IPython prefers to
        # _repr_mimebundle_: without it, display() uses the bundle below, as on ipywidgets 8.
        _ipython_display_ = None

    def _repr_mimebundle_(self, **kwargs: Any):
        """The widget view plus a PNG of the chart for renderers without widgets.

        GitHub, nbviewer and exported notebooks skip the widget mimetype and show the PNG; if
        the PNG cannot be drawn they get the table as HTML instead.
        """
        data = widget_mimebundle(self, **kwargs)
        # Text-only front ends get the ranking's short listing, not the widget tree.
        data["text/plain"] = (
            repr(self._ranking) if self._ranking is not None else "ResultsExplorer (no ranking)"
        )
        png = self.static_png()
        if png is not None:
            data["image/png"] = base64.b64encode(png).decode("ascii")
        elif self._ranking is not None:
            data["text/html"] = table_html(self._frame)
        return data


__all__ = [
    "PAGE_SIZE",
    "TOP_K_MAX",
    "ResultsExplorer",
    "chart_png",
    "enable_offline_charts",
    "ranking_code",
    "ranking_notes",
    "separability_note",
    "table_html",
    "warnings_html",
]
