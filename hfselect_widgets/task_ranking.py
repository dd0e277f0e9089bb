"""hfselect's ``hfselect.task_ranking`` module, re-exported from the engine."""

from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.scoring.result import TaskRanking
from hfselect_widgets.errors import InvalidTaskRankingError

__all__ = ["ESMConfig", "InvalidTaskRankingError", "TaskRanking"]
