"""Column suggestions: guess the text column(s), the label column and the task type.

:func:`suggest_columns` works from a schema (``datasets.Features`` or ``{column: dtype}``),
optionally with a few sample rows, or from a DataFrame; the widgets prefill their forms with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hfselect_widgets.engine.data.sampling import dtype_kind, feature_kind


@dataclass
class ColumnSuggestion:
    """A guess at how to use a dataset's columns; ``reasons`` explains it to the user."""

    text_cols: list[str] = field(default_factory=list)
    label_col: str | None = None
    is_regression: bool | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def text_col(self) -> str | list[str] | None:
        """The text column(s) in the form the loaders take: a name, a list, or None."""
        if not self.text_cols:
            return None
        return self.text_cols[0] if len(self.text_cols) == 1 else list(self.text_cols)


@dataclass
class _ColumnProfile:
    name: str
    kind: str  # classlabel | string | int | float | bool | other
    avg_length: float | None = None
    num_unique: int | None = None
    num_values: int | None = None
    whole_numbers: bool | None = None


LABEL_NAMES = (
    "label",
    "labels",
    "gold_label",
    "target",
    "class",
    "category",
    "sentiment",
    "score",
    "rating",
    "stars",
    "polarity",
    "emotion",
    "intent",
    "topic",
    "similarity_score",
    "relatedness_score",
    "y",
)
"""Label column names, most telling first (matched case-insensitively)."""

TEXT_PAIRS = (
    ("sentence1", "sentence2"),
    ("premise", "hypothesis"),
    ("question1", "question2"),
    ("question", "sentence"),
    ("text1", "text2"),
    ("text_a", "text_b"),
    ("sentence_a", "sentence_b"),
    ("text", "text_pair"),
    ("query", "passage"),
    ("question", "passage"),
)
"""Column pairs that form one input (joined with ``" [SEP] "``)."""

TEXT_NAMES = (
    "text",
    "sentence",
    "content",
    "review",
    "review_body",
    "review_text",
    "document",
    "comment",
    "tweet",
    "body",
    "question",
    "utterance",
    "passage",
    "abstract",
    "description",
    "headline",
    "title",
    "message",
    "sms",
    "query",
)
"""Single text column names, most telling first."""

_ID_NAMES = {"id", "idx", "index", "uid", "guid", "key", "__index_level_0__"}
_PROFILE_SAMPLE_ROWS = 1000


def _is_id_like(name: str) -> bool:
    lowered = name.lower()
    return lowered in _ID_NAMES or lowered.endswith(("_id", "_idx"))


def _profiles_from_frame(df: pd.DataFrame) -> list[_ColumnProfile]:
    sample = df.head(_PROFILE_SAMPLE_ROWS)
    profiles = []
    for name in sample.columns:
        series = sample[name]
        values = series.dropna()
        if pd.api.types.is_bool_dtype(series.dtype):
            kind = "bool"
        elif pd.api.types.is_integer_dtype(series.dtype):
            kind = "int"
        elif pd.api.types.is_float_dtype(series.dtype):
            kind = "float"
        elif len(values) and all(isinstance(v, str) for v in values):
            kind = "string"
        elif len(values) and all(isinstance(v, (int, np.integer)) for v in values):
            kind = "int"
        else:
            kind = "other" if len(values) else "string"
        profile = _ColumnProfile(str(name), kind, num_values=len(values))
        if kind == "string" and len(values):
            profile.avg_length = float(values.map(len).mean())
            profile.num_unique = int(values.nunique())
        elif kind in ("int", "bool", "float") and len(values):
            profile.num_unique = int(values.nunique())
            if kind == "float":
                profile.whole_numbers = bool(np.all(np.mod(values.to_numpy(float), 1) == 0))
        profiles.append(profile)
    return profiles


def _profiles(source: Any, sample: pd.DataFrame | None) -> list[_ColumnProfile]:
    """Column profiles from Features, a DataFrame or a ``{name: dtype}`` mapping."""
    if isinstance(source, pd.DataFrame):
        return _profiles_from_frame(source)
    if not isinstance(source, Mapping):
        raise TypeError(
            "suggest_columns needs datasets.Features, a pandas DataFrame or a dict of "
            f"column name -> dtype, got {type(source).__name__}."
        )
    stats = {p.name: p for p in _profiles_from_frame(sample)} if sample is not None else {}
    profiles = []
    for name, dtype in source.items():
        kind = dtype_kind(dtype) if isinstance(dtype, str) else feature_kind(dtype)
        profile = _ColumnProfile(str(name), kind)
        measured = stats.get(str(name))
        if measured is not None:
            profile.avg_length = measured.avg_length
            profile.num_unique = measured.num_unique
            profile.num_values = measured.num_values
            profile.whole_numbers = measured.whole_numbers
        profiles.append(profile)
    return profiles


def _looks_categorical(profile: _ColumnProfile) -> bool:
    """A string column of short, repeated values (class names rather than texts)."""
    if profile.kind != "string" or profile.num_unique is None or not profile.num_values:
        return False
    return profile.num_values >= 4 and (
        profile.num_unique <= max(2, profile.num_values // 4) and (profile.avg_length or 0) <= 30
    )


def _choose_label(profiles: list[_ColumnProfile], reasons: list[str]) -> _ColumnProfile | None:
    usable = [p for p in profiles if p.kind != "other" and not _is_id_like(p.name)]
    by_name = {p.name.lower(): p for p in usable}

    def fits(profile: _ColumnProfile) -> bool:
        # A long, varied string column named "label" is a text, not a label.
        return profile.kind != "string" or profile.num_unique is None or _looks_categorical(profile)

    for wanted in LABEL_NAMES:
        p = by_name.get(wanted)
        if p is not None and fits(p):
            reasons.append(f"Label column {p.name!r}: its name is a usual label name.")
            return p
    for p in usable:
        if p.kind == "classlabel":
            reasons.append(f"Label column {p.name!r}: it is a ClassLabel feature.")
            return p
    for p in usable:
        lowered = p.name.lower()
        if lowered.endswith(("label", "labels", "_score", "_class", "_target")) and fits(p):
            reasons.append(f"Label column {p.name!r}: its name ends like a label name.")
            return p
    for p in reversed(usable):
        if p.kind in ("int", "bool", "float") or _looks_categorical(p):
            reasons.append(
                f"Label column {p.name!r}: no column is named like a label; it is the last "
                "column that holds numbers or few distinct values. Check it."
            )
            return p
    reasons.append("No label column found: choose one.")
    return None


def _choose_texts(
    profiles: list[_ColumnProfile], label: _ColumnProfile | None, reasons: list[str]
) -> list[str]:
    label_name = label.name if label is not None else None
    strings = [
        p
        for p in profiles
        if p.kind == "string" and p.name != label_name and not _is_id_like(p.name)
    ]
    by_name = {p.name.lower(): p for p in strings}
    for first, second in TEXT_PAIRS:
        if first in by_name and second in by_name:
            pair = [by_name[first].name, by_name[second].name]
            reasons.append(
                f"Text columns {pair[0]!r} + {pair[1]!r}: a text pair, joined with ' [SEP] '."
            )
            return pair
    texts = [p for p in strings if not _looks_categorical(p)] or strings
    for wanted in TEXT_NAMES:
        p = by_name.get(wanted)
        if p is not None and p in texts:
            reasons.append(f"Text column {p.name!r}: its name is a usual text column name.")
            return [p.name]
    for p in texts:
        if "text" in p.name.lower() or "sentence" in p.name.lower():
            reasons.append(f"Text column {p.name!r}: its name mentions text.")
            return [p.name]
    if texts:
        measured = [p for p in texts if p.avg_length is not None]
        if measured:
            longest = max(measured, key=lambda p: p.avg_length or 0.0)
            reasons.append(
                f"Text column {longest.name!r}: the string column with the longest texts "
                f"(about {longest.avg_length:.0f} characters)."
            )
            return [longest.name]
        reasons.append(f"Text column {texts[0].name!r}: the first string column. Check it.")
        return [texts[0].name]
    reasons.append("No text column found: choose one (a column of strings).")
    return []


def suggest_columns(source: Any, sample: pd.DataFrame | None = None) -> ColumnSuggestion:
    """Suggest the text column(s), the label column and the task type of a dataset.

    Args:
        source: a ``datasets.Features``, a pandas DataFrame, or a ``{column: dtype}`` mapping
            whose values are dtype strings (``"string"``, ``"int64"``, ``"float32"``,
            ``"bool"``, ``"class_label"``) or ``datasets`` features.
        sample: a few rows (a DataFrame) to measure text lengths and label values where
            ``source`` is only a schema.

    Heuristics: the label is a column with a usual label name (``label``, ``score``,
    ``target``, ``sentiment``, ...), else a ``ClassLabel`` feature, else the last numeric or
    class-like column. Texts are a known pair (``sentence1``/``sentence2``,
    ``premise``/``hypothesis``, ``question``/``sentence``, ``text1``/``text2``, ...) or one
    string column by name (``text``, ``sentence``, ``review``, ...), else the one with the
    longest values. The task is classification for ClassLabel/int/bool/string labels and
    regression for floats, except float columns of whole numbers in data (classification).
    """
    profiles = _profiles(source, sample)
    reasons: list[str] = []
    label = _choose_label(profiles, reasons)
    text_cols = _choose_texts(profiles, label, reasons)
    is_regression: bool | None = None
    if label is not None:
        if label.kind == "float":
            if label.whole_numbers:
                is_regression = False
                reasons.append("Classification: the float labels are all whole numbers.")
            else:
                is_regression = True
                reasons.append("Regression: the labels are floats.")
        else:
            is_regression = False
            kind = {"classlabel": "ClassLabel", "string": "text", "int": "integer"}.get(
                label.kind, label.kind
            )
            reasons.append(f"Classification: the labels are {kind} values.")
    return ColumnSuggestion(
        text_cols=text_cols,
        label_col=label.name if label else None,
        is_regression=is_regression,
        reasons=reasons,
    )


__all__ = ["LABEL_NAMES", "TEXT_NAMES", "TEXT_PAIRS", "ColumnSuggestion", "suggest_columns"]
