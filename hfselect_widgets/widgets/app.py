"""The whole toolkit in one widget: rank, explore the results, train and publish ESMs.

``App()`` is what the quickstart notebook shows. Its "Rank" tab joins the dataset picker, the
ESM pool selector and the run panel; when a ranking finishes, the "Results" tab receives it and
is selected, and the "Verify" tab can check its top picks by real fine-tuning on the target;
"Train & publish" trains an ESM for a dataset of your own and publishes it. Out of
the box it ranks the bundled demo target against the bundled demo ESM collection, offline. Each
component is also usable alone (see :mod:`hfselect_widgets.widgets`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from hfselect_widgets.engine.scoring.result import TaskRanking
from hfselect_widgets.widgets._compat import set_titles
from hfselect_widgets.widgets.dataset_picker import SOURCE_DEMO, DatasetPicker
from hfselect_widgets.widgets.esm_pool import ESMPoolSelector
from hfselect_widgets.widgets.run_panel import RunPanel
from hfselect_widgets.widgets.train_publish import TrainPublishPanel
from hfselect_widgets.widgets.verify_panel import VerifyPanel

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hfselect_widgets.widgets.results import ResultsExplorer

RANK_TAB, RESULTS_TAB, VERIFY_TAB, TRAIN_TAB = 0, 1, 2, 3
TAB_TITLES = ("Rank", "Results", "Verify", "Train & publish")


class App(widgets.Tab):
    """Tabs "Rank", "Results", "Verify" and "Train & publish" over one notebook session.

    Args:
        namespace: where the dataset pickers look for DataFrames (default: the notebook's).
        hf_api: an ``HfApi``-like object for the Hub (tests pass a fake).
        ranking: a ranking to show in the Results tab from the start.
        picker_source: the dataset source shown first (default: the demo target).
        top_k: bars in the results chart.
        run_options: passed to :class:`RunPanel` (``batch_size``, ``device_name``, ...).
        pool_options: passed to :class:`ESMPoolSelector` (``source="hub"``, ``model_name``,
            ``esm_dir``); by default the bundled demo collection.
        verify_options: passed to :class:`~.verify_panel.VerifyPanel` (``sources``, ``k``,
            ``seeds``, ``target_rows``, ``source_rows``, ``epochs``, ``device``, ...).

    Attributes:
        picker, pool, run_panel: the parts of the Rank tab.
        results: the :class:`~.results.ResultsExplorer` of the Results tab.
        verify_panel: the :class:`~.verify_panel.VerifyPanel` of the Verify tab.
        train_panel: the :class:`TrainPublishPanel`.
    """

    def __init__(
        self,
        namespace: Mapping[str, Any] | None = None,
        *,
        hf_api: Any = None,
        ranking: TaskRanking | None = None,
        picker_source: str = SOURCE_DEMO,
        top_k: int = 10,
        run_options: Mapping[str, Any] | None = None,
        pool_options: Mapping[str, Any] | None = None,
        verify_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ):
        from hfselect_widgets.widgets.results import (
            ResultsExplorer,  # charts pull in altair: only when an App is made
        )

        self.picker = DatasetPicker(namespace, hf_api=hf_api, source=picker_source)
        self.pool = ESMPoolSelector(hf_api=hf_api, **dict(pool_options or {}))
        self.run_panel = RunPanel(self.picker, self.pool, **dict(run_options or {}))
        self.results: ResultsExplorer = ResultsExplorer(ranking, top_k=top_k)
        self.verify_panel = VerifyPanel(ranking, **dict(verify_options or {}))
        self.train_panel = TrainPublishPanel(self.picker.namespace, hf_api=hf_api)
        rank_tab = widgets.VBox(
            [
                widgets.HTML("<h4>Target dataset</h4>"),
                self.picker,
                widgets.HTML("<h4>Base model and ESMs</h4>"),
                self.pool,
                widgets.HTML("<h4>Run</h4>"),
                self.run_panel,
            ]
        )
        super().__init__(
            children=[rank_tab, self.results, self.verify_panel, self.train_panel], **kwargs
        )
        set_titles(self, TAB_TITLES)
        self._ranking = ranking
        self.run_panel.on_ranking(self._show_ranking)
        self.selected_index = RESULTS_TAB if ranking is not None else RANK_TAB

    @property
    def ranking(self) -> TaskRanking | None:
        """The latest ranking (from the Rank tab, or loaded into the Results tab)."""
        shown = self.results.ranking
        return shown if shown is not None else self._ranking

    def rank(self, wait: bool = True) -> TaskRanking | None:
        """Rank what the Rank tab shows, as the "Rank" button does, and return the ranking.

        With ``wait=False`` the ranking runs in the background and ``None`` is returned (read
        :attr:`ranking` later). Raises ``ValueError`` while the dataset or pool is not valid
        and the engine's typed error if the ranking fails.
        """
        task = self.run_panel.rank(wait=wait)
        if not wait:
            return None
        if task.error is not None:
            raise task.error
        return task.result

    def _show_ranking(self, ranking: TaskRanking) -> None:
        self._ranking = ranking
        self.results.ranking = ranking
        # The Verify tab checks this ranking on the target it was made for.
        self.verify_panel.set_ranking(ranking, self.run_panel.dataset)
        self.selected_index = RESULTS_TAB


__all__ = ["App", "TAB_TITLES"]
