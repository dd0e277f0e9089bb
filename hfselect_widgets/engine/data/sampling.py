"""hfselect's rules on a loaded table: columns, the ``-1`` filter, sampling, texts and labels.

The functions here work on a pyarrow table (the zero-copy view of a ``datasets.Dataset``):

* classification rows whose label equals ``-1`` are dropped (regression rows never are);
* ``num_examples`` with ``seed`` picks exactly the rows of ``datasets``'
  ``dataset.shuffle(seed=seed).select(range(min(len(dataset), num_examples)))`` applied after
  that filter. We compute the same permutation with numpy (``datasets`` draws it from
  ``np.random.default_rng(seed)``) instead of running ``datasets.filter`` with a Python
  lambda, which is slow on large datasets; the rows are identical;
* several text columns are joined with ``" [SEP] "``;
* string labels become class ids in sorted order of the labels present in the sample; float
  labels mean regression.

Where hfselect would crash (missing texts or labels, one class, text labels for a regression)
a typed error from :mod:`hfselect_widgets.errors` says what to do instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hfselect_widgets.errors import (
    ColumnNotFoundError,
    DatasetError,
    EmptyDatasetError,
    Fix,
    LabelTypeError,
    MissingTextError,
    SingleClassError,
)

TEXT_SEPARATOR = " [SEP] "
"""How hfselect joins several text columns into one text."""


# --- argument checks -------------------------------------------------------------------------


def as_column_list(text_col: str | Sequence[str]) -> list[str]:
    if isinstance(text_col, str):
        return [text_col]
    columns = list(text_col)
    if not columns or not all(isinstance(c, str) for c in columns):
        raise DatasetError(
            f"text_col must be a column name or a non-empty list of column names, got {text_col!r}."
        )
    return columns


def unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def check_is_regression(is_regression: bool | None) -> None:
    # hfselect's positional order puts is_regression before num_examples: catch a swapped call.
    if is_regression is not None and not isinstance(is_regression, (bool, np.bool_)):
        raise TypeError(
            f"is_regression must be True, False or None (infer), got {is_regression!r}; "
            "pass num_examples=... by keyword."
        )


def check_num_examples(num_examples: int | None) -> None:
    if num_examples is None:
        return
    if isinstance(num_examples, bool) or not isinstance(num_examples, (int, np.integer)):
        raise DatasetError(f"num_examples must be a whole number or None, got {num_examples!r}.")
    if num_examples < 1:
        raise DatasetError(
            f"num_examples must be at least 1 (or None for all rows), got {num_examples}."
        )


def check_columns(available: Sequence[str], text_cols: Sequence[str], label_col: str) -> None:
    for column in text_cols:
        if column not in available:
            raise ColumnNotFoundError(column, available, role="text column")
    if label_col not in available:
        raise ColumnNotFoundError(label_col, available, role="label column")


# --- filtering and sampling ------------------------------------------------------------------


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _missing_mask(column: pa.ChunkedArray) -> np.ndarray:
    """True where a value is null (or NaN: pandas' missing value in float columns)."""
    nan_is_null = pa.types.is_floating(column.type)
    mask = pc.is_null(column, nan_is_null=nan_is_null)
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _minus_one_mask(column: pa.ChunkedArray) -> np.ndarray:
    """True where the label equals -1 (as hfselect's ``example[label] != -1`` filter sees it).

    Only numbers can equal -1: string labels such as ``"-1"`` are kept, like in hfselect.
    """
    value_type = column.type
    if pa.types.is_dictionary(value_type):
        value_type = value_type.value_type
    if not (pa.types.is_integer(value_type) or pa.types.is_floating(value_type)):
        return np.zeros(len(column), dtype=bool)
    equal = pc.fill_null(pc.equal(column, -1), False)
    return np.asarray(equal.to_numpy(zero_copy_only=False), dtype=bool)


def _permutation(length: int, seed: int | None) -> np.ndarray:
    """The permutation ``datasets.Dataset.shuffle(seed=seed)`` draws for ``length`` rows."""
    if seed is None:
        # datasets' own way to draw a seed from numpy's global state (so np.random.seed works).
        _, state, position, *_ = np.random.get_state()
        seed = state[position] if position < 624 else state[0]
        np.random.random()
    return np.random.default_rng(seed).permutation(length)


def sample_indices(
    table: pa.Table,
    text_cols: list[str],
    label_col: str,
    is_regression: bool,
    num_examples: int | None,
    seed: int | None,
    drop_missing: bool,
    description: str,
) -> np.ndarray | None:
    """Rows to keep, in hfselect's order; None when all rows are kept as they are."""
    num_rows = table.num_rows
    if num_rows == 0:
        raise EmptyDatasetError(f"{description[0].upper()}{description[1:]} has no rows.")
    keep = np.ones(num_rows, dtype=bool)
    dropped_missing = 0
    if drop_missing:
        for column in unique(text_cols + [label_col]):
            keep &= ~_missing_mask(table.column(column))
        dropped_missing = num_rows - int(keep.sum())
    dropped_minus_one = 0
    if not is_regression:
        minus_one = _minus_one_mask(table.column(label_col)) & keep
        dropped_minus_one = int(minus_one.sum())
        keep &= ~minus_one
    kept = np.flatnonzero(keep)
    if kept.size == 0:
        reasons = []
        if dropped_minus_one:
            reasons.append(f"{dropped_minus_one} with label -1 (unlabelled)")
        if dropped_missing:
            reasons.append(f"{dropped_missing} with a missing text or label")
        raise EmptyDatasetError(
            f"No rows are left in {description}: of {num_rows} rows, "
            + " and ".join(reasons)
            + " were dropped. Choose another split, or check the label column "
            "(test splits often have no labels)."
        )
    if num_examples is None:
        return None if kept.size == num_rows else kept
    count = min(int(kept.size), int(num_examples))
    return kept[_permutation(int(kept.size), seed)[:count]]


def texts_from_table(table: pa.Table, text_cols: list[str], single: bool) -> list[str]:
    """One string per row; several columns joined with ``" [SEP] "`` (hfselect's rule)."""
    columns = []
    for name in text_cols:
        column = table.column(name)
        missing = int(_missing_mask(column).sum())
        if missing:
            raise MissingTextError(name, missing, table.num_rows)
        value_type = column.type
        if pa.types.is_dictionary(value_type):
            column = column.cast(value_type.value_type)
            value_type = value_type.value_type
        values = column.to_pylist()
        if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
            if not (
                pa.types.is_integer(value_type)
                or pa.types.is_floating(value_type)
                or pa.types.is_boolean(value_type)
            ):
                raise DatasetError(
                    f"The text column {name!r} holds values of type {value_type}, not text. "
                    "Choose a column of strings."
                )
            values = [str(value) for value in values]
        columns.append(values)
    if single:
        return columns[0]
    return [TEXT_SEPARATOR.join(parts) for parts in zip(*columns, strict=True)]


# --- task type and labels --------------------------------------------------------------------


def _arrow_kind(value_type: pa.DataType) -> str:
    if pa.types.is_dictionary(value_type):
        value_type = value_type.value_type
    if pa.types.is_string(value_type) or pa.types.is_large_string(value_type):
        return "string"
    if pa.types.is_boolean(value_type):
        return "bool"
    if pa.types.is_integer(value_type):
        return "int"
    if pa.types.is_floating(value_type):
        return "float"
    return "other"


def feature_kind(feature: Any) -> str:
    """``classlabel``, ``string``, ``int``, ``float``, ``bool`` or ``other`` for a feature."""
    import datasets

    if isinstance(feature, datasets.ClassLabel):
        return "classlabel"
    if isinstance(feature, datasets.Value):
        return dtype_kind(feature.dtype)
    return "other"


def dtype_kind(dtype: str) -> str:
    dtype = str(dtype).lower()
    if "class" in dtype:
        return "classlabel"
    if dtype in ("string", "large_string", "str", "object", "category", "string_view"):
        return "string"
    if dtype.startswith("bool"):
        return "bool"
    if "int" in dtype:
        return "int"
    if "float" in dtype or "double" in dtype or dtype.startswith("decimal"):
        return "float"
    return "other"


def _all_whole_numbers(column: pa.ChunkedArray) -> bool:
    values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    values = values[~np.isnan(values)]
    return values.size > 0 and bool(np.all(np.mod(values, 1) == 0))


def infer_is_regression(
    feature: Any, column: pa.ChunkedArray | None, label_col: str, lenient_floats: bool
) -> bool:
    """hfselect's rule: float labels mean regression, everything else classification.

    With ``lenient_floats`` (DataFrames and files), a float column of whole numbers is
    classification: pandas makes int columns float as soon as one value is missing.
    """
    kind = feature_kind(feature)
    if kind == "float":
        if lenient_floats and column is not None and _all_whole_numbers(column):
            return False
        return True
    if kind in ("classlabel", "string", "int", "bool"):
        return False
    raise LabelTypeError(
        f"Cannot tell the task type from the label column {label_col!r} ({feature}). Labels "
        "must be class ids, class names or numbers (multi-label targets are not supported).",
        advice="If the column fits one of those, say which: {0} or {1}.",
        field="is_regression",
        fixes=[Fix("is_regression", True), Fix("is_regression", False)],
    )


def infer_from_python_values(values: Iterable[Any], label_col: str) -> bool:
    for value in values:
        if is_missing(value):
            continue
        if isinstance(value, float):
            return True
        if isinstance(value, (int, str, bool)):
            return False
        break
    raise LabelTypeError(
        f"Cannot tell the task type from the label column {label_col!r}: pass is_regression."
    )


def labels_from_column(
    column: pa.ChunkedArray, feature: Any, is_regression: bool, label_col: str
) -> tuple[np.ndarray, list | None]:
    """Class ids (and their names) or regression values for the sampled rows."""
    import datasets

    total = len(column)
    missing = int(_missing_mask(column).sum())
    if missing:
        raise LabelTypeError(
            f"{missing} of {total} rows have no label in column {label_col!r}.",
            advice="Drop them first (e.g. df.dropna(subset=[...])) or {0}.",
            field="label_col",
            fixes=[Fix("drop_missing", True)],
        )
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    kind = _arrow_kind(column.type)
    if is_regression:
        if kind in ("int", "float", "bool"):
            values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
        elif kind == "string":
            values = _parse_numbers(column.to_pylist(), label_col)
        else:
            raise LabelTypeError(
                f"Regression labels in {label_col!r} must be numbers, not {column.type}."
            )
        if not np.all(np.isfinite(values)):
            raise LabelTypeError(
                f"The label column {label_col!r} holds infinite values; a regression needs "
                "finite numbers. Drop or clip those rows first."
            )
        return values, None

    class_names: list | None = None
    if kind == "string":
        strings = column.to_pylist()
        # hfselect's ClassLabel: the sorted labels present in the sample.
        class_names = sorted(set(strings))
        lookup = {label: index for index, label in enumerate(class_names)}
        ids = np.fromiter((lookup[s] for s in strings), dtype=np.int64, count=total)
    elif kind in ("int", "bool"):
        ids = np.asarray(column.to_numpy(zero_copy_only=False)).astype(np.int64)
        if isinstance(feature, datasets.ClassLabel):
            class_names = list(feature.names)
    elif kind == "float":
        values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
        fractional = values[np.mod(values, 1) != 0]
        if fractional.size:
            raise LabelTypeError(
                f"The label column {label_col!r} holds non-whole numbers (e.g. "
                f"{fractional[0]!r}), so it cannot be class ids.",
                advice="If the labels are scores, {0}.",
                field="is_regression",
                fixes=[Fix("is_regression", True)],
            )
        ids = values.astype(np.int64)
    else:
        raise LabelTypeError(
            f"The label column {label_col!r} has type {column.type}. Labels must be class ids, "
            "class names or numbers; multi-label targets are not supported."
        )
    if ids.size and ids.min() < 0:
        raise LabelTypeError(
            f"The label column {label_col!r} holds negative class ids (e.g. {int(ids.min())}); "
            "only -1 (unlabelled) is dropped. Map the labels to ids 0..C-1, or give them as "
            "strings, which are mapped to ids in sorted order."
        )
    present = np.unique(ids)
    if present.size < 2:
        only = int(present[0])
        label = class_names[only] if class_names and only < len(class_names) else only
        raise SingleClassError(label, label_col)
    return ids, class_names


def _parse_numbers(strings: list[str], label_col: str) -> np.ndarray:
    values = np.empty(len(strings), dtype=np.float64)
    for index, text in enumerate(strings):
        try:
            values[index] = float(text)
        except ValueError:
            raise LabelTypeError(
                f"A regression needs numeric labels, but {label_col!r} holds text such as "
                f"{text!r}.",
                advice="Treat the labels as classes ({0}), or convert the column to numbers first.",
                field="is_regression",
                fixes=[Fix("is_regression", False)],
            ) from None
    return values


__all__ = ["TEXT_SEPARATOR"]
