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
    x = torch.from_numpy(embeddings)
    esm_embeddings: list[list[np.ndarray]] = [[] for _ in esms]
    with stopwatch(times, "transform_s"), torch.no_grad():
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size]
            for i, esm in enumerate(esms):
                esm_embeddings[i].append(esm(batch).cpu().numpy())
    marks["after_transform_rss_mb"] = current_rss_mb()

    scores = []
    with stopwatch(times, "logme_s"):
        for features in esm_embeddings:
            scores.append(
                float(
                    LogME(regression=is_regression).fit(
                        np.vstack(features), labels, add_intercept=False
                    )
                )
            )
    return {
        "scores": dict(zip(folders, scores, strict=True)),
        "times": times,
        "jit_warmup_s": jit_s,
        "memory_marks": marks,
    }


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
