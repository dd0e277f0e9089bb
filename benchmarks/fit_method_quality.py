"""Which ESM fit gives better rankings: closed-form least squares or hfselect's SGD recipe?

An ESM approximates how fine-tuning the base model on an intermediate dataset moves the
embeddings. The ranking it should reproduce is therefore the one we would get *without* the
approximation: LogME of the target embedded by the actually fine-tuned model. For each pair
(intermediate dataset i, target dataset j) this script computes

* ``oracle[i, j]``: LogME of target j embedded by the model fine-tuned on i;
* ``ls[i, j]`` / ``sgd[i, j]``: ESM-LogME with the ESM for i fitted by least squares / by
  hfselect's SGD recipe (MSE, AdamW, 10 epochs, batch 32, learning rate 1e-2) on the same
  embedding pairs.

and reports, per target, the rank correlation (Spearman, Kendall) of each ESM ranking with the
oracle ranking, whether the oracle's top intermediate dataset is the ESM ranking's top 1, and the
held-out fit quality (MSE, R²) of each ESM. Data: ``../shared/data`` (real labelled datasets),
base model: the pip-packaged all-MiniLM-L6-v2, fine-tuning: the paper's recipe (3 epochs,
learning rate 2e-5, batch 32) on ``--train-rows`` rows.

Usage::

    .venv/bin/python benchmarks/fit_method_quality.py [--datasets mr trec ...] [--train-rows 1000]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
DEFAULT_DATASETS = [
    "mr",
    "subj",
    "trec",
    "ag_news",
    "sms_spam",
    "tweet_sentiment",
    "emotion6",
    "hate_offensive",
    "sick_nli",
    "stsb",
]


def load(name: str, split: str, rows: int, seed: int):
    from hfselect_widgets.engine.data.dataset import Dataset

    manifest = {
        d["short_name"]: d for d in json.loads((DATA / "manifest.json").read_text())["datasets"]
    }
    entry = manifest[name]
    text_cols = [c for c in entry["columns"] if c != "label"]
    return Dataset.from_file(
        DATA / entry["files"][split],
        text_col=text_cols[0] if len(text_cols) == 1 else text_cols,
        label_col="label",
        is_regression=entry["task_type"].startswith("regression"),
        num_examples=rows,
        seed=seed,
        name=f"shared/{name}",
    )


def rank_correlations(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    from scipy.stats import kendalltau, spearmanr

    return float(spearmanr(a, b).statistic), float(kendalltau(a, b).statistic)


def main() -> None:
    from hfselect_widgets.engine.embedding.model import embed_texts, load_base_model
    from hfselect_widgets.engine.embedding.pairs import (
        as_tuned_base_model,
        create_embedding_dataset,
    )
    from hfselect_widgets.engine.esm.fit import fit_esm
    from hfselect_widgets.engine.model_ids import DEMO_MODEL
    from hfselect_widgets.engine.scoring.logme import LogMETarget
    from hfselect_widgets.engine.training.finetune import FineTuneConfig, fine_tune

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=DEFAULT_DATASETS)
    parser.add_argument("--train-rows", type=int, default=1000)
    parser.add_argument("--target-rows", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} not found: this benchmark needs ../shared/data")

    base = load_base_model(DEMO_MODEL, device="cpu")
    names = args.datasets
    targets = {n: load(n, "test", args.target_rows, seed=0) for n in names}
    target_x = {n: embed_texts(t.texts, base) for n, t in targets.items()}
    target_logme = {n: LogMETarget(t.labels, t.is_regression) for n, t in targets.items()}

    k = len(names)
    oracle, ls, sgd = (np.zeros((k, k)) for _ in range(3))
    fits = {}
    started = time.time()
    for i, source in enumerate(names):
        t0 = time.time()
        train = load(source, "train", args.train_rows, seed=0)
        tuned = fine_tune(base, train, FineTuneConfig(num_epochs=args.epochs, seed=0))
        pairs = create_embedding_dataset(train, base, tuned)
        fit_ls = fit_esm(pairs, "least_squares", seed=0)
        fit_sgd = fit_esm(pairs, "hfselect", seed=0)
        tuned_model = as_tuned_base_model(tuned, base)
        fits[source] = {
            "least_squares": asdict(fit_ls.holdout_quality),
            "hfselect": asdict(fit_sgd.holdout_quality),
            "seconds": round(time.time() - t0, 1),
        }
        for j, target in enumerate(names):
            x = torch.tensor(target_x[target])
            oracle[i, j] = target_logme[target].score(
                embed_texts(targets[target].texts, tuned_model)
            )
            for table, fit in ((ls, fit_ls), (sgd, fit_sgd)):
                features = torch.nn.functional.linear(x, fit.weight.float(), fit.bias.float())
                table[i, j] = target_logme[target].score(features.numpy())
        print(f"{source}: fine-tuned and scored in {time.time() - t0:.0f} s", flush=True)

    rows = []
    for j, target in enumerate(names):
        row = {"target": target}
        best = int(np.argmax(oracle[:, j]))
        for label, table in (("least_squares", ls), ("hfselect", sgd)):
            rho, tau = rank_correlations(oracle[:, j], table[:, j])
            row[f"{label}_spearman"] = rho
            row[f"{label}_kendall"] = tau
            row[f"{label}_top1"] = int(np.argmax(table[:, j])) == best
        rows.append(row)

    def mean(key: str) -> float:
        return float(np.mean([r[key] for r in rows]))

    print(
        "\n| target | LS Spearman | SGD Spearman | LS Kendall | SGD Kendall | LS top-1 | SGD top-1 |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['target']} | {r['least_squares_spearman']:.3f} | {r['hfselect_spearman']:.3f} "
            f"| {r['least_squares_kendall']:.3f} | {r['hfselect_kendall']:.3f} "
            f"| {'yes' if r['least_squares_top1'] else 'no'} | {'yes' if r['hfselect_top1'] else 'no'} |"
        )
    print(
        f"| **mean** | **{mean('least_squares_spearman'):.3f}** | **{mean('hfselect_spearman'):.3f}** "
        f"| **{mean('least_squares_kendall'):.3f}** | **{mean('hfselect_kendall'):.3f}** "
        f"| {sum(r['least_squares_top1'] for r in rows)}/{k} | {sum(r['hfselect_top1'] for r in rows)}/{k} |"
    )
    print("\nHeld-out fit quality (R²) per intermediate dataset:")
    print("| dataset | LS R² | SGD R² | LS MSE | SGD MSE | seconds |")
    print("|---|---|---|---|---|---|")
    for name, f in fits.items():
        print(
            f"| {name} | {f['least_squares']['r2']:.3f} | {f['hfselect']['r2']:.3f} "
            f"| {f['least_squares']['mse']:.5f} | {f['hfselect']['mse']:.5f} | {f['seconds']} |"
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    path = out / f"{stamp}-fit-method.json"
    path.write_text(
        json.dumps(
            {
                "datasets": names,
                "train_rows": args.train_rows,
                "target_rows": args.target_rows,
                "oracle": oracle.tolist(),
                "least_squares": ls.tolist(),
                "hfselect": sgd.tolist(),
                "per_target": rows,
                "fits": fits,
                "seconds": round(time.time() - started, 1),
            },
            indent=2,
        )
    )
    print(f"\nWrote {path}")


if __name__ == "__main__":
    main()
