"""Scoring ESMs in batches on one device (a GPU): the torch LogME of :mod:`.logme_torch`.

The CPU path (:func:`.ranking.score_embeddings`) scores one ESM per thread. On a GPU one ESM is
far too little work, so here the ESMs are loaded in batches sized to the device's free memory,
mapped and scored in one call per batch, while a background thread already loads the next batch
from disk (or the Hugging Face cache): the device never waits for the disk longer than it must.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import numpy as np
import torch

from hfselect_widgets.engine.progress import (
    STAGE_SCORING,
    CancelToken,
    ProgressCallback,
    check_cancel,
    report,
)
from hfselect_widgets.engine.scoring.logme_torch import column_evidences_batch
from hfselect_widgets.engine.scoring.rankers import ESM_LOGME, LOGME_BATCHED, logme_target
from hfselect_widgets.errors import ESMError

MAX_BATCH = 256


def esm_batch_size(
    n: int, d: int, device: torch.device, dtype=torch.float64, columns: int = 1
) -> int:
    """ESMs per batch: what fits in a quarter of the device's free memory (CPU: 16).

    ``columns``: label columns scored per ESM (the fixed-point iteration keeps a few k x C
    temporaries: the permutation control has six times the target's columns)."""
    if device.type != "cuda":
        return 16
    free, _ = torch.cuda.mem_get_info(device)
    item = torch.finfo(dtype).bits // 8
    k = min(n, d)
    # features (N x D), the Gram and its eigenvectors (k x k, twice), weights (D x D, float32)
    per_esm = item * (n * d + 2 * k * k + 6 * k * columns) + 4 * d * d
    return int(max(1, min(MAX_BATCH, (free // 4) // per_esm)))


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def score_embeddings_batched(
    embeddings,
    labels,
    is_regression: bool,
    esms,
    *,
    model_id: str | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
    batch_size: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    total: int | None = None,
    ranker: str = ESM_LOGME,
):
    """ESM-LogME (or ``logme-permutation``) of every ESM in ``esms`` with the batched torch
    LogME on ``device``.

    Same inputs and result as :func:`.ranking.score_embeddings` (whose ``logme_backend``
    chooses this path); ``dtype`` is the LogME precision (float64 equals the NumPy path).
    For ``logme-permutation`` the real and the shuffled label columns share each batch's
    eigen-decompositions, and ESM-LogME (the real columns' mean) is kept beside it.
    """
    if ranker not in LOGME_BATCHED:
        raise ValueError(f"the batched path scores {sorted(LOGME_BATCHED)}, not {ranker!r}")
    from hfselect_widgets.engine.scoring.ranking import (
        ESMHandle,
        ScoringResult,
        load_checked,
        unchecked_model_warnings,
    )

    device = torch.device(device)
    x = torch.as_tensor(np.asarray(embeddings, dtype=np.float32)).to(device)
    n, d = x.shape
    target = logme_target(ranker, labels, is_regression, embeddings=np.asarray(embeddings))
    size = batch_size or esm_batch_size(n, d, device, dtype, columns=target.y.shape[1])
    handles = (
        h if isinstance(h, ESMHandle) else ESMHandle.from_esm(h, i) for i, h in enumerate(esms)
    )
    configs, scores, sources, failures, warned = [], [], [], {}, []

    def load(chunk):
        loaded = []
        for handle in chunk:
            try:
                loaded.append((handle, *load_checked(handle, d, model_id)))
            except ESMError as exc:
                failures[handle.source] = str(exc)
            except Exception as exc:  # one bad ESM never aborts a ranking
                failures[handle.source] = f"{type(exc).__name__}: {exc}"
        return loaded

    done = 0
    report(progress, STAGE_SCORING, 0, total)
    with ThreadPoolExecutor(1) as loader:
        chunks = _chunks(handles, size)
        upcoming = loader.submit(load, next(chunks, []))
        while True:
            check_cancel(cancel, STAGE_SCORING)
            loaded = upcoming.result()
            chunk = next(chunks, None)
            if chunk is not None:
                upcoming = loader.submit(load, chunk)  # read the next batch meanwhile
            if loaded:
                weights = torch.stack([w for _, _, w, _ in loaded]).to(device)
                biases = torch.stack([b for _, _, _, b in loaded]).to(device)
                with torch.inference_mode():
                    # float32 like hfselect's nn.Linear, then LogME in ``dtype``
                    features = x[None] @ weights.transpose(1, 2) + biases[:, None, :]
                    evidences = column_evidences_batch(features, target.y, dtype=dtype)
                evidences = evidences.cpu().numpy()
                plain = target.esm_logme(evidences)
                values = target.combine(evidences)
                for (handle, config, _, _), esm_logme, value in zip(
                    loaded, plain.tolist(), values.tolist(), strict=True
                ):
                    if not (np.isfinite(esm_logme) and np.isfinite(value)):
                        failures[handle.source] = "the LogME score is not finite"
                        continue
                    config.source = config.source or handle.source
                    config.ranker_scores = {ESM_LOGME: float(esm_logme), ranker: float(value)}
                    configs.append(config)
                    scores.append(float(value))
                    sources.append(handle.source)
                    if model_id is None:
                        warned.append(config.base_model_name)
            done += len(loaded)
            report(progress, STAGE_SCORING, done + len(failures), total)
            if chunk is None:
                break
    return ScoringResult(configs, scores, failures, unchecked_model_warnings(warned), sources)


__all__ = ["esm_batch_size", "score_embeddings_batched"]
