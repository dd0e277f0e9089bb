#!/usr/bin/env python
"""Are the rank intervals honest? Bootstraps against the real sampling variability of a ranking.

A rank interval claims: "with another sample of N rows of the same target, this ESM would land
about here". That claim can be checked where the target has many more rows than N: draw
``--truth`` independent samples of N rows, rank the ESMs on each (the real variability), then
take ``--bases`` other samples, bootstrap each the way the engine does, and compare:

* **spread**: each ESM's bootstrap standard deviation of its centred score (score minus the mean
  over the ESMs, what ranks depend on) over the real one (finite-population corrected);
  1 is honest, above 1 too wide (intervals that never separate), below 1 overconfident;
* **drift**: how far the ESMs' mean resampled scores move from their real scores, as the spread
  of those moves over the real standard deviation; a drift that differs per ESM reorders them;
* **leader**: the share of samples where the ESM with the highest P(rank 1) is the ranking's
  own first (a reader expects rank 1 to be the likeliest first);
* **coverage**: the share of (sample, ESM) whose 90 % rank interval holds the ESM's rank by its
  mean score over the independent samples (the ranking a larger study would give).

Methods: ``classic`` (rows drawn with replacement, the engine's method before 2026-12-07),
``classic, centred`` (the same, each ESM's resampled scores shifted to average to its real
score), ``bayesian`` (every row kept with a Dirichlet weight, the engine's weights, LogME
refitted on each resample), ``bayesian, centred`` (the same, centred: the engine's method
until the linearised one) and ``linearised`` (the engine's method: the same weights and
centring, each resample scored to first order from the rows' influences, run through
:func:`hfselect_widgets.engine.scoring.uncertainty.bootstrap_scores`).

Data: ``../shared/data`` (checked up front), the pip-packaged MiniLM and the bundled demo ESMs.
``--ranker logme-permutation`` checks the intervals of the front ends' default ranker (the
resampled rows keep their shuffled labels: the pair is what is resampled, as in the engine).

    .venv/bin/python benchmarks/bootstrap_calibration.py
    .venv/bin/python benchmarks/bootstrap_calibration.py --case cr:500 --case tweet_sentiment:1000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "bootstrap_calibration.json"
METHODS = ("classic", "classic, centred", "bayesian", "bayesian, centred", "linearised")


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Rank 1 = highest score, per row of ``scores`` (samples x ESMs)."""
    return (-scores).argsort(axis=1, kind="stable").argsort(axis=1) + 1


def _centred_sd(scores: np.ndarray) -> np.ndarray:
    return (scores - scores.mean(axis=1, keepdims=True)).std(axis=0)


def run_case(name: str, n: int, args, feats_of, labels_all) -> dict:
    from hfselect_widgets.engine.scoring.rankers import logme_target
    from hfselect_widgets.engine.scoring.uncertainty import bootstrap_scores, bootstrap_weights

    def target_of(index):
        # the ranker's target for these rows (the permutation control shuffles its labels in
        # the order of the rows' first ESM features, as bootstrap_scores below is told)
        return logme_target(args.ranker, labels_all[index], False, embeddings=feats_of[0][index])

    rng = np.random.default_rng(args.seed)
    population = len(labels_all)
    classes = set(labels_all.tolist())

    def sample() -> np.ndarray:
        while True:
            index = rng.choice(population, n, replace=False)
            if set(labels_all[index].tolist()) == classes:
                return index

    def plain(index) -> np.ndarray:
        target = target_of(index)
        return np.array([target.score(f[index]) for f in feats_of])

    started = time.perf_counter()
    truth = np.array([plain(sample()) for _ in range(args.truth)])
    # samples of n out of a finite pool vary less than samples from an endless one
    fpc = (population - n) / (population - 1)
    true_sd = _centred_sd(truth) / np.sqrt(fpc)
    true_ranks = _ranks(truth.mean(axis=0, keepdims=True))[0]
    log(
        f"{name}: truth from {args.truth} samples of {n} rows in {time.perf_counter() - started:.0f} s"
    )

    per_method = {m: {"spread": [], "drift": [], "leader": [], "coverage": []} for m in METHODS}
    for base in range(args.bases):
        index = sample()
        labels = labels_all[index]
        feats = [f[index] for f in feats_of]
        point = plain(index)
        target = target_of(index)
        classic = []
        for _ in range(args.resamples):
            while True:
                counts = np.bincount(rng.integers(0, n, n), minlength=n)
                if set(labels[counts > 0].tolist()) == classes:
                    break
            classic.append([target.resampled_score(f, counts) for f in feats])
        classic = np.array(classic)
        # the engine's weights, before centring (the engine centres them: the last method)
        weights = bootstrap_weights(n, args.resamples, seed=args.seed + base)
        bayes_raw = np.array([[target.resampled_score(f, w) for f in feats] for w in weights])
        _, linearised = bootstrap_scores(
            {str(i): f for i, f in enumerate(feats)},
            feats[0],
            labels,
            False,
            ranker=args.ranker,
            resamples=args.resamples,
            seed=args.seed + base,
        )
        drafts = {
            "classic": classic,
            "classic, centred": classic - classic.mean(axis=0) + point,
            "bayesian": bayes_raw,
            "bayesian, centred": bayes_raw - bayes_raw.mean(axis=0) + point,
            "linearised": linearised,
        }
        for method, scores in drafts.items():
            record = per_method[method]
            record["spread"].append((_centred_sd(scores) / true_sd).tolist())
            drift = scores.mean(axis=0) - point
            record["drift"].append(float((drift.max() - drift.min()) / np.median(true_sd)))
            ranks = _ranks(scores)
            p_first = (ranks == 1).mean(axis=0)
            record["leader"].append(bool(np.argmax(p_first) == np.argmax(point)))
            low = np.floor(np.quantile(ranks, 0.05, axis=0))
            high = np.ceil(np.quantile(ranks, 0.95, axis=0))
            record["coverage"].append(((low <= true_ranks) & (true_ranks <= high)).tolist())
        log(f"{name}: sample {base + 1} of {args.bases} ({time.perf_counter() - started:.0f} s)")

    summary = {}
    for method, record in per_method.items():
        spread = np.array(record["spread"]).ravel()
        summary[method] = {
            "spread_median": float(np.median(spread)),
            "spread_range": [float(spread.min()), float(spread.max())],
            "drift_median": float(np.median(record["drift"])),
            "leader_share": float(np.mean(record["leader"])),
            "coverage": float(np.mean(record["coverage"])),
        }
    return {
        "dataset": name,
        "n": n,
        "population": population,
        "esms": len(feats_of),
        "true_sd": true_sd.tolist(),
        "summary": summary,
        "raw": per_method,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--case",
        action="append",
        help="DATASET:N, a dataset of --data and the target size (default cr:500, "
        "tweet_sentiment:1000, mpqa:2000)",
    )
    parser.add_argument("--truth", type=int, default=40, help="independent samples per case")
    parser.add_argument("--bases", type=int, default=6, help="samples bootstrapped per case")
    parser.add_argument("--resamples", type=int, default=20, help="resamples per bootstrap")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--ranker",
        default="esm-logme",
        choices=["esm-logme", "logme-permutation"],
        help="the LogME ranker whose intervals are checked (logme-permutation: the front ends' "
        "default)",
    )
    args = parser.parse_args(argv)
    if not (args.data / "manifest.json").is_file():
        print(f"error: no labelled datasets at {args.data} (../shared/data)", file=sys.stderr)
        return 2

    import pandas as pd
    import torch

    from hfselect_widgets.demo import DEMO_MODEL, demo_esm_dir
    from hfselect_widgets.engine.embedding.model import embed_texts, load_base_model
    from hfselect_widgets.engine.scoring.ranking import ESMHandle

    base = load_base_model(DEMO_MODEL, device="cpu")
    esms = [ESMHandle.from_folder(f).load() for f in sorted(Path(demo_esm_dir()).iterdir())]
    results = []
    for case in args.case or ["cr:500", "tweet_sentiment:1000", "mpqa:2000"]:
        name, n = case.split(":")
        frame = pd.read_csv(args.data / name / "train.csv", keep_default_na=False)
        log(f"{name}: embedding {len(frame)} rows")
        x = torch.as_tensor(embed_texts(list(frame["text"]), base, 128), dtype=torch.float32)
        feats = [torch.nn.functional.linear(x, w, b).numpy().astype(np.float64) for _, w, b in esms]
        results.append(run_case(name, int(n), args, feats, frame["label"].to_numpy()))

    print(f"\n{'case':<22} {'method':<18} {'spread':>16} {'drift':>6} {'leader':>7} {'cover':>6}")
    for result in results:
        case = f"{result['dataset']} N={result['n']}"
        for method, s in result["summary"].items():
            spread = (
                f"{s['spread_median']:.2f} ({s['spread_range'][0]:.1f}-{s['spread_range'][1]:.1f})"
            )
            print(
                f"{case:<22} {method:<18} {spread:>16} {s['drift_median']:>6.2f} "
                f"{s['leader_share']:>7.2f} {s['coverage']:>6.2f}"
            )
    from hfselect_widgets.engine._io import write_json

    write_json(
        args.output,
        {
            "date": time.strftime("%Y-%m-%d"),
            "esm_collection": "bundled demo collection",
            "model": DEMO_MODEL,
            "truth_samples": args.truth,
            "bases": args.bases,
            "resamples": args.resamples,
            "ranker": args.ranker,
            "cases": results,
        },
        indent=1,
    )
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
