#!/usr/bin/env python
"""What rank intervals cost: the bootstrap for the top K ESMs against the plain ranking of them.

K random linear ESMs (D x D weights, D = 768) are scored for N = 1,000 random target embeddings
with 2-class labels by ``score_embeddings`` (the plain ranking, keeping the mapped target
features of all K for the bootstrap), then ``bootstrap_ranks`` resamples the target rows (the
engine's Bayesian bootstrap: every row reweighted) in its two ways: **linearised** (the
engine's default when N > D: each row's influence on LogME from one eigen-decomposition per
ESM, then O(N) per resample) and **exact** (``linearised=False``: LogME refitted on every
resample, the engine's method until 2026-12-07). No network and no ``../shared`` needed. Each
figure is the median of ``--repeats`` runs, interleaved with the plain ranking, since the
machine is shared; the ratios are to the plain ranking measured in the same run.

    .venv/bin/python benchmarks/bootstrap_cost.py
    .venv/bin/python benchmarks/bootstrap_cost.py --k 20 --dim 768 --n 1000 --resamples 20 100
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

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
    from hfselect_widgets.engine.scoring.ranking import default_n_jobs, score_embeddings
    from hfselect_widgets.engine.scoring.uncertainty import bootstrap_ranks, bootstrap_scores

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument(
        "--resamples", type=int, nargs="+", default=[20, 100], help="linearised bootstraps"
    )
    parser.add_argument(
        "--exact-resamples", type=int, default=10, help="resamples of the exact bootstrap"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default=None, help="write the figures as JSON")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.n, args.dim)).astype(np.float32)
    labels = rng.integers(0, 2, args.n)
    esms = _random_esms(args.k, args.dim, seed=0)
    if score_embeddings(x, labels, False, esms[:1]).failures:
        raise SystemExit("the random ESMs do not score; see score_embeddings' failures")

    runs = {f"linearised, {r}": (r, True) for r in args.resamples}
    runs[f"exact, {args.exact_resamples}"] = (args.exact_resamples, False)
    plain_times: list[float] = []
    times: dict[str, list[float]] = {label: [] for label in runs}
    features = None
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = score_embeddings(x, labels, False, esms, keep_top=args.k)
        plain_times.append(time.perf_counter() - started)
        features = result.top_features
        for label, (resamples, linearised) in runs.items():
            started = time.perf_counter()
            bootstrap_ranks(features, x, labels, False, resamples=resamples, linearised=linearised)
            times[label].append(time.perf_counter() - started)
    plain = statistics.median(plain_times)

    # How close the first-order resamples are to the refitted ones, on the same weights.
    r = args.exact_resamples
    _, linear = bootstrap_scores(features, x, labels, False, resamples=r, linearised=True)
    _, exact = bootstrap_scores(features, x, labels, False, resamples=r, linearised=False)
    linear_sd, exact_sd = linear.std(axis=0), exact.std(axis=0)
    agreement = {
        "spread_ratio_median": float(np.median(linear_sd / exact_sd)),
        "correlation_median": float(
            np.median([np.corrcoef(linear[:, j], exact[:, j])[0, 1] for j in range(args.k)])
        ),
    }

    figures = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": platform.processor() or platform.machine(),
        "threads": default_n_jobs(),
        "k": args.k,
        "dim": args.dim,
        "n": args.n,
        "repeats": args.repeats,
        "plain_ranking_s": plain,
        "bootstrap_s": {label: statistics.median(v) for label, v in times.items()},
        "bootstrap_ratio": {label: statistics.median(v) / plain for label, v in times.items()},
        "linearised_vs_exact": agreement,
    }
    print(f"K = {args.k}, D = {args.dim}, N = {args.n}, {default_n_jobs()} threads")
    print(f"plain ranking of the {args.k}: {plain:.2f} s (median of {args.repeats})")
    for label in runs:
        seconds = figures["bootstrap_s"][label]
        print(
            f"bootstrap, {label} resamples: {seconds:.2f} s = {seconds / plain:.2f}x"
            " the plain ranking"
        )
    print(
        f"linearised vs exact on the same {r} resamples (random features, the hardest case for"
        f" a first-order method): spread ratio {agreement['spread_ratio_median']:.2f},"
        f" correlation {agreement['correlation_median']:.2f} (medians over the ESMs)"
    )
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
