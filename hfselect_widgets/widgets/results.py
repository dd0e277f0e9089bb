"""The results explorer: an interactive chart and a filtered table of a :class:`TaskRanking`.

Selecting bars in the top-k chart or brushing the score distribution filters the table below;
buttons export the ranking to CSV/JSON, load a saved one back, and show the Python code that
reproduces it. Where widgets cannot render (GitHub, nbviewer, an exported notebook) the output
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
"""Rows drawn in the table; the rest are counted (the export has them all)."""
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
    "border-bottom:1px solid #e0e0e0;white-space:nowrap}"
    ".hfsw-results td.num,.hfsw-results th.num{text-align:right}</style>"
)


def _cell(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return html.escape(str(value))


def table_html(frame: pd.DataFrame, max_rows: int = TABLE_MAX_ROWS) -> str:
    """An HTML table of a tidy ranking frame; task ids that are Hub ids link to the Hub."""
    rows = []
    for row in frame.head(max_rows).itertuples(index=False):
        task = _cell(row.task_id)
        if row.hub_url:
            task = f'<a href="{html.escape(row.hub_url)}" target="_blank" rel="noopener">{task}</a>'
        score = "" if pd.isna(row.score) else f"{row.score:.6f}"
        rows.append(
            f"<tr><td class='num'>{_cell(row.rank)}</td><td>{task}</td>"
            f"<td>{_cell(row.task_subset)}</td><td>{_cell(row.text_column)}</td>"
            f"<td>{_cell(row.label_column)}</td><td>{_cell(row.task_split)}</td>"
            f"<td class='num'>{_cell(row.num_examples)}</td><td class='num'>{score}</td></tr>"
        )
    more = len(frame) - max_rows
    footer = (
        f"<p>… and {more} more rows (export the ranking to see them all).</p>" if more > 0 else ""
    )
    return (
        f"{_TABLE_STYLE}<div style='max-height:360px;overflow:auto'>"
        "<table class='hfsw-results'><thead><tr><th class='num'>Rank</th><th>Task ID</th>"
        "<th>Subset</th><th>Text column(s)</th><th>Label column</th><th>Split</th>"
        "<th class='num'>Examples</th><th class='num'>Score</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>{footer}"
    )


def _message(text: str, error: bool = False) -> str:
    color = "#b00020" if error else "#1b5e20"
    return f"<span style='color:{color}'>{html.escape(text)}</span>"


# --- the widget -----------------------------------------------------------------------------


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
        table: an ``ipywidgets.HTML`` with the rows the selections pick.
        k_slider: the number of bars.
        summary: counts of ranked datasets and skipped ESMs.
        status: the last export/load message (or error).
    """

    def __init__(self, ranking: TaskRanking | None = None, top_k: int = 10, **kwargs: Any):
        enable_offline_charts()
        _check_ranking(ranking)
        self._ranking: TaskRanking | None = None
        self._frame = charts.ranking_frame(ranking)
        self._top_k = max(int(top_k), 1)
        self._syncing = False  # True while the ranking setter moves the slider
        first_k = max(min(self._top_k, len(self._frame)), 1)

        self.summary = widgets.HTML()
        self.failures_toggle = widgets.ToggleButton(
            description="Skipped ESMs", icon="list", tooltip="List the ESMs that were skipped"
        )
        self.failures_list = widgets.HTML(layout=widgets.Layout(display="none"))
        self.k_slider = widgets.IntSlider(
            value=first_k,
            min=1,
            max=max(len(self._frame), 1),
            description="Top k",
            continuous_update=False,
        )
        # Drawn once here with the first ranking: building a chart spec takes a good fraction
        # of a second (altair validates it), so the setter below does not draw it again.
        # SVG rather than canvas: each bar is an element with an aria-label, which screen
        # readers (and the browser tests) can find and click.
        self.chart = alt.JupyterChart(
            charts.ranking_chart(self._frame, first_k), embed_options=CHART_EMBED_OPTIONS
        )
        self.selection_info = widgets.HTML()
        self.table = widgets.HTML()
        self.table.add_class("hfsw-results-table")  # a stable hook for styling and browser tests

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

        super().__init__(
            children=[
                widgets.HBox([self.summary, self.failures_toggle]),
                self.failures_list,
                self.k_slider,
                self.chart,
                self.selection_info,
                self.table,
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
                self.k_slider.max = max(count, 1)
                self.k_slider.value = max(min(self._top_k, max(count, 1)), 1)
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
        if self.code_toggle.value:
            self.code.value = self.python_code()

    @property
    def frame(self) -> pd.DataFrame:
        """The whole ranking as a tidy frame (see :func:`charts.ranking_frame`)."""
        return self._frame

    def selected_rows(self) -> pd.DataFrame:
        """The rows of the ranking picked by the chart's selections (all rows when none)."""
        return charts.filter_frame(self._frame, self.chart.selections)

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
            return chart_png(charts.ranking_chart(self._frame, self.k_slider.value))
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
        self.chart.chart = charts.ranking_chart(self._frame, self.k_slider.value)
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
        parts = [f"<b>{len(ranking)}</b> intermediate datasets ranked"]
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

    def _update_table(self) -> None:
        rows = self.selected_rows()
        total = len(self._frame)
        values = charts.selection_values(self.chart.selections)
        filters = []
        if values[charts.BARS_SELECTION]:
            filters.append(f"{len(values[charts.BARS_SELECTION])} selected bar(s)")
        score_range = values[charts.BRUSH_SELECTION].get("score")
        if score_range:
            filters.append(f"score in [{min(score_range):.4f}, {max(score_range):.4f}]")
        if filters:
            info = f"Showing {len(rows)} of {total} rows: {' and '.join(filters)}."
        elif total:
            info = (
                f"Showing all {total} rows. Click bars (shift-click for several) or drag over "
                "the distribution to filter; double-click to clear."
            )
        else:
            info = ""
        self.selection_info.value = html.escape(info)
        self.table.value = table_html(rows) if total else ""

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
    "ResultsExplorer",
    "chart_png",
    "enable_offline_charts",
    "ranking_code",
    "table_html",
]
