"""Finding ESMs on the Hugging Face Hub: which repos hold ESMs, for which base model.

Discovery follows hf-dataset-selector: ESM repos carry the tag ``embedding_space_map`` and the
Hub derives ``base_model:<id>`` / ``base_model:finetune:<id>`` tags from their model cards, so
``HfApi.list_models(filter=[..., "embedding_space_map", "base_model:<canonical id>"])`` finds
the ESMs of one base model. Downloading them is :mod:`.download`.

Every function that talks to the Hub API takes ``hf_api`` (an ``HfApi``-like object; default
``huggingface_hub.HfApi()``) so that callers can pass a token/endpoint and tests a fake.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from hfselect_widgets.engine.hub.network import NETWORK_ERRORS, hub_api, hub_unavailable
from hfselect_widgets.engine.model_ids import canonical_model_id
from hfselect_widgets.errors import HubUnavailableError, NoESMsFoundError

ESM_TAG = "embedding_space_map"
"""The tag every ESM repo carries (hfselect's model card sets it)."""
BASE_MODEL_TAG_PREFIX = "base_model:"
FINETUNE_TAG_PREFIX = "base_model:finetune:"


def _filter_tags(filters: str | Iterable[str] | None) -> list[str]:
    """A fresh list of the caller's filters (hfselect appends to the caller's list: a bug)."""
    if filters is None:
        return []
    if isinstance(filters, str):
        return [filters]
    return list(filters)


def list_models(api: Any, tags: list[str], what: str) -> list[Any]:
    """``api.list_models(filter=tags)`` as a list; :class:`HubUnavailableError` (about
    ``what``) when the Hub cannot be reached."""
    try:
        return list(api.list_models(filter=tags))
    except NETWORK_ERRORS as exc:
        raise hub_unavailable(what, exc) from exc


def find_esm_model_infos(
    model_name: str | None = None,
    filters: str | Iterable[str] | None = None,
    hf_api: Any | None = None,
) -> list[Any]:
    """The Hub's ``ModelInfo`` of every ESM for ``model_name`` (all ESMs if ``None``).

    ``filters`` are extra ``list_models`` tags (e.g. ``"language:en"``), combined with AND as in
    hfselect. The base model's legacy id is resolved to its canonical id first
    (``bert-base-multilingual-uncased`` -> ``google-bert/bert-base-multilingual-uncased``).
    The caller's ``filters`` list is left unchanged. Raises :class:`HubUnavailableError` when
    the Hub cannot be reached.
    """
    api = hub_api(hf_api)
    tags = _filter_tags(filters)
    tags.append(ESM_TAG)
    if model_name:
        tags.append(BASE_MODEL_TAG_PREFIX + canonical_model_id(str(model_name), api))
    what = f"the ESMs of {model_name!r}" if model_name else "the list of ESMs"
    return list_models(api, tags, what)


def find_esm_repo_ids(
    model_name: str | None = None,
    filters: str | Iterable[str] | None = None,
    hf_api: Any | None = None,
) -> list[str]:
    """The repo ids of every ESM for ``model_name`` (see :func:`find_esm_model_infos`)."""
    return [info.id for info in find_esm_model_infos(model_name, filters=filters, hf_api=hf_api)]


def base_model_of(model_info: Any) -> str | None:
    """The base model an ESM repo was trained for, from its Hub tags (``None`` if untagged).

    hfselect reads ``base_model:finetune:<id>``; repos whose card predates that tag may only
    carry ``base_model:<id>``, which we accept as a fallback.
    """
    tags = list(getattr(model_info, "tags", None) or [])
    for tag in tags:
        if tag.startswith(FINETUNE_TAG_PREFIX):
            return tag[len(FINETUNE_TAG_PREFIX) :]
    for tag in tags:
        rest = tag[len(BASE_MODEL_TAG_PREFIX) :] if tag.startswith(BASE_MODEL_TAG_PREFIX) else ""
        if rest and ":" not in rest:  # skip base_model:adapter:..., base_model:quantized:...
            return rest
    return None


def get_esm_coverage(
    filters: str | Iterable[str] | None = None, hf_api: Any | None = None
) -> dict[str, int]:
    """How many ESMs each base model has on the Hub, most covered first."""
    infos = find_esm_model_infos(filters=filters, hf_api=hf_api)
    counts = Counter(base for base in map(base_model_of, infos) if base)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def no_esms_found_error(model_name: str | None, hf_api: Any | None = None) -> NoESMsFoundError:
    """A :class:`NoESMsFoundError` that lists the base models that do have ESMs (if reachable)."""
    try:
        coverage = get_esm_coverage(hf_api=hf_api)
    except HubUnavailableError:
        coverage = None
    return NoESMsFoundError(model_name, coverage)


__all__ = [
    "BASE_MODEL_TAG_PREFIX",
    "ESM_TAG",
    "FINETUNE_TAG_PREFIX",
    "base_model_of",
    "find_esm_model_infos",
    "find_esm_repo_ids",
    "get_esm_coverage",
    "list_models",
    "no_esms_found_error",
]
