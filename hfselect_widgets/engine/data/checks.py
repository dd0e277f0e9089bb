"""Sanity checks of a target before ranking: refuse targets that cannot mean anything.

The request layer (:meth:`~hfselect_widgets.engine.requests.RankingRequest.run`) calls
:func:`check_target_columns` before loading and :func:`check_target` before embedding:

* the text column is the label column: refused (:class:`TextIsLabelError`);
* classification labels that are nearly all distinct (more than half of the rows and more than
  20 values): refused unless forced (:class:`LabelsLookLikeTextError`): the label column is
  almost surely a text column, or the labels are numbers (a regression);
* texts all empty: refused; texts (nearly) all the same: refused unless forced
  (:class:`UninformativeTextError`);
* classes with a single example, or extreme class imbalance: :class:`TargetQualityWarning`.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from hfselect_widgets.errors import (
    Fix,
    LabelsLookLikeTextError,
    TargetQualityWarning,
    TextIsLabelError,
    UninformativeTextError,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hfselect_widgets.engine.data.dataset import Dataset

UNIQUE_LABEL_SHARE = 0.5
"""Refuse a classification whose distinct labels exceed this share of the rows ..."""
UNIQUE_LABEL_MIN = 20
"""... and this many values."""
CONSTANT_TEXT_SHARE = 0.95
"""Refuse texts whose most common value is at least this share of the rows."""
IMBALANCE_RATIO = 50
"""Warn when the largest class is this many times the smallest."""


def check_target_columns(text_col: str | Sequence[str], label_col: str) -> None:
    """Refuse a label column that is also a text column (before anything is loaded)."""
    text_cols = [text_col] if isinstance(text_col, str) else list(text_col)
    if label_col in text_cols:
        raise TextIsLabelError(
            f"The label column {label_col!r} is also the text column: the model would read "
            "the answer.",
            advice="Choose the column with the texts ({0}) and the one with the labels ({1}).",
            field="label_col",
            fixes=[Fix("text_col"), Fix("label_col")],
        )


def check_target(dataset: Dataset, *, force: bool = False) -> list[str]:
    """Refuse a target unfit for ranking; warn (and return the warnings) for a doubtful one.

    ``force`` ranks anyway where a refusal may be wrong (nearly unique labels, nearly constant
    texts). Each warning is also issued as a :class:`TargetQualityWarning`.
    """
    check_target_columns(dataset.text_col, dataset.label_col)
    _check_texts(dataset, force)
    messages: list[str] = []
    if not dataset.is_regression:
        _check_unique_labels(dataset, force)
        messages += _class_warnings(dataset)
    for message in messages:
        warnings.warn(message, TargetQualityWarning, stacklevel=2)
    return messages


def _check_texts(dataset: Dataset, force: bool) -> None:
    texts = [t.strip() for t in dataset.texts]
    column = dataset.text_col
    if not any(texts):
        raise UninformativeTextError(
            f"All {len(texts)} texts in {column!r} are empty: nothing to embed.",
            advice="Choose the column that holds the texts ({0}).",
            field="text_col",
            fixes=[Fix("text_col")],
        )
    if force or len(texts) < 2:
        return
    text, count = Counter(texts).most_common(1)[0]
    if count / len(texts) >= CONSTANT_TEXT_SHARE:
        shown = text if len(text) <= 40 else text[:39] + "…"
        raise UninformativeTextError(
            f"{count} of {len(texts)} texts in {column!r} are the same ({shown!r}): the "
            "ranking would mean nothing.",
            advice="Choose the column that holds the texts ({0}), or {1} to rank anyway.",
            field="text_col",
            fixes=[Fix("text_col"), Fix("force", True)],
        )


def _check_unique_labels(dataset: Dataset, force: bool) -> None:
    if force:
        return
    labels = np.asarray(dataset.labels)
    distinct = len(np.unique(labels))
    if distinct <= UNIQUE_LABEL_MIN or distinct <= UNIQUE_LABEL_SHARE * len(labels):
        return
    names = dataset.class_names or []
    numeric = not names or all(_is_number(n) for n in names)
    what = (
        "if they are numbers, rank a regression ({1})"
        if numeric
        else "it is almost surely a text column: choose the label column ({0}); if the labels "
        "are numbers, rank a regression ({1})"
    )
    raise LabelsLookLikeTextError(
        f"The label column {dataset.label_col!r} has {distinct} distinct values in "
        f"{len(labels)} rows, too many classes to rank.",
        advice=f"{what[0].upper()}{what[1:]}, or {{2}} to rank anyway.",
        field="label_col",
        fixes=[Fix("label_col"), Fix("is_regression", True), Fix("force", True)],
    )


def _class_warnings(dataset: Dataset) -> list[str]:
    counts = np.bincount(np.asarray(dataset.labels, dtype=np.int64))
    counts = counts[counts > 0]
    names = dataset.class_names
    messages = []
    singles = [i for i, c in enumerate(np.bincount(np.asarray(dataset.labels))) if c == 1]
    if singles and len(counts) <= UNIQUE_LABEL_MIN * 5:
        shown = [names[i] if names and i < len(names) else i for i in singles[:5]]
        more = f" and {len(singles) - 5} more" if len(singles) > 5 else ""
        some = "1 class" if len(singles) == 1 else f"{len(singles)} classes"
        messages.append(
            f"{some} of {dataset.label_col!r} {'has' if len(singles) == 1 else 'have'} a "
            "single example "
            f"({', '.join(map(repr, shown))}{more}): their scores are unreliable; use a larger "
            "sample or merge rare classes."
        )
    if len(counts) >= 2 and counts.max() >= IMBALANCE_RATIO * counts.min():
        share = counts.max() / counts.sum()
        messages.append(
            f"The classes of {dataset.label_col!r} are extremely imbalanced (largest "
            f"{counts.max()} rows, {_percent(share)}; smallest {counts.min()}): the ranking mostly "
            "reflects the largest class."
        )
    return messages


def _percent(share: float) -> str:
    """``share`` as a percentage that never rounds a minority away (99.5%, not 100%)."""
    return f"{share:.0%}" if share < 0.995 else f"{share:.1%}"


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


__all__ = ["check_target", "check_target_columns"]
