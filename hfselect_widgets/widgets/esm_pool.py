"""Choose the base model and the pool of ESMs to rank with, and see how many match.

:class:`ESMPoolSelector` is a form over the engine's ESM index
(:class:`~hfselect_widgets.engine.esm.index.ESMIndex`): the ESMs of a local folder or of the
bundled demo collection are read once (configs only), the Hub's ESMs come from the index cached
on disk, and every filter change re-counts the matches in memory, with no network request while
typing. "Refresh from Hub" (an explicit click) fetches the base models' ESM coverage and the
index of the chosen model. :meth:`ESMPoolSelector.selection` gives the keyword arguments of
``compute_task_ranking``.
"""

from __future__ import annotations

import html
import os
import re
import threading
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import traitlets

from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.esm.index import ESMIndex
from hfselect_widgets.engine.hub.discovery import get_esm_coverage
from hfselect_widgets.engine.hub.download import DownloadPlan, plan_download
from hfselect_widgets.engine.model_ids import (
    DEFAULT_HUB_MODEL,
    DEMO_MODEL,
    canonical_model_id,
    model_id_for_path,
    same_model,
)
from hfselect_widgets.engine.progress import STAGE_METADATA, ProgressCallback
from hfselect_widgets.widgets._background import TaskRunner
from hfselect_widgets.widgets._compat import set_titles
from hfselect_widgets.widgets.worker import (
    BackgroundTask,
    ErrorBox,
    StageProgress,
    error_text,
    message_html,
)

ESM_SOURCE_HUB = "hub"
ESM_SOURCE_FOLDER = "folder"
ESM_SOURCE_DEMO = "demo"
ESM_SOURCES = (ESM_SOURCE_HUB, ESM_SOURCE_FOLDER, ESM_SOURCE_DEMO)
BUTTON_WIDTH = "150px"
"""Width of the ESM source buttons: the longest label, "Demo collection", fits whole."""
REFRESH_BUTTON_WIDTH = "180px"
"""Width of "Refresh from Hub" / "Rescan folder" with its icon."""

MODEL_HUB = "hub"
MODEL_FOLDER = "folder"

KNOWN_BASE_MODELS = (DEMO_MODEL, DEFAULT_HUB_MODEL)
"""Base models offered before the Hub's coverage is known."""

_LABEL_WIDTH = "130px"
_ANY = ""


def _described(widget: widgets.Widget, label: str) -> widgets.HBox:
    return widgets.HBox([widgets.Label(label, layout=widgets.Layout(width=_LABEL_WIDTH)), widget])


def split_items(text: str) -> list[str]:
    """Items of free text (repo ids, folder names, languages): one per line, or separated by
    commas or spaces; duplicates dropped, order kept."""
    seen: dict[str, None] = {}
    for item in re.split(r"[\s,]+", text or ""):
        if item:
            seen.setdefault(item, None)
    return list(seen)


class ESMPoolSelector(widgets.VBox):
    """Base model, ESM source and filters, with a live count of matching ESMs.

    Args:
        source: the ESM source shown first: ``"demo"`` (the bundled collection, offline),
            ``"folder"`` or ``"hub"``.
        model_name: the base model (default: the demo model for the demo collection, else
            ``bert-base-multilingual-uncased``); a local folder path selects "Local folder".
        esm_dir: a local folder of ESM folders (selects ``"folder"`` unless ``source`` says
            otherwise).
        hf_api: an ``HfApi``-like object for the Hub (tests pass a fake); also handed to the
            ranking through :meth:`selection`.

    Attributes:
        valid: whether :meth:`selection` can be called (a traitlet).
        match_count: how many ESMs match the filters (``None`` when unknown).
        problems: why the choice is not valid yet.
        matches: the configs that match (``None`` when the index is not known).
    """

    valid = traitlets.Bool(False, help="Whether a base model and a non-empty pool are chosen.")
    match_count = traitlets.Int(None, allow_none=True, help="ESMs matching the filters.")

    def __init__(
        self,
        *,
        source: str | None = None,
        model_name: str | None = None,
        esm_dir: str | os.PathLike | None = None,
        hf_api: Any = None,
        **kwargs: Any,
    ):
        if source is None:
            source = ESM_SOURCE_FOLDER if esm_dir is not None else ESM_SOURCE_DEMO
        if source not in ESM_SOURCES:
            raise ValueError(f"source must be one of {ESM_SOURCES}, got {source!r}.")
        if model_name is None:
            model_name = DEMO_MODEL if source == ESM_SOURCE_DEMO else DEFAULT_HUB_MODEL
        self.hf_api = hf_api
        self.problems: list[str] = []
        self.matches: list[ESMConfig] | None = None
        self.index: ESMIndex | None = None
        self.coverage: dict[str, int] | None = None
        self.download_plan: Any = None
        self._indexes: dict[tuple[str, str], ESMIndex] = {}
        self._index_errors: dict[tuple[str, str], str] = {}
        self._plans: dict[tuple[str, str], DownloadPlan] = {}
        self._lock = threading.RLock()

        model_is_folder = Path(os.path.expanduser(str(model_name))).is_dir()
        self.model_kind = widgets.ToggleButtons(
            options=[("Hub model", MODEL_HUB), ("Local folder", MODEL_FOLDER)],
            value=MODEL_FOLDER if model_is_folder else MODEL_HUB,
            style={"button_width": "110px"},
        )
        self.model = widgets.Combobox(
            options=list(KNOWN_BASE_MODELS),
            value="" if model_is_folder else str(model_name),
            placeholder="a Hub model id",
            ensure_option=False,
            continuous_update=False,
            layout=widgets.Layout(width="360px"),
        )
        self.model_folder = widgets.Text(
            value=str(model_name) if model_is_folder else "",
            placeholder="/path/to/model (config.json and tokenizer files)",
            continuous_update=False,
            layout=widgets.Layout(width="360px"),
        )
        self.model_box = widgets.VBox()
        self.coverage_note = widgets.HTML()
        self.esm_source = widgets.ToggleButtons(
            options=[
                ("Hub", ESM_SOURCE_HUB),
                ("Local folder", ESM_SOURCE_FOLDER),
                ("Demo collection", ESM_SOURCE_DEMO),
            ],
            value=source,
            # wide enough for "Demo collection" with its padding (120px cut it to "Demo collect…")
            style={"button_width": BUTTON_WIDTH},
        )
        self.esm_dir = widgets.Text(
            value=str(esm_dir) if esm_dir is not None else "",
            placeholder="a folder of ESM folders",
            continuous_update=False,
            layout=widgets.Layout(width="360px"),
        )
        self.esm_dir_box = _described(self.esm_dir, "ESM folder")
        self.refresh_button = widgets.Button(
            description="Refresh from Hub",
            icon="refresh",
            tooltip="Fetch the base models' ESM counts and this model's ESM index from the Hub",
            # the default 148px cut the label with its icon to "Refresh from H…"
            layout=widgets.Layout(width=REFRESH_BUTTON_WIDTH),
        )
        self.refresh_progress = StageProgress([STAGE_METADATA])
        self.refresh_progress.layout.display = "none"
        self.refresh_error = ErrorBox()
        self.refresh_runner = TaskRunner(
            "refresh",
            self.refresh_button,
            progress=self.refresh_progress,
            errors=self.refresh_error,
            error_context="Refresh from Hub failed: ",
            name="esm-index-refresh",
        )
        # Filters: text fields update the count per keystroke (pure Python over the index).
        self.task_filter = widgets.Text(placeholder="part of the task id", continuous_update=True)
        self.min_examples = widgets.BoundedIntText(
            value=0, min=0, max=10**9, layout=widgets.Layout(width="120px")
        )
        self.language = widgets.Text(placeholder="e.g. en (any if empty)", continuous_update=True)
        self.architecture = widgets.Dropdown(options=[("any", _ANY)], value=_ANY)
        self.repo_ids = widgets.Textarea(
            placeholder="only these ESMs: Hub repo ids, or ESM folder names for a local folder; "
            "one per line",
            continuous_update=False,
            layout=widgets.Layout(width="360px", height="60px"),
        )
        self.count = widgets.HTML()
        self.count.add_class("hfsw-pool-count")  # a stable hook for styling and browser tests
        self.download = widgets.HTML()
        self.message = widgets.HTML()
        self.source_box = widgets.VBox()
        filters = widgets.VBox(
            [
                _described(self.task_filter, "Task id contains"),
                _described(self.min_examples, "Min. examples"),
                _described(self.language, "Language"),
                _described(self.architecture, "Architecture"),
                _described(self.repo_ids, "Repo ids"),
            ]
        )
        filters_box = widgets.Accordion(children=[filters], selected_index=None)
        set_titles(filters_box, ["Filters"])
        super().__init__(
            [
                _described(self.model_kind, "Base model"),
                self.model_box,
                self.coverage_note,
                _described(self.esm_source, "ESMs"),
                self.source_box,
                self.refresh_progress,
                self.refresh_error,
                filters_box,
                self.count,
                self.download,
                self.message,
            ],
            **kwargs,
        )

        self.model_kind.observe(self._on_model_kind, "value")
        self.esm_source.observe(self._on_source, "value")
        self.refresh_button.on_click(lambda _: self.refresh())
        for widget in (self.model, self.model_folder, self.esm_dir):
            widget.observe(lambda _: self.update(), "value")
        for widget in (
            self.task_filter,
            self.min_examples,
            self.language,
            self.architecture,
            self.repo_ids,
        ):
            widget.observe(lambda _: self.update(), "value")
        self._on_model_kind()
        self._on_source()

    # -- layout ---------------------------------------------------------------------------------

    def _on_model_kind(self, change: Any = None) -> None:
        if self.model_kind.value == MODEL_HUB:
            self.model_box.children = [_described(self.model, "Model id")]
        else:
            self.model_box.children = [_described(self.model_folder, "Model folder")]
        if change is not None:
            self.update()

    def _on_source(self, change: Any = None) -> None:
        source = self.esm_source.value
        if source == ESM_SOURCE_HUB:
            self.refresh_button.description = "Refresh from Hub"
            self.source_box.children = [self.refresh_button]
        elif source == ESM_SOURCE_FOLDER:
            self.refresh_button.description = "Rescan folder"
            self.source_box.children = [widgets.HBox([self.esm_dir_box, self.refresh_button])]
        else:
            self.refresh_button.description = "Rescan folder"
            self.source_box.children = [
                widgets.HTML(
                    "The bundled demo collection: ESMs of a few English datasets for "
                    f"<code>{html.escape(DEMO_MODEL)}</code>, available offline."
                )
            ]
            if change is not None and self.model_kind.value == MODEL_HUB:
                # Its ESMs are for the demo model only: pick it so that the pool is usable.
                self.model.value = DEMO_MODEL
        self.update()

    # -- the model ------------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        """The chosen base model: a Hub id or a local folder path (``""`` if none)."""
        if self.model_kind.value == MODEL_HUB:
            return self.model.value.strip()
        return os.path.expanduser(self.model_folder.value.strip())

    def _known_model_id(self) -> str | None:
        """The Hub id of the chosen model, if known (to tell which ESMs were trained for it)."""
        name = self.model_name
        if not name:
            return None
        if self.model_kind.value == MODEL_HUB:
            return name
        return model_id_for_path(name) if Path(name).is_dir() else None

    # -- the index ------------------------------------------------------------------------------

    @property
    def esm_folder(self) -> Path | None:
        """The local ESM folder in use (the demo collection's for the demo source)."""
        source = self.esm_source.value
        if source == ESM_SOURCE_DEMO:
            from hfselect_widgets.demo import demo_esm_dir

            return demo_esm_dir()
        if source == ESM_SOURCE_FOLDER:
            text = self.esm_dir.value.strip()
            return Path(os.path.expanduser(text)) if text else None
        return None

    def _index_key(self) -> tuple[str, str] | None:
        if self.esm_source.value == ESM_SOURCE_HUB:
            return ("hub", canonical_model_id(self.model_name)) if self.model_name else None
        folder = self.esm_folder
        return ("folder", str(folder)) if folder is not None else None

    def _load_index(self, key: tuple[str, str]) -> ESMIndex | None:
        """The index for ``key`` from memory, else from disk; never from the network."""
        with self._lock:
            if key in self._indexes:
                return self._indexes[key]
            kind, name = key
            index: ESMIndex | None
            try:
                if kind == "hub":
                    index = ESMIndex.load_cached(name)
                else:
                    index = ESMIndex.from_folder(name)
            except Exception as exc:  # e.g. the folder does not exist: shown in the form
                self._index_errors[key] = error_text(exc)
                return None
            self._index_errors.pop(key, None)
            if index is not None:  # an uncached Hub index may be cached later (magic, CLI)
                self._indexes[key] = index
            return index

    def rescan(self) -> None:
        """Forget the cached configs (and download sizes) of the current source; read again."""
        key = self._index_key()
        with self._lock:
            if key is not None:
                self._indexes.pop(key, None)
                self._index_errors.pop(key, None)
                self._plans.pop(key, None)
        self.update()

    def _filter_values(self) -> dict[str, Any]:
        """The active filters as ``ESMIndex.filter`` keywords (empty when none is set)."""
        values: dict[str, Any] = {}
        if self.task_filter.value.strip():
            values["task_id"] = self.task_filter.value.strip()
        if self.min_examples.value:
            values["min_examples"] = self.min_examples.value
        languages = split_items(self.language.value)
        if languages:
            values["language"] = languages
        if self.architecture.value:
            values["architecture"] = self.architecture.value
        repo_ids = split_items(self.repo_ids.value)
        if repo_ids:
            folder = self.esm_folder
            if folder is not None:  # local: folder names (or paths) below the ESM folder
                repo_ids = [str(folder / r) if not os.path.isabs(r) else r for r in repo_ids]
            values["repo_ids"] = repo_ids
        return values

    # -- the live count -------------------------------------------------------------------------

    def update(self) -> bool:
        """Re-count the matching ESMs, re-check the choices and show both; returns :attr:`valid`.

        Uses the configs in memory or on disk only: no network request. Safe to call from a
        worker thread (updates are serialised).
        """
        with self._lock:
            return self._update()

    def _update(self) -> bool:
        problems: list[str] = []
        name = self.model_name
        if not name:
            problems.append("Choose a base model.")
        elif self.model_kind.value == MODEL_FOLDER and not Path(name).is_dir():
            problems.append(f"The model folder {name!r} does not exist.")
        self._show_coverage()

        key = self._index_key()
        source = self.esm_source.value
        filters = self._filter_values()
        self.index = self._load_index(key) if key is not None else None
        self._update_architectures()
        self.matches = None
        self.download_plan = None
        self.match_count = None
        count_text = ""
        download_text = ""
        if source == ESM_SOURCE_FOLDER and key is None:
            problems.append("Enter the folder that holds your ESM folders.")
        elif key is not None and key in self._index_errors:
            problems.append(self._index_errors[key])
        elif self.index is None and source == ESM_SOURCE_HUB:
            explicit = filters.get("repo_ids")
            if explicit and len(filters) == 1:
                count_text = f"<b>{len(explicit)}</b> ESMs named explicitly."
                self.match_count = len(explicit)
                self.download_plan = plan_download(explicit, self.hf_api)
                download_text = self._download_text()
            else:
                count_text = (
                    f"The ESM index of {html.escape(name or '?')} is not cached yet: click "
                    "<b>Refresh from Hub</b> to fetch it (once; it is cached for offline use)."
                )
                if filters:
                    problems.append("Filtering Hub ESMs needs the ESM index: Refresh from Hub.")
                else:
                    download_text = (
                        "Download size: known once the ESM index is fetched (Refresh from Hub)."
                    )
        elif self.index is not None:
            self.matches = self.index.filter(**filters)
            self.match_count = len(self.matches)
            count_text, problem = self._count_text(self.index, self.matches)
            if problem:
                problems.append(problem)
            if source == ESM_SOURCE_HUB:
                ids = [c.repo_id for c in self.matches if c.repo_id]
                self.download_plan = self._index_plan(key, self.index).restrict(ids)
                download_text = self._download_text()
            else:
                download_text = "Local ESMs: nothing to download."
        self.count.value = count_text
        self.download.value = download_text
        self.problems = problems
        self.message.value = message_html("\n".join(problems), "error") if problems else ""
        self.valid = not problems
        return self.valid

    def _count_text(self, index: ESMIndex, matches: list[ESMConfig]) -> tuple[str, str | None]:
        text = f"<b>{len(matches)}</b> of {len(index)} ESMs match"
        problem = None
        model_id = self._known_model_id()
        if model_id is not None and matches:
            other = sum(
                1
                for c in matches
                if c.base_model_name and not same_model(c.base_model_name, model_id)
            )
            if other == len(matches):
                models = sorted({c.base_model_name for c in matches if c.base_model_name})
                problem = (
                    f"None of the matching ESMs was trained for {model_id!r}; they are for "
                    f"{', '.join(map(repr, models[:3]))}. Choose that base model."
                )
            elif other:
                text += f" ({other} trained for another base model will be skipped)"
        if index.failures:
            text += f"; {len(index.failures)} could not be read"
        if not matches:
            problem = problem or "No ESM matches the filters: loosen them."
        return text + ".", problem

    def _index_plan(self, key: tuple[str, str], index: ESMIndex) -> DownloadPlan:
        """The download plan of the whole index, computed once per index.

        Sizes come from the configs' dimensions and the local Hugging Face cache (the Hub is
        asked only for repos whose dimension is unknown); filtering then only sums them, so
        the size follows every keystroke even for thousands of ESMs.
        """
        with self._lock:
            plan = self._plans.get(key)
            if plan is None:
                plan = plan_download(index.repo_ids, self.hf_api, configs=index.configs)
                self._plans[key] = plan
            return plan

    def forget_download_sizes(self) -> None:
        """Check the local cache again for the download size (e.g. after a ranking downloaded
        ESMs) and show the new figure."""
        with self._lock:
            self._plans.clear()
            self._update()

    def _download_text(self) -> str:
        if self.download_plan is None or not self.download_plan.count:
            return ""
        return f"Download before ranking: {html.escape(str(self.download_plan))}."

    def _update_architectures(self) -> None:
        found = sorted({c.esm_architecture for c in self.index or [] if c.esm_architecture})
        options = [("any", _ANY)] + [(a, a) for a in found]
        if self.architecture.value and self.architecture.value not in found:
            options.append((self.architecture.value, self.architecture.value))
        if list(self.architecture.options) != options:
            current = self.architecture.value
            self.architecture.options = options
            self.architecture.value = current

    def _show_coverage(self) -> None:
        if not self.coverage:
            self.coverage_note.value = ""
            return
        count = (
            next((n for model, n in self.coverage.items() if same_model(model, self.model_name)), 0)
            if self.model_kind.value == MODEL_HUB
            else None
        )
        top = ", ".join(f"{html.escape(m)} ({n})" for m, n in list(self.coverage.items())[:5])
        mine = f"<b>{count}</b> Hub ESMs for this model. " if count is not None else ""
        self.coverage_note.value = f"<i>{mine}Most covered: {top}.</i>"

    # -- Hub refresh ----------------------------------------------------------------------------

    def refresh(self, wait: bool = False) -> BackgroundTask | None:
        """Hub source: fetch the coverage and the model's ESM index (in the background).

        Local sources: read the folder's configs again. Returns the background task (Hub).
        """
        if self.esm_source.value != ESM_SOURCE_HUB:
            self.rescan()
            return None
        if self.refresh_runner.running:
            return self.refresh_task
        model = self.model_name
        if not model or self.model_kind.value != MODEL_HUB:
            self.update()
            return None
        api = self.hf_api

        def work(progress: ProgressCallback, cancel: threading.Event):
            coverage = get_esm_coverage(hf_api=api)
            index = ESMIndex.load(model, refresh=True, hf_api=api, progress=progress, cancel=cancel)
            return coverage, index

        self.refresh_progress.layout.display = None
        return self.refresh_runner.start(
            lambda: work, lambda result, _elapsed: self._refreshed(result, model), wait=wait
        )

    def _refreshed(self, result: tuple[dict[str, int], ESMIndex], model: str) -> None:
        coverage, index = result
        self.coverage = coverage
        options = list(dict.fromkeys([*coverage, *KNOWN_BASE_MODELS]))
        self.model.options = options
        with self._lock:
            self._plans.clear()
            self._indexes[("hub", canonical_model_id(model))] = index
            if index.base_model:
                self._indexes[("hub", index.base_model)] = index
        self.update()

    @property
    def refresh_task(self) -> BackgroundTask | None:
        """The background task of the current or last "Refresh from Hub"."""
        return self.refresh_runner.task

    # -- the result -----------------------------------------------------------------------------

    def pool_request(self):
        """The chosen pool as the engine's
        :class:`~hfselect_widgets.engine.requests.PoolRequest` (resolved by the engine)."""
        from hfselect_widgets.engine.requests import PoolRequest

        kind = {
            ESM_SOURCE_HUB: "hub",
            ESM_SOURCE_FOLDER: "folder",
            ESM_SOURCE_DEMO: "demo",
        }[self.esm_source.value]
        folder = self.esm_folder
        return PoolRequest(
            kind=kind,
            esm_dir=str(folder) if kind == "folder" and folder is not None else None,
            filters=self._filter_values(),
        )

    def resolved_pool(self):
        """The chosen pool resolved by the engine
        (:meth:`RankingRequest.resolve_pool
        <hfselect_widgets.engine.requests.RankingRequest.resolve_pool>`), from the ESM index
        this form counts with: the model and the ESMs a ranking scores. Raises ``ValueError``
        while not valid."""
        from hfselect_widgets.engine.requests import RankingRequest

        if not self.update():
            raise ValueError("The ESM pool is not ready: " + " ".join(self.problems))
        request = RankingRequest(
            pool=self.pool_request(), model=self.model_name or None, hf_api=self.hf_api
        )
        return request.resolve_pool(index=self.index)

    def selection(self) -> dict[str, Any]:
        """Keyword arguments for ``compute_task_ranking``: ``model_name`` and the ESM pool.

        The engine's resolution (:meth:`resolved_pool`): local sources give ``esm_dir`` (no
        filter) or ``esm_repo_ids`` (the matching folders); the Hub gives ``esm_repo_ids`` when
        filtered, else nothing (all the model's Hub ESMs). ``hf_api`` is included when one was
        given. Raises ``ValueError`` while not valid.
        """
        selection = self.resolved_pool().ranking_kwargs()
        if self.hf_api is not None:
            selection["hf_api"] = self.hf_api
        return selection

    def describe(self) -> str:
        """One line about the pool, e.g. ``"5 ESMs from the demo collection"``."""
        where = {
            ESM_SOURCE_HUB: "the Hub",
            ESM_SOURCE_FOLDER: str(self.esm_folder),
            ESM_SOURCE_DEMO: "the demo collection",
        }[self.esm_source.value]
        count = "all" if self.match_count is None else str(self.match_count)
        return f"{count} ESMs from {where} for {self.model_name}"


__all__ = ["ESMPoolSelector", "KNOWN_BASE_MODELS", "split_items"]
