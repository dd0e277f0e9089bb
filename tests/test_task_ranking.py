"""TaskRanking: hfselect's behaviour (sorting, NaN removal, columns) plus export and short reprs."""

from __future__ import annotations

import json
import math

import pytest

from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.scoring.result import PANDAS_COLUMNS, TaskRanking
from hfselect_widgets.errors import InvalidTaskRankingError


def _config(i: int, **extra) -> ESMConfig:
    return ESMConfig(
        base_model_name="m",
        task_id=f"org/task{i}",
        task_subset=None if i % 2 else f"sub{i}",
        text_column=["q", "a"] if i == 3 else "text",
        label_column="label",
        task_split="train",
        num_examples=1000 + i,
        esm_architecture="linear",
        repo_id=f"user/esm-task{i}",
        **extra,
    )


def _ranking(n: int = 5, **kwargs) -> TaskRanking:
    scores = [0.1 * ((i * 7) % n) - 0.2 for i in range(n)]
    return TaskRanking([_config(i) for i in range(n)], scores, **kwargs)


def test_sorted_descending_with_ranks_from_one():
    """Rows are sorted by score, best first, ranked 1..n."""
    ranking = _ranking(6)
    assert ranking.scores == sorted(ranking.scores, reverse=True)
    assert ranking.ranks == [1, 2, 3, 4, 5, 6]


def test_nan_scores_are_removed_and_reported():
    """NaN scores disappear from the ranking (as hfselect) and are listed as failures."""
    ranking = TaskRanking([_config(0), _config(1)], [float("nan"), 0.5])
    assert ranking.task_ids == ["org/task1"]
    assert "user/esm-task0" in ranking.failures


def test_empty_ranking_is_an_error_that_names_failures():
    """A ranking with nothing scored is refused with the reasons."""
    with pytest.raises(InvalidTaskRankingError, match="broken"):
        TaskRanking([], [], failures={"x/y": "broken weights"})


def test_to_pandas_has_hfselects_columns_indexed_by_rank():
    """to_pandas() keeps hfselect's exact columns; repo ids only on request."""
    frame = _ranking().to_pandas()
    assert frame.index.name == "Rank"
    assert list(frame.columns) == [*PANDAS_COLUMNS, "Score"]
    with_ids = _ranking().to_pandas(with_repo_id=True)
    assert "ESM Repo ID" in with_ids.columns
    assert with_ids["ESM Repo ID"].iloc[0].startswith("user/esm-task")


def test_printed_top_list_follows_hfselect_format():
    """str() prints '1.   <task_id>   Score: <score>' lines, 10 at most, then '...'."""
    ranking = _ranking(12)
    lines = str(ranking).splitlines()
    assert len(lines) == 11 and lines[-1] == "..."
    assert lines[0].startswith("1.   org/task") and "Score: " in lines[0]


def test_repr_is_short_for_thousands_of_rows():
    """The repr shows the top 10 and a count, never thousands of lines."""
    ranking = _ranking(3000)
    text = repr(ranking)
    assert len(text.splitlines()) <= 12
    assert "2990 more" in text


def test_html_repr_links_hub_datasets_and_is_bounded():
    """The notebook HTML shows at most 20 rows, with links to the datasets' Hub pages."""
    html = _ranking(50)._repr_html_()
    assert html.count("<tr>") == 21  # header + 20 rows
    assert 'href="https://huggingface.co/datasets/org/task' in html


def test_html_table_of_the_top_rows_still_counts_the_whole_ranking():
    """to_html(max_rows=k) (the run panel's summary) shows k rows under a caption with the
    size of the whole ranking, and says how many rows it left out."""
    html = _ranking(7).to_html(max_rows=5)
    assert html.count("<tr>") == 6  # header + 5 rows
    assert "7 intermediate datasets" in html and "2 more rows" in html
    assert "more rows" not in _ranking(3).to_html(max_rows=5)


def test_slicing_and_indexing_keep_ranks():
    """ranking[i] and ranking[a:b] are rankings that keep the original ranks (hfselect)."""
    ranking = _ranking(8)
    assert ranking[2].ranks == [3]
    assert ranking[2:5].ranks == [3, 4, 5]
    assert [r.task_ids[0] for r in ranking][:2] == ranking.task_ids[:2]


def test_json_round_trip_keeps_configs_metadata_and_failures(tmp_path):
    """to_json/load give back the same ranking, metadata and failures."""
    ranking = _ranking(4, failures={"bad/esm": "corrupt"}, metadata={"model_name": "m"})
    path = tmp_path / "r.json"
    ranking.to_json(path)
    loaded = TaskRanking.load(path)
    assert loaded == ranking
    assert loaded.metadata == {"model_name": "m"}
    assert loaded.failures == {"bad/esm": "corrupt"}
    assert json.loads(path.read_text())["rows"][0]["repo_id"].startswith("user/")


def test_csv_round_trip_keeps_rows_and_text_column_lists(tmp_path):
    """to_csv/load keep task ids, scores, ranks, repo ids and multi-column text columns."""
    ranking = _ranking(5)
    path = tmp_path / "r.csv"
    ranking.to_csv(path)
    loaded = TaskRanking.load(path)
    assert loaded.task_ids == ranking.task_ids
    assert loaded.repo_ids == ranking.repo_ids
    assert all(math.isclose(a, b) for a, b in zip(loaded.scores, ranking.scores, strict=True))
    text_cols = {c.task_id: c.text_column for c in loaded.esm_configs}
    assert text_cols["org/task3"] == ["q", "a"]


def test_csv_without_ranking_columns_is_refused(tmp_path):
    """Loading a CSV that is not a ranking says which columns are missing."""
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidTaskRankingError, match="Task ID"):
        TaskRanking.load(path)


def test_load_goes_by_the_content_and_refuses_other_files_with_a_typed_error(tmp_path):
    """The CLI's ``-o`` writes CSV whatever the name: a CSV saved as ``ranking.json`` still
    loads (it once crashed ``verify`` with a raw JSONDecodeError); a broken JSON file or a
    file that is no ranking raises InvalidTaskRankingError naming the file."""
    ranking = _ranking(3)
    csv_named_json = tmp_path / "ranking.json"
    ranking.to_csv(csv_named_json)
    assert TaskRanking.load(csv_named_json).task_ids == ranking.task_ids
    broken = tmp_path / "broken.json"
    broken.write_text('{"rows": [')
    with pytest.raises(InvalidTaskRankingError, match="broken.json is not a ranking saved as JSON"):
        TaskRanking.load(broken)
    binary = tmp_path / "notes.json"
    binary.write_text("just some notes\n")
    with pytest.raises(InvalidTaskRankingError, match="notes.json is not a saved ranking"):
        TaskRanking.load(binary)


def test_ranking_json_leaves_out_the_source_mean_embedding_and_still_round_trips():
    """The source mean embedding (D floats per ESM, textemb's input) is not copied into a
    ranking's JSON: at 10,000 ESMs it made the file 126 MB. Everything else is kept."""
    from hfselect_widgets.engine.esm.format import ESMConfig
    from hfselect_widgets.engine.scoring.rankers import SOURCE_EMBEDDING_KEY
    from hfselect_widgets.engine.scoring.result import TaskRanking

    configs = [
        ESMConfig(task_id=f"t{i}", base_model_name="m", **{SOURCE_EMBEDDING_KEY: [0.1] * 384})
        for i in range(3)
    ]
    ranking = TaskRanking(configs, [0.3, 0.2, 0.1])
    text = ranking.to_json()
    assert SOURCE_EMBEDDING_KEY not in text and "t2" in text
    assert TaskRanking.from_dict(json.loads(text)) == ranking
    assert configs[0].get(SOURCE_EMBEDDING_KEY) is not None  # the ESM's own config is untouched
