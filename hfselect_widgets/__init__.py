"""hfselect_widgets: find the best datasets for intermediate fine-tuning, from Jupyter.

The top-level names are a drop-in for ``hf-dataset-selector`` (``hfselect``): change
``from hfselect import ...`` to ``from hfselect_widgets import ...`` and the rest of the code stays
the same. They are imported lazily so that ``import hfselect_widgets`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from hfselect_widgets._version import __version__

# public name -> module that defines it
_EXPORTS = {
    "Dataset": "hfselect_widgets.engine.data.dataset",
    "ESM": "hfselect_widgets.engine.esm.format",
    "ESMConfig": "hfselect_widgets.engine.esm.format",
    "TaskRanking": "hfselect_widgets.engine.scoring.result",
    "compute_task_ranking": "hfselect_widgets.engine.scoring.ranking",
    "compute_scores": "hfselect_widgets.engine.scoring.ranking",
    "find_esm_repo_ids": "hfselect_widgets.engine.hub.discovery",
    "fetch_esms": "hfselect_widgets.engine.hub.discovery",
    "fetch_esm_configs": "hfselect_widgets.engine.hub.discovery",
    "get_esm_coverage": "hfselect_widgets.engine.hub.discovery",
    "ESMIndex": "hfselect_widgets.engine.esm.index",
    "LogME": "hfselect_widgets.engine.scoring.logme",
    "TqdmProgress": "hfselect_widgets.engine.progress",
    "App": "hfselect_widgets.widgets.app",
    "ResultsExplorer": "hfselect_widgets.widgets.results",
    "train_esm": "hfselect_widgets.engine.training.train",
    "ESMTrainer": "hfselect_widgets.engine.training.train",
    "publish_esm": "hfselect_widgets.engine.hub.publish",
}

__all__ = [
    "App",
    "ResultsExplorer",
    "ESMTrainer",
    "train_esm",
    "publish_esm",
    "Dataset",
    "ESM",
    "ESMConfig",
    "ESMIndex",
    "LogME",
    "TaskRanking",
    "TqdmProgress",
    "__version__",
    "compute_scores",
    "compute_task_ranking",
    "fetch_esm_configs",
    "fetch_esms",
    "find_esm_repo_ids",
    "get_esm_coverage",
]

if TYPE_CHECKING:  # pragma: no cover
    from hfselect_widgets.engine.data.dataset import Dataset
    from hfselect_widgets.engine.esm.format import ESM, ESMConfig
    from hfselect_widgets.engine.esm.index import ESMIndex
    from hfselect_widgets.engine.hub.discovery import (
        fetch_esm_configs,
        fetch_esms,
        find_esm_repo_ids,
        get_esm_coverage,
    )
    from hfselect_widgets.engine.hub.publish import publish_esm
    from hfselect_widgets.engine.progress import TqdmProgress
    from hfselect_widgets.engine.scoring.logme import LogME
    from hfselect_widgets.engine.scoring.ranking import compute_scores, compute_task_ranking
    from hfselect_widgets.engine.scoring.result import TaskRanking
    from hfselect_widgets.engine.training.train import ESMTrainer, train_esm
    from hfselect_widgets.widgets.app import App
    from hfselect_widgets.widgets.results import ResultsExplorer


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hfselect_widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def load_ipython_extension(ipython) -> None:
    """``%load_ext hfselect_widgets``: register the ``%esm_rank`` / ``%%esm_rank`` magics."""
    from hfselect_widgets.magics import load_ipython_extension as load

    load(ipython)


def __dir__() -> list[str]:
    return sorted(__all__)
