"""Ranking quality on data we control: does ESM-LogME pick the sources that really help?

Stages (each resumes from its results; run them all, or one with ``--stage``):

1. ``esms``: for each source dataset of ``../shared/data``, ``train_esm`` with the project's
   default recipe on ``--source-rows`` training rows, keeping the fine-tuned model
   (``finetuned_model_dir``) and the base embeddings of the source. A finished, loadable ESM is
   skipped. What each fine-tune learned goes to ``training.json``.
2. ``truth``: real transfer. For each target, a ``--target-rows`` sample of its train split;
   fine-tune the base model (no transfer) and every source model on it, evaluate on
   ``--test-rows`` of its test split, for ``--seeds`` seeds (``transfer.jsonl``, appended run by
   run). This is the expensive stage: hours on 2 cores. A source may also be a target
   (leave-one-out): it is then ranked, and fine-tuned from, only by the other sources.
3. ``scores``: embed each target sample (and a held-out sample of each source, for
   self-retrieval) with the base model once, then score every ESM with ESM-LogME
   (``scores.json``); the embeddings are kept in the work folder for other rankers.
4. ``report``: regret@1/3/5, NDCG, Spearman, Kendall and hit rates of ESM-LogME beside the random
   and static baselines, with bootstrap intervals over targets and seeds (``report.json``,
   ``report.md``).

Small result files go to ``benchmarks/results/ranking_quality/`` (committed: anyone can
recompute the table); models and embeddings to ``--workdir`` (large, not committed).

    .venv/bin/python benchmarks/ranking_quality.py                 # all stages
    .venv/bin/python benchmarks/ranking_quality.py --stage report  # just the table
    nohup .venv/bin/python benchmarks/ranking_quality.py > rq.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_RESULTS = ROOT / "benchmarks" / "results" / "ranking_quality"
DEFAULT_WORK = Path(os.environ.get("RQ_WORKDIR", str(ROOT.parent / "rq_work")))

SOURCES = [
    "mr",
    "sst2",
    "subj",
    "trec",
    "ag_news",
    "sms_spam",
    "hate_offensive",
    "tweet_sentiment",
    "tweet_emotion",
    "sick_nli",
    "mrpc",
    "stsb",
]
TARGETS = ["cr", "amazon_sent", "tweet_irony", "rte", "emotion6", "tweet_offensive"]


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def manifest(data_dir: Path) -> dict[str, dict]:
    entries = json.loads((data_dir / "manifest.json").read_text())["datasets"]
    return {entry["short_name"]: entry for entry in entries}


def load_split(data_dir: Path, info: dict, split: str, rows: int | None, seed: int, name: str):
    """A :class:`Dataset` of ``rows`` rows of a split (sampled as hfselect samples)."""
    import pandas as pd

    from hfselect_widgets.engine.data.dataset import Dataset

    frame = pd.read_csv(data_dir / info["short_name"] / f"{split}.csv", keep_default_na=False)
    text_cols = [c for c in info["columns"] if c != "label"]
    regression = info["task_type"] == "regression"
    rows = None if rows is None or rows >= len(frame) else rows
    return Dataset.from_pandas(
        frame,
        text_col=text_cols[0] if len(text_cols) == 1 else text_cols,
        label_col="label",
        is_regression=regression,
        num_examples=rows,
        seed=seed if rows else None,
        name=name,
    )


def atomic_json(path: Path, data) -> None:
    from hfselect_widgets.engine._io import write_json

    write_json(path, data, indent=1, sort_keys=True)


# --- stage 1: ESMs ----------------------------------------------------------------------------


def esm_ready(folder: Path) -> bool:
    from hfselect_widgets.engine.esm.format import ESM

    try:
        ESM.from_pretrained(str(folder))
    except Exception:
        return False
    return (folder.parent.parent / "models" / folder.name / "finetune_info.json").is_file()


def stage_esms(args, info) -> None:
    from hfselect_widgets.engine.embedding.model import load_base_model
    from hfselect_widgets.engine.model_ids import DEMO_MODEL
    from hfselect_widgets.engine.training.train import train_esm

    base = load_base_model(DEMO_MODEL, device=args.device)
    summary_path = args.results / "training.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    for name in args.sources:
        folder = args.workdir / "esms" / name
        if esm_ready(folder) and name in summary:
            log(f"esms: {name} done")
            continue
        dataset = load_split(args.data, info[name], "train", args.source_rows, 0, name)
        log(f"esms: training {name} on {len(dataset)} rows")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trained = train_esm(
                dataset,
                base,
                folder,
                overwrite=True,
                device=args.device,
                embeddings_path=args.workdir / "pairs" / f"{name}.npz",
                finetuned_model_dir=args.workdir / "models" / name,
                record_timings=True,
                language="en",
            )
        validation = trained.validation
        holdout = trained.fit.holdout_quality
        summary[name] = {
            "rows": len(dataset),
            "epochs": trained.config.get("lm_num_epochs"),
            "steps": len(trained.finetune_losses),
            "val_metric": validation.metric if validation else None,
            "val_value": validation.value if validation else None,
            "val_baseline": validation.baseline if validation else None,
            "learned": validation.learned if validation else None,
            "fit_holdout_r2": holdout.r2 if holdout else None,
            "warnings": trained.quality_warnings,
            "seconds": round(trained.total_seconds, 1),
            "caught_warnings": [str(w.message) for w in caught][:5],
        }
        atomic_json(summary_path, summary)
        log(f"esms: {name}: {json.dumps(summary[name])}")


# --- stage 2: real transfer -----------------------------------------------------------------


def targets_of(args, info):
    from hfselect_widgets.engine.evaluation import TransferTarget

    return [
        TransferTarget(
            name=name,
            train=load_split(args.data, info[name], "train", args.target_rows, 0, name),
            test=load_split(args.data, info[name], "test", args.test_rows, 0, name),
        )
        for name in args.targets
    ]


def stage_truth(args, info) -> None:
    from hfselect_widgets.engine.evaluation import NO_TRANSFER, measure_transfer
    from hfselect_widgets.engine.model_ids import DEMO_MODEL

    starts = {NO_TRANSFER: DEMO_MODEL}
    for name in args.sources:
        folder = args.workdir / "models" / name
        if not (folder / "finetune_info.json").is_file():
            log(f"truth: no fine-tuned model for {name} yet: run the esms stage first")
            continue
        starts[name] = str(folder)
    measure_transfer(
        targets_of(args, info),
        starts,
        args.results / "transfer.jsonl",
        seeds=range(args.seeds),
        device=args.device,
        log=log,
    )


# --- stage 3: scores --------------------------------------------------------------------------


def _own_esm(key: str, source: str) -> bool:
    """A source used as a target (leave-one-out) is not ranked for itself: its own ESM would
    win trivially, and the truth has no run for it (``measure_transfer`` skips self)."""
    return key == f"target:{source}"


def stage_scores(args, info) -> None:
    import numpy as np

    from hfselect_widgets.engine.embedding.model import embed_texts, load_base_model
    from hfselect_widgets.engine.model_ids import DEMO_MODEL
    from hfselect_widgets.engine.scoring.ranking import ESMHandle, score_embeddings

    base = load_base_model(DEMO_MODEL, device=args.device)
    handles = {
        name: args.workdir / "esms" / name
        for name in args.sources
        if (args.workdir / "esms" / name / "config.json").is_file()
    }
    embedded = args.workdir / "embeddings"
    embedded.mkdir(parents=True, exist_ok=True)
    samples = {}
    for target in targets_of(args, info):
        samples[f"target:{target.name}"] = target.train
    for name in handles:
        # A held-out sample of the source: its test split, never seen by the fine-tuning.
        samples[f"self:{name}"] = load_split(
            args.data, info[name], "test", args.target_rows, 0, name
        )
    scores = {"esm-logme": {}}
    for key, dataset in samples.items():
        path = embedded / f"{key.replace(':', '_')}.npz"
        if path.exists():
            x = np.load(path)["x"]
        else:
            x = embed_texts(list(dataset.texts), base, 128)
            np.savez(path, x=x, y=np.asarray(dataset.labels))
        result = score_embeddings(
            x,
            np.asarray(dataset.labels),
            bool(dataset.is_regression),
            [ESMHandle.from_folder(folder) for folder in handles.values()],
            model_id=base.model_id,
        )
        scores["esm-logme"][key] = {
            str(config.task_id): float(score)
            for config, score in zip(result.configs, result.scores, strict=True)
            if not _own_esm(key, str(config.task_id))
        }
        log(f"scores: {key}: {len(result.scores)} ESMs")
    atomic_json(args.results / "scores.json", scores)


def stage_rankers(args, info) -> None:
    """Every other ranker on the embeddings the ``scores`` stage kept (seconds, no model)."""
    import numpy as np
    import torch

    from hfselect_widgets.engine.scoring.rankers import (
        ESM_LOGME,
        FUSION,
        NEEDS_FEATURES,
        RANKERS,
        SOURCE_EMBEDDING_KEY,
        make_scorer,
        mean_embedding,
        rank_fusion,
    )
    from hfselect_widgets.engine.scoring.ranking import ESMHandle

    esms = {}
    for name in args.sources:
        folder = args.workdir / "esms" / name
        if not (folder / "config.json").is_file():
            continue
        config, weight, bias = ESMHandle.from_folder(folder).load()
        if config.get(SOURCE_EMBEDDING_KEY) is None:
            # ESMs trained before the key existed: the same mean, from the kept pairs.
            pairs = np.load(args.workdir / "pairs" / f"{name}.npz")
            config.update({SOURCE_EMBEDDING_KEY: mean_embedding(pairs["x"])})
        esms[name] = (config, weight, bias)
    path = args.results / "scores.json"
    scores = json.loads(path.read_text())
    regression = {n: i.get("task_type") == "regression" for n, i in info.items()}
    for sample_path in sorted((args.workdir / "embeddings").glob("*.npz")):
        kind, name = sample_path.stem.split("_", 1)
        key = f"{kind}:{name}"
        data = np.load(sample_path)
        x, y = data["x"], data["y"]
        scorers = {
            ranker: make_scorer(ranker, x, y, regression.get(name, False))
            for ranker in RANKERS
            if ranker != FUSION  # fused below, from its members' scores
        }
        tensor = torch.as_tensor(x, dtype=torch.float32)
        for source, (config, weight, bias) in esms.items():
            if _own_esm(key, source):
                continue
            features = torch.nn.functional.linear(tensor, weight, bias).numpy()
            for ranker, scorer in scorers.items():
                value = scorer(features if ranker in NEEDS_FEATURES else None, config)
                scores.setdefault(ranker, {}).setdefault(key, {})[source] = float(value)
        log(f"rankers: {key}")
    fused = {
        "fusion (logme-permutation + knn + textemb)": ("logme-permutation", "knn", "textemb"),
        "fusion (esm-logme + textemb)": (ESM_LOGME, "textemb"),
    }
    for fusion, members in fused.items():
        scores[fusion] = {
            key: rank_fusion({m: scores[m][key] for m in members}) for key in scores[ESM_LOGME]
        }
    atomic_json(path, scores)


# --- stage 4: the report ----------------------------------------------------------------------


def per_target_table(results: Path) -> list[dict]:
    """Per target: whether its sources differ beyond the seed noise (one-way ANOVA over the
    sources' seed accuracies), the spread of their mean accuracies, the best gain over no
    transfer, and each ranker's Spearman with the real transfer (the static baseline too).
    Where the sources do not differ, no order can be right: such targets only add noise to
    the averages, which is worth knowing when reading them."""
    import numpy as np
    from scipy import stats

    from hfselect_widgets.engine.evaluation import NO_TRANSFER
    from hfselect_widgets.engine.evaluation.metrics import (
        _common_seeds,
        _seed_mean,
        spearman,
        static_scores,
    )
    from hfselect_widgets.engine.evaluation.report import split_score_file
    from hfselect_widgets.engine.evaluation.transfer import TransferStore

    scores, _ = split_score_file(json.loads((results / "scores.json").read_text()))
    truth = TransferStore(results / "transfer.jsonl").truth()
    tables = {**scores, "static (mean score)": static_scores(scores["esm-logme"])}
    rows = []
    for target, by_source in truth.items():
        if target not in scores["esm-logme"]:
            continue  # its truth is still being measured
        sources = [s for s in by_source if s != NO_TRANSFER and s in scores["esm-logme"][target]]
        # the seeds every source has, as in the report (a measurement may still be running)
        seeds = _common_seeds(by_source)
        runs = [[by_source[s][seed] for seed in seeds] for s in sources]
        perf = [_seed_mean(by_source[s], seeds) for s in sources]
        baseline = _seed_mean(by_source[NO_TRANSFER], seeds)
        row = {
            "target": target,
            "sources": len(sources),
            "seeds": len(seeds),
            "anova_p": float(stats.f_oneway(*runs)[1]) if len(seeds) > 1 else float("nan"),
            "spread": float(np.ptp(perf)),
            "best_gain": max(perf) - baseline,
        }
        for ranker, table in tables.items():
            row[ranker] = spearman([table[target][s] for s in sources], perf)
        rows.append(row)
    return rows


def stage_report(args, info) -> None:
    from hfselect_widgets.engine.evaluation import report_from_results

    report = report_from_results(args.results, num_bootstrap=args.bootstrap)
    report.save(args.results / "report.json")
    report.save(args.results / "report.md")
    report.save(args.results / "report.csv")
    print(report.to_markdown())
    import pandas as pd

    table = pd.DataFrame(per_target_table(args.results)).set_index("target")
    table.round(4).to_csv(args.results / "per_target.csv")
    print("\nPer target (Spearman of each ranker with the real transfer):")
    print(table.round(2).to_string())


STAGES = {
    "esms": stage_esms,
    "scores": stage_scores,
    "rankers": stage_rankers,
    "truth": stage_truth,
    "report": stage_report,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stage", choices=[*STAGES, "all"], default="all")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--sources", nargs="+", default=SOURCES)
    parser.add_argument("--targets", nargs="+", default=TARGETS)
    parser.add_argument("--source-rows", type=int, default=1500)
    parser.add_argument("--target-rows", type=int, default=200)
    parser.add_argument("--test-rows", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    if not (args.data / "manifest.json").is_file():
        print(
            f"The labelled data collection is missing: {args.data} (../shared/data).",
            file=sys.stderr,
        )
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    info = manifest(args.data)
    unknown = sorted(set(args.sources + args.targets) - set(info))
    if unknown:
        print(f"Unknown datasets {unknown}; the collection has {sorted(info)}.", file=sys.stderr)
        return 2
    stages = list(STAGES) if args.stage == "all" else [args.stage]
    for stage in stages:
        log(f"stage {stage}")
        STAGES[stage](args, info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
