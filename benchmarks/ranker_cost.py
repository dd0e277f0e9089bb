#!/usr/bin/env python
"""What each ranker costs against ESM-LogME, per ESM, on the CPU path the front ends use.

K random linear ESMs (D x D weights) are scored for N random target embeddings with C-class
labels by ``score_embeddings`` (the engine's streaming CPU path: ESMs in parallel threads) with
each ranker. Every ranking records ESM-LogME beside its own score, so a ranker's time includes
it: ``esm-logme`` alone is the reference. ``logme-permutation`` (the front ends' default) fits
LogME once for the real and 5 shuffled label columns together, so the question is what the
extra columns cost. No network and no ``../shared`` needed. Each figure is the median of
``--repeats`` runs, the rankers interleaved within each repeat, since the machine is shared;
the ratios are to ESM-LogME measured in the same run.

    .venv/bin/python benchmarks/ranker_cost.py
    .venv/bin/python benchmarks/ranker_cost.py --k 40 --dim 768 --n 1000 --classes 2 6
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
from bootstrap_cost import _random_esms


def main(argv=None) -> int:
    from hfselect_widgets.engine.scoring.ranking import default_n_jobs, score_embeddings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=40)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--classes", type=int, nargs="+", default=[2, 6])
    parser.add_argument("--rankers", nargs="+", default=["esm-logme", "logme-permutation", "knn"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write the figures to this JSON file")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.n, args.dim)).astype(np.float32)
    esms = _random_esms(args.k, args.dim, seed=0)
    print(
        f"K = {args.k} ESMs, D = {args.dim}, N = {args.n}, {default_n_jobs()} jobs, "
        f"medians of {args.repeats} (ratios to esm-logme in the same run)"
    )
    results = []
    for classes in args.classes:
        labels = rng.integers(0, classes, args.n)
        # warm-up (imports, thread pools)
        score_embeddings(x, labels, False, esms[:2], ranker=args.rankers[0])
        times: dict[str, list[float]] = {r: [] for r in args.rankers}
        for _ in range(args.repeats):
            for ranker in args.rankers:
                started = time.perf_counter()
                result = score_embeddings(x, labels, False, esms, ranker=ranker)
                times[ranker].append(time.perf_counter() - started)
                assert len(result.scores) == args.k, result.failures
        reference = statistics.median(times["esm-logme"])
        for ranker in args.rankers:
            median = statistics.median(times[ranker])
            row = {
                "classes": classes,
                "ranker": ranker,
                "seconds": round(median, 3),
                "ms_per_esm": round(1000 * median / args.k, 1),
                "ratio_to_esm_logme": round(median / reference, 2),
            }
            results.append(row)
            print(
                f"  {classes} classes  {ranker:<18} {median:7.2f} s  "
                f"{row['ms_per_esm']:6.1f} ms/ESM  {row['ratio_to_esm_logme']:.2f}x"
            )
    if args.json:
        meta = {"k": args.k, "dim": args.dim, "n": args.n, "jobs": default_n_jobs()}
        meta["machine"] = f"{platform.machine()}, {platform.python_version()}"
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"settings": meta, "results": results}, handle, indent=1)
            handle.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
