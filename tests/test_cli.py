"""The command line: a real ranking from a CSV file, outputs written, errors as one clear line."""

from __future__ import annotations

import itertools
import json

import pandas as pd
import pytest
from esm_factory import write_broken_esm, write_esm
from tiny_models import HIDDEN_SIZE, make_tiny_model

from hfselect_widgets import cli
from hfselect_widgets.engine.scoring.result import TaskRanking


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    model = make_tiny_model(root / "model", kind="bert")
    esms = root / "esms"
    for i in range(3):
        write_esm(esms / f"esm{i}", HIDDEN_SIZE, task_id=f"org/task{i}", seed=i)
    write_broken_esm(esms / "broken", "corrupt_weights", dim=HIDDEN_SIZE)
    data = root / "target.csv"
    words = ["good", "bad", "great", "terrible", "movie", "plot", "music", "story"]
    rows = [
        {"sentence": f"{a} {b}", "label": ["neg", "pos"][i % 2]}
        for i, (a, b) in enumerate(itertools.product(words, words))
    ]
    pd.DataFrame(rows).to_csv(data, index=False)
    return model, esms, data


def test_rank_csv_against_folder_prints_top_list_and_writes_outputs(setup, tmp_path, capsys):
    """`rank FILE --esm-dir DIR` prints the top list, reports skipped ESMs and writes CSV/JSON."""
    model, esms, data = setup
    out_csv, out_json, out_html = tmp_path / "r.csv", tmp_path / "r.json", tmp_path / "r.html"
    code = cli.main(
        [
            "rank", str(data), "--text-col", "sentence", "--label-col", "label",
            "--model", str(model), "--esm-dir", str(esms), "--top", "2",
            "-o", str(out_csv), "--output-json", str(out_json), "--output-html", str(out_html),
            "--no-progress",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0
    assert "Top 2 of 3 intermediate datasets" in captured.out
    assert captured.out.count("Score: ") == 2
    assert "1 ESMs were skipped" in captured.err and "corrupt" in captured.err
    assert len(TaskRanking.load(out_csv)) == 3
    metadata = json.loads(out_json.read_text())["metadata"]
    assert metadata["dataset"]["label_column"] == "label"
    assert metadata["num_examples"] == 64
    page = out_html.read_text()
    assert page.count("<rect ") == 3 and "org/task" in page and "<script" not in page


def test_unknown_column_is_one_clear_line_with_exit_status_2(setup, capsys):
    """A user error prints the engine's message (listing the columns) and exits with 2."""
    model, esms, data = setup
    code = cli.main(
        ["rank", str(data), "--text-col", "txt", "--label-col", "label", "--esm-dir", str(esms)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "'sentence'" in err


def test_missing_required_arguments_is_a_usage_error():
    """argparse refuses a rank without --text-col/--label-col (exit status 2)."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["rank", "some/dataset"])
    assert exc.value.code == 2


def test_python_dash_m_entry_point_shows_help():
    """`python -m hfselect_widgets --help` works (the module entry point is wired)."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "hfselect_widgets", "rank", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "--esm-dir" in result.stdout


def test_drop_in_names_are_exported():
    """Changing `from hfselect import X` to `from hfselect_widgets import X` is all it takes."""
    import hfselect_widgets

    for name in [
        "Dataset", "ESM", "ESMConfig", "compute_task_ranking", "compute_scores",
        "find_esm_repo_ids", "fetch_esms", "fetch_esm_configs", "get_esm_coverage", "TaskRanking",
    ]:  # fmt: skip
        assert callable(getattr(hfselect_widgets, name)), name
