"""The target dataset: texts and labels to rank intermediate datasets for.

A :class:`Dataset` is the user's labelled data after hfselect's rules have been applied, ready to
embed: a list of texts (several text columns joined with ``" [SEP] "``) and a label array (int64
class ids, or float64 values for a regression). It comes from the Hugging Face Hub (or a local
dataset folder, which ``datasets`` treats like a Hub repo), a pandas DataFrame, or a CSV / TSV /
JSON lines / Parquet file.

Compatibility with hf-dataset-selector 0.2.1 (``hfselect.Dataset.from_hugging_face``):

* classification rows whose label equals ``-1`` are dropped (regression rows never are);
* ``num_examples`` with ``seed`` picks exactly the rows of ``datasets``'
  ``dataset.shuffle(seed=seed).select(range(min(len(dataset), num_examples)))`` applied after
  that filter. We compute the same permutation with numpy (``datasets`` draws it from
  ``np.random.default_rng(seed)``) instead of running ``datasets.filter`` with a Python
  lambda, which is slow on large datasets; the rows are identical;
* string labels become class ids in sorted order of the labels present in the sample;
* float labels mean regression.

Where hfselect would crash (missing texts or labels, one class, text labels for a regression) we
raise a typed error from :mod:`.errors` that says what to do instead.

:func:`suggest_columns` guesses the text column(s), the label column and the task type from a
schema or a DataFrame; :func:`inspect_hub_dataset` lists a Hub dataset's subsets, splits and
features without downloading its data. The widgets build their forms from both.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hfselect_widgets.errors import (
    ColumnNotFoundError,
    DatasetError,
    DatasetNotFoundError,
    EmptyDatasetError,
    Fix,
    HfselectWidgetsError,
    HubUnavailableError,
    LabelTypeError,
    MissingTextError,
    SingleClassError,
    SplitNotFoundError,
    SubsetNotFoundError,
)

if TYPE_CHECKING:  # pragma: no cover - typing only; ``datasets`` is imported lazily
    import datasets

TEXT_SEPARATOR = " [SEP] "
"""How hfselect joins several text columns into one text."""

DATASET_STREAMING_BUFFER_SIZE = 100_000
"""hfselect's shuffle buffer for streamed datasets (rows picked depend on it)."""

FILE_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
"""File suffixes :meth:`Dataset.from_file` understands (compressed ``.gz``/``.bz2``/``.xz``/
``.zst``/``.zip`` variants of CSV, TSV and JSON too)."""

_COMPRESSION_SUFFIXES = {".gz", ".bz2", ".xz", ".zst", ".zip"}

SOURCE_HUB = "hub"
SOURCE_PANDAS = "pandas"
SOURCE_FILE = "file"


# --- the dataset -----------------------------------------------------------------------------


class Dataset:
    """A labelled target dataset, sampled and cleaned by hfselect's rules.

    Attributes:
        texts: one string per row; several text columns joined with ``" [SEP] "``.
        labels: int64 class ids ``0..C-1`` (classification) or float64 values (regression),
            shape ``(N,)``.
        is_regression: whether the labels are real-valued.
        text_col: the text column, or the list of text columns that were joined.
        label_col: the label column.
        class_names: names of the class ids (string labels: the sorted label strings; a
            ``ClassLabel`` feature: its names), else ``None``.
        metadata: hfselect's keys (``task_id``, ``task_subset``, ``text_column``,
            ``label_column``, ``task_split``, ``num_examples``, ``seed``, ``streamed``) plus
            ``source`` (``"hub"``, ``"pandas"`` or ``"file"``). ESMs trained on this dataset
            record them in their config.
        hf_dataset: the underlying ``datasets.Dataset`` after sampling (raw columns, as hfselect
            keeps it); also available as :attr:`dataset`.

    Build one with :meth:`from_hugging_face`, :meth:`from_pandas`, :meth:`from_file` or
    :meth:`load`. The constructor has two forms:

    * ``Dataset(texts, labels, is_regression=False, text_col="text", label_col="label",
      class_names=None, metadata=None, hf_dataset=None)``: already-clean texts and class ids
      (handy in tests);
    * hfselect's ``Dataset(dataset, text_col, label_col, is_regression, metadata=None)`` with a
      ``datasets.Dataset`` (chosen when the first argument is one, or ``dataset=`` is given):
      the rows are used as they are (no ``-1`` filter, no sampling: that is what
      :meth:`from_hugging_face` adds), string labels become class ids in sorted order.

    hfselect compatibility: ``dataset[i]`` is the raw row of :attr:`dataset` (``dataset[0]
    ["<text column>"]``), :meth:`collate_fn` tokenizes rows as hfselect's DataLoaders do, and
    :meth:`save` / :meth:`from_disk` store a dataset in one file (without pickle).
    """

    def __init__(self, *args: Any, **kwargs: Any):
        """See the class docstring for the two forms."""
        if _is_hfselect_call(args, kwargs):
            from hfselect_widgets.engine.data.hfselect_compat import clean_from_hf_dataset

            args, kwargs = (), clean_from_hf_dataset(*args, **kwargs)
        self._init_clean(*args, **kwargs)

    def _init_clean(
        self,
        texts: Sequence[str],
        labels: Sequence[int] | Sequence[float] | np.ndarray,
        is_regression: bool = False,
        text_col: str | list[str] = "text",
        label_col: str = "label",
        class_names: list | None = None,
        metadata: Mapping[str, Any] | None = None,
        hf_dataset: datasets.Dataset | None = None,
    ):
        """Wrap clean data. ``labels`` must be class ids >= 0 unless ``is_regression``."""
        self.texts = [str(text) for text in texts]
        self.is_regression = bool(is_regression)
        self.labels = _clean_label_array(labels, self.is_regression, label_col)
        if len(self.texts) != len(self.labels):
            raise DatasetError(
                f"Got {len(self.texts)} texts but {len(self.labels)} labels: "
                "give one label per text."
            )
        if not self.texts:
            raise EmptyDatasetError()
        self.text_col = text_col if isinstance(text_col, str) else list(text_col)
        self.label_col = label_col
        self.class_names = None if class_names is None else list(class_names)
        self.metadata = _default_metadata(self.text_col, label_col)
        self.metadata.update(metadata or {})
        self.hf_dataset = hf_dataset

    # -- factories ----------------------------------------------------------------------------

    @classmethod
    def from_hugging_face(
        cls,
        name: str,
        split: str,
        text_col: str | Sequence[str],
        label_col: str,
        is_regression: bool | None = None,
        subset: str | None = None,
        num_examples: int | None = None,
        seed: int | None = None,
        streaming: bool = False,
        trust_remote_code: bool | None = None,
        *,
        drop_missing: bool = False,
    ) -> Dataset:
        """Load a Hub dataset (or a local dataset folder) the way hfselect 0.2.1 does.

        Args:
            name: Hub dataset id (``"stanfordnlp/imdb"``) or a local folder of data files.
            split: the split (``datasets`` split syntax such as ``"train[:1000]"`` works too).
            text_col: the text column, or a list of columns joined with ``" [SEP] "``.
            label_col: the label column.
            is_regression: ``None`` infers it from the label feature: float means regression;
                int, ``ClassLabel``, bool and string mean classification (hfselect's rule).
            subset: the dataset's subset (configuration), if it has several.
            num_examples: sample this many rows (all rows when ``None``).
            seed: the sampling seed; the same seed picks the same rows as hfselect.
            streaming: stream instead of downloading the split (hfselect's recipe: shuffle
                buffer of 100,000 rows, then take ``num_examples``).
            trust_remote_code: passed on to ``datasets`` where the installed version knows it.
            drop_missing: drop rows without text or label before sampling instead of raising.

        Raises:
            DatasetNotFoundError, SubsetNotFoundError, SplitNotFoundError, ColumnNotFoundError,
            HubUnavailableError, EmptyDatasetError, SingleClassError, LabelTypeError,
            MissingTextError.
        """
        text_cols = _as_column_list(text_col)
        _check_is_regression(is_regression)
        _check_num_examples(num_examples)
        _check_local_path(name)
        builder = _load_builder(name, subset, trust_remote_code)
        known_splits = _builder_splits(builder)
        if known_splits is not None:
            # Before any download: a typo should not cost a whole dataset's download.
            _check_split(name, split, known_splits)
        if builder.info.features is not None:
            _check_columns(list(builder.info.features), text_cols, label_col)

        if streaming:
            hf_dataset, is_regression = _stream_sample(
                builder,
                name,
                split,
                known_splits,
                text_cols,
                label_col,
                is_regression,
                num_examples,
                seed,
                drop_missing,
            )
        else:
            hf_dataset = _as_dataset(builder, name, split, known_splits)

        text_column = text_col if isinstance(text_col, str) else list(text_col)
        metadata = {
            "task_id": name,
            "task_subset": subset,
            "text_column": text_column,
            "label_column": label_col,
            "task_split": split,
            "seed": seed,
            "streamed": streaming,
            "source": SOURCE_HUB,
        }
        if streaming:
            # hfselect records the requested number here (a stream has no length to cap it).
            metadata["num_examples"] = num_examples
        return cls._from_hf_dataset(
            hf_dataset,
            text_col=text_column,
            label_col=label_col,
            is_regression=is_regression,
            num_examples=None if streaming else num_examples,  # a stream is sampled already
            seed=seed,
            drop_missing=drop_missing,
            lenient_float_labels=False,
            metadata=metadata,
            description=f"split {split!r} of {name!r}",
        )

    @classmethod
    def from_pandas(
        cls,
        df: pd.DataFrame,
        text_col: str | Sequence[str],
        label_col: str,
        is_regression: bool | None = None,
        num_examples: int | None = None,
        seed: int | None = None,
        name: str | None = None,
        drop_missing: bool = False,
        *,
        _source: str = SOURCE_PANDAS,
    ) -> Dataset:
        """Use a pandas DataFrame as the target dataset, by the same rules as the Hub path.

        The frame is converted with ``datasets.Dataset.from_pandas(preserve_index=False)`` and
        filtered and sampled exactly like a Hub split, so the same data on the Hub and in a
        DataFrame give the same rows for the same seed.

        Task type inference differs in one case: a float label column whose values are all
        whole numbers counts as *classification* here (pandas turns an int column with a
        missing value into float, e.g. ``1.0, 0.0, NaN`` read from a CSV). hfselect and the
        Hub path call every float column a regression; pass ``is_regression=True`` for
        whole-numbered scores.

        Args:
            df: the data.
            text_col, label_col, is_regression, num_examples, seed, drop_missing: as in
                :meth:`from_hugging_face`.
            name: recorded as ``task_id`` in the metadata (ESMs trained on it carry it).
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"from_pandas needs a pandas DataFrame, got {type(df).__name__}.")
        import datasets

        text_cols = _as_column_list(text_col)
        _check_is_regression(is_regression)
        _check_num_examples(num_examples)
        _check_columns([str(c) for c in df.columns], text_cols, label_col)
        columns = _unique(text_cols + [label_col])
        try:
            hf_dataset = datasets.Dataset.from_pandas(df[columns], preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise LabelTypeError(
                f"Cannot convert the columns {columns} to a table: {error}. A column probably "
                "mixes types (e.g. numbers and strings); convert it with .astype(str) first."
            ) from error
        return cls._from_hf_dataset(
            hf_dataset,
            text_col=text_col if isinstance(text_col, str) else list(text_col),
            label_col=label_col,
            is_regression=is_regression,
            num_examples=num_examples,
            seed=seed,
            drop_missing=drop_missing,
            lenient_float_labels=True,
            metadata={"task_id": name, "source": _source},
            description="the DataFrame" if name is None else repr(name),
        )

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        text_col: str | Sequence[str],
        label_col: str,
        is_regression: bool | None = None,
        num_examples: int | None = None,
        seed: int | None = None,
        name: str | None = None,
        drop_missing: bool = False,
        file_format: str | None = None,
    ) -> Dataset:
        """Load a CSV, TSV, JSON (lines or array) or Parquet file as the target dataset.

        The format comes from the suffix (``.csv``, ``.tsv``, ``.json``, ``.jsonl``,
        ``.ndjson``, ``.parquet``, ``.pq``; CSV/TSV/JSON may be compressed) unless
        ``file_format`` (``"csv"``, ``"tsv"``, ``"json"``, ``"parquet"``) says otherwise. CSV and
        TSV are read with pandas (as ``datasets``' CSV loader does), so ``from_file`` and
        ``from_pandas(pd.read_csv(path))`` give the same rows. Label rules as in
        :meth:`from_pandas` (whole-numbered float labels count as classes). ``name`` defaults to
        the file name.
        """
        path = Path(path).expanduser()
        if not path.is_file():
            raise DatasetNotFoundError(str(path), "There is no such file.")
        fmt = (file_format or _format_from_suffix(path)).lower().lstrip(".")
        if fmt in ("csv", "tsv"):
            df = pd.read_csv(path, sep="\t" if fmt == "tsv" else ",")
        elif fmt in ("json", "jsonl"):
            df = _read_json(path).to_pandas()
        elif fmt == "parquet":
            df = _read_parquet(path)
        else:
            raise DatasetError(
                f"Unknown file format {fmt!r}: use 'csv', 'tsv', 'json' (JSON lines or an array "
                "of objects) or 'parquet'."
            )
        dataset = cls.from_pandas(
            df,
            text_col,
            label_col,
            is_regression=is_regression,
            num_examples=num_examples,
            seed=seed,
            name=name or path.name,
            drop_missing=drop_missing,
            _source=SOURCE_FILE,
        )
        dataset.metadata["path"] = str(path)
        return dataset

    @classmethod
    def load(
        cls,
        source: str | os.PathLike | pd.DataFrame,
        text_col: str | Sequence[str],
        label_col: str,
        *,
        split: str = "train",
        subset: str | None = None,
        **kwargs: Any,
    ) -> Dataset:
        """Load from whatever ``source`` is: a DataFrame, a data file, or a Hub id / folder.

        A DataFrame goes to :meth:`from_pandas`, an existing file to :meth:`from_file` (a file
        has neither splits nor subsets: ``split`` and ``subset`` are not used), anything else (a
        Hub id, or a local dataset folder) to :meth:`from_hugging_face` with ``split`` and
        ``subset``. A path with a data-file suffix that does not exist raises
        :class:`DatasetNotFoundError` instead of being looked up on the Hub. ``kwargs``:
        ``is_regression``, ``num_examples``, ``seed``, ``name``, ``drop_missing`` (and
        ``file_format`` for files).
        """
        if isinstance(source, pd.DataFrame):
            kwargs.pop("file_format", None)
            return cls.from_pandas(source, text_col, label_col, **kwargs)
        path = Path(source).expanduser()
        if path.is_file():
            return cls.from_file(path, text_col, label_col, **kwargs)
        if not path.exists() and _looks_like_data_file(path):
            raise DatasetNotFoundError(str(source), "There is no such file.")
        kwargs.pop("file_format", None)
        return cls.from_hugging_face(
            str(source),
            split=split,
            subset=subset,
            text_col=text_col,
            label_col=label_col,
            **kwargs,
        )

    # -- the shared pipeline ------------------------------------------------------------------

    @classmethod
    def _from_hf_dataset(
        cls,
        hf_dataset: datasets.Dataset,
        *,
        text_col: str | list[str],
        label_col: str,
        is_regression: bool | None,
        num_examples: int | None,
        seed: int | None,
        drop_missing: bool,
        lenient_float_labels: bool,
        metadata: dict[str, Any],
        description: str,
    ) -> Dataset:
        """hfselect's rules on a loaded split: infer the task, filter, sample, convert."""
        text_cols = _as_column_list(text_col)
        _check_columns(hf_dataset.column_names, text_cols, label_col)
        hf_dataset = hf_dataset.select_columns(_unique(text_cols + [label_col]))
        table = hf_dataset.with_format("arrow")[:]  # zero-copy view; honours any index mapping
        label_feature = hf_dataset.features[label_col]
        if is_regression is None:
            # Before the -1 filter: the filter depends on the task type.
            is_regression = _infer_is_regression(
                label_feature, table.column(label_col), label_col, lenient_float_labels
            )

        indices = _sample_indices(
            table,
            text_cols,
            label_col,
            is_regression,
            num_examples,
            seed,
            drop_missing,
            description,
        )
        if indices is not None:
            table = table.take(pa.array(indices, type=pa.int64()))
            hf_dataset = hf_dataset.select(indices, keep_in_memory=True)

        texts = _texts_from_table(table, text_cols, isinstance(text_col, str))
        labels, class_names = _labels_from_column(
            table.column(label_col), label_feature, is_regression, label_col
        )
        # hfselect records min(len(dataset), num_examples): the rows actually used.
        metadata.setdefault("num_examples", None if num_examples is None else len(texts))
        metadata.setdefault("seed", seed)
        return cls(
            texts=texts,
            labels=labels,
            is_regression=is_regression,
            text_col=text_col,
            label_col=label_col,
            class_names=class_names,
            metadata=metadata,
            hf_dataset=hf_dataset,
        )

    # -- access -------------------------------------------------------------------------------

    @property
    def dataset(self) -> datasets.Dataset:
        """The underlying ``datasets.Dataset`` (hfselect's ``Dataset.dataset``).

        For a dataset built from texts and labels directly, a two-column ``text``/``label``
        dataset is made on first use.
        """
        if self.hf_dataset is None:
            import datasets

            text_name = self.text_col if isinstance(self.text_col, str) else "text"
            label_name = self.label_col if self.label_col != text_name else "label"
            self.hf_dataset = datasets.Dataset.from_dict(
                {text_name: self.texts, label_name: self.labels.tolist()}
            )
        return self.hf_dataset

    @property
    def dataset_len(self) -> int:
        """The number of rows (hfselect's attribute)."""
        return len(self.texts)

    @property
    def label_dim(self) -> int:
        """1 for a regression, else the number of classes (hfselect's attribute)."""
        if self.is_regression:
            return 1
        return max(len(self.class_names or ()), self.num_classes or 0)

    @property
    def num_classes(self) -> int | None:
        """``max(class id) + 1`` as hfselect and LogME count classes; ``None`` for regression."""
        if self.is_regression:
            return None
        return int(self.labels.max()) + 1

    @property
    def name(self) -> str | None:
        """The dataset's id (``metadata["task_id"]``)."""
        return self.metadata.get("task_id")

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: Any) -> Any:
        """The raw row ``index`` of :attr:`dataset` with its original columns, as in hfselect.

        E.g. ``dataset[0]["Message"]``; slices and index lists give ``datasets``' dict of
        columns. The cleaned text and label of row ``i`` are ``texts[i]`` and ``labels[i]``.
        """
        if isinstance(index, (int, np.integer)):
            index = int(index)
            if not -len(self) <= index < len(self):
                raise IndexError(f"Row {index} is out of range for {len(self)} rows.")
        return self.dataset[index]

    def collate_fn(
        self,
        rows: Sequence[Mapping[str, Any]],
        tokenizer: Any,
        max_length: int = 128,
        return_token_type_ids: bool = False,
    ) -> tuple:
        """Tokenize raw rows (``dataset[i]``) as hfselect's collate function does.

        Texts joined with ``" [SEP] "``, padded to ``max_length`` and truncated; string labels
        mapped to their class ids. Returns ``(input_ids, attention_mask, labels)``, or
        ``(input_ids, attention_mask, token_type_ids, labels)`` with ``return_token_type_ids``.
        """
        from hfselect_widgets.engine.data.hfselect_compat import collate_rows

        return collate_rows(self, rows, tokenizer, max_length, return_token_type_ids)

    def save(self, filepath: str | os.PathLike) -> Path:
        """Write the dataset (raw rows, texts, labels, metadata) to one file; return its path.

        hfselect pickles the whole object with ``torch.save``; this writes a zip of JSON and
        Arrow instead, which :meth:`from_disk` reads without running any code.
        """
        from hfselect_widgets.engine.data.hfselect_compat import save_dataset

        return save_dataset(self, filepath)

    @classmethod
    def from_disk(cls, filepath: str | os.PathLike, allow_pickle: bool = False) -> Dataset:
        """Load a dataset written by :meth:`save`.

        A file written by hfselect's ``Dataset.save`` is a pickle, which can run code: it is
        read only with ``allow_pickle=True`` (and needs ``hfselect`` installed to unpickle).
        """
        from hfselect_widgets.engine.data.hfselect_compat import load_dataset_file

        return load_dataset_file(cls, filepath, allow_pickle=allow_pickle)

    def __repr__(self) -> str:
        task = "regression" if self.is_regression else f"{self.num_classes} classes"
        return (
            f"Dataset({self.name or 'unnamed'!s}, {len(self)} rows, {task}, "
            f"text_col={self.text_col!r}, label_col={self.label_col!r})"
        )

    def to_pandas(self) -> pd.DataFrame:
        """The clean data as a DataFrame with columns ``text`` and ``label``."""
        return pd.DataFrame({"text": self.texts, "label": self.labels})

    def fingerprint(self) -> str:
        """SHA-256 hex digest of the texts, the labels and the task type.

        Stable across processes and machines (no Python ``hash``), so it can key an embedding
        cache: any change of a text, a label, the row order or the task type changes it.
        """
        digest = hashlib.sha256(b"hfselect_widgets.Dataset/1\0")
        digest.update(b"regression\0" if self.is_regression else b"classification\0")
        digest.update(len(self.texts).to_bytes(8, "little"))
        for text in self.texts:
            encoded = text.encode("utf-8")
            # Length-prefixed so that ["ab", "c"] and ["a", "bc"] differ.
            digest.update(len(encoded).to_bytes(8, "little"))
            digest.update(encoded)
        label_dtype = "<f8" if self.is_regression else "<i8"
        digest.update(np.ascontiguousarray(self.labels, dtype=label_dtype).tobytes())
        return digest.hexdigest()


def _is_hfselect_call(args: tuple, kwargs: Mapping[str, Any]) -> bool:
    """Whether ``Dataset(...)`` was called in hfselect's form (a ``datasets.Dataset`` first)."""
    if "dataset" in kwargs:
        return True
    if not args or "texts" in kwargs:
        return False
    datasets = sys.modules.get("datasets")  # not imported: the argument cannot be one of its
    return datasets is not None and isinstance(
        args[0], (datasets.Dataset, datasets.IterableDataset)
    )


def _default_metadata(text_col: str | list[str], label_col: str) -> dict[str, Any]:
    return {
        "task_id": None,
        "task_subset": None,
        "text_column": text_col,
        "label_column": label_col,
        "task_split": None,
        "num_examples": None,
        "seed": None,
        "streamed": False,
        "source": None,
    }


def _clean_label_array(labels: Any, is_regression: bool, label_col: str) -> np.ndarray:
    """Labels as float64 (regression) or int64 ids >= 0 (classification), shape (N,)."""
    array = np.asarray(labels)
    if array.ndim != 1:
        raise LabelTypeError(
            f"Labels must be one value per row (shape (N,)), got shape {array.shape}. "
            "Multi-label and multi-output targets are not supported."
        )
    if is_regression:
        try:
            return array.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise LabelTypeError(
                f"Regression labels in {label_col!r} must be numbers ({error})."
            ) from error
    if array.size and array.dtype.kind not in "iub":
        if array.dtype.kind != "f" or not np.all(np.mod(array, 1) == 0):
            raise LabelTypeError(
                f"Classification labels in {label_col!r} must be class ids (integers >= 0); "
                "load raw labels with Dataset.from_pandas, which maps them to ids."
            )
    ids = array.astype(np.int64)
    if ids.size and ids.min() < 0:
        raise LabelTypeError(f"Class ids in {label_col!r} must be >= 0.")
    return ids


# --- argument checks -------------------------------------------------------------------------


def _as_column_list(text_col: str | Sequence[str]) -> list[str]:
    if isinstance(text_col, str):
        return [text_col]
    columns = list(text_col)
    if not columns or not all(isinstance(c, str) for c in columns):
        raise DatasetError(
            f"text_col must be a column name or a non-empty list of column names, got {text_col!r}."
        )
    return columns


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _check_is_regression(is_regression: bool | None) -> None:
    # hfselect's positional order puts is_regression before num_examples: catch a swapped call.
    if is_regression is not None and not isinstance(is_regression, (bool, np.bool_)):
        raise TypeError(
            f"is_regression must be True, False or None (infer), got {is_regression!r}; "
            "pass num_examples=... by keyword."
        )


def _check_num_examples(num_examples: int | None) -> None:
    if num_examples is None:
        return
    if isinstance(num_examples, bool) or not isinstance(num_examples, (int, np.integer)):
        raise DatasetError(f"num_examples must be a whole number or None, got {num_examples!r}.")
    if num_examples < 1:
        raise DatasetError(
            f"num_examples must be at least 1 (or None for all rows), got {num_examples}."
        )


def _check_columns(available: Sequence[str], text_cols: Sequence[str], label_col: str) -> None:
    for column in text_cols:
        if column not in available:
            raise ColumnNotFoundError(column, available, role="text column")
    if label_col not in available:
        raise ColumnNotFoundError(label_col, available, role="label column")


def _split_names(split: str) -> list[str]:
    """The plain split names in a ``datasets`` split expression (``"train[:10%]+test"``)."""
    names = []
    for part in str(split).split("+"):
        names.append(re.sub(r"\[.*\]$", "", part.strip()).strip())
    return names


def _check_split(name: str, split: str, available: Sequence[str]) -> None:
    for split_name in _split_names(split):
        if split_name not in available:
            raise SplitNotFoundError(name, split_name, available)


# --- Hub / dataset folder loading ------------------------------------------------------------


def _offline() -> bool:
    try:
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            return True
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        pass
    return any(
        os.environ.get(var, "").strip().upper() in ("1", "ON", "YES", "TRUE")
        for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~", ".\\", "..\\")) or os.path.isabs(name)


def _looks_like_data_file(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in FILE_FORMATS


def _check_local_path(name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise DatasetNotFoundError(str(name), "Give a Hub dataset id or a local folder.")
    if _looks_like_path(name) and not Path(name).expanduser().exists():
        raise DatasetNotFoundError(name, "There is no such local folder.")


def _config_names(name: str) -> list[str]:
    """The dataset's subsets; [] where they cannot be listed (the caller has a better error)."""
    import datasets

    try:
        return list(datasets.get_dataset_config_names(name))
    except Exception:  # noqa: BLE001 - only used to enrich another error's message
        return []


def _translate_load_error(error: BaseException, name: str, subset: str | None) -> Exception | None:
    """Our typed error for an exception from ``datasets`` / ``huggingface_hub``, or None."""
    from datasets import exceptions as ds_exceptions
    from huggingface_hub import errors as hub_errors

    if isinstance(error, HfselectWidgetsError):
        return error
    message = str(error)
    if isinstance(error, hub_errors.GatedRepoError) or (
        isinstance(error, ds_exceptions.DatasetNotFoundError) and "gated" in message.lower()
    ):
        return DatasetNotFoundError(
            name,
            "It is gated: accept its conditions on its Hub page, then log in "
            "(`hf auth login`) so that the token is used.",
        )
    if isinstance(error, ConnectionError):
        if _offline():
            return DatasetNotFoundError(
                name,
                "Offline mode is on (HF_HUB_OFFLINE=1) and it is not in the Hugging Face cache. "
                "Load it once online (it is cached for later), or use your own data with "
                "Dataset.from_pandas / Dataset.from_file.",
            )
        return HubUnavailableError(f"the dataset {name!r}", message)
    if isinstance(
        error,
        (
            ds_exceptions.DatasetNotFoundError,
            ds_exceptions.DataFilesNotFoundError,
            hub_errors.RepositoryNotFoundError,
            hub_errors.HFValidationError,
            FileNotFoundError,
        ),
    ):
        return DatasetNotFoundError(name)
    if isinstance(error, ValueError) and (
        ("BuilderConfig" in message and "not found" in message)
        or "Config name is missing" in message
    ):
        return SubsetNotFoundError(name, subset, _config_names(name))
    return None


def _load_builder(name: str, subset: str | None, trust_remote_code: bool | None = None):
    """``datasets.load_dataset_builder`` (what ``load_dataset`` runs first), errors mapped."""
    import datasets

    kwargs: dict[str, Any] = {}
    # datasets >= 4 dropped dataset scripts and the argument with them.
    if trust_remote_code is not None and (
        "trust_remote_code" in inspect.signature(datasets.load_dataset_builder).parameters
    ):
        kwargs["trust_remote_code"] = trust_remote_code
    try:
        return datasets.load_dataset_builder(name, subset, **kwargs)
    except Exception as error:
        translated = _translate_load_error(error, name, subset)
        if translated is None:
            raise
        raise translated from error


def _builder_splits(builder) -> list[str] | None:
    """Split names known before any download: from the dataset card, else the data files."""
    if builder.info.splits:
        return [str(split) for split in builder.info.splits]
    data_files = getattr(builder.config, "data_files", None)
    if data_files:
        return [str(split) for split in data_files]
    return None


def _split_error(error: ValueError, name: str, split: str, known: list[str] | None):
    message = str(error)
    if "Unknown split" not in message:
        return None
    available = known
    if available is None:
        found = re.search(r"Should be one of (\[.*\])", message)
        available = re.findall(r"'([^']*)'", found.group(1)) if found else []
    names = [s for s in _split_names(split) if s not in available] or [split]
    return SplitNotFoundError(name, names[0], available)


def _as_dataset(builder, name: str, split: str, known_splits: list[str] | None):
    """Download and prepare the data, then read one split (as ``load_dataset`` does)."""
    try:
        builder.download_and_prepare()
        return builder.as_dataset(split=split)
    except ValueError as error:
        translated = _split_error(error, name, split, known_splits)
        if translated is None:
            raise
        raise translated from error
    except ConnectionError as error:
        raise _translate_load_error(error, name, builder.config.name) from error


def _stream_sample(
    builder,
    name: str,
    split: str,
    known_splits: list[str] | None,
    text_cols: list[str],
    label_col: str,
    is_regression: bool | None,
    num_examples: int | None,
    seed: int | None,
    drop_missing: bool,
):
    """hfselect's streaming recipe: filter, buffered shuffle, take, materialise.

    Returns the sampled ``datasets.Dataset`` and the task type (inferred here when None).
    """
    import datasets

    try:
        stream = builder.as_streaming_dataset(split=split)
    except ValueError as error:
        translated = _split_error(error, name, split, known_splits)
        if translated is None:
            raise
        raise translated from error
    columns = _unique(text_cols + [label_col])
    features = stream.features
    if features is None:
        first = next(iter(stream.take(1)), None)
        if first is None:
            raise EmptyDatasetError(f"The split {split!r} of {name!r} is empty.")
        available = list(first)
    else:
        available = list(features)
    _check_columns(available, text_cols, label_col)
    stream = stream.select_columns(columns)

    if is_regression is None:
        if features is not None:
            is_regression = _infer_is_regression(features[label_col], None, label_col, False)
        else:
            is_regression = _infer_from_python_values(
                (row[label_col] for row in stream.take(1000)), label_col
            )
    if drop_missing:
        stream = stream.filter(
            lambda row: all(not _is_missing(row[c]) for c in columns),
        )
    if not is_regression:
        stream = stream.filter(lambda row: row[label_col] != -1)
    if num_examples is not None:
        stream = stream.shuffle(seed=seed, buffer_size=DATASET_STREAMING_BUFFER_SIZE).take(
            num_examples
        )
    try:
        rows = list(stream)
    except ConnectionError as error:
        raise _translate_load_error(error, name, builder.config.name) from error
    if not rows:
        raise EmptyDatasetError(
            f"No rows are left in split {split!r} of {name!r} after dropping rows with label -1"
            f"{' or missing values' if drop_missing else ''}."
        )
    return datasets.Dataset.from_list(rows, features=stream.features), is_regression


# --- sampling and conversion -----------------------------------------------------------------


def _is_missing(value: Any) -> bool:
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


def _sample_indices(
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
        for column in _unique(text_cols + [label_col]):
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


def _texts_from_table(table: pa.Table, text_cols: list[str], single: bool) -> list[str]:
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


def _feature_kind(feature: Any) -> str:
    """``classlabel``, ``string``, ``int``, ``float``, ``bool`` or ``other`` for a feature."""
    import datasets

    if isinstance(feature, datasets.ClassLabel):
        return "classlabel"
    if isinstance(feature, datasets.Value):
        return _dtype_kind(feature.dtype)
    return "other"


def _dtype_kind(dtype: str) -> str:
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


def _infer_is_regression(
    feature: Any, column: pa.ChunkedArray | None, label_col: str, lenient_floats: bool
) -> bool:
    """hfselect's rule: float labels mean regression, everything else classification.

    With ``lenient_floats`` (DataFrames and files), a float column of whole numbers is
    classification: pandas makes int columns float as soon as one value is missing.
    """
    kind = _feature_kind(feature)
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


def _infer_from_python_values(values: Iterable[Any], label_col: str) -> bool:
    for value in values:
        if _is_missing(value):
            continue
        if isinstance(value, float):
            return True
        if isinstance(value, (int, str, bool)):
            return False
        break
    raise LabelTypeError(
        f"Cannot tell the task type from the label column {label_col!r}: pass is_regression."
    )


def _labels_from_column(
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


# --- files -----------------------------------------------------------------------------------


def _format_from_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in FILE_FORMATS:
        return FILE_FORMATS[suffixes[-1]]
    raise DatasetError(
        f"Cannot tell the format of {path.name!r} from its suffix.",
        advice="Name the format: {0}.",
        field="file_format",
        fixes=[Fix("file_format", "csv")],
    )


def _read_json(path: Path) -> pa.Table:
    """JSON lines, or one JSON array of objects (``{"data": [...]}`` too)."""
    import pyarrow.json as pa_json

    if path.suffix.lower() in _COMPRESSION_SUFFIXES:
        return pa.Table.from_pandas(pd.read_json(path, lines=True), preserve_index=False)
    with open(path, encoding="utf-8") as handle:
        head = handle.read(4096).lstrip()
    if head.startswith("["):
        with open(path, encoding="utf-8") as handle:
            return pa.Table.from_pylist(json.load(handle))
    try:
        return pa_json.read_json(path)
    except pa.ArrowInvalid:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        records = next((v for v in document.values() if isinstance(v, list)), None)
        if not isinstance(document, dict) or records is None:
            raise DatasetError(
                f"{path.name!r} is neither JSON lines nor a JSON array of objects."
            ) from None
        return pa.Table.from_pylist(records)


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()


# --- column suggestions ----------------------------------------------------------------------


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
        kind = _dtype_kind(dtype) if isinstance(dtype, str) else _feature_kind(dtype)
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


# --- Hub metadata ----------------------------------------------------------------------------


@dataclass
class HubDatasetInfo:
    """What a form needs to know about a Hub dataset (or a local dataset folder)."""

    name: str
    subsets: list[str]
    splits: list[str]
    features: datasets.Features | None
    suggestion: ColumnSuggestion
    subset: str | None = None
    """The subset that ``splits`` and ``features`` describe."""
    num_rows: dict[str, int] = field(default_factory=dict)
    """Rows per split, where the metadata says."""


def _default_subset(name: str, subsets: list[str]) -> str | None:
    if len(subsets) <= 1:
        return subsets[0] if subsets else None
    import datasets

    try:
        default = datasets.get_dataset_default_config_name(name)
    except Exception:  # noqa: BLE001 - fall back to the first subset
        default = None
    return default if default in subsets else subsets[0]


def _peek_rows(builder, split: str, count: int) -> list[dict]:
    stream = builder.as_streaming_dataset(split=split)
    return list(stream.take(count))


def _card_info(hf_api: Any, name: str, subset: str | None) -> HubDatasetInfo | None:
    """Subsets, splits and features from the dataset card's YAML (one Hub request)."""
    from datasets.info import DatasetInfosDict
    from huggingface_hub import errors as hub_errors

    try:
        repo_info = hf_api.dataset_info(name)
    except (hub_errors.RepositoryNotFoundError, hub_errors.HFValidationError) as error:
        translated = _translate_load_error(error, name, subset)
        raise (translated or DatasetNotFoundError(name)) from error
    except (ConnectionError, OSError):
        return None  # let datasets try (it may have the metadata cached)
    card = getattr(repo_info, "card_data", None) or getattr(repo_info, "cardData", None)
    if card is None:
        return None
    card_dict = card.to_dict() if hasattr(card, "to_dict") else dict(card)
    infos = DatasetInfosDict.from_dataset_card_data(card_dict)
    if not infos:
        return None
    subsets = _unique(
        [c.get("config_name") for c in card_dict.get("configs") or [] if c.get("config_name")]
        + list(infos)
    )
    if subset is not None and subset not in subsets:
        raise SubsetNotFoundError(name, subset, subsets)
    if subset is None:
        defaults = [
            c.get("config_name") for c in card_dict.get("configs") or [] if c.get("default")
        ]
        subset = defaults[0] if defaults else ("default" if "default" in infos else subsets[0])
    info = infos.get(subset)
    if info is None or info.features is None or not info.splits:
        return None
    splits = [str(s) for s in info.splits]
    return HubDatasetInfo(
        name=name,
        subsets=subsets,
        splits=splits,
        features=info.features,
        suggestion=suggest_columns(info.features),
        subset=subset,
        num_rows={str(k): int(v.num_examples) for k, v in info.splits.items() if v.num_examples},
    )


def inspect_hub_dataset(
    name: str,
    subset: str | None = None,
    hf_api: Any | None = None,
    peek_rows: int = 100,
) -> HubDatasetInfo:
    """List a dataset's subsets and splits, its features and a column suggestion.

    Reads metadata only (the dataset card, the list of data files). Where the metadata has no
    features (plain CSV/JSON repos and local folders), the first ``peek_rows`` rows of the
    first split are streamed to learn the columns; ``peek_rows=0`` skips that.

    Args:
        name: a Hub dataset id or a local dataset folder.
        subset: the subset to describe; by default the dataset's default (or first) one.
        hf_api: an ``HfApi``-like object; when given, the dataset card is read with its
            ``dataset_info(name)`` first (one request), and ``datasets`` only where the card
            lacks features or splits.
        peek_rows: rows to stream when the metadata has no features.

    Raises:
        DatasetNotFoundError, SubsetNotFoundError, HubUnavailableError.
    """
    _check_local_path(name)
    if hf_api is not None and not Path(name).expanduser().exists():
        from_card = _card_info(hf_api, name, subset)
        if from_card is not None:
            return from_card

    subsets = _config_names(name)  # [] when it cannot be listed: the builder says why
    if subset is not None and subsets and subset not in subsets:
        raise SubsetNotFoundError(name, subset, subsets)
    chosen = subset if subset is not None else _default_subset(name, subsets)
    builder = _load_builder(name, chosen)
    if not subsets and builder.config.name:
        subsets = [builder.config.name]
    splits = _builder_splits(builder) or []
    features = builder.info.features
    num_rows = {
        str(k): int(v.num_examples)
        for k, v in (builder.info.splits or {}).items()
        if v.num_examples
    }
    sample = None
    reasons: list[str] = []
    if features is None and peek_rows > 0 and splits:
        import datasets

        try:
            rows = _peek_rows(builder, splits[0], peek_rows)
        except ConnectionError as error:
            raise _translate_load_error(error, name, chosen) from error
        except Exception as error:  # noqa: BLE001 - a peek failure leaves the form to the user
            reasons.append(f"Could not read sample rows ({type(error).__name__}: {error}).")
        else:
            if rows:
                sample = pd.DataFrame(rows)
                features = datasets.Dataset.from_list(rows).features
    suggestion = suggest_columns(features, sample) if features is not None else ColumnSuggestion()
    suggestion.reasons = reasons + suggestion.reasons
    return HubDatasetInfo(
        name=name,
        subsets=subsets,
        splits=splits,
        features=features,
        suggestion=suggestion,
        subset=chosen,
        num_rows=num_rows,
    )


__all__ = [
    "TEXT_SEPARATOR",
    "DATASET_STREAMING_BUFFER_SIZE",
    "FILE_FORMATS",
    "Dataset",
    "ColumnSuggestion",
    "HubDatasetInfo",
    "suggest_columns",
    "inspect_hub_dataset",
]
