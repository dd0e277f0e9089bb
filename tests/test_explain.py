"""Scores a person can read: the explanation and warnings of a ranking
(engine/scoring/explain.py), and how the HTML table and report show them."""

from __future__ import annotations

import html
import re

from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.scoring import explain
from hfselect_widgets.engine.scoring.result import WARNING_COLOUR, TaskRanking
from hfselect_widgets.static_chart import ranking_html, ranking_svg, score_axis


def _ranking(scores=(-0.65, -0.66, -0.69), intervals=None, **metadata) -> TaskRanking:
    configs = []
    for i, _ in enumerate(scores):
        config = ESMConfig(
            "model", f"org/task{i}", text_column="text", label_column="label",
            task_split="train", num_examples=100, esm_architecture="linear",
            repo_id=None, source=f"/very/long/absolute/path/to/esms/esm-{i}",
        )  # fmt: skip
        if intervals:
            config.rank_interval = intervals[i]
        configs.append(config)
    meta = {"num_examples": 500, "embedding_dim": 384, "model_name": "my-model"}
    meta.update(metadata)
    return TaskRanking(configs, list(scores), metadata=meta)


def _interval(low, high, p_first):
    return {"rank_low": low, "rank_high": high, "p_first": p_first, "p_top3": 1.0}


def test_explanation_says_what_the_score_is_and_the_spread_of_this_ranking():
    """What the score is, higher is better, comparable only within one ranking (naming the
    base model), and this ranking's range and spread with the ranking's decimals."""
    text = " ".join(explain.explain_scores(_ranking()))
    assert "LogME evidence of the target's labels" in text and "per example" in text
    assert "higher is better" in text.lower()
    assert "only within one ranking" in text and "my-model" in text
    assert "span -0.690 to -0.650" in text and "spread of 0.04" in text
    assert "uncertainty=20 in Python" in text  # no intervals: says how to get them
    # ... in the words of the front end that asks
    cli = " ".join(explain.explain_scores(_ranking(), front_end="cli"))
    assert "rank again with --uncertainty 20 to see" in cli
    widget = " ".join(explain.explain_scores(_ranking(), front_end="widget"))
    assert "switch on Rank intervals in the Rank tab" in widget and "--" not in widget


def test_the_permutation_control_is_explained_in_its_own_words_and_chance_is_named():
    """A ranking by the front ends' default ranker (logme-permutation) says its score is the
    gain over shuffled labels, not ESM-LogME's evidence; candidates at or below 0 are named as
    no better than chance, and a pool where every candidate is gets a sentence saying so. The
    axis label, the report and the general paragraph follow the ranking's ranker."""
    ranking = _ranking(scores=(0.012, 0.004, -0.001), ranker="logme-permutation")
    text = " ".join(explain.explain_scores(ranking))
    assert "than shuffled labels do" in text and "higher is better" in text
    assert "1 of 3 candidates score 0 or below" in text
    none = _ranking(scores=(-0.001, -0.002), ranker="logme-permutation")
    assert "No candidate scores above 0" in " ".join(explain.explain_scores(none))
    # ESM-LogME rankings get no such sentence: their scores are not centred on chance
    assert "0 or below" not in " ".join(explain.explain_scores(_ranking()))
    assert explain.score_axis_label(ranking) == "LogME gain over shuffled labels (higher is better)"
    assert explain.score_axis_label(_ranking()) == "ESM-LogME score (higher is better)"
    assert explain.HOW_TO_READ_SCORE == explain.how_to_read_score("logme-permutation")
    page = ranking_html(ranking)
    assert html.escape(explain.how_to_read_score(ranking)[:60]) in page
    assert "LogME gain over shuffled labels" in ranking_svg(ranking)


def test_a_ranking_by_another_ranker_shows_esm_logme_beside_each_score():
    """hf-dataset-selector's score stays in view whatever ranker ordered the rows: the printed
    lines end in "ESM-LogME: <score>" and the HTML table has an ESM-LogME column. A ranking by
    ESM-LogME itself prints hfselect's lines unchanged (no second score)."""
    ranking = _ranking(scores=(0.02, 0.01, -0.001), ranker="logme-permutation")
    for config, plain in zip(ranking.esm_configs, (-0.61, -0.66, -0.69), strict=True):
        config.ranker_scores = {"logme-permutation": 0.0, "esm-logme": plain}
    lines = str(ranking).splitlines()
    assert lines[0].endswith("Score: 0.02  ESM-LogME: -0.61")
    page = ranking.to_html()
    assert ">ESM-LogME</th>" in page and ">-0.660</td>" in page
    plain = _ranking()
    assert "ESM-LogME" not in str(plain) and ">ESM-LogME</th>" not in plain.to_html()


def test_explanation_says_whether_the_top_gap_is_within_the_rank_interval_noise():
    """With rank intervals: overlapping leaders are called equally good; a leader that
    always stays first is called separated from the noise."""
    tied = _ranking(
        intervals=[_interval(1, 2, 0.6), _interval(1, 3, 0.4), _interval(2, 3, 0.0)],
        uncertainty={"top_k": 3, "resamples": 20},
    )
    text = " ".join(explain.explain_scores(tied))
    assert "The top 2 can each rank first over 20 resamples" in text
    assert "within the resampling noise" in text
    clear = _ranking(intervals=[_interval(1, 1, 1.0), _interval(2, 3, 0.0), _interval(2, 3, 0)])
    assert "Rank 1 stays first (first in 100% of them)" in " ".join(explain.explain_scores(clear))


def test_small_target_adds_a_warning_sentence():
    """Not more rows than the embedding dimension: the explanation warns; a large target
    does not."""
    assert explain.small_target_warning(_ranking()) is None
    small = _ranking(num_examples=50)
    assert "only 50 rows, not more than the embedding dimension 384" in " ".join(
        explain.explain_scores(small)
    )


def test_ranking_warnings_gather_every_recorded_warning_once():
    """Scoring warnings, target-check warnings, training-quality warnings of the ESMs and
    ranker notes, each once, in that order."""
    ranking = _ranking(
        warnings=["small sample"],
        target_warnings=["small sample", "one class has a single example"],
        ranker_notes=["knn used k=5"],
    )
    ranking.esm_configs[1].update({"training_warnings": ["the fit explains little"]})
    assert explain.ranking_warnings(ranking) == [
        "small sample",
        "one class has a single example",
        "ESM for org/task1: the fit explains little",
        "knn used k=5",
    ]


def test_html_table_shows_short_esm_names_no_none_descriptions_and_amber_warnings():
    """The table names ESMs by folder name (full path in the title), shows no "None" for
    an empty subset, shows a candidate's dataset_description and the warnings in amber;
    to_pandas() has an empty subset cell too."""
    ranking = _ranking(warnings=["LogME scores are unreliable for such samples."])
    ranking.esm_configs[0].update({"dataset_description": "Movie reviews, two classes"})
    page = ranking.to_html()
    assert "<code>esm-0</code>" in page
    assert "title='/very/long/absolute/path/to/esms/esm-0'" in page
    assert ">/very/long" not in page  # the path is no cell text
    assert "None" not in page
    assert "Movie reviews, two classes" in page
    assert f"color:{WARNING_COLOUR}" in page and "unreliable" in page
    assert "higher is better" in page
    assert list(ranking.to_pandas()["Task Subset"]) == ["", "", ""]


def test_report_plots_scores_on_a_labelled_axis_that_does_not_stretch_tiny_gaps():
    """The report's chart: one dot per score on an axis titled "ESM-LogME score (higher is
    better)" (the ranking records no ranker: ESM-LogME) with value ticks; a spread of 1e-5 near -0.77 is not stretched across the plot;
    the page explains the scores and shows the warnings."""
    low, high, ticks = score_axis([-0.766016, -0.766030])
    assert high - low >= 0.05 * 0.766 and len(ticks) >= 3
    ranking = _ranking(scores=(-0.766016, -0.766026, -0.766030), warnings=["beware"])
    svg = ranking_svg(ranking)
    assert svg.count("<circle ") == 3 and "<rect " not in svg
    assert "ESM-LogME score (higher is better)" in svg
    xs = [float(x) for x in re.findall(r"<circle cx='([\d.]+)'", svg)]
    assert max(xs) - min(xs) < 20  # a near-tie looks like one
    page = ranking_html(ranking)
    assert "How to read the scores" in page
    assert html.escape(explain.how_to_read_score(ranking)[:60]) in page
    assert "spread of" in page and "given the target embeddings transformed" not in page
    assert page.count("beware") == 1 and f"color:{WARNING_COLOUR}" in page


def test_short_source_and_score_decimals():
    """Hub ids stay whole, folders become their name; decimals tell the closest scores
    apart (3 to 6)."""
    assert explain.short_source("org/esm-x") == "org/esm-x"
    assert explain.short_source("/a/b/esm-folder/") == "esm-folder"
    assert explain.short_source(None) == ""
    assert explain.score_decimals([-0.65, -0.66, -0.69]) == 3
    assert explain.score_decimals([-0.766016, -0.766026]) == 6
    assert explain.format_score(-0.7, [-0.7, -0.6]) == "-0.700"
