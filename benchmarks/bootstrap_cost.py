#!/usr/bin/env python
"""What rank intervals cost: the bootstrap for the top K ESMs against the plain ranking of them.

K random linear ESMs (D x D weights, D = 768) are scored for N = 1,000 random target embeddings
with 2-class labels by ``score_embeddings`` (the plain ranking, keeping the mapped target
features of all K for the bootstrap), then ``bootstrap_ranks`` resamples the target rows (the
engine's Bayesian bootstrap: every row reweighted). Also timed in the same run, per resample of
the K ESMs: a classic resample (rows drawn with replacement) scored by materialising its N rows
or from its row counts (its ~0.63 N distinct rows, weighted; the largest difference between the
two is printed), and a Bayesian resample (all N rows, weighted), the engine's method since
2026-12-07 (see ``bootstrap_calibration.py`` for why). No network and no ``../shared`` needed.
Each figure is the median of ``--repeats`` runs, interleaved, since the machine is shared.

    .venv/bin/python benchmarks/bootstrap_cost.py
    .venv/bin/python benchmarks/bootstrap_cost.py --k 20 --dim 768 --n 1000 --resamples 10 20
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch


def _random_esms(k: int, dim: int, seed: int):
    from hfselect_widgets.engine.esm.format import ESM

    torch.manual_seed(seed)
    esms = []
    for i in range(k):
        esm = ESM(architecture="linear", embedding_dim=dim)
        with torch.no_grad():
            for p in esm.parameters():
                p.copy_(torch.randn_like(p) / dim**0.5)
        esm.config.task_id = f"random/esm-{i:03d}"
        esm.config.base_model_name = "random/base"
        esms.append(esm)
    return esms


def main(argv=None) -> int:
    from hfselect_widgets.engine.scoring.logme import LogMETarget, logme
    from hfselect_widgets.engine.scoring.ranking import (
        _single_threaded_blas,
        default_n_jobs,
        score_embeddings,
    )
    from hfselect_widgets.engine.scoring.uncertainty import bootstrap_ranks

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--resamples", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default=None, help="write the figures as JSON")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.n, args.dim)).astype(np.float32)
    labels = rng.integers(0, 2, args.n)
    esms = _random_esms(args.k, args.dim, seed=0)
    if score_embeddings(x, labels, False, esms[:1]).failures:
        raise SystemExit("the random ESMs do not score; see score_embeddings' failures")

    plain_times: list[float] = []
    boot_times: dict[int, list[float]] = {r: [] for r in args.resamples}
    features = None
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = score_embeddings(x, labels, False, esms, keep_top=args.k)
        plain_times.append(time.perf_counter() - started)
        features = result.top_features
        for r in args.resamples:
            started = time.perf_counter()
            bootstrap_ranks(features, x, labels, False, resamples=r)
            boot_times[r].append(time.perf_counter() - started)
    plain = statistics.median(plain_times)

    # The per-resample LogME of the K ESMs, both methods, on the same resamples and threads.
    target = LogMETarget(labels)
    draws = [rng.integers(0, args.n, args.n) for _ in range(max(args.resamples))]
    names = list(features)
    workers = max(1, min(default_n_jobs(), len(draws)))

    def materialised(index):
        return [logme(features[name][index], labels[index]) for name in names]

    def weighted(index):
        counts = np.bincount(index, minlength=args.n)
        return [target.resampled_score(features[name], counts) for name in names]

    dirichlet = [rng.dirichlet(np.ones(args.n)) * args.n for _ in draws]

    def bayesian(weights):
        return [target.resampled_score(features[name], weights) for name in names]

    method_times = {"materialised": [], "weighted": [], "bayesian": []}
    largest_difference = 0.0
    with _single_threaded_blas(workers > 1), ThreadPoolExecutor(workers) as pool:
        for _ in range(args.repeats):
            for label, method in (("materialised", materialised), ("weighted", weighted)):
                started = time.perf_counter()
                scores = list(pool.map(method, draws))
                method_times[label].append(time.perf_counter() - started)
                if label == "materialised":
                    reference = np.array(scores)
                else:
                    largest_difference = max(
                        largest_difference,
                        float(np.max(np.abs(np.array(scores) - reference) / np.abs(reference))),
                    )
            started = time.perf_counter()
            list(pool.map(bayesian, dirichlet))
            method_times["bayesian"].append(time.perf_counter() - started)
    per_resample = {k: statistics.median(v) / len(draws) for k, v in method_times.items()}

    figures = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": platform.processor() or platform.machine(),
        "threads": default_n_jobs(),
        "k": args.k,
        "dim": args.dim,
        "n": args.n,
        "repeats": args.repeats,
        "plain_ranking_s": plain,
        "bootstrap_s": {str(r): statistics.median(v) for r, v in boot_times.items()},
        "bootstrap_ratio": {str(r): statistics.median(v) / plain for r, v in boot_times.items()},
        "per_resample_logme_s": per_resample,
        "weighted_speedup": per_resample["materialised"] / per_resample["weighted"],
        "largest_relative_difference": largest_difference,
    }
    print(f"K = {args.k}, D = {args.dim}, N = {args.n}, {default_n_jobs()} threads")
    print(f"plain ranking of the {args.k}: {plain:.2f} s (median of {args.repeats})")
    for r in args.resamples:
        seconds = figures["bootstrap_s"][str(r)]
        print(
            f"bootstrap, {r} resamples: {seconds:.2f} s = {seconds / plain:.2f}x the plain ranking"
        )
    print(
        f"one resample's LogME for the {args.k}: a classic resample materialised"
        f" {per_resample['materialised']:.3f} s,"
        f" from its counts {per_resample['weighted']:.3f} s ({figures['weighted_speedup']:.2f}x"
        f" faster; largest relative difference {largest_difference:.1e}); a Bayesian resample"
        f" (all rows weighted, the engine's) {per_resample['bayesian']:.3f} s"
    )
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
