"""hfselect_widgets: find the best datasets for intermediate fine-tuning, from Jupyter.

The top-level names are a drop-in for ``hf-dataset-selector`` (``hfselect``): change
``from hfselect import ...`` to ``from hfselect_widgets import ...`` and the rest of the code stays
the same. Every top-level name of hfselect 0.2.1 exists here, and so do its submodules as thin
aliases of the engine (``hfselect_widgets.esm``, ``.embedding_dataset``, ``.esm_logme``,
``.dataset``, ``.trainers``, ``.utils``, ``.task_ranking``, ``.esmconfig``, ``.logme``,
``.model_utils``, ``.setup_logger``, ``.version``), so ``from hfselect.esm import ESM`` becomes
``from hfselect_widgets.esm import ESM``. The typed errors are in :mod:`hfselect_widgets.errors`.
Everything is imported lazily so that ``import hfselect_widgets`` stays fast.
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
    "fetch_esms": "hfselect_widgets.engine.hub.download",
    "fetch_esm_configs": "hfselect_widgets.engine.hub.download",
    "get_esm_coverage": "hfselect_widgets.engine.hub.discovery",
    "ESMIndex": "hfselect_widgets.engine.esm.index",
    "LogME": "hfselect_widgets.engine.scoring.logme",
    "TqdmProgress": "hfselect_widgets.engine.progress",
    "App": "hfselect_widgets.widgets.app",
    "ResultsExplorer": "hfselect_widgets.widgets.results",
    "train_esm": "hfselect_widgets.engine.training.train",
    "ESMTrainer": "hfselect_widgets.engine.training.trainer",
    "publish_esm": "hfselect_widgets.engine.hub.publish",
    "FineTuneConfig": "hfselect_widgets.engine.training.finetune",
    # hf-dataset-selector 0.2.1's other top-level names
    "EmbeddingDataset": "hfselect_widgets.engine.embedding.pairs",
    "create_embedding_dataset": "hfselect_widgets.engine.embedding.pairs",
    "find_esm_model_infos": "hfselect_widgets.engine.hub.discovery",
    "ESMNotInitializedError": "hfselect_widgets.errors",
    "InvalidESMConfigError": "hfselect_widgets.errors",
    "logger": "hfselect_widgets.setup_logger",
}

# Names that hfselect's ``from .utils import *`` leaks into its top level (third-party objects):
# kept so that code importing them from hfselect still runs.
_LEAKED_NAMES = {
    "Counter": "collections",
    "defaultdict": "collections",
    "Optional": "typing",
    "HfApi": "huggingface_hub",
    "ModelInfo": "huggingface_hub",
    "model_info": "huggingface_hub",
    "tqdm": "tqdm.auto",
}

# hfselect's submodules (as aliases of the engine) and our errors module.
_SUBMODULES = frozenset(
    {
        "dataset",
        "embedding_dataset",
        "errors",
        "esm",
        "esm_logme",
        "esmconfig",
        "logme",
        "model_utils",
        "setup_logger",
        "task_ranking",
        "trainers",
        "utils",
        "version",
    }
)

__all__ = [
    "App",
    "ResultsExplorer",
    "ESMTrainer",
    "FineTuneConfig",
    "train_esm",
    "publish_esm",
    "Dataset",
    "EmbeddingDataset",
    "ESM",
    "ESMConfig",
    "ESMIndex",
    "ESMNotInitializedError",
    "InvalidESMConfigError",
    "LogME",
    "TaskRanking",
    "TqdmProgress",
    "__version__",
    "compute_scores",
    "compute_task_ranking",
    "create_embedding_dataset",
    "fetch_esm_configs",
    "fetch_esms",
    "find_esm_model_infos",
    "find_esm_repo_ids",
    "get_esm_coverage",
    "logger",
]

if TYPE_CHECKING:  # pragma: no cover
    from hfselect_widgets.engine.data.dataset import Dataset
    from hfselect_widgets.engine.embedding.pairs import EmbeddingDataset, create_embedding_dataset
    from hfselect_widgets.engine.esm.format import ESM, ESMConfig
    from hfselect_widgets.engine.esm.index import ESMIndex
    from hfselect_widgets.engine.hub.discovery import (
        find_esm_model_infos,
        find_esm_repo_ids,
        get_esm_coverage,
    )
    from hfselect_widgets.engine.hub.download import fetch_esm_configs, fetch_esms
    from hfselect_widgets.engine.hub.publish import publish_esm
    from hfselect_widgets.engine.progress import TqdmProgress
    from hfselect_widgets.engine.scoring.logme import LogME
    from hfselect_widgets.engine.scoring.ranking import compute_scores, compute_task_ranking
    from hfselect_widgets.engine.scoring.result import TaskRanking
    from hfselect_widgets.engine.training.finetune import FineTuneConfig
    from hfselect_widgets.engine.training.train import train_esm
    from hfselect_widgets.engine.training.trainer import ESMTrainer
    from hfselect_widgets.errors import ESMNotInitializedError, InvalidESMConfigError
    from hfselect_widgets.setup_logger import logger
    from hfselect_widgets.widgets.app import App
    from hfselect_widgets.widgets.results import ResultsExplorer


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")  # binds the attribute itself
    module = _EXPORTS.get(name) or _LEAKED_NAMES.get(name)
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
