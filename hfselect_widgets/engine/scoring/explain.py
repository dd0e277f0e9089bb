"""Scores a person can read: plain sentences about one ranking, and its warnings.

Every front end (CLI, HTML report, Results tab) explains a ranking with the same words:

* :func:`how_to_read_score`: what a ranker's score is, in one short paragraph
  (:data:`HOW_TO_READ_SCORE`: the default ranker's, also in ``--help``);
* :func:`score_axis_label`: the name of a ranking's score on a chart axis;
* :func:`explain_scores`: a few sentences about *this* ranking (spread, whether the top gaps are
  within the rank-interval noise, a small target);
* :func:`ranking_warnings`: every warning recorded with the ranking (small sample, target
  checks, training quality of the ESMs, ranker notes), each one sentence, without duplicates;
* :func:`short_source` and :func:`candidate_description`: how a candidate is named and described
  in tables and tooltips.

Pure functions of the ranking (no heavy imports): the widgets import them too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

from hfselect_widgets.engine import defaults
from hfselect_widgets.engine.model_ids import is_hub_id

SCORE_NAMES: dict[str, str] = {
    "esm-logme": "ESM-LogME score",
    "logme-permutation": "LogME gain over shuffled labels",
    "knn": "kNN accuracy",
    "textemb": "TextEmb similarity",
    "fusion": "Fused rank score",
}
"""What each ranker's score is called on chart axes and in sentences."""

WHAT_THE_SCORE_IS: dict[str, str] = {
    "esm-logme": (
        "Each score is the LogME evidence of the target's labels given the target's embeddings "
        "transformed by one candidate's ESM, per example (hf-dataset-selector's ESM-LogME): how "
        "well that intermediate dataset's transfer fits your task."
    ),
    "logme-permutation": (
        "Each score is how much better your labels fit the target's embeddings, transformed by "
        "one candidate's ESM, than shuffled labels do: the LogME evidence per example of your "
        "labels minus its mean over 5 seeded shufflings of them (the same numbers on every run). "
        "This removes the part of ESM-LogME that does not depend on your labels; near 0 means "
        "the candidate explains your labels no better than chance. hf-dataset-selector's ESM-LogME score is kept beside it "
        "as a column."
    ),
    "knn": (
        "Each score is the leave-one-out k-nearest-neighbour accuracy (R² for regression) of "
        "your labels on the target's embeddings transformed by one candidate's ESM."
    ),
    "textemb": (
        "Each score is the cosine similarity of the mean base-model embedding of your texts and "
        "of the candidate's texts: how near the domains are, without looking at labels."
    ),
    "fusion": (
        "Each score is minus the candidate's mean rank under the permutation-controlled "
        "ESM-LogME, kNN and TextEmb rankers."
    ),
}
"""One or two sentences per ranker: what its score measures."""


def _ranker(ranking_or_ranker: Any) -> str:
    """The ranker of a ranking (its metadata; none recorded: ESM-LogME, which is what
    ``compute_task_ranking`` and hf-dataset-selector compute) or a ranker's name."""
    if isinstance(ranking_or_ranker, str):
        return ranking_or_ranker or "esm-logme"
    if ranking_or_ranker is None:
        return defaults.RANKER
    return _metadata(ranking_or_ranker).get("ranker") or "esm-logme"


def how_to_read_score(ranking_or_ranker: Any = None) -> str:
    """What a ranking's score is and how to read it, in one short paragraph: for the ranker
    that made the ranking, or the ranker named (``None``: the front ends' default)."""
    ranker = _ranker(ranking_or_ranker)
    what = WHAT_THE_SCORE_IS.get(ranker, f"Each score is the {ranker!r} ranker's score.")
    return what + (
        " Higher is better. Scores compare only within one ranking (same target, same base "
        "model); their absolute value depends on the target and is not a probability. Whether "
        "a gap between two scores matters depends on how noisy the target sample is: rank with "
        "rank intervals (--uncertainty 20 on the command line and in the magic, uncertainty=20 "
        "in Python, Rank intervals in the App) to see which top candidates are told apart, and "
        "treat candidates whose intervals overlap as equally good."
    )


HOW_TO_READ_SCORE = how_to_read_score()
"""How to read the front ends' default ranker's score (``--help``, the README, reports)."""


def score_axis_label(ranking_or_ranker: Any = None) -> str:
    """The axis title of a chart of scores, naming the score of the ranking's ranker (or of
    the ranker named; ``None``: the front ends' default), e.g. ``"LogME gain over shuffled
    labels (higher is better)"``."""
    ranker = _ranker(ranking_or_ranker)
    return f"{SCORE_NAMES.get(ranker, f'{ranker} score')} (higher is better)"


SCORE_AXIS_LABEL = score_axis_label()
"""The axis title of the front ends' default ranker's score."""


# Below this many rows a ranking is a rough guide at best, whatever the embedding dimension.
SMALL_TARGET_ROWS = 100


def _finite(scores: Iterable[float]) -> list[float]:
    return [float(s) for s in scores if s is not None and math.isfinite(float(s))]


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def _metadata(ranking: Any) -> dict[str, Any]:
    return dict(getattr(ranking, "metadata", None) or {})


def small_target_warning(ranking: Any) -> str | None:
    """The sentence warning that the target is small, or ``None``.

    Small means not more rows than the embedding dimension (LogME is unreliable there), or
    fewer than :data:`SMALL_TARGET_ROWS` rows.
    """
    meta = _metadata(ranking)
    rows = meta.get("num_examples")
    if not isinstance(rows, int):
        return None
    dim = meta.get("embedding_dim")
    if isinstance(dim, int) and rows <= dim:
        return (
            f"The target has only {rows} rows, not more than the embedding dimension {dim}: "
            "treat this ranking as a rough guide and rank again with more rows."
        )
    if rows < SMALL_TARGET_ROWS:
        return (
            f"The target has only {rows} rows: small gaps between scores may be noise; rank "
            "again with more rows if you can."
        )
    return None


def _interval_sentence(ranking: Any) -> str | None:
    configs = list(getattr(ranking, "esm_configs", []) or [])
    intervals = [getattr(c, "rank_interval", None) for c in configs]
    if not any(intervals):
        return None
    resamples = (_metadata(ranking).get("uncertainty") or {}).get("resamples")
    how = f" over {resamples} resamples of the target rows" if resamples else ""
    first = intervals[0] if intervals else None
    # The leading rows whose rank interval reaches rank 1: not told apart from the first.
    tied = 0
    for interval in intervals:
        if not interval or int(interval.get("rank_low", 0)) > 1:
            break
        tied += 1
    if first and tied <= 1 and int(first.get("rank_high", 1)) == 1:
        p = first.get("p_first")
        p_text = f" (first in {float(p):.0%} of them)" if p is not None else ""
        return f"Rank 1 stays first{how}{p_text}: the top gap is larger than the resampling noise."
    if tied >= 2:
        return (
            f"The top {tied} can each rank first{how}: their gaps are within the resampling "
            "noise, so treat them as equally good candidates."
        )
    return (
        f"Rank 1's rank interval{how} reaches below rank 1: the top gap is within the "
        "resampling noise."
    )


HOW_TO_GET_INTERVALS: dict[str | None, str] = {
    "cli": "rank again with --uncertainty 20",
    "magic": "rank again with --uncertainty 20",
    "python": "rank again with uncertainty=20",
    "widget": "switch on Rank intervals in the Rank tab and rank again",
    None: "rank again with rank intervals for the top 20 (--uncertainty 20; uncertainty=20 in "
    "Python; Rank intervals in the App)",
}
"""How each front end asks for rank intervals, in its own terms."""


def explain_scores(
    ranking: Any, *, general: bool = True, front_end: str | None = None
) -> list[str]:
    """A few plain sentences on how to read ``ranking``'s scores.

    What the score is and that higher is better; that scores compare only within one ranking;
    the spread of this ranking's scores; whether the top gaps are within the rank-interval
    noise (when the ranking was made with ``uncertainty``); a warning when the target is small.
    ``general=False`` leaves out the first two (for a page that shows
    :data:`HOW_TO_READ_SCORE` already). ``front_end`` (``"cli"``, ``"magic"``, ``"python"``,
    ``"widget"``) words the advice in that front end's terms (:data:`HOW_TO_GET_INTERVALS`).
    """
    meta = _metadata(ranking)
    ranker = _ranker(ranking)
    sentences = []
    if general:
        what = WHAT_THE_SCORE_IS.get(ranker, f"Rows are ordered by the {ranker!r} ranker's score.")
        sentences.append(what)
        if ranker not in ("esm-logme", "logme-permutation"):
            sentences.append(
                "The ESM-LogME score (hf-dataset-selector's) is kept for every candidate as a "
                "column of the table and the exports."
            )
    model = meta.get("model_name") or meta.get("model_id")
    same = "the same target" + (f" and base model {model}" if model else " and base model")
    if general:
        sentences.append(
            f"Scores compare only within one ranking ({same}), and higher is better; their "
            "absolute value is not a probability or an accuracy and differs from target to "
            "target."
        )
    scores = _finite(getattr(ranking, "scores", []) or [])
    if len(scores) >= 2:
        spread = max(scores) - min(scores)
        top_gap = scores[0] - scores[1] if scores[0] >= scores[1] else 0.0
        decimals = score_decimals(scores)
        sentences.append(
            f"This ranking's {len(scores)} scores span {min(scores):.{decimals}f} to "
            f"{max(scores):.{decimals}f} (a spread of {_fmt(spread)}); "
            + (f"rank 1 leads rank 2 by {_fmt(top_gap)}." if top_gap > 0 else "ranks 1 and 2 tie.")
        )
    elif len(scores) == 1:
        sentences.append(f"Only one candidate was scored ({_fmt(scores[0])}): nothing to compare.")
    if ranker == "logme-permutation" and scores:
        chance = sum(1 for score in scores if score <= 0)
        if chance == len(scores):
            sentences.append(
                "No candidate scores above 0: none explains your labels better than shuffled "
                "labels, so this pool may hold no helpful intermediate dataset for your task."
            )
        elif chance:
            sentences.append(
                f"{chance} of {len(scores)} candidates score 0 or below: they explain your "
                "labels no better than shuffled labels."
            )
    interval = _interval_sentence(ranking)
    if interval:
        sentences.append(interval)
    elif len(scores) >= 2:
        sentences.append(
            f"No rank intervals were computed: "
            f"{HOW_TO_GET_INTERVALS.get(front_end, HOW_TO_GET_INTERVALS[None])} to see whether "
            "the top gaps exceed the noise."
        )
    small = small_target_warning(ranking)
    if small:
        sentences.append(small)
    return sentences


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v]


def ranking_warnings(ranking: Any) -> list[str]:
    """Every warning recorded with ``ranking``, each a sentence, first occurrence kept.

    The scoring warnings (the small-sample warning, unchecked base models), the target checks'
    warnings (``metadata["target_warnings"]``), the training-quality warnings recorded in the
    ESM configs (``training_warnings``), and ranker notes (``metadata["ranker_notes"]``).
    """
    meta = _metadata(ranking)
    found: list[str] = []
    found += _as_list(meta.get("warnings"))
    found += _as_list(meta.get("target_warnings"))
    for config in getattr(ranking, "esm_configs", []) or []:
        get = getattr(config, "get", None)
        recorded = get("training_warnings") if callable(get) else None
        for message in _as_list(recorded):
            name = getattr(config, "task_id", None) or short_source(
                getattr(config, "repo_id", None) or getattr(config, "source", None)
            )
            found.append(f"ESM for {name}: {message}")
    found += _as_list(meta.get("ranker_notes"))
    return list(dict.fromkeys(m.strip() for m in found if m and m.strip()))


def short_source(source: str | os.PathLike | None) -> str:
    """A candidate's ESM as a short name: the Hub repo id, or a local folder's name."""
    if source is None:
        return ""
    text = str(source)
    if is_hub_id(text) and not os.path.exists(text):
        return text
    name = os.path.basename(text.rstrip("/\\"))
    return name or text


def candidate_description(config: Any) -> str:
    """The candidate dataset's ``dataset_description`` from its ESM config ("" if none)."""
    get = getattr(config, "get", None)
    value = get("dataset_description") if callable(get) else None
    return str(value).strip() if value else ""


def format_score(value: float, scores: Sequence[float] | None = None) -> str:
    """A score with enough decimals to tell this ranking's scores apart (at least 3, at most 6),
    the same number of decimals for every row of one ranking."""
    if value is None or not math.isfinite(float(value)):
        return "—"
    return f"{float(value):.{score_decimals(scores or [value])}f}"


def score_decimals(scores: Sequence[float]) -> int:
    """Decimals that show the smallest gap between neighbouring scores (3 to 6)."""
    values = sorted(_finite(scores), reverse=True)
    gaps = [a - b for a, b in zip(values, values[1:], strict=False) if a - b > 0]
    if not gaps:
        return 3
    smallest = min(gaps)
    return int(min(6, max(3, math.ceil(-math.log10(smallest)) + 1)))


__all__ = [
    "HOW_TO_GET_INTERVALS",
    "HOW_TO_READ_SCORE",
    "SCORE_AXIS_LABEL",
    "SCORE_NAMES",
    "WHAT_THE_SCORE_IS",
    "SMALL_TARGET_ROWS",
    "candidate_description",
    "explain_scores",
    "format_score",
    "how_to_read_score",
    "ranking_warnings",
    "score_axis_label",
    "score_decimals",
    "short_source",
    "small_target_warning",
]
