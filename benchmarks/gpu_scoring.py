#!/usr/bin/env python
"""LogME scoring speed: the NumPy CPU path against the batched torch path (GPU when present).

K random ESMs (D x D weights, D = 768 by default) are scored for N = 1,000 random target
embeddings with 2-class labels, in one run, on both paths, and with the hfselect recipe (a
per-ESM ``nn.Linear`` then the reference LogME, the loop of hf-dataset-selector's
``compute_scores``) on a subset for the ratio. Reported: seconds per ESM of each, their ratios,
the largest score difference (float64 must stay under 1e-6) and the float32 option's error.
No network and no ``../shared`` needed. The ESMs live in memory (the Hub-cache pool benchmark is
``compare_hfselect.py``); the point here is the arithmetic. ``--ranker logme-permutation`` (the
front ends' default) scores the real and 5 shuffled label columns on both paths instead (the
hfselect recipe still computes plain ESM-LogME, its only score).

    .venv/bin/python benchmarks/gpu_scoring.py                 # K = 10000 on CUDA, 200 on CPU
    .venv/bin/python benchmarks/gpu_scoring.py --k 2000 --dim 384
    .venv/bin/python benchmarks/gpu_scoring.py --ranker logme-permutation
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch


def main(argv=None) -> int:
    from hfselect_widgets.engine.scoring.batched import esm_batch_size
    from hfselect_widgets.engine.scoring.logme import logme_reference
    from hfselect_widgets.engine.scoring.logme_torch import column_evidences_batch
    from hfselect_widgets.engine.scoring.rankers import logme_target

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=None, help="ESMs (default 10000 CUDA, 200 CPU)")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--cpu-k", type=int, default=50, help="ESMs scored on the NumPy path")
    parser.add_argument("--reference-k", type=int, default=10, help="ESMs on the hfselect recipe")
    parser.add_argument("--output", default=None, help="write the figures as JSON")
    parser.add_argument("--ranker", default="esm-logme", choices=["esm-logme", "logme-permutation"])
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    k = args.k or (10000 if device.type == "cuda" else 200)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.n, args.dim)).astype(np.float32)
    labels = rng.integers(0, 2, args.n)
    generator = torch.Generator().manual_seed(0)

    def weights(i: int, count: int):
        w = torch.randn(count, args.dim, args.dim, generator=generator) / args.dim**0.5
        b = torch.randn(count, args.dim, generator=generator) * 0.01
        return w, b

    # NumPy path (per ESM), on the first cpu_k ESMs.
    target = logme_target(args.ranker, labels, False, embeddings=x)

    def logme_batch(features, labels, dtype=torch.float64):
        evidences = column_evidences_batch(features, target.y, dtype=dtype)
        return torch.as_tensor(target.combine(evidences.cpu().numpy()))

    w_cpu, b_cpu = weights(0, args.cpu_k)
    started = time.perf_counter()
    cpu_scores = [
        target.score(torch.nn.functional.linear(torch.as_tensor(x), w, b).numpy())
        for w, b in zip(w_cpu, b_cpu, strict=True)
    ]
    cpu_per_esm = (time.perf_counter() - started) / args.cpu_k

    # hfselect's recipe on the first reference_k.
    started = time.perf_counter()
    for w, b in zip(w_cpu[: args.reference_k], b_cpu[: args.reference_k], strict=True):
        layer = torch.nn.Linear(args.dim, args.dim)
        layer.weight.data, layer.bias.data = w, b
        with torch.no_grad():
            logme_reference(layer(torch.as_tensor(x)).numpy().astype(np.float64), labels)
    reference_per_esm = (time.perf_counter() - started) / args.reference_k

    # Batched torch path on the device: every ESM, batches sized to free memory.
    xd = torch.as_tensor(x, device=device)
    size = esm_batch_size(args.n, args.dim, device)
    torch_scores, float32_scores = [], []
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    done = 0
    while done < k:
        count = min(size, k - done)
        w, b = weights(done, count)
        if done == 0:
            # The first ESMs are the ones the NumPy path scored: compare their scores.
            shared = min(count, args.cpu_k)
            w[:shared], b[:shared] = w_cpu[:shared], b_cpu[:shared]
        w, b = w.to(device, non_blocking=True), b.to(device, non_blocking=True)
        with torch.inference_mode():
            features = xd[None] @ w.transpose(1, 2) + b[:, None, :]
            torch_scores.extend(logme_batch(features, labels).tolist())
        done += count
    if device.type == "cuda":
        torch.cuda.synchronize()
    torch_seconds = time.perf_counter() - started
    with torch.inference_mode():
        features = xd[None] @ w_cpu.to(device).transpose(1, 2) + b_cpu.to(device)[:, None, :]
        started = time.perf_counter()
        float32_scores = logme_batch(features, labels, dtype=torch.float32).tolist()
        if device.type == "cuda":
            torch.cuda.synchronize()
        float32_per_esm = (time.perf_counter() - started) / args.cpu_k
    overlap = min(args.cpu_k, len(torch_scores))
    figures = {
        "ranker": args.ranker,
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor(),
        "k": k,
        "n": args.n,
        "dim": args.dim,
        "esm_batch": size,
        "numpy_s_per_esm": cpu_per_esm,
        "hfselect_recipe_s_per_esm": reference_per_esm,
        "torch_s_per_esm": torch_seconds / k,
        "torch_total_s": torch_seconds,
        "torch_float32_s_per_esm": float32_per_esm,
        "speedup_vs_numpy": cpu_per_esm / (torch_seconds / k),
        "speedup_vs_hfselect_recipe": reference_per_esm / (torch_seconds / k),
        "max_abs_diff_float64": float(
            np.max(np.abs(np.subtract(torch_scores[:overlap], cpu_scores[:overlap])))
        ),
        "max_abs_diff_float32": float(
            np.max(np.abs(np.subtract(float32_scores, cpu_scores[: len(float32_scores)])))
        ),
    }
    print(json.dumps(figures, indent=1))
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(figures, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
