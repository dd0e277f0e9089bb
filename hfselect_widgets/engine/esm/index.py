"""An on-disk index of ESM configs per base model: filter thousands of ESMs instantly, offline.

Fetching the ``config.json`` of every ESM of a base model takes one Hub request per ESM (there
are thousands for ``bert-base-multilingual-uncased``). :class:`ESMIndex` does it once, keeps
the configs as one JSON file per canonical base model id under ``cache_dir("esm_index")`` and
answers filters in pure Python from then on, with no network. ``refresh=True`` fetches again.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from hfselect_widgets.engine._io import write_json
from hfselect_widgets.engine.cache_dir import cache_dir
from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.hub.discovery import (
    BASE_MODEL_TAG_PREFIX,
    ESM_TAG,
    list_models,
    no_esms_found_error,
)
from hfselect_widgets.engine.hub.download import fetch_esm_configs
from hfselect_widgets.engine.hub.network import hub_api
from hfselect_widgets.engine.model_ids import canonical_model_id, same_model
from hfselect_widgets.engine.progress import CancelToken, ProgressCallback
from hfselect_widgets.errors import HubUnavailableError

INDEX_FORMAT = 1
"""Version of the index file layout; files of another version are ignored (fetched again)."""
ALL_MODELS = "_all"
"""File stem of the index of every ESM (``model_name=None``)."""


def index_dir() -> Path:
    """The folder holding the index files (``HFSELECT_WIDGETS_CACHE``/esm_index)."""
    return cache_dir("esm_index")


def index_path(model_name: str | None) -> Path:
    """The index file for a base model id (the id as given; ``None``: all ESMs)."""
    if not model_name:
        stem = ALL_MODELS
    else:
        # Hub ids are case-insensitive; "/" cannot be in a file name.
        stem = re.sub(r"[^a-z0-9._-]", "_", model_name.lower().replace("/", "--"))
    return index_dir() / f"{stem}.json"


def _join(value: Any) -> Any:
    return ",".join(map(str, value)) if isinstance(value, list | tuple) else value


class ESMIndex:
    """The configs of the ESMs for one base model (or for all), with what failed to fetch.

    Build it with :meth:`load` (Hub, cached on disk) or :meth:`from_configs` (e.g. the configs
    of a local folder). Iterating yields :class:`ESMConfig` objects with ``repo_id`` set.
    """

    def __init__(
        self,
        configs: Iterable[ESMConfig] = (),
        failures: Mapping[str, str] | None = None,
        base_model: str | None = None,
        fetched_at: float | None = None,
    ):
        self.configs: list[ESMConfig] = list(configs)
        self.failures: dict[str, str] = dict(failures or {})
        self.base_model = base_model
        """Canonical id of the base model whose ESMs these are (``None``: all base models)."""
        self.fetched_at = time.time() if fetched_at is None else float(fetched_at)
        """When the configs were fetched (seconds since the epoch)."""

    # -- building -----------------------------------------------------------------------------

    @classmethod
    def from_configs(
        cls,
        configs: Iterable[ESMConfig],
        failures: Mapping[str, str] | None = None,
        base_model: str | None = None,
    ) -> ESMIndex:
        """An index over configs already at hand (e.g. :func:`read_esm_folder_configs`)."""
        if failures is None:
            failures = getattr(configs, "failures", None)
        return cls(configs, failures=failures, base_model=base_model)

    @classmethod
    def from_folder(
        cls,
        esm_dir: str | os.PathLike,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ESMIndex:
        """An index over the ESMs below a local folder (their configs only; unreadable
        folders in :attr:`failures`). Progress stage ``"metadata"``."""
        from hfselect_widgets.engine.esm.folder import read_esm_folder_configs

        return cls.from_configs(read_esm_folder_configs(esm_dir, progress, cancel))

    @classmethod
    def load(
        cls,
        model_name: str | None = None,
        refresh: bool = False,
        hf_api: Any | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        max_workers: int = 8,
    ) -> ESMIndex:
        """The index for ``model_name`` (all ESMs if ``None``): from disk if cached, else the Hub.

        Without ``refresh`` a cached index is returned without touching the network, so this
        works offline after one fetch. Otherwise the ESM repos are listed on the Hub, their
        configs fetched concurrently (progress stage ``"metadata"``) and the index saved.
        Raises :class:`HubUnavailableError` when the Hub cannot be reached and nothing is
        cached, :class:`NoESMsFoundError` (naming the base models that have ESMs) when the Hub
        has none for ``model_name``, and :class:`RankingCancelled` when ``cancel`` is set.
        """
        if not refresh:
            cached = cls.load_cached(model_name)
            if cached is not None:
                return cached
        api = hub_api(hf_api)
        base_model = canonical_model_id(str(model_name), api) if model_name else None
        if not refresh and base_model is not None:
            cached = cls._read(index_path(base_model))
            if cached is not None:
                cls._write_alias(model_name, base_model)
                return cached
        what = f"the ESMs of {model_name!r}" if model_name else "the list of ESMs"
        tags = [ESM_TAG] + ([BASE_MODEL_TAG_PREFIX + base_model] if base_model else [])
        try:
            # The id is canonical already: list directly, without a second model_info call.
            repo_ids = [info.id for info in list_models(api, tags, what)]
        except HubUnavailableError as exc:
            stale = cls.load_cached(model_name) if refresh else None
            if stale is None:
                raise
            raise HubUnavailableError(
                what,
                f"an index fetched {time.ctime(stale.fetched_at)} is cached: "
                "load it with refresh=False",
            ) from exc
        if not repo_ids:
            raise no_esms_found_error(model_name, api)
        fetched = fetch_esm_configs(
            repo_ids, progress=progress, cancel=cancel, max_workers=max_workers
        )
        index = cls(fetched, failures=fetched.failures, base_model=base_model)
        index.save()
        cls._write_alias(model_name, base_model)
        return index

    @classmethod
    def load_cached(cls, model_name: str | None = None) -> ESMIndex | None:
        """The cached index for ``model_name``, or ``None``; never uses the network."""
        candidates = [canonical_model_id(model_name), model_name] if model_name else [None]
        for name in candidates:
            index = cls._read(index_path(name))
            if index is not None:
                return index
        return None

    # -- disk ---------------------------------------------------------------------------------

    def save(self) -> Path:
        """Write the index (atomically) to its file under ``cache_dir("esm_index")``."""
        entries = []
        for config in self.configs:
            entry = config.to_dict()
            entry["repo_id"] = config.repo_id
            entries.append(entry)
        data = {
            "format": INDEX_FORMAT,
            "base_model": self.base_model,
            "fetched_at": self.fetched_at,
            "configs": entries,
            "failures": self.failures,
        }
        path = index_path(self.base_model)
        write_json(path, data, separators=(",", ":"))
        return path

    @classmethod
    def _write_alias(cls, model_name: str | None, base_model: str | None) -> None:
        """Let ``model_name`` find the index of ``base_model`` offline (renamed Hub ids)."""
        if not model_name or not base_model:
            return
        alias, target = index_path(model_name), index_path(base_model)
        if alias == target or index_path(canonical_model_id(model_name)) == target:
            return
        payload = {"format": INDEX_FORMAT, "alias_of": base_model}
        write_json(alias, payload)

    @classmethod
    def _read(cls, path: Path, follow_alias: bool = True) -> ESMIndex | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # missing or corrupt: fetch again
            return None
        if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
            return None
        if "alias_of" in data:
            return cls._read(index_path(data["alias_of"]), False) if follow_alias else None
        try:
            configs = []
            for entry in data["configs"]:
                entry = dict(entry)
                repo_id = entry.pop("repo_id", None)
                configs.append(ESMConfig.from_dict(entry, repo_id=repo_id))
            return cls(
                configs,
                failures=data.get("failures") or {},
                base_model=data.get("base_model"),
                fetched_at=data.get("fetched_at") or os.path.getmtime(path),
            )
        except (KeyError, TypeError, ValueError):
            return None

    # -- queries ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.configs)

    def __iter__(self) -> Iterator[ESMConfig]:
        return iter(self.configs)

    def __repr__(self) -> str:
        which = self.base_model or "all base models"
        return (
            f"ESMIndex({len(self)} ESMs for {which}, {len(self.failures)} failed, "
            f"fetched {time.ctime(self.fetched_at)})"
        )

    @property
    def repo_ids(self) -> list[str]:
        """The repo ids of the indexed configs (``None`` entries skipped), in index order."""
        return [c.repo_id for c in self.configs if c.repo_id]

    @property
    def age_seconds(self) -> float:
        """Seconds since the configs were fetched."""
        return max(0.0, time.time() - self.fetched_at)

    def filter(
        self,
        task_id: str | None = None,
        min_examples: int | None = None,
        language: str | Iterable[str] | None = None,
        architecture: str | None = None,
        repo_ids: Iterable[str] | None = None,
        base_model: str | None = None,
    ) -> list[ESMConfig]:
        """The configs that match every given criterion (``None`` means "any").

        ``task_id``: substring of the task id, case-insensitive. ``min_examples``: at least that
        many training examples (configs without ``num_examples`` are excluded). ``language``:
        one language or several, case-insensitive. ``architecture``: exact
        ``esm_architecture``. ``repo_ids``: only these repos (or, for local configs, these
        folders). ``base_model``: trained for that
        model (legacy and canonical ids compare equal).
        """
        needle = task_id.lower() if task_id else None
        if isinstance(language, str):
            languages = {language.lower()}
        else:
            languages = {str(lang).lower() for lang in language} if language is not None else None
        wanted_repos = set(repo_ids) if repo_ids is not None else None

        def keep(config: ESMConfig) -> bool:
            if needle is not None and needle not in str(config.task_id or "").lower():
                return False
            if min_examples is not None:
                n = config.num_examples
                if not isinstance(n, int | float) or n < min_examples:
                    return False
            if languages is not None:
                value = config.language
                values = value if isinstance(value, list | tuple) else [value]
                if not any(str(v).lower() in languages for v in values if v is not None):
                    return False
            if architecture is not None and config.esm_architecture != architecture:
                return False
            if wanted_repos is not None and not (
                config.repo_id in wanted_repos or config.source in wanted_repos
            ):
                return False
            if base_model is not None and not (
                config.base_model_name and same_model(config.base_model_name, base_model)
            ):
                return False
            return True

        return [config for config in self.configs if keep(config)]

    def base_models(self) -> dict[str, int]:
        """How many indexed ESMs were trained for each base model, most first."""
        counts = Counter(c.base_model_name for c in self.configs if c.base_model_name)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def to_pandas(self):
        """The configs as a ``pandas.DataFrame``, one row per ESM."""
        import pandas as pd

        rows = [
            {
                "Repo ID": c.repo_id,
                "Task ID": c.task_id,
                "Task Subset": c.task_subset,
                "Text Column": _join(c.text_column),
                "Label Column": c.label_column,
                "Task Split": c.task_split,
                "Num Examples": c.num_examples,
                "Language": _join(c.language),
                "ESM Architecture": c.esm_architecture,
                "Embedding Dim": c.esm_embedding_dim,
                "Base Model": c.base_model_name,
            }
            for c in self.configs
        ]
        columns = [
            "Repo ID",
            "Task ID",
            "Task Subset",
            "Text Column",
            "Label Column",
            "Task Split",
            "Num Examples",
            "Language",
            "ESM Architecture",
            "Embedding Dim",
            "Base Model",
        ]
        return pd.DataFrame(rows, columns=columns)


__all__ = ["ESMIndex", "index_path", "index_dir"]
