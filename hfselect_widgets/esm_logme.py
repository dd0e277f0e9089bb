"""hfselect's ``hfselect.esm_logme`` module (ranking), re-exported from the engine."""

from hfselect_widgets.engine.data.dataset import Dataset
from hfselect_widgets.engine.embedding.pooling import get_pooled_output
from hfselect_widgets.engine.esm.format import ESM
from hfselect_widgets.engine.hub.discovery import find_esm_repo_ids
from hfselect_widgets.engine.hub.download import fetch_esms
from hfselect_widgets.engine.scoring.logme import LogME
from hfselect_widgets.engine.scoring.ranking import compute_scores, compute_task_ranking
from hfselect_widgets.engine.scoring.result import TaskRanking
from hfselect_widgets.errors import NoESMsFoundError
from hfselect_widgets.setup_logger import logger

__all__ = [
    "Dataset",
    "ESM",
    "LogME",
    "NoESMsFoundError",
    "TaskRanking",
    "compute_scores",
    "compute_task_ranking",
    "fetch_esms",
    "find_esm_repo_ids",
    "get_pooled_output",
    "logger",
]
