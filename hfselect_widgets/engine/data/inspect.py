"""Hub dataset inspection: a dataset's subsets, splits and features, without downloading its data.

:func:`inspect_hub_dataset` reads the dataset card (one request, with an ``HfApi``) or the
builder's metadata, streams a few rows only where the metadata has no features, and adds a
column suggestion (:mod:`.suggest`). The widgets build their dataset form from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hfselect_widgets.engine.data.loading import (
    builder_splits,
    check_local_path,
    config_names,
    load_builder,
    translate_load_error,
)
from hfselect_widgets.engine.data.sampling import unique
from hfselect_widgets.engine.data.suggest import ColumnSuggestion, suggest_columns
from hfselect_widgets.errors import DatasetNotFoundError, SubsetNotFoundError

if TYPE_CHECKING:  # pragma: no cover - typing only; ``datasets`` is imported lazily
    import datasets


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
        translated = translate_load_error(error, name, subset)
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
    subsets = unique(
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
    check_local_path(name)
    if hf_api is not None and not Path(name).expanduser().exists():
        from_card = _card_info(hf_api, name, subset)
        if from_card is not None:
            return from_card

    subsets = config_names(name)  # [] when it cannot be listed: the builder says why
    if subset is not None and subsets and subset not in subsets:
        raise SubsetNotFoundError(name, subset, subsets)
    chosen = subset if subset is not None else _default_subset(name, subsets)
    builder = load_builder(name, chosen)
    if not subsets and builder.config.name:
        subsets = [builder.config.name]
    splits = builder_splits(builder) or []
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
            raise translate_load_error(error, name, chosen) from error
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


__all__ = ["HubDatasetInfo", "inspect_hub_dataset"]
