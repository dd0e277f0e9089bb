"""Benchmark worker for the reference, hf-dataset-selector 0.2.1 (run in its own virtualenv).

Jobs (see compare_hfselect.py):

* ``score``: precomputed base embeddings + ESM folders. ESMs are loaded with hfselect's own
  ``fetch_esms`` (all kept in a list), then the body of ``hfselect.compute_scores`` is replayed
  on the embeddings: batches of 128 rows through every ESM, each ESM's transformed batches
  appended to its list (K x N x D floats kept), then ``LogME(...).fit(np.vstack(...), labels)``
  per ESM. Only the base model's forward pass is left out.
* ``e2e``: hfselect's real ``compute_task_ranking`` on texts from a CSV file, with the base
  model given by its Hub id (served from a pre-filled, offline Hugging Face cache).

numba compiles LogME's SVD on first use; a tiny LogME fit runs before the clock starts.
"""

from __future__ import annotations

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
    """Compile hfselect's numba kernels (N > D takes the ``truncated_svd`` path)."""
    from hfselect.logme import LogME

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    features = rng.standard_normal((64, 16))
    labels = rng.standard_normal(64) if is_regression else rng.integers(0, 2, 64)
    LogME(regression=is_regression).fit(features, labels, add_intercept=False)
    return time.perf_counter() - start


def score_job(job: dict) -> dict:
    import torch
    from hfselect.logme import LogME
    from hfselect.utils import fetch_esms

    embeddings = np.load(job["embeddings"])
    labels = np.load(job["labels"])
    is_regression = bool(job["is_regression"])
    folders = job["folders"]
    batch_size = int(job.get("batch_size", 128))
    jit_s = warm_up_logme(is_regression)
    marks = {"setup_rss_mb": current_rss_mb()}

    times: dict[str, float] = {}
    with stopwatch(times, "load_s"):
        esms = fetch_esms(folders)  # hfselect's loader: every ESM stays in memory
    if len(esms) != len(folders):
        raise RuntimeError(f"hfselect loaded {len(esms)} of {len(folders)} ESMs")

    # The loop of hfselect.compute_scores, minus the base model: per-ESM lists of batches.
    # Each ESM's share of the time is recorded too: all ESMs do the same work, so the median
    # over ESMs filters out bursts of other load on a shared machine.
    x = torch.from_numpy(embeddings)
    esm_embeddings: list[list[np.ndarray]] = [[] for _ in esms]
    transform_each = [0.0] * len(esms)
    with stopwatch(times, "transform_s"), torch.no_grad():
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size]
            for i, esm in enumerate(esms):
                began = time.perf_counter()
                esm_embeddings[i].append(esm(batch).cpu().numpy())
                transform_each[i] += time.perf_counter() - began
    marks["after_transform_rss_mb"] = current_rss_mb()

    # ``logme_limit`` (the default mode's largest K): every ESM's embeddings are kept as above,
    # which is what sets hfselect's memory peak, but only the first ones are scored.
    limit = job.get("logme_limit") or len(esms)
    scores, logme_each = [], []
    with stopwatch(times, "logme_s"):
        for features in esm_embeddings[:limit]:
            began = time.perf_counter()
            score = LogME(regression=is_regression).fit(
                np.vstack(features), labels, add_intercept=False
            )
            scores.append(float(score))
            logme_each.append(time.perf_counter() - began)
    single = single_thread_per_esm(
        esms, x, labels, is_regression, int(job.get("single_thread_sample", 0)), batch_size
    )
    torch.set_num_threads(int(job["threads"]))
    return {
        "scores": dict(zip(folders[: len(scores)], scores, strict=True)),
        "times": times,
        "transform_each_s": transform_each,
        "logme_each_s": logme_each,
        "single_thread_s": single,
        "jit_warmup_s": jit_s,
        "memory_marks": marks,
    }


def single_thread_per_esm(esms, x, labels, is_regression, sample, batch_size) -> list[float]:
    """Seconds per ESM (apply + LogME, as above) for the first ``sample`` ESMs on one thread.

    A second, contention-robust figure: on a shared machine a multi-threaded BLAS call waits
    for its slowest thread, so work per ESM on one core compares implementations more fairly.
    """
    import torch
    from hfselect.logme import LogME
    from threadpoolctl import threadpool_limits

    seconds = []
    torch.set_num_threads(1)
    with threadpool_limits(limits=1), torch.no_grad():
        for esm in esms[:sample]:
            start = time.perf_counter()
            parts = [esm(x[s : s + batch_size]).cpu().numpy() for s in range(0, len(x), batch_size)]
            LogME(regression=is_regression).fit(np.vstack(parts), labels, add_intercept=False)
            seconds.append(time.perf_counter() - start)
    return seconds


def e2e_job(job: dict) -> dict:
    import datasets
    import pandas as pd
    from hfselect import Dataset, compute_task_ranking

    jit_s = warm_up_logme(bool(job["is_regression"]))
    frame = pd.read_csv(job["csv"]).iloc[: int(job["rows"])]
    marks = {"setup_rss_mb": current_rss_mb()}
    times: dict[str, float] = {}
    with stopwatch(times, "total_s"):
        # hfselect.Dataset around a datasets.Dataset, as from_hugging_face builds it
        hf_data = datasets.Dataset.from_pandas(
            frame[[job["text_col"], job["label_col"]]], preserve_index=False
        )
        dataset = Dataset(hf_data, job["text_col"], job["label_col"], bool(job["is_regression"]))
        ranking = compute_task_ranking(
            dataset,
            model_name=job["model_name"],
            esm_repo_ids=job["folders"],  # fetch_esms accepts local ESM folders
            batch_size=128,
            device_name="cpu",
        )
    scores = {
        config.task_id: float(score)
        for config, score in zip(ranking.esm_configs, ranking.scores, strict=True)
    }
    return {"scores": scores, "times": times, "jit_warmup_s": jit_s, "memory_marks": marks}


def main() -> None:
    job, result_path = read_job()
    pin_torch_threads(int(job["threads"]))
    runner = {"score": score_job, "e2e": e2e_job}[job["kind"]]
    result = runner(job)
    result["threads"] = threads_in_use()
    result["packages"] = packages(
        ("hfselect", "torch", "transformers", "numpy", "scipy", "numba", "datasets")
    )
    write_result(result_path, result)


if __name__ == "__main__":
    main()
