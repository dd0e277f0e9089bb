"""hfselect's ``hfselect.trainers`` module, re-exported from the engine."""

from hfselect_widgets.engine.data.dataset import Dataset
from hfselect_widgets.engine.embedding.pairs import EmbeddingDataset, create_embedding_dataset
from hfselect_widgets.engine.esm.format import ESM, ESMConfig
from hfselect_widgets.engine.training.trainer import ESMTrainer
from hfselect_widgets.engine.training.trainer_base import Trainer
from hfselect_widgets.setup_logger import logger

__all__ = [
    "Dataset",
    "ESM",
    "ESMConfig",
    "ESMTrainer",
    "EmbeddingDataset",
    "Trainer",
    "create_embedding_dataset",
    "logger",
]
