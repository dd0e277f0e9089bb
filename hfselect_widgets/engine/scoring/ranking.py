"""ESM-LogME ranking: embed the target once, stream over the ESMs, score each with LogME.

Memory stays flat in the number of ESMs: ESMs are referenced by :class:`ESMHandle` (a folder, a
Hub repo already in the cache, or an ``ESM`` object) and loaded a few at a time; each worker
holds one ESM's weights and one transformed feature matrix at most. hfselect keeps every ESM's
transformed target embeddings (K x N x D floats) until the end.

Scoring runs ``n_jobs`` ESMs concurrently, each with single-threaded BLAS: on a CPU the
eigen-solver inside LogME scales better across ESMs than across threads of one solve.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import platform
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hfselect_widgets._version import __version__
from hfselect_widgets.engine import defaults
from hfselect_widgets.engine.esm.format import ESM, ESMConfig, load_esm_parts
from hfselect_widgets.engine.model_ids import DEFAULT_HUB_MODEL, is_local_path, same_model
from hfselect_widgets.engine.progress import (
    STAGE_SCORING,
    CancelToken,
    ProgressCallback,
    check_cancel,
    report,
)
from hfselect_widgets.engine.scoring.rankers import (
    ESM_LOGME,
    FUSION,
    LOGME_BATCHED,
    SOURCE_EMBEDDING_KEY,
    make_scorers,
    rank_fusion,
    ranker_members,
)
from hfselect_widgets.engine.scoring.result import TaskRanking
from hfselect_widgets.errors import (
    ESMBaseModelMismatchError,
    ESMDimensionError,
    ESMError,
    ESMLoadError,
    NoESMsFoundError,
)


@dataclass
class ESMHandle:
    """A lazily loaded ESM: a local folder (maybe a Hub cache snapshot) or an ``ESM`` object."""

    source: str
    repo_id: str | None = None
    folder: Path | None = None
    esm: ESM | None = None

    @classmethod
    def from_esm(cls, esm: ESM, index: int) -> ESMHandle:
        source = esm.config.repo_id or esm.config.source or f"esms[{index}]"
        return cls(source=source, repo_id=esm.config.repo_id, esm=esm)

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, repo_id: str | None = None) -> ESMHandle:
        folder = Path(folder)
        return cls(source=repo_id or str(folder), repo_id=repo_id, folder=folder)

    def load(self) -> tuple[ESMConfig, torch.Tensor, torch.Tensor]:
        """``(config, weight, bias)``; raises an :class:`ESMError` with the reason."""
        if self.esm is not None:
            self.esm.config.validate()
            weight, bias = self.esm.weights()
            if not (torch.isfinite(weight).all() and torch.isfinite(bias).all()):
                raise ESMLoadError(self.source, "weights contain NaN or infinite values")
            return self.esm.config, weight, bias
        assert self.folder is not None
        return load_esm_parts(self.folder, repo_id=self.repo_id)


@dataclass
class ScoringResult:
    """Scores of the ESMs that could be scored, in input order, and the reasons for the rest.

    ``sources`` holds the handle source of each scored ESM (aligned with ``configs``).
    """

    configs: list[ESMConfig]
    scores: list[float]
    failures: dict[str, str]
    warnings: list[str]
    sources: list[str]
    top_features: dict[str, np.ndarray] = field(default_factory=dict)


def default_n_jobs() -> int:
    """Concurrent ESMs while scoring: the CPU cores available to this process (at most 8)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


@contextlib.contextmanager
def _single_threaded_blas(enabled: bool):
    """Limit BLAS/LAPACK (and torch's intra-op pool) to one thread while workers run in parallel."""
    if not enabled:
        yield
        return
    previous = torch.get_num_threads()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        limiter = contextlib.nullcontext()
    else:
        limiter = threadpool_limits(limits=1, user_api="blas")
    torch.set_num_threads(1)
    try:
        with limiter:
            yield
    finally:
        torch.set_num_threads(previous)


def unchecked_model_warnings(base_models: list[str]) -> list[str]:
    """The warning for ESMs kept without a base-model check (the model has no Hub id)."""
    if not base_models:
        return []
    models = sorted(set(base_models))
    return [
        f"The base model has no known Hub id, so {len(base_models)} ESMs were kept without "
        f"checking that they were trained for it (their base models: {', '.join(models[:5])})."
    ]


def load_checked(handle: ESMHandle, model_dim: int, model_id: str | None):
    """``(config, weight, bias)`` of an ESM that fits the base model (else a typed ESMError)."""
    config, weight, bias = handle.load()
    if weight.shape[0] != model_dim:
        raise ESMDimensionError(handle.source, weight.shape[0], model_dim)
    if model_id is not None and not same_model(config.base_model_name, model_id):
        raise ESMBaseModelMismatchError(handle.source, config.base_model_name, model_id)
    return config, weight, bias


def score_embeddings(
    embeddings: np.ndarray | torch.Tensor,
    labels: np.ndarray,
    is_regression: bool,
    esms: Iterable[ESMHandle | ESM],
    *,
    model_id: str | None = None,
    device: str | torch.device = "cpu",
    n_jobs: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    total: int | None = None,
    ranker: str = ESM_LOGME,
    keep_top: int = 0,
    logme_backend: str = "auto",
) -> ScoringResult:
    """Score ESMs on target embeddings that are already computed.

    Args:
        embeddings: (N, D) float32 base-model embeddings of the target texts.
        labels: (N,) class ids or (N,) / (N, C) regression targets.
        is_regression: the task type.
        esms: handles (or ``ESM`` objects), consumed lazily, a bounded number at a time.
        model_id: Hub id of the base model; ESMs for another known model are skipped. ``None``
            (a local model folder) keeps them with a warning.
        device: where the ESMs are applied (LogME itself runs on the CPU in float64).
        n_jobs: ESMs scored concurrently (default :func:`default_n_jobs`).
        progress, cancel: see :mod:`hfselect_widgets.engine.progress` (stage ``"scoring"``).
        total: number of ESMs, for progress, when ``esms`` is a generator.
        ranker: which score ranks the ESMs (see :mod:`.rankers`; default ``"esm-logme"``,
            hf-dataset-selector's). Every ranker's score, ESM-LogME always among them, is kept
            per ESM in ``config.ranker_scores``; ``"fusion"`` is the mean rank of its members.
        keep_top: keep the mapped target features of the best ``keep_top`` ESMs (by the
            ranker's score; a fusion maps its top ones again at the end) in
            ``ScoringResult.top_features``, for
            :func:`.uncertainty.bootstrap_ranks`. Memory: ``keep_top`` x N x D floats.
        logme_backend: ``"numpy"`` (LogME on the CPU, ESMs in parallel threads), ``"torch"``
            (batches of ESMs on ``device``, :mod:`.batched`), or ``"auto"``: torch on CUDA for
            ESM-LogME and ``logme-permutation`` rankings without rank intervals, NumPy
            otherwise.
    """
    if isinstance(esms, Sequence):
        total = len(esms) if total is None else total
    device = torch.device(device)
    if logme_backend not in ("auto", "numpy", "torch"):
        raise ValueError(f"logme_backend must be auto, numpy or torch, not {logme_backend!r}")
    from hfselect_widgets.engine.distributed.sharded import active_ray_scoring

    ray_settings = active_ray_scoring()
    if ray_settings is not None:  # inside ``ray_scoring()``: shard the ESM list over Ray
        from hfselect_widgets.engine.distributed.sharded import score_embeddings_ray

        return score_embeddings_ray(
            embeddings, labels, is_regression, esms, settings=ray_settings, model_id=model_id,
            device=device, n_jobs=n_jobs, progress=progress, cancel=cancel, ranker=ranker,
            keep_top=keep_top, logme_backend=logme_backend,
        )  # fmt: skip
    batched = logme_backend == "torch" or (logme_backend == "auto" and device.type == "cuda")
    if batched and ranker in LOGME_BATCHED and not keep_top:
        from hfselect_widgets.engine.scoring.batched import score_embeddings_batched

        return score_embeddings_batched(
            embeddings, labels, is_regression, esms, model_id=model_id, device=device,
            progress=progress, cancel=cancel, total=total, ranker=ranker,
        )  # fmt: skip
    x = torch.as_tensor(np.asarray(embeddings, dtype=np.float32)).to(device)
    model_dim = x.shape[1]
    members = ranker_members(ranker)
    score_all = make_scorers([ESM_LOGME, *members], np.asarray(embeddings), labels, is_regression)
    n_jobs = n_jobs or default_n_jobs()

    configs: list[ESMConfig] = []
    scores: list[float] = []
    sources: list[str] = []
    failures: dict[str, str] = {}
    warned: list[str] = []
    lock = threading.Lock()
    kept: list[tuple[float, int, str, np.ndarray]] = []  # a min-heap of the best keep_top
    handle_of: dict[str, ESMHandle] = {}
    counter = itertools.count()

    def map_target(weight: torch.Tensor, bias: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            # float32 like hfselect's nn.Linear, then LogME in float64
            features = torch.nn.functional.linear(x, weight.to(device), bias.to(device))
        return features.cpu().numpy()

    def score_one(handle: ESMHandle) -> tuple[ESMConfig | None, float | None, str | None]:
        if cancel is not None and cancel.is_set():
            return None, None, None
        try:
            config, weight, bias = load_checked(handle, model_dim, model_id)
            esm_model = config.base_model_name
            mapped = map_target(weight, bias)
            config.ranker_scores = score_all(mapped, config)
            score = config.ranker_scores[ESM_LOGME if ranker == FUSION else ranker]
            if not np.isfinite(config.ranker_scores[ESM_LOGME]):
                return None, None, "the LogME score is not finite"
            if not np.isfinite(score):
                return None, None, f"no {ranker} score (textemb needs {SOURCE_EMBEDDING_KEY!r})"
            if model_id is None:
                with lock:
                    warned.append(esm_model)
            config.source = config.source or handle.source
            if keep_top:
                with lock:
                    if ranker == FUSION:  # its top is known only at the end: mapped again then
                        handle_of[handle.source] = handle
                    entry = (score, next(counter), handle.source, mapped)
                    if len(kept) < keep_top:
                        heapq.heappush(kept, entry)
                    elif score > kept[0][0]:
                        heapq.heapreplace(kept, entry)
            return config, score, None
        except ESMError as exc:
            return None, None, str(exc)
        except Exception as exc:  # one bad ESM never aborts a ranking
            return None, None, f"{type(exc).__name__}: {exc}"

    handles = (
        h if isinstance(h, ESMHandle) else ESMHandle.from_esm(h, i) for i, h in enumerate(esms)
    )
    done = 0
    report(progress, STAGE_SCORING, 0, total)
    window = 2 * n_jobs
    with _single_threaded_blas(n_jobs > 1), ThreadPoolExecutor(n_jobs) as pool:
        pending: deque[tuple[ESMHandle, Future]] = deque()

        def drain_one() -> None:
            nonlocal done
            handle, future = pending.popleft()
            config, score, reason = future.result()
            if reason is not None:
                failures[handle.source] = reason
            elif config is not None:
                configs.append(config)
                scores.append(score)
                sources.append(handle.source)
            done += 1
            report(progress, STAGE_SCORING, done, total)

        for handle in handles:
            check_cancel(cancel, STAGE_SCORING)
            pending.append((handle, pool.submit(score_one, handle)))
            if len(pending) >= window:
                drain_one()
        while pending:
            drain_one()
        check_cancel(cancel, STAGE_SCORING)

    messages = unchecked_model_warnings(warned)
    if ranker == FUSION and configs:
        # Mean rank over the members, once every ESM is scored (ranks need the whole pool).
        tables = {
            name: {i: c.ranker_scores[name] for i, c in enumerate(configs)} for name in members
        }
        fused = rank_fusion(tables)
        scores = [fused[i] for i in range(len(configs))]
        for config, value in zip(configs, scores, strict=True):
            config.ranker_scores[FUSION] = value
    top_features = {source: mapped for _, _, source, mapped in sorted(kept, reverse=True)}
    if keep_top and ranker == FUSION and configs:
        # The heap kept the best by ESM-LogME; the rank intervals are for the fused top.
        order = sorted(range(len(configs)), key=lambda i: -scores[i])[:keep_top]
        fused_top = {}
        for i in order:
            source = sources[i]
            mapped = top_features.get(source)
            if mapped is None:
                mapped = map_target(*handle_of[source].load()[1:])
            fused_top[source] = mapped
        top_features = fused_top
    return ScoringResult(configs, scores, failures, messages, sources, top_features)


# --- target embeddings ---------------------------------------------------------------------


def _embed_target(dataset, base_model, batch_size, progress, cancel, embedding_cache):
    from hfselect_widgets.engine.embedding.model import embed_dataset

    return embed_dataset(
        dataset.texts,
        base_model,
        fingerprint=dataset.fingerprint(),
        cache=embedding_cache,
        batch_size=batch_size,
        progress=progress,
        cancel=cancel,
    )


def compute_scores(
    dataset,
    base_model,
    esms: Sequence[ESM | ESMHandle],
    tokenizer=None,
    batch_size: int = 128,
    device_name: str | None = "cpu",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    n_jobs: int | None = None,
    embedding_cache: Any = None,
) -> list[float]:
    """ESM-LogME scores of ``esms`` for ``dataset``, aligned with ``esms`` (NaN where one fails).

    Same meaning as ``hfselect.compute_scores``: ``base_model`` is a transformers model (or an
    engine ``BaseModel``) and ``tokenizer`` its tokenizer.
    """
    from hfselect_widgets.engine.embedding.model import wrap_base_model

    model = wrap_base_model(base_model, tokenizer, device_name or "cpu")
    embeddings = _embed_target(dataset, model, batch_size, progress, cancel, embedding_cache)
    handles = [
        e if isinstance(e, ESMHandle) else ESMHandle.from_esm(e, i) for i, e in enumerate(esms)
    ]
    # Unique sources so that results can be aligned back to the input order.
    for i, handle in enumerate(handles):
        handle.source = f"{handle.source}#{i}"
    result = score_embeddings(
        embeddings,
        dataset.labels,
        dataset.is_regression,
        handles,
        model_id=model.model_id,
        device=model.device,
        n_jobs=n_jobs,
        progress=progress,
        cancel=cancel,
    )
    by_source = dict(zip(result.sources, result.scores, strict=True))
    return [by_source.get(h.source, float("nan")) for h in handles]


# --- whole ranking --------------------------------------------------------------------------


def _package_versions() -> dict[str, str]:
    versions = {"hfselect_widgets": __version__, "python": platform.python_version()}
    for name in ("torch", "transformers", "huggingface_hub", "datasets", "numpy", "scipy"):
        try:
            module = __import__(name)
            versions[name] = getattr(module, "__version__", "?")
        except ImportError:
            continue
    return versions


def resolve_esm_handles(
    model_name: str | None,
    esms: Sequence[ESM] | None = None,
    esm_repo_ids: Sequence[str] | None = None,
    esm_dir: str | os.PathLike | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    hf_api: Any = None,
    max_bytes: int | None = None,
    max_workers: int = 8,
) -> tuple[list[ESMHandle], dict[str, str], str]:
    """Turn the ways of naming ESMs into lazily loaded handles.

    Returns ``(handles, failures, source_description)``. Exactly one source is used, in this
    order: ``esms`` objects, ``esm_dir``, ``esm_repo_ids`` (Hub ids or local folders), else the
    Hub's ESMs for ``model_name``.
    """
    failures: dict[str, str] = {}
    if esms is not None:
        return [ESMHandle.from_esm(e, i) for i, e in enumerate(esms)], failures, "esms"
    if esm_dir is not None:
        from hfselect_widgets.engine.esm.folder import scan_esm_dir

        folders, broken = scan_esm_dir(esm_dir)
        failures.update(broken)
        return [ESMHandle.from_folder(f) for f in folders], failures, f"folder {esm_dir}"
    from hfselect_widgets.engine.hub.discovery import find_esm_repo_ids
    from hfselect_widgets.engine.hub.download import download_esm_folders

    description = "repo ids"
    if esm_repo_ids is None:
        esm_repo_ids = find_esm_repo_ids(model_name=model_name, hf_api=hf_api)
        description = f"Hub ESMs for {model_name}"
    handles: list[ESMHandle] = []
    hub_ids = []
    for item in esm_repo_ids:
        if is_local_path(item):
            handles.append(ESMHandle.from_folder(os.path.expanduser(str(item))))
        else:
            hub_ids.append(str(item))
    if hub_ids:
        kwargs: dict[str, Any] = {
            "progress": progress,
            "cancel": cancel,
            "max_workers": max_workers,
        }
        if max_bytes is not None:
            kwargs["max_bytes"] = max_bytes
        folders, download_failures = download_esm_folders(hub_ids, **kwargs)
        failures.update(download_failures)
        handles.extend(
            ESMHandle.from_folder(folders[r], repo_id=r) for r in hub_ids if r in folders
        )
    return handles, failures, description


def compute_task_ranking(
    dataset,
    model_name: str | None = None,
    esms: Sequence[ESM] | None = None,
    esm_repo_ids: Sequence[str] | None = None,
    esm_dir: str | os.PathLike | None = None,
    batch_size: int = 128,
    device_name: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    pooling: str | None = None,
    embedding_cache: Any = None,
    n_jobs: int | None = None,
    hf_api: Any = None,
    max_bytes: int | None = None,
    ranker: str = ESM_LOGME,
    uncertainty: int = 0,
    resamples: int = defaults.RESAMPLES,
) -> TaskRanking:
    """Rank intermediate datasets for ``dataset`` by ESM-LogME or another ranker (higher is
    better).

    Same meaning as ``hfselect.compute_task_ranking``, plus:

    Args:
        dataset: the target :class:`~hfselect_widgets.engine.data.dataset.Dataset`.
        model_name: base model (Hub id or local folder); default
            ``bert-base-multilingual-uncased`` (the model most Hub ESMs were trained for).
        esms / esm_repo_ids / esm_dir: the ESM pool (objects, Hub ids or folders, a folder of
            ESM folders); none given means every Hub ESM for ``model_name``.
        batch_size: texts per embedding batch.
        device_name: ``"cpu"``, ``"cuda"``, or ``None``/``"auto"`` for CUDA when present.
        progress: ``progress(stage, done, total)`` for stages download, embedding, scoring.
        cancel: a ``threading.Event``; setting it raises :class:`RankingCancelled`.
        pooling: override the pooling detected for the base model.
        embedding_cache: ``True`` (default cache folder), an ``EmbeddingCache``, or ``None``.
        n_jobs: ESMs scored concurrently.
        hf_api: an ``HfApi``-like object for Hub discovery (tests inject one).
        max_bytes: refuse to download more than this many bytes of ESM weights.
        ranker: the score that orders the ESMs (:data:`.rankers.RANKERS`; default
            ``"esm-logme"``, hf-dataset-selector's score); recorded in ``metadata["ranker"]``,
            and every ranker's score of each ESM in ``config.ranker_scores``.
        uncertainty: bootstrap the target rows for the top ``uncertainty`` ESMs (e.g. 20; 0:
            off): each gets ``config.rank_interval`` (rank interval, P(rank 1), P(top 3); see
            :mod:`.uncertainty`), shown by ``to_pandas()`` and saved with the ranking.
        resamples: bootstrap resamples when ``uncertainty`` is on.

    ESMs that cannot be loaded or scored are skipped and listed in ``ranking.failures``.
    """
    from hfselect_widgets.engine.embedding.model import load_base_model

    started = time.time()
    check_cancel(cancel)
    model_name = str(model_name) if model_name is not None else DEFAULT_HUB_MODEL
    handles, failures, esm_source = resolve_esm_handles(
        model_name,
        esms=esms,
        esm_repo_ids=esm_repo_ids,
        esm_dir=esm_dir,
        progress=progress,
        cancel=cancel,
        hf_api=hf_api,
        max_bytes=max_bytes,
    )
    if not handles:
        if esms is None and esm_dir is None and esm_repo_ids is None:
            from hfselect_widgets.engine.hub.discovery import no_esms_found_error

            raise no_esms_found_error(model_name, hf_api=hf_api)
        raise NoESMsFoundError(model_name, coverage=None)

    check_cancel(cancel)
    base_model = load_base_model(model_name, pooling=pooling, device=device_name or "auto")
    embeddings = _embed_target(dataset, base_model, batch_size, progress, cancel, embedding_cache)
    result = score_embeddings(
        embeddings,
        dataset.labels,
        dataset.is_regression,
        handles,
        model_id=base_model.model_id,
        device=base_model.device,
        n_jobs=n_jobs,
        progress=progress,
        cancel=cancel,
        ranker=ranker,
        keep_top=uncertainty,
    )
    if uncertainty and result.top_features:
        from hfselect_widgets.engine.scoring.uncertainty import bootstrap_ranks

        check_cancel(cancel, STAGE_SCORING)
        by_source = dict(zip(result.sources, result.configs, strict=True))
        # the rest of the ranking, held at its scores: intervals are ranks in the whole list
        others = {
            member: {
                source: config.ranker_scores.get(member, float("nan"))
                for source, config in by_source.items()
                if source not in result.top_features
            }
            for member in ranker_members(ranker)
        }
        intervals = bootstrap_ranks(
            result.top_features,
            np.asarray(embeddings),
            np.asarray(dataset.labels),
            bool(dataset.is_regression),
            configs=by_source,
            ranker=ranker,
            resamples=resamples,
            n_jobs=n_jobs,
            others=others,
        )
        for source, interval in intervals.items():
            by_source[source].rank_interval = interval.to_dict()
    # ESMs named in the pool: the ones scored or skipped while scoring, plus those that could
    # not even be downloaded or found (already in ``failures``).
    num_esms = len(handles) + len(failures)
    failures.update(result.failures)
    if len(dataset) <= base_model.embedding_dim:
        # hfselect's LogME is not scale-invariant when N <= D (see DESIGN.md): rankings of
        # such small samples are unreliable (seen on the demo collection with 300 rows).
        result.warnings.append(
            f"The target sample has {len(dataset)} rows, not more than the embedding "
            f"dimension {base_model.embedding_dim}: LogME scores are unreliable for such "
            f"samples. Rank a sample of more than {base_model.embedding_dim} rows."
        )
    for message in result.warnings:
        warnings.warn(message, UserWarning, stacklevel=2)
    metadata = {
        "ranker": ranker,
        "uncertainty": {"top_k": uncertainty, "resamples": resamples} if uncertainty else None,
        "model_name": model_name,
        "model_id": base_model.model_id,
        "model_source": base_model.load_from,
        "pooling": base_model.pooling,
        "max_length": base_model.max_length,
        "embedding_dim": base_model.embedding_dim,
        "device": str(base_model.device),
        "dataset": dict(getattr(dataset, "metadata", {}) or {}),
        "num_examples": len(dataset),
        "is_regression": bool(dataset.is_regression),
        "seed": (getattr(dataset, "metadata", {}) or {}).get("seed"),
        "esm_source": esm_source,
        "num_esms": num_esms,
        "num_scored": len(result.scores),
        "warnings": result.warnings,
        "versions": _package_versions(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - started, 3),
    }
    if esm_repo_ids is not None:
        metadata["esm_repo_ids"] = [str(r) for r in esm_repo_ids]
    if esm_dir is not None:
        metadata["esm_dir"] = str(esm_dir)
    return TaskRanking(result.configs, result.scores, failures=failures, metadata=metadata)


__all__ = [
    "ESMHandle",
    "ScoringResult",
    "compute_scores",
    "compute_task_ranking",
    "default_n_jobs",
    "resolve_esm_handles",
    "score_embeddings",
]
