"""hfselect's ``hfselect.dataset`` module, re-exported from the engine."""

from hfselect_widgets.engine.data.dataset import Dataset
from hfselect_widgets.engine.data.loading import DATASET_STREAMING_BUFFER_SIZE
from hfselect_widgets.engine.data.sampling import TEXT_SEPARATOR
from hfselect_widgets.errors import EmptyDatasetError

__all__ = ["DATASET_STREAMING_BUFFER_SIZE", "TEXT_SEPARATOR", "Dataset", "EmptyDatasetError"]
