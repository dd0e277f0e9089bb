"""Downloading ESMs from the Hub: configs, download plans, and concurrent downloads.

Files are fetched with ``huggingface_hub.hf_hub_download`` into the Hugging Face cache, so a
second run (or ``HF_HUB_OFFLINE=1``) reuses what is cached. Unlike hfselect, every fetch runs
concurrently, reports progress through ``progress(stage, done, total)``, stops when ``cancel``
is set, keeps results in input order and says which repos failed and why
(:class:`FetchReport`). One broken ESM never stops the others.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from hfselect_widgets.engine.esm.format import (
    CONFIG_NAME,
    ESM,
    PYTORCH_BIN_NAME,
    SAFETENSORS_NAME,
    ESMConfig,
    expected_weights_bytes,
    resolve_esm_folder,
)
from hfselect_widgets.engine.hub.network import (
    describe_failure,
    ensure_hub,
    hub_api,
    hub_unavailable,
    is_connectivity_error,
)
from hfselect_widgets.engine.progress import (
    STAGE_DOWNLOAD,
    STAGE_METADATA,
    CancelToken,
    ProgressCallback,
    check_cancel,
    report,
)
from hfselect_widgets.errors import DownloadLimitError, InvalidESMConfigError

DEFAULT_EMBEDDING_DIM = 768
"""Dimension assumed for size estimates when an ESM's dimension is unknown (BERT-base)."""
CONFIG_BYTES_ESTIMATE = 2_000
"""Approximate size of an ESM's ``config.json`` (a transformers config dump)."""

_CANCEL_POLL_SECONDS = 0.2

T = TypeVar("T")


def _count(n: int, noun: str) -> str:
    """``"1 ESM"``, ``"3 ESMs"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- fetch results ---------------------------------------------------------------------------


class FetchReport(list, Generic[T]):
    """The fetched items (in input order) plus ``failures``: what failed and why.

    A plain list in every other respect, so code written for hfselect's lists keeps working.
    """

    def __init__(
        self,
        items: Iterable[T] = (),
        failures: Mapping[str, str] | None = None,
        what: str = "ESMs",
    ):
        super().__init__(items)
        self.failures: dict[str, str] = dict(failures or {})
        self.what = what

    @property
    def requested(self) -> int:
        """How many items were asked for (fetched plus failed)."""
        return len(self) + len(self.failures)

    def summary(self, max_failures: int = 10) -> str:
        """One line with the counts, then one line per failure (the first ``max_failures``)."""
        text = f"Fetched {len(self)} of {self.requested} {self.what}"
        if not self.failures:
            return text + "."
        lines = [f"{text}; {len(self.failures)} failed:"]
        for key, reason in list(self.failures.items())[:max_failures]:
            lines.append(f"  {key}: {reason}")
        if len(self.failures) > max_failures:
            lines.append(f"  ... and {len(self.failures) - max_failures} more")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"FetchReport({len(self)} {self.what}, {len(self.failures)} failed)"


_SKIPPED = object()


def _unique(keys: Iterable[str]) -> list[str]:
    if isinstance(keys, str):
        keys = [keys]
    return list(dict.fromkeys(str(key) for key in keys))


def run_each(
    keys: Sequence[str],
    work: Callable[[str], T],
    *,
    stage: str,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    max_workers: int = 8,
) -> tuple[dict[str, T], dict[str, BaseException]]:
    """Run ``work(key)`` for every key in a thread pool; ``(results, errors)`` in input order.

    Reports ``progress(stage, done, total)`` from the calling thread after each key and raises
    :class:`RankingCancelled` soon after ``cancel`` is set (work not yet started is dropped;
    running downloads finish in the background).
    """
    total = len(keys)
    report(progress, stage, 0, total)
    check_cancel(cancel, stage)
    results: dict[str, T] = {}
    errors: dict[str, BaseException] = {}
    if not total:
        return results, errors

    def guarded(key: str) -> Any:
        if cancel is not None and cancel.is_set():
            return _SKIPPED
        return work(key)

    executor = ThreadPoolExecutor(
        max_workers=max(1, min(int(max_workers), total)), thread_name_prefix="hfselect-fetch"
    )
    try:
        pending: dict[Future, str] = {executor.submit(guarded, key): key for key in keys}
        done_count = 0
        while pending:
            # A timeout, so that cancel is noticed even while a slow download runs.
            finished, _ = wait(pending, timeout=_CANCEL_POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in finished:
                key = pending.pop(future)
                try:
                    value = future.result()
                except Exception as exc:  # one bad ESM never stops the others
                    errors[key] = exc
                else:
                    if value is not _SKIPPED:
                        results[key] = value
                done_count += 1
            if finished:
                report(progress, stage, done_count, total)
            check_cancel(cancel, stage)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    ordered = {key: results[key] for key in keys if key in results}
    ordered_errors = {key: errors[key] for key in keys if key in errors}
    return ordered, ordered_errors


def _fetch_each(
    keys: Sequence[str],
    work: Callable[[str], T],
    *,
    stage: str,
    what: str,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    max_workers: int,
) -> tuple[dict[str, T], dict[str, str]]:
    """:func:`run_each` with the failures described; ``(results, failures)`` in input order.

    Raises :class:`HubUnavailableError` (about ``what``) when nothing was fetched and every
    failure was connectivity, instead of one reason per key.
    """
    if not all(os.path.isdir(os.path.expanduser(str(key))) for key in keys):
        ensure_hub()  # offline: every key fails at once (cached ones load), no retries
    results, errors = run_each(
        keys, work, stage=stage, progress=progress, cancel=cancel, max_workers=max_workers
    )
    if not results and errors and all(is_connectivity_error(e) for e in errors.values()):
        first = next(iter(errors.values()))
        raise hub_unavailable(what, first) from first
    return results, {key: describe_failure(exc) for key, exc in errors.items()}


# --- configs ---------------------------------------------------------------------------------


def _fetch_config(repo_id: str, hub_kwargs: Mapping[str, Any]) -> ESMConfig:
    from huggingface_hub import hf_hub_download

    local = hf_hub_download(repo_id, CONFIG_NAME, **hub_kwargs)
    config = ESMConfig.from_json_file(local, repo_id=repo_id)
    reason = config.validation_error()
    if reason is not None:
        raise InvalidESMConfigError(f"invalid ESM config: {reason}")
    return config


def fetch_esm_configs(
    repo_ids: Iterable[str],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    max_workers: int = 8,
    **hub_kwargs: Any,
) -> FetchReport[ESMConfig]:
    """Fetch the ``config.json`` of each ESM repo (no weights), concurrently.

    Returns the valid configs in input order, each with ``.repo_id`` set (hfselect drops
    failures silently, which misaligns its list with the ids); ``.failures`` maps each failed
    repo id to the reason (missing, not cached offline, invalid JSON, invalid config).
    Progress stage: ``"metadata"``. ``hub_kwargs`` go to ``hf_hub_download`` (``revision``,
    ``cache_dir``, ``token``, ``local_files_only``). Raises :class:`HubUnavailableError` when
    nothing could be fetched because the Hub is unreachable and nothing is cached, and
    :class:`RankingCancelled` when ``cancel`` is set.
    """
    keys = _unique(repo_ids)
    results, failures = _fetch_each(
        keys,
        lambda repo_id: _fetch_config(repo_id, hub_kwargs),
        stage=STAGE_METADATA,
        what=f"the configs of {_count(len(keys), 'ESM')}",
        progress=progress,
        cancel=cancel,
        max_workers=max_workers,
    )
    return FetchReport(results.values(), failures, what="ESM configs")


# --- download plans --------------------------------------------------------------------------


def _format_bytes(num_bytes: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if num_bytes >= scale:
            return f"{num_bytes / scale:.1f} {unit}"
    return f"{int(num_bytes)} B"


@dataclass
class DownloadPlan:
    """What fetching a list of ESMs will download, computed before downloading anything.

    ``total_bytes`` counts only what is not cached yet. ``estimated`` names the repos whose size
    was computed from the ESM's dimension (or the default D=768) instead of read from the Hub.
    """

    count: int
    cached_count: int
    total_bytes: int
    per_repo: dict[str, int] = field(default_factory=dict)
    estimated: set[str] = field(default_factory=set)

    @property
    def to_download(self) -> int:
        """How many ESMs are not (fully) cached yet."""
        return self.count - self.cached_count

    def restrict(self, repo_ids: Iterable[str]) -> DownloadPlan:
        """The part of this plan that concerns ``repo_ids`` (a cached repo costs 0 bytes;
        repos the plan does not know are left out). Pure arithmetic: no Hub or cache lookup,
        so a filtered pool's size follows every keystroke."""
        per_repo = {r: self.per_repo[r] for r in repo_ids if r in self.per_repo}
        return DownloadPlan(
            count=len(per_repo),
            cached_count=sum(1 for size in per_repo.values() if size == 0),
            total_bytes=sum(per_repo.values()),
            per_repo=per_repo,
            estimated=self.estimated & set(per_repo),
        )

    def __str__(self) -> str:
        size = _format_bytes(self.total_bytes)
        if self.estimated and self.total_bytes:
            size = "about " + size
        return f"{_count(self.count, 'ESM')}, {self.cached_count} cached, {size} to download"


def _is_cached(repo_id: str, filename: str, cache_dir: Any, revision: Any) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(
            repo_id, filename, cache_dir=cache_dir, revision=revision or None
        )
    except Exception:  # malformed repo id or cache: treat as not cached
        return None
    return found if isinstance(found, str) else None


def _dim_from_config_file(path: str | None) -> int | None:
    if path is None:
        return None
    try:
        dim = json.loads(Path(path).read_text(encoding="utf-8")).get("esm_embedding_dim")
    except (OSError, ValueError, AttributeError):
        return None
    return dim if isinstance(dim, int) and not isinstance(dim, bool) and dim > 0 else None


def _hub_sizes(api: Any, repo_id: str) -> tuple[int | None, int | None]:
    """``(config bytes, weights bytes)`` from the Hub's file metadata (``None`` if unknown)."""
    info = api.model_info(repo_id, files_metadata=True)
    sizes = {
        getattr(sibling, "rfilename", None): getattr(sibling, "size", None)
        for sibling in (getattr(info, "siblings", None) or [])
    }
    # resolve_esm_folder takes model.safetensors when the repo has it, else pytorch_model.bin.
    weights_name = SAFETENSORS_NAME if SAFETENSORS_NAME in sizes else PYTORCH_BIN_NAME
    return sizes.get(CONFIG_NAME), sizes.get(weights_name)


def plan_download(
    repo_ids: Iterable[str],
    hf_api: Any | None = None,
    *,
    configs: Iterable[ESMConfig] | None = None,
    max_workers: int = 8,
    cache_dir: str | None = None,
    revision: str | None = None,
) -> DownloadPlan:
    """Count the ESMs and the bytes that fetching ``repo_ids`` will download.

    Cached repos cost 0. For the others the size comes, in this order, from the ESM's dimension
    when it is known without the network (``configs``, e.g. from an :class:`ESMIndex`, or a
    cached ``config.json``: a linear ESM's file size follows from D), from the Hub's file
    metadata (``model_info(files_metadata=True)``, asked concurrently), or, offline, from the
    default dimension D=768. Never raises for network errors: sizes are then estimated.
    """
    keys = _unique(repo_ids)
    dims: dict[str, int] = {}
    for config in configs or ():
        dim = config.esm_embedding_dim
        if config.repo_id and isinstance(dim, int) and dim > 0:
            dims[config.repo_id] = dim

    per_repo: dict[str, int] = {}
    estimated: set[str] = set()
    cached_count = 0
    ask_hub: list[str] = []
    config_cached: dict[str, bool] = {}
    for repo_id in keys:
        config_path = _is_cached(repo_id, CONFIG_NAME, cache_dir, revision)
        weights_cached = any(
            _is_cached(repo_id, name, cache_dir, revision)
            for name in (SAFETENSORS_NAME, PYTORCH_BIN_NAME)
        )
        config_cached[repo_id] = config_path is not None
        if config_path is not None and weights_cached:
            per_repo[repo_id] = 0
            cached_count += 1
            continue
        dim = dims.get(repo_id) or _dim_from_config_file(config_path)
        if dim is not None:
            per_repo[repo_id] = _estimate(dim, config_cached[repo_id], weights_cached)
            estimated.add(repo_id)
        else:
            ask_hub.append(repo_id)

    if ask_hub:
        api = hub_api(hf_api)
        unreachable = threading.Event()

        def lookup(repo_id: str) -> tuple[int | None, int | None]:
            if unreachable.is_set():  # offline: do not wait for thousands of timeouts
                return None, None
            try:
                return _hub_sizes(api, repo_id)
            except Exception as exc:
                if is_connectivity_error(exc):
                    unreachable.set()
                return None, None

        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(ask_hub)))) as pool:
            for repo_id, (config_bytes, weights_bytes) in zip(
                ask_hub, pool.map(lookup, ask_hub), strict=True
            ):
                if weights_bytes is None:
                    per_repo[repo_id] = _estimate(
                        DEFAULT_EMBEDDING_DIM, config_cached[repo_id], False
                    )
                    estimated.add(repo_id)
                    continue
                size = 0 if config_cached[repo_id] else (config_bytes or CONFIG_BYTES_ESTIMATE)
                per_repo[repo_id] = size + int(weights_bytes)

    ordered = {key: per_repo[key] for key in keys}
    return DownloadPlan(
        count=len(keys),
        cached_count=cached_count,
        total_bytes=sum(ordered.values()),
        per_repo=ordered,
        estimated=estimated,
    )


def _estimate(dim: int, config_cached: bool, weights_cached: bool) -> int:
    config_bytes = 0 if config_cached else CONFIG_BYTES_ESTIMATE
    weights_bytes = 0 if weights_cached else expected_weights_bytes(dim)
    return config_bytes + weights_bytes


def _enforce_cap(
    keys: Sequence[str],
    max_bytes: int | None,
    plan: DownloadPlan | None,
    hf_api: Any | None,
    hub_kwargs: Mapping[str, Any],
) -> None:
    if max_bytes is None:
        return
    if plan is None:
        plan = plan_download(
            keys,
            hf_api,
            cache_dir=hub_kwargs.get("cache_dir"),
            revision=hub_kwargs.get("revision"),
        )
    if plan.total_bytes > max_bytes:
        raise DownloadLimitError(plan.to_download, plan.total_bytes, int(max_bytes))


# --- downloads -------------------------------------------------------------------------------


def download_esm_folders(
    repo_ids: Iterable[str],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    max_workers: int = 8,
    max_bytes: int | None = None,
    *,
    hf_api: Any | None = None,
    plan: DownloadPlan | None = None,
    **hub_kwargs: Any,
) -> tuple[dict[str, Path], dict[str, str]]:
    """Download ESM files (config and one weights file) into the Hugging Face cache.

    Loads no tensors: returns ``(folders, failures)``, ``folders`` mapping each repo id (in
    input order) to its local snapshot folder, ``failures`` each failed repo id to the reason.
    Offline, cached repos are returned and the others fail. With ``max_bytes``, the download
    :func:`plan_download` (or the ``plan`` given) is checked first and
    :class:`DownloadLimitError` raised before anything is downloaded. Progress stage:
    ``"download"``. ``hub_kwargs`` go to ``hf_hub_download``.
    """
    keys = _unique(repo_ids)
    _enforce_cap(keys, max_bytes, plan, hf_api, hub_kwargs)
    return _fetch_each(
        keys,
        lambda repo_id: resolve_esm_folder(repo_id, **hub_kwargs)[0],
        stage=STAGE_DOWNLOAD,
        what=_count(len(keys), "ESM"),
        progress=progress,
        cancel=cancel,
        max_workers=max_workers,
    )


def _fetch_esm(repo_id: str, hub_kwargs: Mapping[str, Any]) -> ESM:
    folder, resolved_repo_id = resolve_esm_folder(repo_id, **hub_kwargs)
    return ESM.from_folder(folder, repo_id=resolved_repo_id)


def fetch_esms(
    repo_ids: Iterable[str],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    max_workers: int = 8,
    max_bytes: int | None = None,
    *,
    hf_api: Any | None = None,
    plan: DownloadPlan | None = None,
    **hub_kwargs: Any,
) -> FetchReport[ESM]:
    """Download (through the Hugging Face cache) and load ESMs, concurrently.

    Returns the ESMs that loaded, in input order, with ``.failures`` naming each repo that did
    not and why (missing, not cached offline, invalid config, corrupt or non-finite weights).
    This holds every ESM in memory (about 2.4 MB each for D=768); to rank thousands, stream
    over :func:`download_esm_folders` instead. Other arguments as in
    :func:`download_esm_folders`.
    """
    keys = _unique(repo_ids)
    _enforce_cap(keys, max_bytes, plan, hf_api, hub_kwargs)
    results, failures = _fetch_each(
        keys,
        lambda repo_id: _fetch_esm(repo_id, hub_kwargs),
        stage=STAGE_DOWNLOAD,
        what=_count(len(keys), "ESM"),
        progress=progress,
        cancel=cancel,
        max_workers=max_workers,
    )
    return FetchReport(results.values(), failures, what="ESMs")


__all__ = [
    "DEFAULT_EMBEDDING_DIM",
    "DownloadPlan",
    "FetchReport",
    "download_esm_folders",
    "fetch_esm_configs",
    "fetch_esms",
    "plan_download",
    "run_each",
]
