"""The notebooks in real JupyterLab and chromium, used as a person would use them.

The quickstart is run from the menu, then the App is driven with clicks: pick a DataFrame and its
columns, Rank, watch the progress bars finish, see the chart drawn, select bars and see the table
follow, cancel a long second run and rank again. The ``%esm_rank`` notebook is run too. Every
step leaves a screenshot (folder printed at the end of the run).
"""

from __future__ import annotations

import re

import pytest
from jupyterlab_session import error_outputs, open_notebook, run_all_cells, wait_until

pytestmark = pytest.mark.browser

RANKING_TIMEOUT_S = 180
BAR = 'path[aria-roledescription="bar"]'


def labelled_row(scope, label: str):
    """The visible form row whose label (``_described`` in the widgets) reads ``label`` (the
    App's hidden tabs have rows of the same name: "ESM folder" is also on Train & publish)."""
    rows = scope.locator(f'.widget-hbox:has(> .widget-label:text-is("{label}")):visible')
    return rows.first


def the_app(page):
    """The App's output: the widget with the "Train & publish" tab."""
    return (
        page.locator(".jp-OutputArea-output")
        .filter(has=page.locator(".lm-TabBar-tab", has_text="Train & publish"))
        .first
    )


def button(scope, label: str):
    """The button whose text reads ``label``.

    Not ``get_by_role(name=...)``: chromium counts an icon's CSS glyph (``fa-play``) in the
    accessible name, so "Rank" with its icon is not named "Rank" exactly.
    """
    return scope.locator("button", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")).first


def open_tab(app, title: str) -> None:
    app.locator(".lm-TabBar-tab", has_text=re.compile(f"^{re.escape(title)}$")).first.click()


def selected_tab(app) -> str:
    return " ".join(app.locator(".lm-TabBar-tab.lm-mod-current").all_inner_texts())


def status_text(app) -> str:
    """The run panel's status line, also while another tab of the App is shown."""
    return " ".join(app.locator(".hfsw-run-status").all_text_contents())


def visible_table_rows(app) -> list[str]:
    """Rows of the results table (the visible one: the Rank tab has a summary table too)."""
    return app.locator(".hfsw-results-table:visible tbody tr").all_inner_texts()


def pick_dataframe(app, name: str, text_col: str, label_col: str) -> None:
    """On the Rank tab, pick the notebook's DataFrame ``name`` and its two columns."""
    labelled_row(app, "Source").get_by_role("button", name="DataFrame", exact=True).click()
    frames = labelled_row(app, "DataFrame")
    if name not in frames.locator("select").inner_text():
        frames.get_by_role("button").click()  # "look for DataFrames again"
    wait_until(
        lambda: name in frames.locator("select").inner_text(),
        30,
        f"{name} listed among the DataFrames",
    )
    frames.locator("select").select_option(name)
    text_cols = labelled_row(app, "Text column(s)").locator("select")
    wait_until(lambda: text_col in text_cols.inner_text(), 30, f"the columns of {name} listed")
    text_cols.select_option([text_col])
    labelled_row(app, "Label column").locator("select").select_option(label_col)


def test_quickstart_app_ranks_filters_and_cancels(page, lab_server, screenshots, big_esm_pool):
    # -- the notebook runs top to bottom from the menu -------------------------------------
    open_notebook(page, lab_server, "01_quickstart.ipynb")
    run_all_cells(page)
    assert error_outputs(page) == []
    page.screenshot(path=screenshots / "01-quickstart-ran.png")

    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    app = the_app(page)
    try:
        app.wait_for(state="attached", timeout=60_000)
    except PlaywrightTimeoutError:
        # Seen once in CI (2026-12-07): every cell ran, the kernel was idle, yet the App's
        # output area stayed empty (the widget view never rendered in that page) while the
        # same notebook rendered at once on the next run. Run the notebook once more; a
        # second empty App fails the test below.
        page.screenshot(path=screenshots / "01-quickstart-app-missing.png")
        run_all_cells(page)
        app = the_app(page)
    app.scroll_into_view_if_needed()
    assert app.locator(".vega-embed svg").count() >= 1, "app.rank() left no chart in Results"

    # -- the user picks their DataFrame and its columns, then presses Rank ------------------
    open_tab(app, "Rank")
    pick_dataframe(app, "my_reviews", "review", "sentiment")
    rank = button(app, "Rank")
    cancel = button(app, "Cancel")
    wait_until(rank.is_enabled, 30, "Rank enabled for my_reviews")
    app.screenshot(path=screenshots / "02-rank-tab-columns-picked.png")

    rank.click()
    # This run can end within a second (the texts' embeddings are cached from the notebook's
    # own ranking), so Cancel is checked on the long run below. When a ranking is done the App
    # switches to its Results tab; the run's status stays on the Rank tab.
    wait_until(
        lambda: "Ranked 7 intermediate datasets" in status_text(app),
        RANKING_TIMEOUT_S,
        "the ranking of my_reviews finishing",
    )
    wait_until(lambda: "Results" in selected_tab(app), 30, "the App opening its Results tab")
    open_tab(app, "Rank")
    assert rank.is_enabled() and cancel.is_disabled()
    bars = app.locator(".hfsw-stage-bar:visible")
    assert bars.count() >= 2  # one bar per stage (embedding, scoring, ...)
    # every stage that ran reports its full count (e.g. "500 / 500 texts", "7 / 7 ESMs")
    stage_texts = stage_texts_now(app)
    counts = [re.search(r"(\d+) / (\d+)", t) for t in stage_texts]
    assert any(counts), stage_texts
    assert all(m.group(1) == m.group(2) for m in counts if m), stage_texts
    app.screenshot(path=screenshots / "03-rank-finished.png")

    # -- the Results tab: a drawn chart; selecting bars filters the table -------------------
    open_tab(app, "Results")
    chart_bars = app.locator(f".vega-embed svg {BAR}:visible")
    wait_until(lambda: chart_bars.count() >= 7, 30, "the bar chart drawn with 7 bars")
    assert len(visible_table_rows(app)) == 7
    app.screenshot(path=screenshots / "04-results-explorer.png")

    first_label = chart_bars.nth(1).get_attribute("aria-label")
    chart_bars.nth(1).click()
    wait_until(lambda: len(visible_table_rows(app)) == 1, 20, "the table showing one selected row")
    task_id = re.search(r"(?:Task ID|task_id): ([^;]+)", first_label).group(1).strip()
    assert task_id in visible_table_rows(app)[0]
    chart_bars.nth(3).click(modifiers=["Shift"])
    wait_until(lambda: len(visible_table_rows(app)) == 2, 20, "the table showing two selected rows")
    app.screenshot(path=screenshots / "05-bars-selected.png")

    # -- a long run against a big generated pool is cancelled; the panel recovers ----------
    open_tab(app, "Rank")
    pool_size = sum(1 for _ in big_esm_pool.iterdir())
    labelled_row(app, "ESMs").get_by_role("button", name="Local folder", exact=True).click()
    folder = labelled_row(app, "ESM folder").locator("input")
    folder.fill(str(big_esm_pool))
    folder.press("Enter")
    wait_until(
        lambda: f"{pool_size}" in app.locator(".hfsw-pool-count:visible").inner_text(),
        60,
        f"the pool count showing {pool_size} ESMs",
    )
    rank.click()
    wait_until(
        lambda: re.search(rf"[1-9]\d* / {pool_size}", " ".join(stage_texts_now(app))),
        120,
        "scoring of the big pool under way",
    )
    app.screenshot(path=screenshots / "06-long-run.png")
    assert cancel.is_enabled() and rank.is_disabled()
    cancel.click()
    wait_until(lambda: "Cancelled after" in status_text(app), 30, "the run reporting cancelled")
    assert rank.is_enabled() and cancel.is_disabled()
    app.screenshot(path=screenshots / "07-cancelled.png")

    labelled_row(app, "ESMs").get_by_role("button", name="Demo collection", exact=True).click()
    wait_until(rank.is_enabled, 30, "Rank enabled again for the demo collection")
    rank.click()
    wait_until(
        lambda: "Ranked 7 intermediate datasets" in status_text(app),
        RANKING_TIMEOUT_S,
        "a new ranking after the cancelled one",
    )
    open_tab(app, "Results")
    wait_until(lambda: chart_bars.count() >= 7, 30, "the chart drawn again")
    assert error_outputs(page) == []
    # A widget that fails to render (a missing front-end module, a view error) logs here.
    assert page.console_errors == []


def stage_texts_now(app) -> list[str]:
    return app.locator(".hfsw-stage-text:visible").all_inner_texts()


def test_esm_rank_magic_notebook_runs_and_draws(page, lab_server, screenshots):
    open_notebook(page, lab_server, "02_esm_rank_magic.ipynb")
    run_all_cells(page)
    assert error_outputs(page) == []
    explorer_bars = page.locator(f".jp-OutputArea-output .vega-embed svg {BAR}")
    wait_until(lambda: explorer_bars.count() >= 5, 30, "the magic's results chart drawn")
    # --no-widget prints a plain table of the top 3
    assert page.locator(".jp-OutputArea-output table").count() >= 1
    magic_output = (
        page.locator(".jp-Cell")
        .filter(has=page.locator(".jp-InputArea", has_text="%esm_rank {target}"))
        .first
    )
    magic_output.scroll_into_view_if_needed()
    magic_output.screenshot(path=screenshots / "08-esm-rank-magic.png")
    assert page.console_errors == []
