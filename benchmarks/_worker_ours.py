"""Benchmark worker for our engine (run with the project's virtualenv).

Jobs (see compare_hfselect.py):

* ``score``: precomputed base embeddings, ESMs given as folders (lazy ``ESMHandle``s, paths
  only) or as Hub repo ids served from a pre-filled offline cache; ``score_embeddings`` with
  ``n_jobs`` = the thread budget (each job single-threaded BLAS).
* ``e2e``: ``compute_task_ranking`` on texts from a CSV file with an ``esm_dir``.
* ``embed``: ``embed_texts`` (length-sorted batches padded to their longest text) against the
  same model fed as hfselect feeds it (every text padded to 128 tokens), same process.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from _bench_common import (
    current_rss_mb,
    packages,
    pin_torch_threads,
    read_job,
    stopwatch,
    threads_in_use,
    write_result,
)


def warm_up_logme(is_regression: bool) -> float:
    """First-call costs (LAPACK bindings, threadpoolctl), as the reference side gets its JIT."""
    from hfselect_widgets.engine.scoring.logme import LogMETarget

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    labels = rng.standard_normal(64) if is_regression else rng.integers(0, 2, 64)
    LogMETarget(labels, regression=is_regression).score(rng.standard_normal((64, 16)))
    return time.perf_counter() - start


def score_job(job: dict) -> dict:
    from hfselect_widgets.engine.scoring.ranking import (
        ESMHandle,
        resolve_esm_handles,
        score_embeddings,
    )

    embeddings = np.load(job["embeddings"])
    labels = np.load(job["labels"])
    is_regression = bool(job["is_regression"])
    threads = int(job["threads"])
    warm_s = warm_up_logme(is_regression)
    marks = {"setup_rss_mb": current_rss_mb()}

    times: dict[str, float] = {}
    with stopwatch(times, "total_s"):
        repo_ids = job.get("repo_ids")
        if repo_ids:  # Hub ids: resolved in the (offline) cache, loaded lazily like folders
            handles, failures, _ = resolve_esm_handles(None, esm_repo_ids=repo_ids)
            if failures:
                raise RuntimeError(f"could not resolve {len(failures)} repo ids: {failures}")
            keys = repo_ids
        else:
            handles = [ESMHandle.from_folder(folder) for folder in job["folders"]]
            keys = job["folders"]
        started = time.perf_counter()
        finished: list[float] = []  # when each ESM's score came back, seconds from the start

        def progress(stage: str, done: int, total: int | None) -> None:
            if done > len(finished):
                finished.append(time.perf_counter() - started)

        result = score_embeddings(
            embeddings,
            labels,
            is_regression,
            handles,
            model_id=None,
            n_jobs=threads,
            progress=progress,
        )
    by_source = {
        config.source: float(score)
        for config, score in zip(result.configs, result.scores, strict=True)
    }
    scores = {key: by_source.get(key, float("nan")) for key in keys}
    single = single_thread_per_esm(
        embeddings, labels, is_regression, handles, int(job.get("single_thread_sample", 0))
    )
    return {
        "scores": scores,
        "single_thread_s": single,
        "finished_s": finished,
        "failures": result.failures,
        "times": times,
        "warmup_s": warm_s,
        "memory_marks": marks,
    }


def single_thread_per_esm(embeddings, labels, is_regression, handles, sample) -> list[float]:
    """Seconds per ESM (load + apply + LogME) for the first ``sample`` ESMs on one thread.

    The counterpart of the reference worker's figure: one ``score_embeddings`` call per ESM
    with ``n_jobs=1`` and every BLAS/torch pool limited to one thread.
    """
    import torch
    from threadpoolctl import threadpool_limits

    from hfselect_widgets.engine.scoring.ranking import score_embeddings

    seconds = []
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            for handle in handles[:sample]:
                start = time.perf_counter()
                score_embeddings(
                    embeddings, labels, is_regression, [handle], model_id=None, n_jobs=1
                )
                seconds.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return seconds


def e2e_job(job: dict) -> dict:
    import pandas as pd

    from hfselect_widgets.engine.data.dataset import Dataset
    from hfselect_widgets.engine.scoring.ranking import compute_task_ranking

    warm_s = warm_up_logme(bool(job["is_regression"]))
    frame = pd.read_csv(job["csv"]).iloc[: int(job["rows"])]
    marks = {"setup_rss_mb": current_rss_mb()}
    times: dict[str, float] = {}
    with stopwatch(times, "total_s"):
        dataset = Dataset.from_pandas(
            frame,
            job["text_col"],
            job["label_col"],
            is_regression=bool(job["is_regression"]),
        )
        ranking = compute_task_ranking(
            dataset,
            model_name=job["model_name"],
            esm_dir=job["esm_dir"],
            batch_size=128,
            device_name="cpu",
            n_jobs=int(job["threads"]),
        )
    scores = dict(zip(ranking.task_ids, (float(s) for s in ranking.scores), strict=True))
    return {
        "scores": scores,
        "failures": dict(ranking.failures),
        "pooling": ranking.metadata.get("pooling"),
        "model_source": ranking.metadata.get("model_source"),
        "times": times,
        "warmup_s": warm_s,
        "memory_marks": marks,
    }


def _embed_fixed_length(texts, base_model, batch_size: int = 128) -> np.ndarray:
    """hfselect's way: every text padded (and truncated) to 128 tokens, in input order."""
    import torch

    from hfselect_widgets.engine.embedding.model import pool

    out = np.empty((len(texts), base_model.embedding_dim), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            encoded = base_model.tokenizer(
                list(texts[start : start + batch_size]),
                padding="max_length",
                truncation=True,
                max_length=128,
                return_tensors="pt",
                return_token_type_ids=False,
            )
            outputs = base_model.model(
                input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]
            )
            pooled = pool(outputs, encoded["attention_mask"], base_model.pooling)
            out[start : start + len(pooled)] = pooled.float().numpy()
    return out


def embed_job(job: dict) -> dict:
    import pandas as pd

    from hfselect_widgets.engine.embedding.model import embed_texts, load_base_model

    texts = pd.read_csv(job["csv"])[job["text_col"]].astype(str).tolist()[: int(job["rows"])]
    base_model = load_base_model(job["model_name"], device="cpu")
    # warm-up of both paths (first-call allocations, oneDNN kernels)
    embed_texts(texts[:16], base_model)
    _embed_fixed_length(texts[:16], base_model)

    dynamic_s, fixed_s = [], []
    for _ in range(int(job.get("repeats", 1))):
        start = time.perf_counter()
        dynamic = embed_texts(texts, base_model, batch_size=128)
        dynamic_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        fixed = _embed_fixed_length(texts, base_model, batch_size=128)
        fixed_s.append(time.perf_counter() - start)
    lengths = [
        len(ids)
        for ids in base_model.tokenizer(texts, truncation=True, max_length=128)["input_ids"]
    ]
    return {
        "rows": len(texts),
        "pooling": base_model.pooling,
        "model_source": base_model.load_from,
        "dynamic_s": dynamic_s,
        "fixed_s": fixed_s,
        "max_abs_diff": float(np.max(np.abs(dynamic - fixed))),
        "tokens_mean": statistics.fmean(lengths),
        "tokens_max": max(lengths),
    }


def main() -> None:
    job, result_path = read_job()
    pin_torch_threads(int(job["threads"]))
    runner = {"score": score_job, "e2e": e2e_job, "embed": embed_job}[job["kind"]]
    result = runner(job)
    result["threads"] = threads_in_use()
    result["packages"] = packages(
        ("hfselect_widgets", "torch", "transformers", "numpy", "scipy", "datasets")
    )
    write_result(result_path, result)


if __name__ == "__main__":
    main()
