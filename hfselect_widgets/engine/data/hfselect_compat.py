"""hf-dataset-selector's ``Dataset`` conventions for :class:`~.dataset.Dataset`.

* :func:`clean_from_hf_dataset`: hfselect's constructor ``Dataset(dataset, text_col, label_col,
  is_regression, metadata)`` around a ``datasets.Dataset``: the rows are used as they are (no
  ``-1`` filter and no sampling, which hfselect only does in ``from_hugging_face``), string
  labels become class ids in sorted order, float labels mean regression.
* :func:`collate_rows`: hfselect's ``collate_fn`` (texts joined with ``" [SEP] "``, padded to
  ``max_length`` and truncated, string labels mapped to ids).
* :func:`save_dataset` / :func:`load_dataset_file`: ``Dataset.save`` / ``Dataset.from_disk``.
  hfselect pickles the object with ``torch.save``; we write a zip holding a JSON manifest and
  the raw rows as an Arrow stream, so loading never runs code. hfselect's pickles are read only
  when the caller allows it.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from hfselect_widgets.engine._io import atomic_write, to_json
from hfselect_widgets.engine.data.sampling import (
    TEXT_SEPARATOR,
    as_column_list,
    check_columns,
    infer_is_regression,
    labels_from_column,
    texts_from_table,
    unique,
)
from hfselect_widgets.errors import DatasetError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hfselect_widgets.engine.data.dataset import Dataset

DATASET_FILE_FORMAT = "hfselect_widgets.dataset/1"
"""Recorded in the manifest of the files :func:`save_dataset` writes."""

MANIFEST_NAME = "hfselect_widgets_dataset.json"
ROWS_NAME = "rows.arrow"


# --- hfselect's constructor ------------------------------------------------------------------


def clean_from_hf_dataset(
    dataset: Any,
    text_col: str | Sequence[str],
    label_col: str,
    is_regression: bool | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The keyword arguments of the clean constructor for hfselect's ``Dataset(...)`` call.

    ``is_regression=None`` infers the task from the label feature (float means regression).
    Raises the typed errors of :mod:`hfselect_widgets.errors` for missing columns, texts or
    labels, negative class ids (``-1`` rows are dropped only by ``from_hugging_face``) and a
    single class.
    """
    import datasets

    if isinstance(dataset, datasets.IterableDataset):
        # hfselect needs len(); a stream is read into memory first.
        dataset = datasets.Dataset.from_list(list(dataset), features=dataset.features)
    if not isinstance(dataset, datasets.Dataset):
        raise TypeError(
            f"Dataset(dataset, ...) needs a datasets.Dataset, got {type(dataset).__name__}; "
            "use Dataset.from_pandas for a DataFrame."
        )
    text_cols = as_column_list(text_col)
    check_columns(dataset.column_names, text_cols, label_col)
    table = dataset.select_columns(unique(text_cols + [label_col])).with_format("arrow")[:]
    label_feature = dataset.features[label_col]
    if is_regression is None:
        is_regression = infer_is_regression(
            label_feature, table.column(label_col), label_col, False
        )
    texts = texts_from_table(table, text_cols, isinstance(text_col, str))
    labels, class_names = labels_from_column(
        table.column(label_col), label_feature, bool(is_regression), label_col
    )
    text_column = text_col if isinstance(text_col, str) else list(text_col)
    return {
        "texts": texts,
        "labels": labels,
        "is_regression": bool(is_regression),
        "text_col": text_column,
        "label_col": label_col,
        "class_names": class_names,
        "metadata": dict(metadata or {}),
        "hf_dataset": dataset,
    }


# --- hfselect's collate function ---------------------------------------------------------------


def _row_text(dataset: Dataset, row: Mapping[str, Any]) -> str:
    columns = as_column_list(dataset.text_col)
    if not all(column in row for column in columns) and "text" in row:
        return str(row["text"])  # a dataset built from clean texts: one "text" column
    return TEXT_SEPARATOR.join(str(row[column]) for column in columns)


def _row_label(dataset: Dataset, row: Mapping[str, Any]) -> int | float:
    value = row[dataset.label_col] if dataset.label_col in row else row["label"]
    if dataset.is_regression:
        return float(value)
    if isinstance(value, str):
        names = dataset.class_names or []
        if value not in names:
            raise DatasetError(
                f"The label {value!r} is not one of the dataset's classes "
                f"({', '.join(map(str, names[:10]))})."
            )
        return names.index(value)
    return int(value)


def collate_rows(
    dataset: Dataset,
    rows: Sequence[Mapping[str, Any]],
    tokenizer: Any,
    max_length: int = 128,
    return_token_type_ids: bool = False,
) -> tuple:
    """hfselect's ``Dataset.collate_fn`` for raw rows of ``dataset``."""
    import torch

    texts = [_row_text(dataset, row) for row in rows]
    labels = [_row_label(dataset, row) for row in rows]
    tokenized = tokenizer(
        texts,
        padding="max_length",
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
        return_token_type_ids=return_token_type_ids,
    )
    label_tensor = torch.tensor(labels)
    if return_token_type_ids:
        return (
            tokenized["input_ids"],
            tokenized["attention_mask"],
            tokenized["token_type_ids"],
            label_tensor,
        )
    return tokenized["input_ids"], tokenized["attention_mask"], label_tensor


# --- files -----------------------------------------------------------------------------------


def save_dataset(dataset: Dataset, filepath: str | os.PathLike) -> Path:
    """Write ``dataset`` to ``filepath`` (a zip of a JSON manifest and the raw Arrow rows)."""
    manifest: dict[str, Any] = {
        "format": DATASET_FILE_FORMAT,
        "texts": dataset.texts,
        "labels": dataset.labels.tolist(),
        "is_regression": dataset.is_regression,
        "text_col": dataset.text_col,
        "label_col": dataset.label_col,
        "class_names": dataset.class_names,
        "metadata": dataset.metadata,
        "features": None,
    }
    rows = None
    if dataset.hf_dataset is not None:
        manifest["features"] = dataset.hf_dataset.features.to_dict()
        table = dataset.hf_dataset.with_format("arrow")[:]
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        rows = sink.getvalue().to_pybytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST_NAME, to_json(manifest))
        if rows is not None:
            archive.writestr(ROWS_NAME, rows)
    path = Path(filepath)
    atomic_write(path, buffer.getvalue())
    return path


def _from_hfselect_pickle(cls: type[Dataset], path: Path) -> Dataset:
    import torch

    try:
        obj = torch.load(str(path), weights_only=False)
    except Exception as error:
        raise DatasetError(
            f"Cannot read {str(path)!r} as a dataset saved by hf-dataset-selector ({error})."
        ) from error
    if isinstance(obj, cls):
        return obj
    try:
        hf_dataset, text_col, label_col = obj.dataset, obj.text_col, obj.label_col
    except AttributeError as error:
        raise DatasetError(f"{str(path)!r} does not hold a dataset.") from error
    return cls(
        hf_dataset,
        text_col,
        label_col,
        bool(obj.is_regression),
        getattr(obj, "metadata", None),
    )


def load_dataset_file(
    cls: type[Dataset], filepath: str | os.PathLike, allow_pickle: bool = False
) -> Dataset:
    """Read a file of :func:`save_dataset` (or, with ``allow_pickle``, hfselect's pickle)."""
    path = Path(filepath)
    if not path.is_file():
        raise DatasetError(f"There is no saved dataset at {str(path)!r}.")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise DatasetError(f"{str(path)!r} is not a saved dataset ({error}).") from error
    with archive:
        names = set(archive.namelist())
        if MANIFEST_NAME not in names:
            if allow_pickle:
                return _from_hfselect_pickle(cls, path)
            raise DatasetError(
                f"{str(path)!r} was not written by Dataset.save; if it is a dataset saved by "
                "hf-dataset-selector (a pickle, which can run code), load it with "
                "Dataset.from_disk(path, allow_pickle=True), only if you trust the file."
            )
        manifest = json.loads(archive.read(MANIFEST_NAME).decode("utf-8"))
        rows = archive.read(ROWS_NAME) if ROWS_NAME in names else None
    if manifest.get("format") != DATASET_FILE_FORMAT:
        raise DatasetError(
            f"{str(path)!r} has the unknown format {manifest.get('format')!r} "
            f"(expected {DATASET_FILE_FORMAT!r})."
        )
    hf_dataset = None
    if rows is not None:
        import datasets
        from datasets.table import InMemoryTable

        table = pa.ipc.open_stream(rows).read_all()
        features = manifest.get("features")
        info = datasets.DatasetInfo(
            features=datasets.Features.from_dict(features) if features else None
        )
        hf_dataset = datasets.Dataset(InMemoryTable(table), info=info)
    return cls(
        texts=manifest["texts"],
        labels=manifest["labels"],
        is_regression=manifest["is_regression"],
        text_col=manifest["text_col"],
        label_col=manifest["label_col"],
        class_names=manifest["class_names"],
        metadata=manifest["metadata"],
        hf_dataset=hf_dataset,
    )


__all__ = [
    "DATASET_FILE_FORMAT",
    "clean_from_hf_dataset",
    "collate_rows",
    "load_dataset_file",
    "save_dataset",
]
