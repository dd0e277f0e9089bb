"""Score a very large ESM pool on Ray: shards of the ESM list, the target embeddings shared once.

:func:`score_embeddings_ray` puts the target embeddings and labels into Ray's object store once
(``ray.put``), cuts the ESM list into contiguous shards, scores each shard in a Ray task with the
local engine (:func:`~hfselect_widgets.engine.scoring.ranking.score_embeddings`, so every check
and every ranker behaves as locally) and concatenates the shards in order. The result equals the
local one: same ESMs, same scores, same failures, same order (and ``"fusion"`` ranks are fused
once over the whole pool, as locally).

ESMs travel as references, not weights: a local folder (workers must see the same path: one
machine, or shared storage) or a Hub repo id, which a worker without the folder downloads into
its own Hugging Face cache. ``ESM`` objects are sent whole (fine for small pools only).

:func:`ray_scoring` switches every ranking in its ``with`` block to this path, which is how
``hfselect-widgets rank --ray`` uses it without a second ranking code path.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hfselect_widgets.engine.progress import (
    STAGE_SCORING,
    CancelToken,
    ProgressCallback,
    check_cancel,
    report,
)


@dataclass
class RayScoring:
    """Where and how to shard scoring (see :func:`ray_scoring`)."""

    address: str | None = None
    num_cpus: int | None = None
    shard_size: int | None = None
    cpus_per_task: float = 1
    gpus_per_task: float = 0
    init_kwargs: dict[str, Any] | None = None


_ACTIVE: contextvars.ContextVar[RayScoring | None] = contextvars.ContextVar(
    "hfselect_widgets_ray_scoring", default=None
)


def active_ray_scoring() -> RayScoring | None:
    """The :class:`RayScoring` set by an enclosing :func:`ray_scoring` block, else ``None``."""
    return _ACTIVE.get()


@contextlib.contextmanager
def ray_scoring(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    shard_size: int | None = None,
    cpus_per_task: float = 1,
    gpus_per_task: float = 0,
    **init_kwargs: Any,
) -> Iterator[RayScoring]:
    """Within the block, ``score_embeddings`` (and so every ranking) shards over Ray.

    ``address`` joins a cluster; ``None`` starts Ray locally with ``num_cpus`` (if not
    running). ``shard_size``: ESMs per task (default: the pool split into 4 tasks per CPU).
    """
    settings = RayScoring(
        address, num_cpus, shard_size, cpus_per_task, gpus_per_task, init_kwargs or None
    )
    token = _ACTIVE.set(settings)
    try:
        yield settings
    finally:
        _ACTIVE.reset(token)


def _handle_spec(handle) -> dict[str, Any]:
    return {
        "source": handle.source,
        "repo_id": handle.repo_id,
        "folder": str(handle.folder) if handle.folder is not None else None,
        "esm": handle.esm,
    }


def _spec_handle(spec: dict[str, Any]):
    from hfselect_widgets.engine.scoring.ranking import ESMHandle

    if spec["esm"] is not None:
        return ESMHandle(source=spec["source"], repo_id=spec["repo_id"], esm=spec["esm"])
    folder = Path(spec["folder"]) if spec["folder"] else None
    if (folder is None or not folder.is_dir()) and spec["repo_id"]:
        from hfselect_widgets.engine.esm.format import resolve_esm_folder

        folder, _ = resolve_esm_folder(spec["repo_id"])  # into this worker's HF cache
    return ESMHandle(source=spec["source"], repo_id=spec["repo_id"], folder=folder)


def score_shard(
    embeddings: np.ndarray,
    labels: np.ndarray,
    is_regression: bool,
    specs: list[dict[str, Any]],
    options: dict[str, Any],
):
    """Score one shard with the local engine (runs inside a Ray task)."""
    from hfselect_widgets.engine.scoring.ranking import score_embeddings

    handles, failures = [], {}
    for spec in specs:
        try:
            handles.append(_spec_handle(spec))
        except Exception as exc:  # a download that fails is one failed ESM, as locally
            failures[spec["source"]] = f"{type(exc).__name__}: {exc}"
    result = score_embeddings(embeddings, labels, is_regression, handles, **options)
    failures.update(result.failures)
    result.failures = failures
    return result


def _shards(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def score_embeddings_ray(
    embeddings,
    labels,
    is_regression: bool,
    esms: Iterable,
    *,
    settings: RayScoring | None = None,
    model_id: str | None = None,
    device: Any = "cpu",
    n_jobs: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    ranker: str = "esm-logme",
    keep_top: int = 0,
    logme_backend: str = "auto",
):
    """:func:`~hfselect_widgets.engine.scoring.ranking.score_embeddings` sharded over Ray.

    Same arguments and the same :class:`ScoringResult`; ``settings`` says where Ray runs and
    how large the shards are. ``n_jobs`` is per task (default: the task's CPUs).
    """
    from hfselect_widgets.engine.distributed.build import ensure_ray
    from hfselect_widgets.engine.scoring.rankers import (
        ESM_LOGME,
        FUSION,
        rank_fusion,
        ranker_members,
    )
    from hfselect_widgets.engine.scoring.ranking import (
        ESMHandle,
        ScoringResult,
        unchecked_model_warnings,
    )

    settings = settings or RayScoring()
    handles = [
        h if isinstance(h, ESMHandle) else ESMHandle.from_esm(h, i) for i, h in enumerate(esms)
    ]
    total = len(handles)
    report(progress, STAGE_SCORING, 0, total)
    ray = ensure_ray(settings.address, settings.num_cpus, **(settings.init_kwargs or {}))
    cpus = int(ray.cluster_resources().get("CPU", 1))
    size = settings.shard_size or max(1, math.ceil(total / max(1, 4 * cpus)))
    embeddings_ref = ray.put(np.asarray(embeddings, dtype=np.float32))
    labels_ref = ray.put(np.asarray(labels))
    options = {
        "model_id": model_id,
        "device": str(device),
        "n_jobs": n_jobs or max(1, int(settings.cpus_per_task)),
        "ranker": ranker,
        "keep_top": keep_top,
        "logme_backend": logme_backend,
    }
    remote = ray.remote(score_shard).options(
        num_cpus=settings.cpus_per_task, num_gpus=settings.gpus_per_task, name="score_shard"
    )
    shards = _shards([_handle_spec(h) for h in handles], size)
    refs = [
        remote.remote(embeddings_ref, labels_ref, bool(is_regression), shard, options)
        for shard in shards
    ]
    results: dict[Any, Any] = {}
    done = 0
    waiting = list(refs)
    try:
        while waiting:
            check_cancel(cancel, STAGE_SCORING)
            ready, waiting = ray.wait(waiting, num_returns=1, timeout=0.5)
            for ref in ready:
                results[ref] = ray.get(ref)
                done += len(shards[refs.index(ref)])
                report(progress, STAGE_SCORING, done, total)
    except BaseException:
        for ref in waiting:
            ray.cancel(ref, force=True)
        raise
    configs, scores, sources, failures, messages = [], [], [], {}, []
    kept: list[tuple[float, str, np.ndarray]] = []
    for ref in refs:  # shard order: the local order
        part = results[ref]
        configs += part.configs
        scores += part.scores
        sources += part.sources
        failures.update(part.failures)
        messages += [m for m in part.warnings if m not in messages]
        by_source = dict(zip(part.sources, part.configs, strict=True))
        for source, mapped in part.top_features.items():
            config = by_source[source]
            key = ESM_LOGME if ranker == FUSION else ranker
            kept.append((config.ranker_scores[key], source, mapped))
    if ranker == FUSION and configs:
        members = ranker_members(ranker)
        tables = {
            name: {i: c.ranker_scores[name] for i, c in enumerate(configs)} for name in members
        }
        fused = rank_fusion(tables)
        scores = [fused[i] for i in range(len(configs))]
        for config, value in zip(configs, scores, strict=True):
            config.ranker_scores[FUSION] = value
    kept.sort(key=lambda item: item[0], reverse=True)
    top_features = {source: mapped for _, source, mapped in kept[:keep_top]} if keep_top else {}
    if model_id is None:  # one warning for the whole pool, as locally (not one per shard)
        messages = unchecked_model_warnings([c.base_model_name for c in configs])
    return ScoringResult(configs, scores, failures, messages, sources, top_features)


__all__ = [
    "RayScoring",
    "active_ray_scoring",
    "ray_scoring",
    "score_embeddings_ray",
    "score_shard",
]
