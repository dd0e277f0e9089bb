"""hfselect's ``hfselect.dataset`` module, re-exported from the engine."""

from hfselect_widgets.engine.data.dataset import (
    DATASET_STREAMING_BUFFER_SIZE,
    TEXT_SEPARATOR,
    Dataset,
)
from hfselect_widgets.errors import EmptyDatasetError

__all__ = ["DATASET_STREAMING_BUFFER_SIZE", "TEXT_SEPARATOR", "Dataset", "EmptyDatasetError"]
