"""The base model: loading it (once, cached in-process) and embedding texts with it.

The vector taken from the model's output follows :mod:`.pooling`, the rule the published ESMs
were trained with. Texts are tokenized as hfselect does (truncated to ``max_length`` = 128
tokens, no token type ids passed to the model), but in batches of similar length with padding
only to the longest text of each batch; the results equal fixed-length padding up to float
rounding and come back in input order.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hfselect_widgets.engine import defaults
from hfselect_widgets.engine.embedding.cache import EmbeddingCache, fingerprint_texts

# The pooling names stay importable from here (hfselect's modules and older code use them).
from hfselect_widgets.engine.embedding.pooling import (  # noqa: F401
    POOLING_METHODS,
    _find_model_file,
    _unknown_pooling_message,
    detect_pooling,
    get_pooled_output,
    pool,
    sentence_transformers_pooling,
)
from hfselect_widgets.engine.model_ids import (
    canonical_model_id,
    is_local_path,
    looks_like_path,
    model_id_for_path,
    resolve_model_source,
)
from hfselect_widgets.engine.progress import (
    STAGE_EMBEDDING,
    CancelToken,
    ProgressCallback,
    check_cancel,
    report,
)
from hfselect_widgets.errors import (
    MissingTextError,
    ModelLoadError,
    PoolingError,
    TrainingConfigError,
)

DEFAULT_MAX_LENGTH = defaults.MAX_LENGTH
"""hfselect truncates every text to 128 tokens; the ESMs were trained on such embeddings."""

DEFAULT_BATCH_SIZE = defaults.BATCH_SIZE

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".h5", ".msgpack")

_MODEL_CACHE_SIZE = 2  # base models are large (~700 MB for multilingual BERT): keep few
# (load_from, device, folder stamp) -> (model, tokenizer, model identity)
_model_cache: OrderedDict[tuple, tuple[Any, Any, str]] = OrderedDict()
_model_cache_lock = threading.Lock()


# --- the base model --------------------------------------------------------------------------


@dataclass
class BaseModel:
    """A loaded base language model with everything needed to embed texts as ESMs expect.

    ``model_id`` is the Hub id (``None`` for a local folder of unknown origin); ``load_from`` is
    where it was loaded from. ``model`` may be shared with other ``BaseModel`` objects through
    the in-process model cache: do not modify it (load with ``reuse=False`` to train).
    """

    model: Any
    tokenizer: Any
    model_id: str | None
    load_from: str
    pooling: str
    embedding_dim: int
    device: torch.device
    max_length: int = DEFAULT_MAX_LENGTH
    _model_identity: str | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def name(self) -> str:
        """A name to show people: the Hub id if known, else the folder."""
        return self.model_id or self.load_from

    def identity(self) -> str:
        """A stable string naming this model and embedding set-up, for cache keys.

        Hub id (canonical spelling) or resolved folder, a hash of ``config.json``, the Hub
        revision when known, and for folders of unknown origin the size and time of the weight
        files (a re-trained model saved to the same folder must not hit old entries); then the
        pooling and the maximum length.
        """
        if self._model_identity is None:
            self._model_identity = _model_identity(self.model, self.load_from, self.model_id)
        return f"{self._model_identity}|pooling={self.pooling}|max_length={self.max_length}"


def _model_identity(
    model: Any, load_from: str, model_id: str | None, folder_stamp: str | None = None
) -> str:
    """The model part of :meth:`BaseModel.identity`; ``folder_stamp`` as at load time."""
    local = is_local_path(load_from)
    if model_id:
        parts = [canonical_model_id(model_id)]
    else:
        parts = [str(Path(os.path.expanduser(load_from)).resolve()) if local else load_from]
    config_path = _find_model_file(load_from, "config.json")
    try:
        config_bytes = config_path.read_bytes() if config_path else None
    except OSError:
        config_bytes = None
    if config_bytes is None:
        config_bytes = model.config.to_json_string(use_diff=False).encode("utf-8")
    parts.append("config=" + hashlib.sha256(config_bytes).hexdigest()[:16])
    revision = getattr(getattr(model, "config", None), "_commit_hash", None)
    if not revision and not local and config_path and config_path.parent.parent.name == "snapshots":
        revision = config_path.parent.name  # .../models--org--name/snapshots/<commit>/config.json
    if revision:
        parts.append(f"revision={revision}")
    if local and not model_id:
        parts.append(f"weights={folder_stamp or _folder_stamp(load_from)}")
    return "|".join(parts)


def _folder_stamp(load_from: str) -> str | None:
    """Size and modification time of a local folder's config and weights, ``None`` for Hub ids.

    Part of the in-process model cache key, so that a model saved again to the same folder
    (e.g. after fine-tuning it in the notebook) is reloaded.
    """
    if not is_local_path(load_from):
        return None
    folder = Path(os.path.expanduser(load_from))
    stamps = []
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and (entry.name == "config.json" or entry.suffix in _WEIGHT_SUFFIXES):
            stat = entry.stat()
            stamps.append(f"{entry.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256(";".join(stamps).encode("utf-8")).hexdigest()[:16]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as ``torch.device``."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"Unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from error


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and "Loading weights" bars (the engine never prints).

    Hub download bars stay as they were: a first download can take minutes.
    """
    from huggingface_hub.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars_on = hf_logging.is_progress_bar_enabled()
    hub_bars_off = are_progress_bars_disabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # this switches the Hub's bars off too ...
    if not hub_bars_off:
        enable_progress_bars()  # ... so switch them back on
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars_on:
            hf_logging.enable_progress_bar()  # switches the Hub's bars on as well ...
        if hub_bars_off:
            disable_progress_bars()  # ... which the user may have had off


def _dtype_kwargs() -> dict[str, Any]:
    # transformers 5 loads in the checkpoint's dtype by default; ESMs were fitted on float32
    # embeddings. The argument was renamed from torch_dtype to dtype in 4.56.
    import transformers

    major, minor = (int(p) for p in re.findall(r"\d+", transformers.__version__)[:2])
    return {"dtype" if (major, minor) >= (4, 56) else "torch_dtype": torch.float32}


def _load_model_and_tokenizer(name: str, load_from: str, device: torch.device) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    try:
        with _quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(load_from)
            model, info = AutoModel.from_pretrained(
                load_from, output_loading_info=True, **_dtype_kwargs()
            )
    except Exception as error:  # OSError, ValueError, KeyError, HF errors: all mean "cannot load"
        detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
        detail = f"{type(error).__name__}: {detail[:300]}".rstrip(".") + "."
        raise ModelLoadError(name, detail) from error

    missing = info.get("missing_keys", ()) if isinstance(info, dict) else ()
    if getattr(model, "pooler", None) is not None and any(
        key.startswith("pooler.") or ".pooler." in key for key in missing
    ):
        # AutoModel initialised the pooler at random: its output would differ on every load.
        model.pooler = None
    model.eval()
    try:
        model.to(device)
    except Exception as error:
        raise ModelLoadError(name, f"It cannot be moved to {device}: {error}.") from error
    return model, tokenizer


def _model_cache_key(
    load_from: str, device: torch.device, stamp: str | None
) -> tuple[str, str, str | None]:
    """The in-process model cache's key: where the weights load from, on which device, and the
    folder's stamp (a re-saved folder is another model)."""
    return (load_from, str(device), stamp)


def is_base_model_loaded(model_name_or_path: str | os.PathLike, device: str = "auto") -> bool:
    """Whether :func:`load_base_model` would take this model from its in-process cache
    (so that a progress display can say "cached" instead of timing a load)."""
    try:
        load_from, _ = resolve_model_source(str(model_name_or_path))
        key = _model_cache_key(load_from, resolve_device(device), _folder_stamp(load_from))
    except Exception:  # a bad name is load_base_model's to report
        return False
    with _model_cache_lock:
        return key in _model_cache


def load_base_model(
    model_name_or_path: str | os.PathLike,
    pooling: str | None = None,
    device: str | torch.device = "auto",
    max_length: int = DEFAULT_MAX_LENGTH,
    reuse: bool = True,
) -> BaseModel:
    """Load a base model and its tokenizer from a Hub id or a local folder, in eval mode.

    ``pooling`` overrides :func:`detect_pooling` (one of :data:`POOLING_METHODS`). ``device``
    "auto" picks CUDA when available. With ``reuse`` (the default) the model comes from a small
    in-process cache when it was loaded before, so that re-ranking in a notebook does not load it
    again; pass ``reuse=False`` for a private copy (e.g. to fine-tune it).

    Raises :class:`ModelLoadError` when the model or tokenizer cannot be loaded and
    :class:`PoolingError` for an unknown pooling or ``"pooler"`` on a model without one.
    """
    if pooling is not None and pooling not in POOLING_METHODS:
        raise PoolingError(_unknown_pooling_message(pooling))
    if not isinstance(max_length, int) or max_length < 1:
        raise ValueError(f"max_length must be a positive integer, got {max_length!r}.")
    name = str(model_name_or_path)
    if not name.strip():
        raise ModelLoadError(name, "The model name is empty.")
    torch_device = resolve_device(device)
    if torch_device.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(name, "CUDA was requested but is not available; use device='auto'.")

    load_from, model_id = resolve_model_source(name)
    if model_id is not None and looks_like_path(name) and not is_local_path(name):
        raise ModelLoadError(name, "There is no folder at this path.")

    stamp = _folder_stamp(load_from)  # taken before loading: a later re-save must not match
    key = _model_cache_key(load_from, torch_device, stamp)
    loaded = None
    if reuse:
        with _model_cache_lock:
            loaded = _model_cache.get(key)
            if loaded is not None:
                _model_cache.move_to_end(key)
    if loaded is None:
        model, tokenizer = _load_model_and_tokenizer(name, load_from, torch_device)
        loaded = (model, tokenizer, _model_identity(model, load_from, model_id, stamp))
        if reuse:
            with _model_cache_lock:
                _model_cache[key] = loaded
                while len(_model_cache) > _MODEL_CACHE_SIZE:
                    _model_cache.popitem(last=False)
    model, tokenizer, identity = loaded

    if pooling is None:
        pooling = detect_pooling(model, load_from, model_id)
    elif pooling == "pooler" and getattr(model, "pooler", None) is None:
        raise PoolingError(
            f"The model {name!r} has no trained pooler layer, so pooling='pooler' cannot be "
            "used; choose pooling='cls' or pooling='mean' (or None to detect it)."
        )
    base_model = BaseModel(
        model=model,
        tokenizer=tokenizer,
        model_id=model_id,
        load_from=load_from,
        pooling=pooling,
        embedding_dim=_embedding_dim(model, name),
        device=torch_device,
        max_length=max_length,
    )
    base_model._model_identity = identity
    return base_model


def _embedding_dim(model: Any, name: str) -> int:
    config = model.config
    for attribute in ("hidden_size", "d_model", "dim", "n_embd"):
        value = getattr(config, attribute, None)
        if isinstance(value, int) and value > 0:
            return value
    raise ModelLoadError(name, "Its config does not state the hidden size.")


def wrap_base_model(
    model: Any, tokenizer: Any = None, device: torch.device | str = "cpu"
) -> BaseModel:
    """A :class:`BaseModel` for a transformers encoder and its tokenizer (hfselect's inputs).

    The Hub id is the model's ``name_or_path`` (for the pip-packaged MiniLM folder:
    ``sentence-transformers/all-MiniLM-L6-v2``; for another local folder: none), and the
    pooling follows the ranking rules (:func:`detect_pooling`).
    """
    if isinstance(model, BaseModel):
        return model
    if tokenizer is None:
        raise TrainingConfigError(
            "A tokenizer is needed with a transformers model: pass tokenizer=..., or pass a "
            "BaseModel from load_base_model()."
        )
    device = resolve_device(device)
    name = str(getattr(model, "name_or_path", "") or "")
    if name and is_local_path(name):
        model_id = model_id_for_path(name)
    else:
        model_id = name or None
    model.to(device)
    model.eval()
    return BaseModel(
        model=model,
        tokenizer=tokenizer,
        model_id=model_id,
        load_from=name or "in-memory model",
        pooling=detect_pooling(model, name, model_id),
        embedding_dim=_embedding_dim(model, name or "model"),
        device=device,
        max_length=DEFAULT_MAX_LENGTH,
    )


def clear_model_cache() -> None:
    """Forget the models kept in-process by :func:`load_base_model` (frees their memory)."""
    with _model_cache_lock:
        _model_cache.clear()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# --- embedding -------------------------------------------------------------------------------


def _check_texts(texts: Sequence[Any]) -> list[str]:
    missing = sum(1 for text in texts if text is None or isinstance(text, float))
    if missing:
        raise MissingTextError("text", missing, len(texts))
    return [text if isinstance(text, str) else str(text) for text in texts]


def _pad_batch(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id lists to the longest of them (first-token pooling needs the right)."""
    width = max(1, max(len(seq) for seq in sequences))
    input_ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, seq in enumerate(sequences):
        input_ids[row, : len(seq)] = seq
        attention_mask[row, : len(seq)] = 1
    return torch.from_numpy(input_ids), torch.from_numpy(attention_mask)


def _pad_token_id(tokenizer: Any) -> int:
    # Padded positions are masked out, so any id works where a tokenizer has no pad token.
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id):
        if candidate is not None:
            return int(candidate)
    return 0


def embed_texts(
    texts: Sequence[str],
    base_model: BaseModel,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Embed ``texts`` with ``base_model``: a float32 array (N, D), rows in input order.

    Texts are tokenized once (truncated to ``base_model.max_length``), sorted by length and run
    in batches padded to their longest text, which wastes far less compute than padding every
    text to the maximum length. Reports ``progress("embedding", done, total)`` after each batch
    and raises :class:`RankingCancelled` between batches once ``cancel`` is set.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}.")
    texts = _check_texts(list(texts))
    total = len(texts)
    embeddings = np.empty((total, base_model.embedding_dim), dtype=np.float32)
    report(progress, STAGE_EMBEDDING, 0, total)
    if total == 0:
        return embeddings
    check_cancel(cancel, STAGE_EMBEDDING)

    # As hfselect's collate_fn, minus the padding; token type ids are not passed to the model.
    encoded = base_model.tokenizer(
        texts,
        truncation=True,
        max_length=base_model.max_length,
        padding=False,
        return_token_type_ids=False,
        return_attention_mask=False,
    )["input_ids"]
    lengths = np.fromiter((len(ids) for ids in encoded), dtype=np.int64, count=total)
    order = np.argsort(-lengths, kind="stable")  # longest first: memory peaks show up at once
    pad_id = _pad_token_id(base_model.tokenizer)
    model, device = base_model.model, base_model.device

    with torch.inference_mode():
        for start in range(0, total, batch_size):
            check_cancel(cancel, STAGE_EMBEDDING)
            indices = order[start : start + batch_size]
            input_ids, attention_mask = _pad_batch([encoded[i] for i in indices], pad_id)
            input_ids = input_ids.to(device, non_blocking=True)
            attention_mask = attention_mask.to(device, non_blocking=True)
            outputs = model(input_ids=input_ids, attention_mask=attention_mask)
            pooled = pool(outputs, attention_mask, base_model.pooling)
            embeddings[indices] = pooled.float().cpu().numpy()
            report(progress, STAGE_EMBEDDING, min(start + batch_size, total), total)
    return embeddings


def _resolve_cache(cache: EmbeddingCache | bool | None) -> EmbeddingCache | None:
    if cache is True:
        return EmbeddingCache()
    if cache is None or cache is False:
        return None
    return cache


def embed_dataset(
    texts: Sequence[str],
    base_model: BaseModel,
    fingerprint: str | None = None,
    cache: EmbeddingCache | bool | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """:func:`embed_texts`, through an on-disk :class:`EmbeddingCache`.

    ``cache``: ``True`` for the default cache folder, an :class:`EmbeddingCache` for another,
    ``None``/``False`` for none. The cache key combines the model's identity, pooling, maximum
    length, ``fingerprint`` (e.g. dataset id, split, seed) and a hash of the texts themselves, so
    a wrong fingerprint can never return embeddings of other texts. A cache that cannot be
    written (read-only, disk full) is skipped with a warning; the embeddings are still returned.
    """
    store = _resolve_cache(cache)
    if store is None:
        return embed_texts(texts, base_model, batch_size, progress, cancel)
    texts = _check_texts(list(texts))
    data_fingerprint = fingerprint_texts(texts)
    if fingerprint:
        data_fingerprint = f"{fingerprint}|{data_fingerprint}"
    key = store.key(base_model, data_fingerprint)
    cached = store.get(key)
    if cached is not None and cached.shape == (len(texts), base_model.embedding_dim):
        report(progress, STAGE_EMBEDDING, len(texts), len(texts))
        return cached
    embeddings = embed_texts(texts, base_model, batch_size, progress, cancel)
    try:
        store.put(key, embeddings)
    except OSError as error:
        warnings.warn(
            f"Could not write the embedding cache in {store.directory}: {error}",
            RuntimeWarning,
            stacklevel=2,
        )
    return embeddings


__all__ = [
    "DEFAULT_MAX_LENGTH",
    "BaseModel",
    "resolve_device",
    "is_base_model_loaded",
    "load_base_model",
    "wrap_base_model",
    "clear_model_cache",
    "embed_texts",
    "embed_dataset",
]
