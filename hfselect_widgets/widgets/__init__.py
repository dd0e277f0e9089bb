"""Jupyter widgets over the engine: pick a dataset and an ESM pool, rank, explore, train.

Every component works alone or inside :class:`App`:

* :class:`DatasetPicker`: a Hub dataset, an uploaded file, a DataFrame or the demo target.
* :class:`ESMPoolSelector`: the base model and the ESMs to rank with, with a live count.
* :class:`RunPanel`: Rank / Cancel with progress per stage, errors and skipped ESMs.
* :class:`ResultsExplorer`: an interactive chart and table of a ranking.
* :class:`VerifyPanel`: check the top picks by fine-tuning on them, then on the target.
* :class:`TrainPublishPanel`: train an ESM and publish it to the Hub.

Names are imported lazily, so that ``import hfselect_widgets.widgets`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {
    "App": ".app",
    "DatasetPicker": ".dataset_picker",
    "ESMPoolSelector": ".esm_pool",
    "RunPanel": ".run_panel",
    "TrainPublishPanel": ".train_publish",
    "ResultsExplorer": ".results",
    "VerifyPanel": ".verify_panel",
    "BackgroundTask": ".worker",
}

__all__ = [
    "App",
    "BackgroundTask",
    "DatasetPicker",
    "ESMPoolSelector",
    "ResultsExplorer",
    "RunPanel",
    "TrainPublishPanel",
    "VerifyPanel",
]

if TYPE_CHECKING:  # pragma: no cover
    from hfselect_widgets.widgets.app import App
    from hfselect_widgets.widgets.dataset_picker import DatasetPicker
    from hfselect_widgets.widgets.esm_pool import ESMPoolSelector
    from hfselect_widgets.widgets.results import ResultsExplorer
    from hfselect_widgets.widgets.run_panel import RunPanel
    from hfselect_widgets.widgets.train_publish import TrainPublishPanel
    from hfselect_widgets.widgets.verify_panel import VerifyPanel
    from hfselect_widgets.widgets.worker import BackgroundTask


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hfselect_widgets.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
