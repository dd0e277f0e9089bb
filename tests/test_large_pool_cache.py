"""Large pools: the benchmark's generated Hub cache is valid, and scoring never holds every ESM.

``benchmarks/large_pool.py`` writes thousands of ESMs straight into a Hugging Face cache; these
tests check on a handful that what it writes resolves offline through the engine and that a
second run skips what is there. Memory flat in the number of ESMs rests on the scorers taking
ESMs from an iterator a bounded number at a time; the batched (torch) path is checked here, the
thread pool path in ``test_ranking.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from hfselect_widgets.engine.esm.format import ESM, load_esm_parts, resolve_esm_folder
from hfselect_widgets.engine.scoring.batched import score_embeddings_batched
from hfselect_widgets.engine.scoring.ranking import ESMHandle

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "large_pool.py"


def _benchmark_module():
    spec = importlib.util.spec_from_file_location("large_pool_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_pool_resolves_offline_and_generation_resumes(tmp_path):
    """Each generated repo loads through ``hf_hub_download`` from the cache (offline, as in
    conftest); a second run writes nothing and leaves the files alone."""
    bench = _benchmark_module()
    first = bench.generate(tmp_path, dim=6, k=3)
    assert (first["written"], first["already_there"]) == (3, 0)
    hub = tmp_path / "hf-home" / "hub"
    folder, repo = resolve_esm_folder(bench.repo_id(6, 1), cache_dir=str(hub))
    config, weight, bias = load_esm_parts(folder, repo_id=repo)
    assert config.task_id == "bench/synthetic-task-00001" and weight.shape == (6, 6)
    assert config.base_model_name and config.esm_embedding_dim == 6
    blob = next((bench.storage_dir(hub, bench.repo_id(6, 0)) / "blobs").iterdir())
    mtime = blob.stat().st_mtime_ns
    (bench.storage_dir(hub, bench.repo_id(6, 2)) / "refs" / "main").unlink()  # interrupted
    again = bench.generate(tmp_path, dim=6, k=3)
    assert (again["written"], again["already_there"]) == (1, 2)
    assert blob.stat().st_mtime_ns == mtime


def test_batched_scoring_takes_esms_lazily_a_few_batches_at_a_time():
    """The torch path pulls ESMs from the iterator at most two batches ahead of what it has
    scored: with 100 ESMs and batches of 8, never more than 16 are loaded but unscored. If it
    held the whole pool at once (``list(esms)``), the first check would see 100."""
    dim, batch = 6, 8
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, dim)).astype(np.float32)
    labels = rng.integers(0, 2, 30)
    state = {"taken": 0, "scored": 0, "most_ahead": 0}

    def progress(stage, done, total):
        state["scored"] = done

    def esms():
        for i in range(100):
            state["taken"] += 1
            state["most_ahead"] = max(state["most_ahead"], state["taken"] - state["scored"])
            esm = ESM(embedding_dim=dim, config={"task_id": f"t{i}", "base_model_name": "m"})
            with torch.no_grad():
                esm.model.weight.copy_(torch.eye(dim) + 0.1 * torch.randn(dim, dim))
            yield ESMHandle.from_esm(esm, i)

    result = score_embeddings_batched(
        x, labels, False, esms(), model_id="m", batch_size=batch, progress=progress
    )
    assert len(result.scores) == 100
    assert state["most_ahead"] <= 2 * batch
