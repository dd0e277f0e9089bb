"""The target dataset: texts and labels to rank intermediate datasets for.

A :class:`Dataset` is the user's labelled data after hfselect's rules have been applied, ready to
embed: a list of texts (several text columns joined with ``" [SEP] "``) and a label array (int64
class ids, or float64 values for a regression). It comes from the Hugging Face Hub (or a local
dataset folder, which ``datasets`` treats like a Hub repo), a pandas DataFrame, or a CSV / TSV /
JSON lines / Parquet file.

Every source goes through the same rules as hf-dataset-selector 0.2.1's
``hfselect.Dataset.from_hugging_face`` (the ``-1`` filter, its sampling, ``" [SEP] "``, label
ids in sorted order: :mod:`.sampling`), so the same data gives the same rows for the same seed
wherever it comes from. Hub loading is :mod:`.loading`, files :mod:`.files`, hfselect's
constructor, collate function and file format :mod:`.hfselect_compat`.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from hfselect_widgets.engine.data.files import looks_like_data_file, read_table_file
from hfselect_widgets.engine.data.loading import (
    as_dataset,
    builder_splits,
    check_local_path,
    check_split,
    load_builder,
    stream_sample,
)
from hfselect_widgets.engine.data.sampling import (
    as_column_list,
    check_columns,
    check_is_regression,
    check_num_examples,
    infer_is_regression,
    labels_from_column,
    sample_indices,
    texts_from_table,
    unique,
)
from hfselect_widgets.errors import (
    DatasetError,
    DatasetNotFoundError,
    EmptyDatasetError,
    LabelTypeError,
)

if TYPE_CHECKING:  # pragma: no cover - typing only; ``datasets`` is imported lazily
    import datasets

SOURCE_HUB = "hub"
SOURCE_PANDAS = "pandas"
SOURCE_FILE = "file"


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
        text_cols = as_column_list(text_col)
        check_is_regression(is_regression)
        check_num_examples(num_examples)
        check_local_path(name)
        builder = load_builder(name, subset, trust_remote_code)
        known_splits = builder_splits(builder)
        if known_splits is not None:
            # Before any download: a typo should not cost a whole dataset's download.
            check_split(name, split, known_splits)
        if builder.info.features is not None:
            check_columns(list(builder.info.features), text_cols, label_col)

        if streaming:
            hf_dataset, is_regression = stream_sample(
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
            hf_dataset = as_dataset(builder, name, split, known_splits)

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

        text_cols = as_column_list(text_col)
        check_is_regression(is_regression)
        check_num_examples(num_examples)
        check_columns([str(c) for c in df.columns], text_cols, label_col)
        columns = unique(text_cols + [label_col])
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
        df = read_table_file(path, file_format, columns=[*as_column_list(text_col), label_col])
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
        if not path.exists() and looks_like_data_file(path):
            raise DatasetNotFoundError(str(source), "There is no such file.")
        kwargs.pop("file_format", None)
        kwargs.pop("name", None)  # a Hub dataset's name is its id
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
        text_cols = as_column_list(text_col)
        check_columns(hf_dataset.column_names, text_cols, label_col)
        hf_dataset = hf_dataset.select_columns(unique(text_cols + [label_col]))
        table = hf_dataset.with_format("arrow")[:]  # zero-copy view; honours any index mapping
        label_feature = hf_dataset.features[label_col]
        if is_regression is None:
            # Before the -1 filter: the filter depends on the task type.
            is_regression = infer_is_regression(
                label_feature, table.column(label_col), label_col, lenient_float_labels
            )

        indices = sample_indices(
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

        texts = texts_from_table(table, text_cols, isinstance(text_col, str))
        labels, class_names = labels_from_column(
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


__all__ = ["Dataset"]
