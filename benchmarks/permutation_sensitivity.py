#!/usr/bin/env python
"""How much the permutation control's own randomness moves its ranking quality.

``logme-permutation`` subtracts the mean LogME of a few shuffled copies of the target's labels;
which shuffles are drawn is chance. This rescores the pool benchmark's targets (the ESMs and
target embeddings ``ranking_quality.py`` keeps in its work folder) with several shuffle seeds
and numbers of shuffles, and evaluates each against the committed real-transfer results: the
spread over seeds is the ranker's Monte-Carlo noise, to set beside the intervals of the report.
Needs the work folder of ``ranking_quality.py`` (``RQ_WORKDIR``, with ``esms/`` and
``embeddings/``), so ``../shared/data`` must have been there to build it.

    RQ_WORKDIR=../rq_work .venv/bin/python benchmarks/permutation_sensitivity.py
    RQ_WORKDIR=../rq_work .venv/bin/python benchmarks/permutation_sensitivity.py \
        --shuffles 5 20 50 --seeds 6 4 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "ranking_quality"
METRICS = ("spearman", "regret@1", "regret@3", "ndcg@3")


def main(argv=None) -> int:
    sys.path.insert(0, str(HERE))
    from ranking_quality import _own_esm

    from hfselect_widgets.engine.evaluation import report_from_results
    from hfselect_widgets.engine.scoring.rankers import make_scorer
    from hfselect_widgets.engine.scoring.ranking import ESMHandle

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=os.environ.get("RQ_WORKDIR"))
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--shuffles", type=int, nargs="+", default=[5, 20, 50])
    parser.add_argument("--seeds", type=int, nargs="+", default=[6, 4, 2], help="per --shuffles")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if args.workdir is None or not (Path(args.workdir) / "embeddings").is_dir():
        parser.error("set RQ_WORKDIR (or --workdir) to ranking_quality.py's work folder")
    work = Path(args.workdir)
    base_scores = json.loads((args.results / "scores.json").read_text())
    esms = {
        f.name: ESMHandle.from_folder(f).load()
        for f in sorted((work / "esms").iterdir())
        if (f / "config.json").is_file()
    }
    samples, features = {}, {}
    for path in sorted((work / "embeddings").glob("target_*.npz")):
        name = path.stem.split("_", 1)[1]
        data = np.load(path)
        samples[name] = (data["x"], data["y"])
        x = torch.as_tensor(data["x"], dtype=torch.float32)
        features[name] = {
            source: torch.nn.functional.linear(x, weight, bias).numpy()
            for source, (_, weight, bias) in esms.items()
            if not _own_esm(f"target:{name}", source)
        }
    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="perm-sensitivity-"))
    try:
        shutil.copy(args.results / "transfer.jsonl", scratch / "transfer.jsonl")
        for shuffles, seeds in zip(args.shuffles, args.seeds, strict=False):
            for seed in range(seeds):
                table = {}
                for name, (x, y) in samples.items():
                    scorer = make_scorer(
                        "logme-permutation", x, y, False, permutations=shuffles, seed=seed
                    )
                    table[f"target:{name}"] = {
                        s: float(scorer(f, None)) for s, f in features[name].items()
                    }
                scores = {"esm-logme": base_scores["esm-logme"], "permutation": table}
                (scratch / "scores.json").write_text(json.dumps(scores))
                frame = report_from_results(scratch, num_bootstrap=args.bootstrap).to_pandas()
                mine = frame[frame["ranker"] == "permutation"].set_index("metric")["mean"]
                row = {"shuffles": shuffles, "seed": seed, **{m: float(mine[m]) for m in METRICS}}
                rows.append(row)
                print(
                    f"{shuffles:3d} shuffles, seed {seed}: "
                    + ", ".join(f"{m} {row[m]:.3f}" for m in METRICS),
                    flush=True,
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
