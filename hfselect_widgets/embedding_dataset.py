"""hfselect's ``hfselect.embedding_dataset`` module, re-exported from the engine."""

from hfselect_widgets.engine.data.dataset import Dataset
from hfselect_widgets.engine.embedding.pairs import EmbeddingDataset, create_embedding_dataset
from hfselect_widgets.engine.embedding.pooling import get_pooled_output
from hfselect_widgets.errors import EmbeddingDatasetError as InvalidEmbeddingDatasetError
from hfselect_widgets.setup_logger import logger

__all__ = [
    "Dataset",
    "EmbeddingDataset",
    "InvalidEmbeddingDatasetError",
    "create_embedding_dataset",
    "get_pooled_output",
    "logger",
]
