#!/usr/bin/env python
"""A 10,000-ESM pool on one machine: rank through the Hub code path, offline, with flat memory.

1. **Generate** (resumable) K random linear ESMs (D = 384 by default, ``--dim 768``) directly
   into a Hugging Face hub cache under ``--root`` (huggingface_hub's layout:
   ``hub/models--bench-pool--esm-d384-00042/{blobs,snapshots/<commit>,refs/main}``), as if they
   had been downloaded. ``refs/main`` is written last, so an ESM whose ref exists is complete and
   a second run skips it. The free disk space is checked first (``shutil.disk_usage``).
2. **Index**: the engine's :class:`ESMIndex` for the pool, built through ``ESMIndex.load`` with
   an injected ``HfApi`` stand-in (it only lists the repo ids; every config comes from the
   cache with ``HF_HUB_OFFLINE=1``), cached under ``--root/cache``.
3. **Rank**, once per pool size in ``--sizes`` (default 1,000 and 10,000), each in a fresh
   subprocess so that each has its own peak memory: a synthetic target (N = 1,000 embeddings,
   2 classes) is ranked against the first K ESMs, stage by stage: index load, index filter,
   resolve (``resolve_esm_handles``: ``hf_hub_download`` from the offline cache), load (every
   ESM read and checked once, on its own), score (``score_embeddings``: load + map + LogME,
   streamed), sort (``TaskRanking``). Peak RSS (``VmHWM``) of each subprocess is reported and
   the growth between the smallest and the largest K (goal: under 150 MB).

Results go to ``benchmarks/results/large_pool.json``; the README section quotes them.

    .venv/bin/python benchmarks/large_pool.py                      # D = 384, K = 10,000
    .venv/bin/python benchmarks/large_pool.py --dim 768 --root /big/disk/pool
    .venv/bin/python benchmarks/large_pool.py --generate-only      # resumable generation
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "large_pool.json"
BASE_MODEL = {384: "sentence-transformers/all-MiniLM-L6-v2", 768: "google-bert/bert-base-uncased"}
ORG = "bench-pool"
LANGUAGES = ("en", "de", "fr", "es", "multilingual")
CONFIG_BYTES = 2_500  # a config.json with the transformers keys, rounded up


def repo_id(dim: int, index: int) -> str:
    return f"{ORG}/esm-d{dim}-{index:05d}"


def storage_dir(hub: Path, repo: str) -> Path:
    return hub / ("models--" + repo.replace("/", "--"))


def esm_bytes(dim: int) -> int:
    return dim * dim * 4 + dim * 4 + 200 + CONFIG_BYTES


def check_disk(root: Path, dim: int, missing: int) -> dict[str, float]:
    """Refuse to start when the missing ESMs would not fit with 2 GB to spare."""
    probe = root
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    needed = missing * esm_bytes(dim) * 1.05  # blocks and directory entries
    info = {"free_gb": round(free / 1e9, 2), "needed_gb": round(needed / 1e9, 2)}
    if needed + 2e9 > free:
        raise SystemExit(
            f"Not enough disk under {probe}: {missing} ESMs of D = {dim} need "
            f"{info['needed_gb']} GB, {info['free_gb']} GB are free (2 GB are kept spare). "
            "Choose another --root or a smaller --k / --dim."
        )
    return info


def _config(dim: int, index: int) -> dict[str, Any]:
    from hfselect_widgets.engine.esm.format import ESMConfig, _transformers_defaults

    config = ESMConfig(
        base_model_name=BASE_MODEL.get(dim, f"bench/base-d{dim}"),
        task_id=f"bench/synthetic-task-{index:05d}",
        task_split="train",
        text_column="text",
        label_column="label",
        num_examples=int(500 + (index * 7919) % 9500),
        seed=index,
        language=LANGUAGES[index % len(LANGUAGES)],
        esm_architecture="linear",
        esm_embedding_dim=dim,
        developers="benchmarks/large_pool.py",
    )
    data = _transformers_defaults()  # published ESMs carry the PretrainedConfig keys too
    data.update(config.to_dict())
    return data


def _write_repo(hub: Path, repo: str, files: dict[str, bytes]) -> None:
    """One repo in huggingface_hub's cache layout; ``refs/main`` last (the completion mark)."""
    storage = storage_dir(hub, repo)
    digest = hashlib.sha1(repo.encode())
    for name in sorted(files):
        digest.update(name.encode() + hashlib.sha256(files[name]).digest())
    commit = digest.hexdigest()
    snapshot = storage / "snapshots" / commit
    (storage / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    (storage / "refs").mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        blob = storage / "blobs" / hashlib.sha256(data).hexdigest()
        if not blob.exists():
            tmp = blob.with_suffix(".incomplete")
            tmp.write_bytes(data)
            os.replace(tmp, blob)
        pointer = snapshot / name
        if pointer.is_symlink() or pointer.exists():
            pointer.unlink()
        pointer.symlink_to(os.path.relpath(blob, snapshot))
    (storage / "refs" / "main").write_text(commit)


def is_complete(hub: Path, repo: str) -> bool:
    storage = storage_dir(hub, repo)
    ref = storage / "refs" / "main"
    if not ref.is_file():
        return False
    snapshot = storage / "snapshots" / ref.read_text().strip()
    return all((snapshot / n).exists() for n in ("config.json", "model.safetensors"))


def generate(root: Path, dim: int, k: int) -> dict[str, Any]:
    """Write the missing ones of K ESM repos into the cache; return counts and timings."""
    from safetensors.numpy import save

    hub = root / "hf-home" / "hub"
    hub.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    missing = [i for i in range(k) if not is_complete(hub, repo_id(dim, i))]
    scan_seconds = time.perf_counter() - started
    disk = check_disk(root, dim, len(missing))
    print(f"{k - len(missing)} of {k} ESMs already in {hub}; writing {len(missing)}", flush=True)
    written_at = time.perf_counter()
    for count, i in enumerate(missing, 1):
        rng = np.random.default_rng(i)
        # identity plus a perturbation of its own size: the ESMs score differently
        size = float(rng.uniform(0.05, 1.2))
        weight = np.eye(dim, dtype=np.float32)
        weight += rng.standard_normal((dim, dim), dtype=np.float32) * np.float32(size / dim**0.5)
        bias = rng.standard_normal(dim, dtype=np.float32) * np.float32(0.05)
        tensors = save({"model.weight": weight, "model.bias": bias}, metadata={"format": "pt"})
        config = json.dumps(_config(dim, i), indent=2, sort_keys=True).encode()
        _write_repo(hub, repo_id(dim, i), {"config.json": config, "model.safetensors": tensors})
        if count % 1000 == 0:
            print(f"  {count} / {len(missing)} written", flush=True)
    return {
        "k": k,
        "dim": dim,
        "already_there": k - len(missing),
        "written": len(missing),
        "scan_seconds": round(scan_seconds, 2),
        "write_seconds": round(time.perf_counter() - written_at, 2),
        "disk": disk,
        "pool_gb": round(k * esm_bytes(dim) / 1e9, 2),
    }


# --- the Hub stand-in and the index ------------------------------------------------------------


class PoolHfApi:
    """The two ``HfApi`` calls the engine makes for a pool: list the repos, name the model."""

    def __init__(self, dim: int, k: int):
        self.dim, self.k = dim, k
        self.model = BASE_MODEL.get(dim, f"bench/base-d{dim}")

    def model_info(self, repo: str, **kwargs: Any):
        return type("Info", (), {"id": repo, "tags": [], "siblings": None})()

    def list_models(self, *, filter=None, **kwargs: Any):
        tags = ["embedding_space_map", f"base_model:{self.model}"]
        for i in range(self.k):
            yield type("Info", (), {"id": repo_id(self.dim, i), "tags": tags})()


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HOME=str(root / "hf-home"),
        HF_HUB_CACHE=str(root / "hf-home" / "hub"),
        HF_HUB_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HFSELECT_WIDGETS_CACHE=str(root / "cache"),
        PYTHONPATH=str(HERE.parent),
    )
    return env


def _vm(field: str) -> float | None:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return round(float(line.split()[1]) / 1024, 1)
    return None


def build_index(dim: int, k: int) -> dict[str, Any]:
    """(In a subprocess with the pool's environment.) Build and save the ESM index."""
    from hfselect_widgets.engine.esm.index import ESMIndex

    api = PoolHfApi(dim, k)
    started = time.perf_counter()
    index = ESMIndex.load(api.model, refresh=True, hf_api=api, max_workers=8)
    seconds = time.perf_counter() - started
    return {
        "esms": len(index),
        "failures": len(index.failures),
        "build_seconds": round(seconds, 2),
        "peak_rss_mb": _vm("VmHWM"),
    }


def rank_pool(
    dim: int, k: int, n: int, n_jobs: int | None, backend: str = "auto"
) -> dict[str, Any]:
    """(In a subprocess.) Rank a synthetic target against the first K ESMs, stage by stage."""
    import torch

    from hfselect_widgets.engine.esm.index import ESMIndex
    from hfselect_widgets.engine.scoring.ranking import (
        load_checked,
        resolve_esm_handles,
        score_embeddings,
    )
    from hfselect_widgets.engine.scoring.result import TaskRanking

    baseline = _vm("VmRSS")
    model = BASE_MODEL.get(dim, f"bench/base-d{dim}")
    rng = np.random.default_rng(0)
    latent = rng.standard_normal((n, dim)).astype(np.float32)
    labels = (latent[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype(np.int64)  # 2 classes
    stages: dict[str, float] = {}

    def timed(name: str, fn, *args, **kwargs):
        started = time.perf_counter()
        value = fn(*args, **kwargs)
        stages[name] = round(time.perf_counter() - started, 3)
        return value

    api = PoolHfApi(dim, k)
    index = timed("index_load", ESMIndex.load, model, hf_api=api)
    wanted = {repo_id(dim, i) for i in range(k)}
    pool = timed("index_filter", index.filter, repo_ids=wanted, base_model=model)
    # A typical user filter over the whole index, repeated for a stable figure.
    repeats = 20
    started = time.perf_counter()
    for _ in range(repeats):
        typical = index.filter(task_id="task-0", language="en", min_examples=2000)
    typical_ms = (time.perf_counter() - started) / repeats * 1000
    ids = [c.repo_id for c in pool]
    handles, failures, _ = timed(
        "resolve", resolve_esm_handles, model, esm_repo_ids=ids, hf_api=api
    )

    def load_all():
        bad = 0
        for handle in handles:
            try:
                load_checked(handle, dim, model)
            except Exception:
                bad += 1
        return bad

    load_failures = timed("load", load_all)
    after_load = _vm("VmHWM")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    result = timed(
        "score",
        score_embeddings,
        latent,
        labels,
        False,
        handles,
        model_id=model,
        n_jobs=n_jobs,
        logme_backend=backend,
    )
    ranking = timed("sort", TaskRanking, result.configs, result.scores, failures=result.failures)
    return {
        "k": k,
        "n": n,
        "dim": dim,
        "logme_backend": backend,
        "index_size": len(index),
        "pool": len(ids),
        "scored": len(result.scores),
        "failures": len(failures) + len(result.failures) + load_failures,
        "stages_s": stages,
        "per_esm_ms": {
            name: round(stages[name] / max(1, k) * 1000, 3) for name in ("resolve", "load", "score")
        },
        "typical_filter_ms": round(typical_ms, 2),
        "typical_filter_matches": len(typical),
        "top": ranking.repo_ids[0] if len(ranking) else None,
        "rss_mb": {
            "after_imports": baseline,
            "peak_after_load_pass": after_load,
            "peak": _vm("VmHWM"),
            "end": _vm("VmRSS"),
        },
    }


def _subprocess(root: Path, job: dict[str, Any], nice: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--_job", json.dumps(job), "--_out", str(out)]
        if nice:
            cmd = ["nice", "-n", str(nice), *cmd]
        subprocess.run(cmd, env=_env(root), check=True)
        return json.loads(out.read_text())


def _run_job(job: dict[str, Any], out: str) -> None:
    if job["kind"] == "index":
        result = build_index(job["dim"], job["k"])
    else:
        result = rank_pool(
            job["dim"], job["k"], job["n"], job.get("n_jobs"), job.get("backend", "auto")
        )
    Path(out).write_text(json.dumps(result, indent=1))


def machine() -> dict[str, Any]:
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": len(os.sched_getaffinity(0)),
        "machine": platform.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=10_000, help="ESMs in the pool")
    parser.add_argument("--dim", type=int, default=384, help="embedding dimension (384 or 768)")
    parser.add_argument("--n", type=int, default=1000, help="target rows")
    parser.add_argument("--sizes", default="1000,10000", help="pool sizes to rank, each alone")
    parser.add_argument("--root", default=None, help="where the pool lives (default: a temp dir)")
    parser.add_argument("--n-jobs", type=int, default=None, help="ESMs scored concurrently")
    parser.add_argument(
        "--backend", default="auto", help="logme_backend: auto (NumPy on CPU), numpy, torch"
    )
    parser.add_argument("--nice", type=int, default=10, help="niceness of the subprocesses")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--output", default=str(RESULTS), help="the JSON result file")
    parser.add_argument("--_job", help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._job:
        _run_job(json.loads(args._job), args._out)
        return 0
    root = Path(args.root or Path(tempfile.gettempdir()) / f"hfselect-large-pool-d{args.dim}")
    root.mkdir(parents=True, exist_ok=True)
    print(f"Pool: {root}", flush=True)
    generation = generate(root, args.dim, args.k)
    print(json.dumps(generation), flush=True)
    if args.generate_only:
        return 0
    index = _subprocess(root, {"kind": "index", "dim": args.dim, "k": args.k}, args.nice)
    print("index:", json.dumps(index), flush=True)
    runs = []
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        job = {"kind": "rank", "dim": args.dim, "k": min(size, args.k), "n": args.n}
        job.update(n_jobs=args.n_jobs, backend=args.backend)
        run = _subprocess(root, job, args.nice)
        print(f"K = {run['k']}:", json.dumps(run), flush=True)
        runs.append(run)
    peaks = [r["rss_mb"]["peak"] for r in runs]
    report = {
        "benchmark": "large_pool",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "generation": generation,
        "index": index,
        "runs": runs,
        "peak_rss_growth_mb": round(peaks[-1] - peaks[0], 1) if len(peaks) > 1 else None,
        "goal_growth_mb": 150,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=1) + "\n")
    print(f"peak RSS growth K={runs[0]['k']} -> {runs[-1]['k']}: {report['peak_rss_growth_mb']} MB")
    print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
