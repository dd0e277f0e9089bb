"""hfselect's ``hfselect.model_utils`` module: pooling, re-exported from the engine."""

from hfselect_widgets.engine.embedding.pooling import get_pooled_output

__all__ = ["get_pooled_output"]
