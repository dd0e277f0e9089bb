"""Run a ranking from the notebook: Rank and Cancel, one progress bar per stage, the outcome.

:class:`RunPanel` joins a :class:`~.dataset_picker.DatasetPicker` and an
:class:`~.esm_pool.ESMPoolSelector`: its Rank button (enabled only while both are valid) loads
the dataset and runs the engine's ranking in the background (a :class:`~._background.TaskRunner`),
so the kernel stays responsive. Cancel sets the task's event; Rank reads "Stopping…" until the
run has stopped (at its next step), so that two rankings never run side by side.
Errors show the engine's message with the traceback behind a toggle; skipped ESMs are listed
with their reasons. ``on_ranking`` callbacks receive each new
:class:`~hfselect_widgets.engine.scoring.result.TaskRanking`.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from hfselect_widgets.engine import defaults
from hfselect_widgets.engine.progress import (
    STAGE_DOWNLOAD,
    STAGE_EMBEDDING,
    STAGE_METADATA,
    STAGE_MODEL,
    STAGE_SCORING,
    ProgressCallback,
    check_cancel,
)
from hfselect_widgets.engine.scoring.result import TaskRanking
from hfselect_widgets.widgets._background import STOP_GRACE_S, TaskRunner
from hfselect_widgets.widgets._compat import set_titles
from hfselect_widgets.widgets.dataset_picker import DatasetPicker
from hfselect_widgets.widgets.esm_pool import ESMPoolSelector
from hfselect_widgets.widgets.worker import (
    BackgroundTask,
    ErrorBox,
    StageProgress,
    message_html,
)

RANKING_STAGES = (STAGE_MODEL, STAGE_METADATA, STAGE_DOWNLOAD, STAGE_EMBEDDING, STAGE_SCORING)

CANCEL_GRACE_S = STOP_GRACE_S
"""How long a new Rank waits for a cancelled run to stop before starting anyway."""

SUMMARY_ROWS = 5
"""Rows of the ranking shown under the Run button (the whole ranking is in Results)."""

Ranker = Callable[..., TaskRanking]

UNCERTAINTY_K = 20
"""Rank intervals for the top this-many ESMs when switched on (the engine's default K)."""

RANKER_LABELS = {
    "esm-logme": "ESM-LogME (hf-dataset-selector's score)",
    "logme-permutation": "ESM-LogME minus shuffled labels (recommended)",
    "knn": "kNN accuracy on ESM-mapped embeddings",
    "textemb": "TextEmb (domain nearness, no labels)",
    "fusion": "Fusion (mean rank of the three above)",
}
"""How the Ranker dropdown names each ranker of ``defaults.RANKER_NAMES``."""


def failures_html(failures: dict[str, str], limit: int = 200) -> str:
    """A table of skipped ESMs and why (the first ``limit``)."""
    rows = "".join(
        f"<tr><td><code>{html.escape(str(source))}</code></td><td>{html.escape(reason)}</td></tr>"
        for source, reason in list(failures.items())[:limit]
    )
    more = len(failures) - limit
    footer = f"<i>… and {more} more (see ranking.failures)</i>" if more > 0 else ""
    return (
        "<div style='font-size:90%;max-height:240px;overflow-y:auto'><table>"
        "<thead><tr><th>ESM</th><th>Reason</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{footer}</div>"
    )


class RunPanel(widgets.VBox):
    """Rank/Cancel buttons, progress per stage, and the outcome of the last ranking.

    Args:
        picker: the target dataset form.
        pool: the base model and ESM pool form.
        batch_size: texts per embedding batch.
        device_name: ``"cpu"``, ``"cuda"`` or ``None`` (CUDA when present).
        embedding_cache: passed to ``compute_task_ranking`` (default ``True``: re-ranking the
            same data with another pool skips the base model).
        n_jobs: ESMs scored concurrently (engine default when ``None``).
        ranker_name: the ranker chosen first (default ``defaults.RANKER``).
        uncertainty: rank intervals for the top this-many ESMs from the start (0: off).
        ranker: replaces the engine's ranking (default ``None``:
            :meth:`RankingRequest.run <hfselect_widgets.engine.requests.RankingRequest.run>` of
            :meth:`ranking_request`); a function receives the dataset, the pool's selection and
            these settings as keywords.

    Attributes:
        ranker_menu: the "Ranker" dropdown (``defaults.RANKER_NAMES``).
        uncertainty_toggle, uncertainty_k: "Rank intervals": off, or a bootstrap of the target
            rows for the top K ESMs.
        ranking: the last successful :class:`TaskRanking` (``None`` before one).
        dataset: the target dataset of the current or last run (what :attr:`ranking` ranked).
        task: the :class:`BackgroundTask` of the current or last run.
        runner: the :class:`~._background.TaskRunner` that runs it.
    """

    def __init__(
        self,
        picker: DatasetPicker,
        pool: ESMPoolSelector,
        *,
        batch_size: int = defaults.BATCH_SIZE,
        device_name: str | None = None,
        embedding_cache: Any = True,
        n_jobs: int | None = None,
        ranker: Ranker | None = None,
        ranker_name: str = defaults.RANKER,
        uncertainty: int = 0,
        **kwargs: Any,
    ):
        self.picker = picker
        self.pool = pool
        self.settings: dict[str, Any] = {
            "batch_size": batch_size,
            "device_name": device_name,
            "embedding_cache": embedding_cache,
            "n_jobs": n_jobs,
        }
        # None: the engine's RankingRequest.run (a function here replaces it, e.g. in tests).
        self.ranker = ranker
        self.ranking: TaskRanking | None = None
        self.dataset: Any = None
        self._callbacks: list[Callable[[TaskRanking], None]] = []

        if ranker_name not in defaults.RANKER_NAMES:
            raise ValueError(
                f"ranker_name must be one of {defaults.RANKER_NAMES}, got {ranker_name!r}."
            )
        self.ranker_menu = widgets.Dropdown(
            options=[(RANKER_LABELS.get(name, name), name) for name in defaults.RANKER_NAMES],
            value=ranker_name,
            layout=widgets.Layout(width="320px"),
        )
        self.uncertainty_toggle = widgets.ToggleButtons(
            options=[("Off", False), ("Bootstrap top K", True)],
            value=bool(uncertainty),
            style={"button_width": "130px"},
        )
        self.uncertainty_k = widgets.BoundedIntText(
            value=int(uncertainty) or UNCERTAINTY_K,
            min=2,
            max=10_000,
            layout=widgets.Layout(width="90px"),
        )
        self.uncertainty_k.layout.display = None if uncertainty else "none"
        self.uncertainty_toggle.observe(self._on_uncertainty, "value")

        self.rank_button = widgets.Button(
            description="Rank", icon="play", button_style="primary", tooltip="Rank the ESM pool"
        )
        self.cancel_button = widgets.Button(
            description="Cancel", icon="stop", disabled=True, tooltip="Stop the running ranking"
        )
        self.progress = StageProgress(RANKING_STAGES)
        self.status = widgets.HTML()
        self.status.add_class("hfsw-run-status")  # a stable hook for styling and browser tests
        self.errors = ErrorBox()
        self.summary = widgets.HTML()
        self.skipped_table = widgets.HTML()
        self.skipped = widgets.Accordion(children=[self.skipped_table], selected_index=None)
        set_titles(self.skipped, ["Skipped ESMs"])
        self.skipped.layout.display = "none"
        self.runner = TaskRunner(
            "ranking",
            self.rank_button,
            cancel_button=self.cancel_button,
            progress=self.progress,
            status=self.status,
            errors=self.errors,
            ready=self._forms_valid,
            on_change=self._update_buttons,
            cancelling="Cancelling… (the run stops at its next step)",
            stop_grace=CANCEL_GRACE_S,
        )
        label = widgets.Layout(width="130px")
        super().__init__(
            [
                widgets.HBox([widgets.Label("Ranker", layout=label), self.ranker_menu]),
                widgets.HBox(
                    [
                        widgets.Label("Rank intervals", layout=label),
                        self.uncertainty_toggle,
                        self.uncertainty_k,
                    ]
                ),
                widgets.HBox([self.rank_button, self.cancel_button]),
                self.progress,
                self.status,
                self.errors,
                self.summary,
                self.skipped,
            ],
            **kwargs,
        )
        self.rank_button.on_click(lambda _: self._rank_clicked())
        self.cancel_button.on_click(lambda _: self.cancel())
        picker.observe(lambda _: self._update_buttons(), "valid")
        pool.observe(lambda _: self._update_buttons(), "valid")
        self._update_buttons()

    # -- state ----------------------------------------------------------------------------------

    @property
    def task(self) -> BackgroundTask | None:
        """The :class:`BackgroundTask` of the current or last run."""
        return self.runner.task

    @property
    def running(self) -> bool:
        """Whether a ranking is running and has not been cancelled."""
        return self.runner.busy

    def _forms_valid(self) -> bool:
        return bool(self.picker.valid and self.pool.valid)

    def _update_buttons(self) -> None:
        self.runner.refresh()
        if not self.runner.running and not self._forms_valid():
            self.rank_button.tooltip = "Complete the dataset and ESM choices above first"
        else:
            self.rank_button.tooltip = "Rank the ESM pool"

    def _on_uncertainty(self, change: Any = None) -> None:
        self.uncertainty_k.layout.display = None if self.uncertainty_toggle.value else "none"

    @property
    def uncertainty(self) -> int:
        """ESMs that get bootstrap rank intervals (0: off), as the form says."""
        return int(self.uncertainty_k.value) if self.uncertainty_toggle.value else 0

    def on_ranking(self, callback: Callable[[TaskRanking], None]) -> None:
        """Call ``callback(ranking)`` after every successful ranking (in the worker thread)."""
        self._callbacks.append(callback)

    # -- running --------------------------------------------------------------------------------

    def _rank_clicked(self) -> None:
        try:
            self._rank(grace=0.0)  # a click never blocks the kernel
        except (ValueError, RuntimeError):
            pass  # the reasons are shown in the forms and the status line

    def rank(self, wait: bool = False) -> BackgroundTask:
        """Start a ranking in the background and return its task (``wait``: until it ends).

        Raises ``ValueError`` (reasons also shown in the panel) while the dataset or the ESM
        pool is not valid, and ``RuntimeError`` while another ranking is running (a cancelled
        one is waited for, up to ``CANCEL_GRACE_S`` seconds).
        """
        return self._rank(wait)

    def _rank(self, wait: bool = False, grace: float | None = None) -> BackgroundTask:
        return self.runner.start(
            self._prepare,
            self._show_ranking,
            on_end=self._ended,
            wait=wait,
            grace=grace,
        )

    def _prepare(self) -> Callable[[ProgressCallback, threading.Event], TaskRanking]:
        """Check the forms and return the work of one ranking (the runner starts it)."""
        problems = []
        if not self.picker.validate():
            problems += self.picker.problems
        if not self.pool.update():
            problems += self.pool.problems
        if problems:
            self.status.value = message_html("Cannot rank yet: " + " ".join(problems), "error")
            self._update_buttons()
            raise ValueError("Cannot rank yet: " + " ".join(problems))
        request = self.ranking_request()
        # The index the form counted its matches from: the engine filters that one again.
        index = self.pool.index
        settings = dict(self.settings)
        ranker = self.ranker

        def work(progress: ProgressCallback, cancel: threading.Event) -> TaskRanking:
            # The engine's request layer loads the target and resolves the pool.
            dataset = request.target.load()
            self.dataset = dataset  # the Verify tab verifies the ranking on this target
            check_cancel(cancel)
            self.status.value = message_html(
                f"Ranking {len(dataset)} examples against {self.pool.describe()}…"
            )
            pool = request.resolve_pool(progress, cancel, index=index)
            if ranker is None:
                return request.run(progress, cancel, dataset=dataset, pool=pool)
            selection = pool.ranking_kwargs()
            if request.hf_api is not None:
                selection["hf_api"] = request.hf_api
            return ranker(dataset, progress=progress, cancel=cancel, **selection, **settings)

        self.summary.value = ""
        self.skipped.layout.display = "none"
        self.status.value = message_html("Loading the dataset…")
        return work

    def ranking_request(self):
        """The form as the engine's :class:`~hfselect_widgets.engine.requests.RankingRequest`."""
        from hfselect_widgets.engine.requests import RankingRequest

        return RankingRequest(
            target=self.picker.target_request(),
            pool=self.pool.pool_request(),
            model=self.pool.model_name or None,
            batch_size=self.settings["batch_size"],
            device=self.settings["device_name"] or "auto",
            embedding_cache=bool(self.settings["embedding_cache"]),
            n_jobs=self.settings["n_jobs"],
            hf_api=getattr(self.pool, "hf_api", None),
            ranker=self.ranker_menu.value,
            uncertainty=self.uncertainty,
        )

    def cancel(self) -> None:
        """Stop the running ranking; Rank reads "Stopping…" until it has stopped."""
        self.runner.cancel()

    def _ended(self, task: BackgroundTask) -> None:
        # The run may have downloaded ESMs: the pool's "to download" figure is stale.
        self.pool.forget_download_sizes()

    def _show_ranking(self, ranking: TaskRanking, elapsed: str) -> None:
        self.ranking = ranking
        ranker = ranking.metadata.get("ranker") or self.ranker_menu.value
        lines = [f"Ranked {len(ranking)} intermediate datasets in {elapsed} (ranker: {ranker})."]
        if ranking.failures:
            lines.append(f"{len(ranking.failures)} ESMs were skipped (see below).")
        warned = [str(w) for w in ranking.metadata.get("warnings") or []]
        warned += [
            str(w) for w in ranking.metadata.get("target_warnings") or [] if str(w) not in warned
        ]
        # Success in green, warnings (e.g. "LogME scores are unreliable...") in amber.
        self.status.value = message_html("\n".join(lines), "ok") + (
            message_html("\n".join(warned), "warn") if warned else ""
        )
        # The best few here; the whole ranking is in the results explorer.
        self.summary.value = ranking.to_html(max_rows=SUMMARY_ROWS) if len(ranking) else ""
        if ranking.failures:
            self.skipped_table.value = failures_html(ranking.failures)
            self.skipped.set_title(0, f"Skipped ESMs ({len(ranking.failures)})")
            self.skipped.layout.display = None
        for callback in list(self._callbacks):
            try:
                callback(ranking)
            except Exception as exc:  # e.g. the results view failed: say so, keep the ranking
                import traceback

                self.errors.show(exc, traceback.format_exc(), "Showing the results failed: ")


__all__ = ["RANKING_STAGES", "RunPanel", "failures_html"]
