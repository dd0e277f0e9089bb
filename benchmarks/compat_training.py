#!/usr/bin/env python
"""Compatibility both ways with hf-dataset-selector 0.2.1, for ESMs that are *trained*.

Shows, each side in its own virtualenv and subprocess:

1. ESMs we train and save load in hfselect 0.2.1 (``hfselect.ESM.from_pretrained(folder)``)
   and give the same outputs as ours on random inputs: every ESM of the bundled demo collection
   (trained by :func:`train_esm` with the least-squares fit) and one trained here by our
   hfselect-compatible ``ESMTrainer.train_with_embeddings``;
2. ESMs trained and saved by hfselect 0.2.1 (``hfselect.ESMTrainer.train_with_embeddings``)
   load here (``hfselect_widgets.ESM.from_pretrained``) with the same outputs.

Steps: ours (train one ESM, compute our outputs) -> hfselect (train one ESM, compute its
outputs for every folder) -> ours (load hfselect's ESM, compute our outputs) -> compare. The
parent only reads ``.npy`` files and prints the table. Not a test: it needs hfselect's venv::

    python benchmarks/compat_training.py [--hfselect-python benchmarks/.hfselect-venv/bin/python]

The same file is the worker of both sides (``--side ours|hfselect JOB.json``); in worker mode it
imports only the side's own package.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
DEFAULT_HFSELECT_PYTHON = HERE / ".hfselect-venv" / "bin" / "python"
NUM_INPUTS = 256
TOLERANCE = 1e-6
TRAIN_ROWS = 512


def _random_pairs(dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Embedding pairs related by a known affine map plus a little noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((TRAIN_ROWS, dim)).astype(np.float32)
    transform = np.eye(dim) + 0.1 * rng.standard_normal((dim, dim))
    y = x @ transform.T + 0.05 + 0.01 * rng.standard_normal((TRAIN_ROWS, dim))
    return x, y.astype(np.float32)


def _outputs(module, inputs: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return module(torch.from_numpy(inputs)).detach().cpu().numpy().astype(np.float32)


# --- workers ---------------------------------------------------------------------------------


def _ours_make(job: dict) -> dict:
    """Train one ESM with our hfselect-compatible trainer; our outputs for every folder."""
    sys.path.insert(0, str(REPO_ROOT))
    import torch

    from hfselect_widgets.engine.embedding.pairs import EmbeddingDataset
    from hfselect_widgets.engine.esm.format import ESM
    from hfselect_widgets.engine.training.trainer import ESMTrainer

    torch.manual_seed(0)
    work = Path(job["work"])
    dim = int(job["dim"])
    x, y = _random_pairs(dim, seed=1)
    metadata = {"base_model_name": "compat/base-model", "task_id": "compat/ours-trainer"}
    folder = work / "ours_trainer"
    ESMTrainer().train_with_embeddings(
        EmbeddingDataset(x, y, metadata), output_dir=str(folder), num_epochs=2, verbose=0
    )
    inputs = np.load(work / "inputs.npy")
    report = {}
    for name, path in [*job["folders"].items(), ("ours_trainer", str(folder))]:
        esm = ESM.from_pretrained(path)
        np.save(work / f"{name}.ours.npy", _outputs(esm, inputs[:, : esm.embedding_dim]))
        report[name] = {"path": path, "dim": esm.embedding_dim, "task_id": esm.config.task_id}
    return report


def _hfselect_side(job: dict) -> dict:
    """Train one ESM with hfselect; hfselect's outputs for every folder it is given."""
    import torch
    from hfselect import ESM, ESMTrainer
    from hfselect.embedding_dataset import EmbeddingDataset

    torch.manual_seed(0)
    work = Path(job["work"])
    dim = int(job["dim"])
    x, y = _random_pairs(dim, seed=2)
    metadata = {"base_model_name": "compat/base-model", "task_id": "compat/hfselect-trainer"}
    folder = work / "hfselect_trainer"
    ESMTrainer().train_with_embeddings(
        EmbeddingDataset(x, y, metadata), output_dir=str(folder), num_epochs=2, verbose=0
    )
    inputs = np.load(work / "inputs.npy")
    folders = {**job["folders"], "ours_trainer": str(work / "ours_trainer")}
    folders["hfselect_trainer"] = str(folder)
    report = {}
    for name, path in folders.items():
        esm = ESM.from_pretrained(path)
        config = esm.config if isinstance(esm.config, dict) else esm.config.to_dict()
        np.save(
            work / f"{name}.hfselect.npy",
            _outputs(esm, inputs[:, : int(config["esm_embedding_dim"])]),
        )
        report[name] = {
            "task_id": config.get("task_id"),
            "version": config.get("version"),
            "legacy": bool(esm.is_legacy_model),
        }
    return report


def _ours_load(job: dict) -> dict:
    """Load hfselect's trained ESM with ours; our outputs for it."""
    sys.path.insert(0, str(REPO_ROOT))
    from hfselect_widgets.engine.esm.format import ESM

    work = Path(job["work"])
    inputs = np.load(work / "inputs.npy")
    esm = ESM.from_pretrained(work / "hfselect_trainer")
    np.save(work / "hfselect_trainer.ours.npy", _outputs(esm, inputs[:, : esm.embedding_dim]))
    return {"hfselect_trainer": {"dim": esm.embedding_dim, "task_id": esm.config.task_id}}


WORKERS = {"ours-make": _ours_make, "hfselect": _hfselect_side, "ours-load": _ours_load}


# --- the parent ------------------------------------------------------------------------------


def _run(python: str, side: str, job_path: Path) -> dict:
    result_path = job_path.with_suffix(f".{side}.json")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    completed = subprocess.run(
        [python, str(Path(__file__).resolve()), "--side", side, str(job_path), str(result_path)],
        env=env,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise SystemExit(f"the {side} side failed:\n{completed.stdout}\n{completed.stderr}")
    return json.loads(result_path.read_text(encoding="utf-8"))


def _esm_folders(esm_dir: Path) -> dict[str, str]:
    return {
        p.parent.name: str(p.parent)
        for p in sorted(esm_dir.glob("*/config.json"))
        if (p.parent / "model.safetensors").is_file() and not p.parent.name.startswith(".")
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--esm-dir", type=Path, default=REPO_ROOT / "hfselect_widgets/demo/esms")
    parser.add_argument("--ours-python", default=sys.executable)
    parser.add_argument("--hfselect-python", default=str(DEFAULT_HFSELECT_PYTHON))
    parser.add_argument("--dim", type=int, default=384, help="dimension of the trained ESMs")
    args = parser.parse_args(argv)

    if args.side:  # worker mode
        job_path, result_path = map(Path, args.paths)
        result = WORKERS[args.side](json.loads(job_path.read_text(encoding="utf-8")))
        result_path.write_text(json.dumps(result, indent=1), encoding="utf-8")
        return 0

    if not Path(args.hfselect_python).is_file():
        print(
            f"hfselect's virtualenv is missing ({args.hfselect_python}): create it with "
            "hf-dataset-selector==0.2.1, scipy and torch==2.13.0, or pass --hfselect-python.",
            file=sys.stderr,
        )
        return 2
    folders = _esm_folders(args.esm_dir)
    with tempfile.TemporaryDirectory(prefix="compat-training-") as tmp:
        work = Path(tmp)
        max_dim = max([args.dim, 384])
        inputs = np.random.default_rng(0).standard_normal((NUM_INPUTS, max_dim))
        np.save(work / "inputs.npy", inputs.astype(np.float32))
        job_path = work / "job.json"
        job = {"work": str(work), "dim": args.dim, "folders": folders}
        job_path.write_text(json.dumps(job), encoding="utf-8")

        ours = _run(args.ours_python, "ours-make", job_path)
        theirs = _run(args.hfselect_python, "hfselect", job_path)
        ours.update(_run(args.ours_python, "ours-load", job_path))

        rows = []
        for name in [*folders, "ours_trainer", "hfselect_trainer"]:
            written_by = "hfselect 0.2.1" if name == "hfselect_trainer" else "hfselect_widgets"
            a = np.load(work / f"{name}.ours.npy")
            b = np.load(work / f"{name}.hfselect.npy")
            diff = float(np.max(np.abs(a - b)))
            same_task = ours[name]["task_id"] == theirs[name]["task_id"]
            ok = diff <= TOLERANCE and same_task and not theirs[name]["legacy"]
            rows.append((name, written_by, ours[name]["dim"], diff, theirs[name], same_task, ok))

    print(
        f"\n{'ESM':<28} {'written by':<17} {'D':>4} {'max |ours - hfselect|':>22} "
        f"{'hfselect sees':<34} {'task_id':>7} {'ok':>3}"
    )
    for name, written_by, dim, diff, seen, same_task, ok in rows:
        seen_text = f"version {seen['version']}, legacy={seen['legacy']}"
        print(
            f"{name:<28} {written_by:<17} {dim:>4} {diff:>22.2e} {seen_text:<34} "
            f"{'same' if same_task else 'DIFF':>7} {'yes' if ok else 'NO':>3}"
        )
    all_ok = all(row[-1] for row in rows)
    print(f"\n{len(rows)} ESMs, outputs on {NUM_INPUTS} random inputs; tolerance {TOLERANCE:g}.")
    print("COMPATIBLE" if all_ok else "INCOMPATIBLE")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
