"""One typed description of a ranking, and its resolution: every front end builds one.

The CLI, the ``%esm_rank`` magic and the widgets each parse their own input into a
:class:`RankingRequest` (a :class:`TargetRequest`, a :class:`PoolRequest` and the run options)
and call :meth:`RankingRequest.run`. Loading the target, resolving the ESM pool (demo
collection, a folder, the Hub, a list of ESMs, with filters and a download cap), choosing the
base model and validating the options happen here, once, so that a new option reaches every
front end. Defaults come from :mod:`hfselect_widgets.engine.defaults`.

Errors are the typed errors of :mod:`hfselect_widgets.errors`; their ``field`` names the input
of the request they concern (the attribute names below), so that each front end can name its
own option or control.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hfselect_widgets.engine import defaults
from hfselect_widgets.errors import (
    DatasetError,
    ESMFolderNotFoundError,
    Fix,
    HfselectWidgetsError,
    NoESMsFoundError,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hfselect_widgets.engine.data.dataset import Dataset
    from hfselect_widgets.engine.esm.index import ESMIndex
    from hfselect_widgets.engine.progress import CancelToken, ProgressCallback
    from hfselect_widgets.engine.scoring.result import TaskRanking

POOL_KINDS = ("demo", "folder", "hub", "list", "objects")
"""``demo`` (the bundled collection), ``folder`` (a folder of ESM folders), ``hub`` (every Hub
ESM for the base model), ``list`` (Hub repo ids and/or ESM folders), ``objects`` (loaded ESMs)."""

FILTER_KEYS = defaults.FILTER_KEYS
"""Criteria of a pool filter (those of :meth:`ESMIndex.filter`)."""


class RequestError(HfselectWidgetsError, ValueError):
    """The request itself is inconsistent (e.g. a filter on a list of ESMs)."""


@dataclass
class TargetRequest:
    """The target dataset: where it comes from, its columns and the sample.

    Attributes:
        source: a Hub dataset id or local dataset folder, a data file path, a pandas
            DataFrame, a ``datasets.Dataset``, an already loaded
            :class:`~hfselect_widgets.engine.data.dataset.Dataset`, or ``None`` for the
            bundled demo target.
        text_col, label_col: the columns (several text columns are joined with ``" [SEP] "``).
        split, subset: for Hub datasets and dataset folders.
        is_regression: ``None`` infers the task type from the labels.
        num_examples: rows to sample; ``None`` takes every row.
        seed: sampling seed.
        name: the name recorded as ``task_id`` (DataFrames and files).
        drop_missing: drop rows without text or label instead of refusing them.
        file_format: a data file's format when its suffix does not tell.
        force: rank even when a sanity check of :mod:`.data.checks` doubts the target
            (nearly unique classification labels, nearly constant texts).
    """

    source: Any = None
    text_col: str | list[str] = defaults.TEXT_COL
    label_col: str = defaults.LABEL_COL
    split: str = defaults.SPLIT
    subset: str | None = None
    is_regression: bool | None = None
    num_examples: int | None = defaults.NUM_EXAMPLES
    seed: int | None = defaults.SEED
    name: str | None = None
    drop_missing: bool = False
    file_format: str | None = None
    force: bool = False

    @property
    def is_demo(self) -> bool:
        """Whether this is the bundled demo target."""
        return self.source is None

    def describe(self) -> str:
        """A short name for people (``"the demo target"``, a file name, a Hub id)."""
        if self.source is None:
            return "the demo target"
        if isinstance(self.source, (str, os.PathLike)):
            return str(self.source)
        return self.name or type(self.source).__name__

    def load(self) -> Dataset:
        """The target as a :class:`Dataset`, sampled and cleaned by hfselect's rules."""
        from hfselect_widgets.engine.data.dataset import Dataset

        if isinstance(self.source, Dataset):
            return self.source
        from hfselect_widgets.engine.data.checks import check_target_columns

        check_target_columns(self.text_col, self.label_col)
        if self.num_examples is not None and self.num_examples < 1:
            raise DatasetError(
                f"The sample size must be a positive number of rows, got {self.num_examples}.",
                advice="To use every row: {0}.",
                field="num_examples",
                fixes=[Fix("num_examples", None)],
            )
        common: dict[str, Any] = dict(
            is_regression=self.is_regression,
            num_examples=self.num_examples,
            seed=self.seed,
            drop_missing=self.drop_missing,
        )
        text_col = self.text_col
        if self.source is None:
            from hfselect_widgets.demo import (
                DEMO_TARGET_NAME,
                DEMO_TARGET_TASK_ID,
                demo_target_path,
            )

            dataset = Dataset.from_file(
                demo_target_path(), text_col, self.label_col, name=DEMO_TARGET_NAME, **common
            )
            # The demo target's rows were held out from one of the demo ESMs' datasets.
            dataset.metadata["held_out_from"] = DEMO_TARGET_TASK_ID
            return dataset
        source = self.source
        hf_datasets = _datasets_module()
        if hf_datasets is not None and isinstance(source, hf_datasets.Dataset):
            source = source.to_pandas()
        elif isinstance(source, (str, os.PathLike)):
            source = os.path.expanduser(str(source))
        # One dispatch for every front end (a DataFrame, a data file, else a Hub id or a local
        # dataset folder): Dataset.load's.
        return Dataset.load(
            source,
            text_col,
            self.label_col,
            split=self.split,
            subset=self.subset,
            name=self.name,
            file_format=self.file_format,
            **common,
        )

    def check(self, dataset: Dataset) -> list[str]:
        """Refuse a target unfit for ranking (unless :attr:`force` allows it); the warnings
        (also issued as :class:`~hfselect_widgets.errors.TargetQualityWarning`)."""
        from hfselect_widgets.engine.data.checks import check_target

        return check_target(dataset, force=self.force)


def _datasets_module():
    import sys

    return sys.modules.get("datasets")


def frame_variable(name: str, namespace: Mapping[str, Any]) -> Any | None:
    """The DataFrame (or ``datasets.Dataset``, as a DataFrame) that ``namespace`` binds to
    ``name``, else ``None``."""
    if not isinstance(name, str) or not name.isidentifier() or name not in namespace:
        return None
    value = namespace[name]
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value
    hf_datasets = _datasets_module()
    if hf_datasets is not None and isinstance(value, hf_datasets.Dataset):
        return value.to_pandas()
    return None


def resolve_target_name(
    name: str, namespace: Mapping[str, Any], *, cutoff: float = 0.7
) -> tuple[Any, str | None]:
    """What a bare target name typed in a notebook means: ``(source, task name)``.

    A DataFrame variable of ``namespace`` gives ``(frame, name)``; a path or a Hub id gives
    ``(name, None)``. A Python identifier that is no local file and no ``owner/name`` id but
    is close to a DataFrame variable (``crr`` where ``cr`` exists) raises
    :class:`~hfselect_widgets.errors.VariableNotFoundError` with the suggestions (difflib), at
    once instead of after a Hub lookup; so does a variable that holds no table.
    """
    import difflib

    from hfselect_widgets.errors import VariableNotFoundError

    frame = frame_variable(name, namespace)
    if frame is not None:
        return frame, name
    if not name.isidentifier() or Path(name).expanduser().exists():
        return name, None
    if name in namespace and not isinstance(namespace[name], (str, os.PathLike)):
        kind = type(namespace[name]).__name__
        raise VariableNotFoundError(
            name,
            detail=f"the variable {name!r} is a {kind}, not a DataFrame or datasets.Dataset",
        )
    frames = [
        key
        for key in list(namespace)
        if isinstance(key, str)
        and not key.startswith("_")
        and frame_variable(key, namespace) is not None
    ]
    close = difflib.get_close_matches(name, frames, n=3, cutoff=cutoff)
    if close:
        raise VariableNotFoundError(name, close)
    return name, None


@dataclass
class PoolRequest:
    """The ESM pool: which ESMs to score.

    Attributes:
        kind: one of :data:`POOL_KINDS`.
        esm_dir: the folder of ESM folders (``kind="folder"``).
        esms: Hub repo ids and/or ESM folders (``kind="list"``) or ESM objects
            (``kind="objects"``).
        filters: narrow the pool by ESM metadata (keys: :data:`FILTER_KEYS`), from the cached
            ESM index for the Hub or from the folders' configs; not for lists.
        max_bytes: refuse to download more than this many bytes of ESM weights.
    """

    kind: str = defaults.POOL
    esm_dir: str | None = None
    esms: list[Any] | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    max_bytes: int | None = None

    def validate(self) -> None:
        """Raise :class:`RequestError` for an inconsistent pool."""
        if self.kind not in POOL_KINDS:
            raise RequestError(
                f"Unknown ESM pool {self.kind!r}; choose one of {', '.join(POOL_KINDS)}.",
                field="pool",
            )
        if self.kind == "folder" and not self.esm_dir:
            raise RequestError("A folder pool needs the folder of ESMs.", field="esm_dir")
        if self.kind == "folder":
            folder = self._folder()
            # A cheap path check, answered before the target is loaded or torch imported.
            if not folder.exists():
                raise ESMFolderNotFoundError(str(self.esm_dir))
            if not folder.is_dir():
                raise ESMFolderNotFoundError(str(self.esm_dir), "is a file, not a folder")
        if self.kind in ("list", "objects") and not self.esms:
            raise RequestError("The list of ESMs is empty.", field="esms")
        unknown = sorted(set(self.filters) - set(FILTER_KEYS) - {"repo_ids"})
        if unknown:
            raise RequestError(
                f"Unknown ESM filter {', '.join(unknown)}; the filters are "
                f"{', '.join(FILTER_KEYS)}.",
                field="filters",
            )
        if self.filters and self.kind in ("list", "objects"):
            raise RequestError(
                "Filters narrow a pool (a folder, the demo collection or the Hub); they cannot "
                "be combined with a list of ESMs.",
                field="filters",
            )
        if self.max_bytes is not None and self.max_bytes < 0:
            raise RequestError("The download cap cannot be negative.", field="max_bytes")

    def describe(self) -> dict[str, Any]:
        """The pool as plain values (recorded as ``ranking.metadata["pool"]``)."""
        esms = self.esms if self.kind == "list" else None
        return {
            "kind": self.kind,
            "esm_dir": str(self._folder()) if self.kind in ("demo", "folder") else None,
            "repo_ids": [str(e) for e in esms] if esms else None,
            "filters": dict(self.filters) or None,
            "max_bytes": self.max_bytes,
        }

    def _folder(self) -> Path | None:
        if self.kind == "demo":
            from hfselect_widgets.demo import demo_esm_dir

            return demo_esm_dir()
        return Path(os.path.expanduser(self.esm_dir)) if self.esm_dir else None


@dataclass
class ResolvedPool:
    """What :func:`compute_task_ranking` needs for a pool: one of the three, and the model."""

    model: str | None
    esm_dir: str | None = None
    esm_repo_ids: list[str] | None = None
    esms: list[Any] | None = None
    size: int | None = None
    """ESMs in the pool after filtering, when known before ranking."""

    def ranking_kwargs(self) -> dict[str, Any]:
        """The pool as keyword arguments of :func:`compute_task_ranking` (``model_name`` and
        whichever of ``esm_dir``, ``esm_repo_ids``, ``esms`` is set)."""
        kwargs: dict[str, Any] = {"model_name": self.model}
        for name, value in (
            ("esm_dir", self.esm_dir),
            ("esm_repo_ids", self.esm_repo_ids),
            ("esms", self.esms),
        ):
            if value is not None:
                kwargs[name] = value
        return kwargs


@dataclass
class RankingRequest:
    """A whole ranking: target, base model, pool and run options.

    Attributes:
        target: the target dataset.
        pool: the ESM pool.
        model: the base model (Hub id or folder); ``None`` picks the demo model for the demo
            pool, the model every ESM of a local pool names, else
            ``bert-base-multilingual-uncased``.
        pooling: override the base model's pooling (``"pooler"``, ``"mean"``, ``"cls"``).
        batch_size: texts per embedding batch.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        embedding_cache: cache target embeddings on disk between runs.
        n_jobs: ESMs scored at once (default: the cores available).
        hf_api: an ``HfApi``-like object for Hub calls (tests inject fakes).
        ranker: the score that orders the ESMs (see :mod:`.scoring.rankers`).
        uncertainty: bootstrap rank intervals for the top this-many ESMs (0: off).
        resamples: bootstrap resamples of the target rows when ``uncertainty`` is on.
    """

    target: TargetRequest = field(default_factory=TargetRequest)
    pool: PoolRequest = field(default_factory=PoolRequest)
    model: str | None = None
    pooling: str | None = None
    batch_size: int = defaults.BATCH_SIZE
    device: str = defaults.DEVICE
    embedding_cache: bool = True
    n_jobs: int | None = None
    hf_api: Any = None
    ranker: str = defaults.RANKER
    uncertainty: int = 0
    resamples: int = defaults.RESAMPLES

    def validate(self) -> None:
        """Cheap checks of the options, before anything is loaded."""
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise RequestError(
                f"The batch size must be at least 1, got {self.batch_size!r}.", field="batch_size"
            )
        if self.pooling is not None and self.pooling not in ("pooler", "mean", "cls"):
            raise RequestError(
                f"Unknown pooling {self.pooling!r}; choose pooler, mean or cls.", field="pooling"
            )
        if not isinstance(self.uncertainty, int) or self.uncertainty < 0:
            raise RequestError(
                f"The number of ESMs to bootstrap must be 0 (off) or more, got "
                f"{self.uncertainty!r}.",
                advice="For rank intervals of the top 20: {0}.",
                field="uncertainty",
                fixes=[Fix("uncertainty", 20)],
            )
        if self.uncertainty and (not isinstance(self.resamples, int) or self.resamples < 2):
            raise RequestError(
                f"Rank intervals need at least 2 bootstrap resamples, got {self.resamples!r}.",
                advice="Use the default: {0}.",
                field="resamples",
                fixes=[Fix("resamples", defaults.RESAMPLES)],
            )
        self.pool.validate()

    def resolve_pool(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        *,
        index: ESMIndex | None = None,
    ) -> ResolvedPool:
        """The base model and the ESMs to score, filters applied.

        ``index``: the pool's ESM index when the caller holds it already (the widgets count
        matches from it), so that the folder's configs or the cached Hub index are not read
        again; without it the index is read when the filters or the model need it.
        """
        from hfselect_widgets.engine.model_ids import DEFAULT_HUB_MODEL, DEMO_MODEL, is_local_path

        self.pool.validate()
        pool, model = self.pool, self.model
        if pool.kind == "objects":
            return ResolvedPool(model=model, esms=list(pool.esms or []), size=len(pool.esms or []))
        if pool.kind == "list":
            items = [str(e) for e in pool.esms or []]
            local = [e for e in items if is_local_path(e)]
            if model is None and local and len(local) == len(items):
                from hfselect_widgets.engine.esm.folder import common_base_model

                model = common_base_model(local)
            return ResolvedPool(model=model, esm_repo_ids=items, size=len(items))
        if pool.kind in ("demo", "folder"):
            folder = str(pool._folder())
            if pool.kind == "demo" and model is None:
                model = DEMO_MODEL
            if index is None and (model is None or pool.filters):
                from hfselect_widgets.engine.esm.index import ESMIndex

                index = ESMIndex.from_folder(folder, progress, cancel)
            if model is None:
                models = index.base_models() if index is not None else {}
                model = next(iter(models)) if len(models) == 1 else None
            if not pool.filters:
                return ResolvedPool(model=model, esm_dir=folder)
            matches = index.filter(**pool.filters)
            _check_matches(matches, pool.filters, len(index), f"the folder {folder}")
            return ResolvedPool(
                model=model, esm_repo_ids=[str(c.source) for c in matches], size=len(matches)
            )
        # The Hub: without filters the engine lists the model's ESMs itself.
        if not pool.filters:
            return ResolvedPool(model=model)
        if set(pool.filters) == {"repo_ids"}:
            ids = list(pool.filters["repo_ids"])
            return ResolvedPool(model=model, esm_repo_ids=ids, size=len(ids))
        from hfselect_widgets.engine.model_ids import resolve_model_source

        model_id = resolve_model_source(model or DEFAULT_HUB_MODEL)[1] or model
        if index is None:
            from hfselect_widgets.engine.esm.index import ESMIndex

            index = ESMIndex.load(model_id, progress=progress, cancel=cancel, hf_api=self.hf_api)
        # repo_ids (the widgets' "Repo ids" filter) narrows the other criteria's matches.
        matches = index.filter(**pool.filters)
        _check_matches(matches, pool.filters, len(index), f"the Hub ESMs for {model_id}")
        return ResolvedPool(
            model=model, esm_repo_ids=[c.repo_id for c in matches if c.repo_id], size=len(matches)
        )

    def run(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        *,
        dataset: Dataset | None = None,
        pool: ResolvedPool | None = None,
    ) -> TaskRanking:
        """Load the target, resolve the pool and rank; the ranking's metadata records the
        request (``metadata["pool"]`` and ``metadata["request"]``, machine-readable).

        ``dataset`` and ``pool`` skip those steps when a front end already has them.
        """
        # Cheap checks, loading and the target checks come before the scoring modules (and
        # torch) are imported: a mistake is answered in a second, not after the imports.
        self.validate()
        dataset = dataset if dataset is not None else self.target.load()
        target_warnings = self.target.check(dataset)
        from hfselect_widgets.engine.hub.network import ensure_model_available
        from hfselect_widgets.engine.model_ids import DEFAULT_HUB_MODEL
        from hfselect_widgets.errors import HubUnavailableError

        try:
            pool = pool if pool is not None else self.resolve_pool(progress, cancel)
            # Offline: one typed error about the base model now, not transformers' retries.
            ensure_model_available(pool.model or DEFAULT_HUB_MODEL)
        except HubUnavailableError as exc:
            if exc.offline and self.pool.kind == "hub":
                raise exc.with_demo_pool() from exc
            raise
        self._load_model(pool.model or DEFAULT_HUB_MODEL, progress)
        from hfselect_widgets.engine.scoring.ranking import compute_task_ranking

        ranking = compute_task_ranking(
            dataset,
            model_name=pool.model,
            esms=pool.esms,
            esm_repo_ids=pool.esm_repo_ids,
            esm_dir=pool.esm_dir,
            batch_size=self.batch_size,
            device_name=self.device,
            progress=progress,
            cancel=cancel,
            pooling=self.pooling,
            embedding_cache=True if self.embedding_cache else None,
            n_jobs=self.n_jobs,
            hf_api=self.hf_api,
            max_bytes=self.pool.max_bytes,
            ranker=self.ranker,
            uncertainty=self.uncertainty,
            resamples=self.resamples,
        )
        ranking.metadata["pool"] = {
            **self.pool.describe(),
            "model": ranking.metadata.get("model_name") or pool.model,
        }
        ranking.metadata["request"] = self.describe()
        if target_warnings:
            ranking.metadata["target_warnings"] = target_warnings
        return ranking

    def _load_model(self, model: str, progress: ProgressCallback | None) -> None:
        """Load the base model as progress stage ``"model"`` (0 of 1, then 1 of 1).

        The engine keeps loaded models (see ``load_base_model(reuse=True)``), so the ranking
        that follows uses this one instead of loading it again.
        """
        from hfselect_widgets.engine.embedding.model import is_base_model_loaded, load_base_model
        from hfselect_widgets.engine.progress import STAGE_MODEL, report

        # A model already loaded is reported done at once, which progress displays show as
        # "cached" (as a cached embedding), not as a load that took 0.0 s.
        if not is_base_model_loaded(model, self.device or "auto"):
            report(progress, STAGE_MODEL, 0, 1)
        load_base_model(model, pooling=self.pooling, device=self.device or "auto")
        report(progress, STAGE_MODEL, 1, 1)

    def describe(self) -> dict[str, Any]:
        """The request as plain values (for metadata, logs and reproducible code)."""
        target = self.target
        return {
            "target": {
                "source": target.describe(),
                "text_col": target.text_col,
                "label_col": target.label_col,
                "split": target.split,
                "subset": target.subset,
                "is_regression": target.is_regression,
                "num_examples": target.num_examples,
                "seed": target.seed,
                "force": target.force,
            },
            "pool": self.pool.describe(),
            "model": self.model,
            "pooling": self.pooling,
            "batch_size": self.batch_size,
            "device": self.device,
        }


def _check_matches(matches: list, filters: Mapping[str, Any], pool_size: int, where: str) -> None:
    if not matches:
        shown = ", ".join(f"{k}={v}" for k, v in filters.items())
        raise NoESMsFoundPoolError(
            f"No ESM in {where} matches {shown} ({pool_size} ESMs in the pool).",
            advice="Loosen the filters ({0}).",
            field="filters",
            fixes=[Fix("filters")],
        )


class NoESMsFoundPoolError(NoESMsFoundError):
    """No ESM of the pool passes the filters."""

    def __init__(self, message: str, **kwargs: Any):
        HfselectWidgetsError.__init__(self, message, **kwargs)


def parse_filters(items: Sequence[str] | None) -> dict[str, Any]:
    """``["language=en", "min_examples=1000"]`` -> ``{"language": "en", "min_examples": 1000}``.

    ``language`` may list several languages separated by commas. Aliases: ``task`` ->
    ``task_id``, ``lang`` -> ``language``, ``esm_architecture`` ->
    ``architecture``. Raises :class:`RequestError` for a malformed or unknown filter.
    """
    aliases = {"task": "task_id", "esm_architecture": "architecture", "lang": "language"}
    filters: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = str(item).partition("=")
        key = key.strip().lower().replace("-", "_")
        key, value = aliases.get(key, key), value.strip()
        if not sep or not key or not value:
            raise RequestError(
                f"A filter is KEY=VALUE, got {item!r}; keys: {', '.join(FILTER_KEYS)}.",
                field="filters",
            )
        if key not in FILTER_KEYS:
            raise RequestError(
                f"Unknown filter key {key!r}; keys: {', '.join(FILTER_KEYS)}.", field="filters"
            )
        if key == "min_examples":
            try:
                filters[key] = int(value)
            except ValueError:
                raise RequestError(
                    f"min_examples must be a whole number, got {value!r}.", field="filters"
                ) from None
        elif key == "language":
            languages = [v.strip() for v in value.split(",") if v.strip()]
            filters[key] = languages[0] if len(languages) == 1 else languages
        else:
            filters[key] = value
    return filters


__all__ = [
    "FILTER_KEYS",
    "POOL_KINDS",
    "NoESMsFoundPoolError",
    "PoolRequest",
    "RankingRequest",
    "RequestError",
    "ResolvedPool",
    "TargetRequest",
    "parse_filters",
]
