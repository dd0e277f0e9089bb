"""Base models and embeddings: the pooling rule the ESMs expect (pooling), loading a base model
and embedding texts with it (model), the on-disk embedding cache (cache), base/fine-tuned
embedding pairs (pairs)."""

from hfselect_widgets.engine._lazy import lazy_exports

_EXPORTS = {
    "POOLING_METHODS": ".pooling",
    "DEFAULT_MAX_LENGTH": ".model",
    "BaseModel": ".model",
    "pool": ".pooling",
    "get_pooled_output": ".pooling",
    "detect_pooling": ".pooling",
    "sentence_transformers_pooling": ".pooling",
    "resolve_device": ".model",
    "load_base_model": ".model",
    "wrap_base_model": ".model",
    "clear_model_cache": ".model",
    "embed_texts": ".model",
    "embed_dataset": ".model",
    "EmbeddingCache": ".cache",
    "fingerprint_texts": ".cache",
    "EmbeddingDataset": ".pairs",
    "create_embedding_dataset": ".pairs",
    "as_tuned_base_model": ".pairs",
    "embedding_metadata": ".pairs",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
