"""The pooling rule: which vector of a base model's output the published ESMs were trained on.

ESMs map the *pooled* embeddings of one base model, so the pooling must be the one hfselect used
when the ESMs were trained. :func:`detect_pooling` picks it, first rule that applies:

1. DistilBERT and the RoBERTa family (RoBERTa, XLM-R, CamemBERT, ...) -> ``"cls"``, the first
   token of the last hidden state. hfselect does this for DistilBERT and RoBERTa whatever the
   model's name, so a sentence-transformers RoBERTa model is ``"cls"`` too.
2. "sentence-transformers" in the Hub id, the load path or ``model.name_or_path`` -> ``"mean"``,
   the attention-masked mean of the last hidden state, not normalised (a ``2_Normalize`` module
   is ignored, as hfselect does).
3. A sentence-transformers folder of another name (its ``modules.json`` lists a ``Pooling``
   module, or it has ``1_Pooling/config.json``) -> the pooling it declares: ``"cls"`` when only
   ``pooling_mode_cls_token`` is set, otherwise ``"mean"`` (max pooling and the rarer modes have
   no ESM convention; mean is the one ESMs use).
4. Decoder-only models (GPT-style) -> ``"mean"``: their first token has seen nothing else.
5. A model with a (trained) pooler layer, e.g. BERT -> ``"pooler"``, i.e. ``outputs[1]``.
6. Any other encoder -> ``"cls"``.

A checkpoint saved without pooler weights would get a *randomly initialised* pooler from
``AutoModel``; :func:`load_base_model` drops such a pooler, so rule 5 does not apply and an
explicit ``pooling="pooler"`` is refused instead of yielding random embeddings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from hfselect_widgets.engine.model_ids import is_local_path
from hfselect_widgets.errors import PoolingError

POOLING_METHODS = ("pooler", "mean", "cls")
"""``pooler``: the model's pooler output (``outputs[1]``); ``mean``: attention-masked mean of the
last hidden state; ``cls``: the first token of the last hidden state."""

# Model types whose first token hfselect uses (it checks isinstance DistilBertModel/RobertaModel;
# the RoBERTa derivatives share that architecture and tokenizer conventions).
_FIRST_TOKEN_MODEL_TYPES = frozenset(
    {
        "distilbert",
        "roberta",
        "roberta-prelayernorm",
        "xlm-roberta",
        "xlm-roberta-xl",
        "camembert",
        "data2vec-text",
    }
)
_SENTENCE_TRANSFORMERS = "sentence-transformers"


def pool(outputs: Any, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Pool a transformers model output to one vector per sequence.

    ``outputs`` is what the model returned (a ``ModelOutput`` or a tuple), ``attention_mask`` the
    (batch, length) mask it was called with. Shared by embedding and ESM training so that both
    always pool alike.
    """
    if pooling == "pooler":
        if isinstance(outputs, tuple):
            pooled = outputs[1] if len(outputs) > 1 else None
        else:
            pooled = getattr(outputs, "pooler_output", None)
        if pooled is None:
            raise PoolingError(
                "The model has no pooler output; use pooling='cls' or pooling='mean'."
            )
        return pooled
    if pooling not in POOLING_METHODS:
        raise PoolingError(_unknown_pooling_message(pooling))
    hidden = outputs[0]
    if pooling == "cls":
        return hidden[:, 0]
    # "mean", exactly as sentence-transformers and hfselect: masked sum / clamped token count.
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return torch.sum(hidden * mask, 1) / torch.clamp(mask.sum(1), min=1e-9)


def get_pooled_output(
    base_model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """hfselect's ``get_pooled_output``: run ``base_model`` and pool by :func:`detect_pooling`.

    For BERT, DistilBERT, RoBERTa and sentence-transformers models this is hfselect's rule; other
    encoders get the rule the ranking uses for them (hfselect raises ``NotImplementedError``).
    """
    name = str(getattr(base_model, "name_or_path", "") or "")
    pooling = detect_pooling(base_model, name, name or None)
    outputs = base_model(input_ids, attention_mask=attention_mask)
    return pool(outputs, attention_mask, pooling)


def _unknown_pooling_message(pooling: object) -> str:
    return (
        f"Unknown pooling {pooling!r}. Choose one of {', '.join(map(repr, POOLING_METHODS))}, "
        "or None to detect it from the model."
    )


def _find_model_file(load_from: str, filename: str) -> Path | None:
    """``filename`` of a local model folder, or of a Hub model if it is cached/downloadable."""
    if is_local_path(load_from):
        path = Path(os.path.expanduser(load_from)) / filename
        return path if path.is_file() else None
    try:
        from transformers.utils import cached_file

        found = cached_file(
            load_from,
            filename,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
            _raise_exceptions_for_gated_repo=False,
        )
    except Exception:  # offline, unknown repo, invalid id: the file is simply not available
        return None
    return Path(found) if found else None


def _read_json(path: Path | None) -> Any:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def sentence_transformers_pooling(load_from: str) -> str | None:
    """The pooling a sentence-transformers model folder declares, or ``None`` if it is not one.

    Reads ``modules.json`` (the ``Pooling`` module's folder) or else ``1_Pooling/config.json``.
    """
    pooling_dir: str | None = None
    modules = _read_json(_find_model_file(load_from, "modules.json"))
    if isinstance(modules, list):
        for module in modules:
            if isinstance(module, dict) and str(module.get("type", "")).endswith(".Pooling"):
                pooling_dir = str(module.get("path") or "1_Pooling")
                break
    config_path = _find_model_file(load_from, f"{pooling_dir or '1_Pooling'}/config.json")
    if pooling_dir is None and config_path is None:
        return None
    config = _read_json(config_path) or {}
    if config.get("pooling_mode_cls_token") and not config.get("pooling_mode_mean_tokens"):
        return "cls"
    return "mean"


def _is_decoder_only(config: Any) -> bool:
    architectures = getattr(config, "architectures", None) or []
    return bool(getattr(config, "is_decoder", False)) or any(
        arch.endswith(("ForCausalLM", "LMHeadModel")) for arch in architectures
    )


def detect_pooling(model: Any, load_from: str, model_id: str | None) -> str:
    """The pooling the ESMs of this base model expect (rules in the module docstring)."""
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", "") or ""
    if model_type in _FIRST_TOKEN_MODEL_TYPES:
        return "cls"
    names = (model_id or "", str(load_from), str(getattr(model, "name_or_path", "") or ""))
    if any(_SENTENCE_TRANSFORMERS in name for name in names):
        return "mean"
    declared = sentence_transformers_pooling(str(load_from))
    if declared is not None:
        return declared
    if config is not None and _is_decoder_only(config):
        return "mean"
    if getattr(model, "pooler", None) is not None:
        return "pooler"
    return "cls"


__all__ = [
    "POOLING_METHODS",
    "detect_pooling",
    "get_pooled_output",
    "pool",
    "sentence_transformers_pooling",
]
