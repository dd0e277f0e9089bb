"""Loading a Hub dataset (or a local dataset folder) with ``datasets``, errors made ours.

``datasets.load_dataset_builder`` (what ``load_dataset`` runs first) gives the splits and
features before any download, so a wrong split or column is reported before a whole dataset is
downloaded; then the split is downloaded (:func:`as_dataset`) or streamed with hfselect's
recipe (:func:`stream_sample`). Exceptions of ``datasets`` / ``huggingface_hub`` become our
typed errors (:func:`translate_load_error`): not found, gated, offline, no such subset/split.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hfselect_widgets.engine.data.sampling import (
    check_columns,
    infer_from_python_values,
    infer_is_regression,
    is_missing,
    unique,
)
from hfselect_widgets.engine.model_ids import looks_like_path
from hfselect_widgets.errors import (
    DatasetNotFoundError,
    EmptyDatasetError,
    HfselectWidgetsError,
    HubUnavailableError,
    SplitNotFoundError,
    SubsetNotFoundError,
)

DATASET_STREAMING_BUFFER_SIZE = 100_000
"""hfselect's shuffle buffer for streamed datasets (rows picked depend on it)."""


def _split_names(split: str) -> list[str]:
    """The plain split names in a ``datasets`` split expression (``"train[:10%]+test"``)."""
    names = []
    for part in str(split).split("+"):
        names.append(re.sub(r"\[.*\]$", "", part.strip()).strip())
    return names


def check_split(name: str, split: str, available: Sequence[str]) -> None:
    for split_name in _split_names(split):
        if split_name not in available:
            raise SplitNotFoundError(name, split_name, available)


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


def check_local_path(name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise DatasetNotFoundError(str(name), "Give a Hub dataset id or a local folder.")
    if looks_like_path(name) and not Path(name).expanduser().exists():
        raise DatasetNotFoundError(name, "There is no such local folder.")


def config_names(name: str) -> list[str]:
    """The dataset's subsets; [] where they cannot be listed (the caller has a better error)."""
    import datasets

    try:
        return list(datasets.get_dataset_config_names(name))
    except Exception:  # noqa: BLE001 - only used to enrich another error's message
        return []


def translate_load_error(error: BaseException, name: str, subset: str | None) -> Exception | None:
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
        from hfselect_widgets.engine.hub.network import hub_unavailable, offline_reason

        if offline_reason() is not None:  # no network (probed): say so, about the dataset
            return hub_unavailable(f"the dataset {name!r}", error, field="dataset")
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
        return SubsetNotFoundError(name, subset, config_names(name))
    return None


def load_builder(name: str, subset: str | None, trust_remote_code: bool | None = None):
    """``datasets.load_dataset_builder`` (what ``load_dataset`` runs first), errors mapped."""
    import datasets

    if not Path(str(name)).expanduser().exists():
        from hfselect_widgets.engine.hub.network import ensure_hub

        ensure_hub()  # offline: datasets fails at once (or uses its cache), no retries
    kwargs: dict[str, Any] = {}
    # datasets >= 4 dropped dataset scripts and the argument with them.
    if trust_remote_code is not None and (
        "trust_remote_code" in inspect.signature(datasets.load_dataset_builder).parameters
    ):
        kwargs["trust_remote_code"] = trust_remote_code
    try:
        return datasets.load_dataset_builder(name, subset, **kwargs)
    except Exception as error:
        translated = translate_load_error(error, name, subset)
        if translated is None:
            raise
        raise translated from error


def builder_splits(builder) -> list[str] | None:
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


def as_dataset(builder, name: str, split: str, known_splits: list[str] | None):
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
        raise translate_load_error(error, name, builder.config.name) from error


def stream_sample(
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
    columns = unique(text_cols + [label_col])
    features = stream.features
    if features is None:
        first = next(iter(stream.take(1)), None)
        if first is None:
            raise EmptyDatasetError(f"The split {split!r} of {name!r} is empty.")
        available = list(first)
    else:
        available = list(features)
    check_columns(available, text_cols, label_col)
    stream = stream.select_columns(columns)

    if is_regression is None:
        if features is not None:
            is_regression = infer_is_regression(features[label_col], None, label_col, False)
        else:
            is_regression = infer_from_python_values(
                (row[label_col] for row in stream.take(1000)), label_col
            )
    if drop_missing:
        stream = stream.filter(
            lambda row: all(not is_missing(row[c]) for c in columns),
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
        raise translate_load_error(error, name, builder.config.name) from error
    if not rows:
        raise EmptyDatasetError(
            f"No rows are left in split {split!r} of {name!r} after dropping rows with label -1"
            f"{' or missing values' if drop_missing else ''}."
        )
    return datasets.Dataset.from_list(rows, features=stream.features), is_regression


__all__ = ["DATASET_STREAMING_BUFFER_SIZE"]
