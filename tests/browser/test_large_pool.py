"""The results explorer with a 10,000-ESM ranking in real JupyterLab and chromium.

A ranking of 10,000 generated ESMs (configs and scores made up in the notebook: scoring them
is not what is tested here) is shown in a ``ResultsExplorer``. Then, as a person would: the
chart is drawn (30 bars, a histogram of all 10,000 scores), the table shows 50 rows and pages
with its buttons, dragging over the histogram filters the table, and the note that the top
ranks are not separable is visible. Every step leaves a screenshot.
"""

from __future__ import annotations

import json
import re

import pytest
from jupyterlab_session import error_outputs, open_notebook, run_all_cells, wait_until

pytestmark = pytest.mark.browser

NOTEBOOK = "large_pool_explorer.ipynb"
POOL_SIZE = 10_000
TOP_K = 30
BAR = 'path[aria-roledescription="bar"]'
HISTOGRAM_BIN = 'path[aria-roledescription="rect mark"]'

# Scores spread like a real pool's (normal around -0.7); the top 20 carry rank intervals as
# the bootstrap records them, the first three overlapping one another.
BUILD_RANKING = f"""\
import numpy as np
from hfselect_widgets import ResultsExplorer
from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.scoring.result import TaskRanking

rng = np.random.default_rng(0)
configs = [
    ESMConfig(
        base_model_name="bert-base-multilingual-uncased",
        task_id=f"generated/task_{{i:05d}}",
        task_subset=None,
        text_column="text",
        label_column="label",
        task_split="train",
        num_examples=1000,
        language="en",
        dataset_description=f"generated dataset number {{i}}",
        repo_id=f"generated/esm_{{i:05d}}",
    )
    for i in range({POOL_SIZE})
]
ranking = TaskRanking(configs, rng.normal(-0.7, 0.05, {POOL_SIZE}).tolist(),
                      metadata={{"ranker": "esm-logme"}})
for position, config in enumerate(ranking.esm_configs[:20], start=1):
    low, high = (1, 3) if position <= 3 else (position, position + 1)
    config.rank_interval = {{"rank_low": low, "rank_high": high,
                             "p_first": 0.4 if position <= 3 else 0.0,
                             "p_top3": 0.9 if position <= 3 else 0.1}}
explorer = ResultsExplorer(ranking, top_k={TOP_K})
explorer
"""


def write_notebook(path) -> None:
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": BUILD_RANKING.splitlines(keepends=True),
    }
    notebook = {
        "cells": [cell],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))


def table_rows(page) -> list[str]:
    return page.locator(".hfsw-results-table tbody tr").all_inner_texts()


def page_info(page) -> str:
    """The "Rows 1-50 of 10,000" label (its text also while the pager is hidden)."""
    return page.locator(".hfsw-page-info").first.text_content() or ""


def selection_info(page) -> str:
    return page.locator(".jp-OutputArea-output").first.inner_text()


def button(scope, label: str):
    """The button whose text reads ``label`` (icons' glyphs aside)."""
    return scope.locator("button", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")).first


def test_explorer_of_10000_esms_renders_pages_and_filters(page, lab_server, screenshots):
    write_notebook(lab_server.root / "notebooks" / NOTEBOOK)
    open_notebook(page, lab_server, NOTEBOOK)
    run_all_cells(page)
    assert error_outputs(page) == []
    output = page.locator(".jp-OutputArea-output").first

    # -- the chart: the top 30 as bars, every score in the histogram ------------------------
    bars = output.locator(f".vega-embed svg {BAR}")
    wait_until(lambda: bars.count() >= TOP_K, 60, f"the chart drawn with {TOP_K} bars")
    assert bars.count() == TOP_K
    bins = output.locator(f".vega-embed svg {HISTOGRAM_BIN}")
    assert bins.count() >= 5
    assert f"all {POOL_SIZE:,} ESMs" in output.locator(".vega-embed svg").first.inner_html()
    # The rank intervals beside the bars, and the note that ranks 1-3 overlap.
    assert "Ranks 1-3 are not separable" in output.locator(".hfsw-separability-note").inner_text()
    output.screenshot(path=screenshots / "large-01-explorer.png")

    # -- the table: 50 rows a page, and the page buttons ------------------------------------
    wait_until(lambda: len(table_rows(page)) == 50, 30, "the first page of 50 rows")
    assert "Rows 1-50 of 10,000 (page 1 of 200)" in page_info(page)
    assert table_rows(page)[0].split("\t")[0].strip() == "1"
    button(output, "Next").click()
    wait_until(lambda: "Rows 51-100 of 10,000" in page_info(page), 20, "page 2 shown")
    assert table_rows(page)[0].split("\t")[0].strip() == "51"
    button(output, "Last").click()
    wait_until(lambda: "(page 200 of 200)" in page_info(page), 20, "the last page shown")
    assert table_rows(page)[-1].split("\t")[0].strip() == f"{POOL_SIZE}"
    output.locator(".hfsw-results-pager").screenshot(path=screenshots / "large-02-paged.png")

    # -- dragging over the histogram filters the table --------------------------------------
    boxes = [bins.nth(i).bounding_box() for i in range(bins.count())]
    boxes = [b for b in boxes if b and b["width"] > 0]
    left = min(b["x"] for b in boxes)
    right = max(b["x"] + b["width"] for b in boxes)
    middle_y = max(b["y"] + b["height"] for b in boxes) - 5  # inside the plot, above its axis
    # From near the right end to two thirds across: the best scores, a few hundred ESMs (a
    # drag that starts on the plot's very edge starts no brush).
    start_x, end_x = left + (right - left) * 0.97, left + (right - left) * 2 / 3
    page.mouse.move(start_x, middle_y)
    page.mouse.down()
    page.mouse.move((start_x + end_x) / 2, middle_y, steps=5)
    page.mouse.move(end_x, middle_y, steps=5)
    page.mouse.up()

    def filtered() -> int | None:
        match = re.search(r"Showing ([\d,]+) of 10,000 rows: score in", selection_info(page))
        return int(match[1].replace(",", "")) if match else None

    wait_until(lambda: filtered() is not None, 30, "the table filtered by the brushed range")

    # The brush streams its range while it is dragged: wait until the last one has arrived.
    def settled() -> bool:
        before = filtered()
        page.wait_for_timeout(1000)
        return before is not None and before == filtered()

    wait_until(settled, 30, "the brushed range settling")
    shown = filtered()
    assert 0 < shown < POOL_SIZE
    expected_rows = min(shown, 50)
    first_page = f"Rows 1-{expected_rows} of {shown:,}"
    wait_until(lambda: first_page in page_info(page), 20, f"the table at {first_page!r}")
    wait_until(lambda: len(table_rows(page)) == expected_rows, 20, "the filtered rows shown")
    # The best scores in the range, in rank order, from page 1 (the brush may start just
    # below rank 1's score).
    ranks = [int(row.split("\t")[0].strip()) for row in table_rows(page)]
    assert ranks == sorted(ranks) and ranks[0] < 50
    if shown > 50:
        assert button(output, "Next").is_enabled() and button(output, "Previous").is_disabled()
    output.screenshot(path=screenshots / "large-03-brushed.png")
    assert page.console_errors == []
