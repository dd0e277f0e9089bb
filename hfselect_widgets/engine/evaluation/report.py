"""The ranking-quality report: every ranker beside the random and static baselines.

One call, :func:`build_report`, turns score tables (one per ranker) and the real-transfer truth
into an :class:`EvaluationReport`; the benchmark, the ``hfselect-widgets evaluate`` command and the
evaluation notebook all use it, and it writes JSON, CSV and Markdown. Differences to the static
baseline come with paired bootstrap intervals (:func:`~.metrics.compare`), so "beats static" is
a claim with an interval, not a comparison of two overlapping ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hfselect_widgets.engine._io import atomic_write, to_json
from hfselect_widgets.engine.evaluation.metrics import (
    NO_TRANSFER,
    MetricSummary,
    Scores,
    Truth,
    compare,
    compare_random,
    evaluate,
    evaluate_random,
    score_correlation,
    static_scores,
    static_transfer_scores,
)
from hfselect_widgets.engine.evaluation.retrieval import self_retrieval, summarize

RANDOM = "random"
STATIC_SCORE = "static (mean score)"
STATIC_TRANSFER = "static (mean transfer)"
TABLE_METRICS = ("regret@1", "regret@3", "regret@5", "ndcg@3", "spearman", "kendall", "hit@3")
"""The metrics of the report's main table, in its column order."""


@dataclass
class EvaluationReport:
    """Metrics of each ranker (and baseline) with intervals, per-target facts, retrieval."""

    rankers: dict[str, dict[str, MetricSummary]]
    versus_static: dict[str, dict[str, MetricSummary]] = field(default_factory=dict)
    versus_random: dict[str, dict[str, MetricSummary]] = field(default_factory=dict)
    """Each ranker minus the random baseline (paired, :func:`~.metrics.compare_random`)."""
    versus_reference: dict[str, dict[str, MetricSummary]] = field(default_factory=dict)
    """Each other ranker minus the reference ranker (paired): what choosing the default rests on."""
    reference: str | None = None
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    self_retrieval: dict[str, dict[str, Any]] = field(default_factory=dict)
    score_correlation: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (what :meth:`save` writes as ``.json``)."""

        def metrics(table):
            return {r: {m: s.to_dict() for m, s in ms.items()} for r, ms in table.items()}

        return {
            "rankers": metrics(self.rankers),
            "versus_static": metrics(self.versus_static),
            "versus_random": metrics(self.versus_random),
            "versus_reference": metrics(self.versus_reference),
            "reference": self.reference,
            "targets": self.targets,
            "self_retrieval": self.self_retrieval,
            "score_correlation": self.score_correlation,
        }

    def to_pandas(self):
        """One row per ranker and metric: ``ranker, metric, mean, low, high``."""
        import pandas as pd

        rows = [
            {"ranker": r, "metric": m, "mean": s.mean, "low": s.low, "high": s.high}
            for r, ms in self.rankers.items()
            for m, s in ms.items()
        ]
        return pd.DataFrame(rows, columns=["ranker", "metric", "mean", "low", "high"])

    def to_markdown(self) -> str:
        """The tables of the report as Markdown (what the benchmark README shows)."""

        def cell(summary: MetricSummary) -> str:
            return f"{summary.mean:.2f} [{summary.low:.2f}, {summary.high:.2f}]"

        lines = [
            "| ranker | " + " | ".join(TABLE_METRICS) + " |",
            "|---" * (len(TABLE_METRICS) + 1) + "|",
        ]
        for name, ms in self.rankers.items():
            lines.append(f"| {name} | " + " | ".join(cell(ms[m]) for m in TABLE_METRICS) + " |")
        for heading, table in (
            (f"Paired difference to the static baseline ({STATIC_SCORE}), 95% interval:",
             self.versus_static),
            (f"Paired difference to the {RANDOM} baseline (the mean of random orders on the "
             "same resamples), 95% interval:", self.versus_random),
        ):  # fmt: skip
            if not table:
                continue
            lines += [
                "",
                heading,
                "",
                "| ranker | Spearman | regret@3 | NDCG@3 |",
                "|---|---|---|---|",
            ]
            for name, ms in table.items():
                lines.append(
                    f"| {name} | {cell(ms['spearman'])} | {cell(ms['regret@3'])} | "
                    f"{cell(ms['ndcg@3'])} |"
                )
        if self.versus_reference:
            lines += [
                "",
                f"Paired difference to the reference ranker ({self.reference}), 95% interval "
                "(an interval that holds 0 is a tie):",
                "",
                "| ranker | Spearman | regret@1 | regret@3 | NDCG@3 |",
                "|---|---|---|---|---|",
            ]
            for name, ms in self.versus_reference.items():
                lines.append(
                    f"| {name} | {cell(ms['spearman'])} | {cell(ms['regret@1'])} | "
                    f"{cell(ms['regret@3'])} | {cell(ms['ndcg@3'])} |"
                )
        if self.targets:
            lines += [
                "",
                "| target | no transfer | best source | best | seeds | sources |",
                "|---|---|---|---|---|---|",
            ]
            for target, t in self.targets.items():
                lines.append(
                    f"| {target} | {t['no_transfer']:.4f} | {t['best_source']} | "
                    f"{t['best']:.4f} | {t['seeds']} | {t['sources']} |"
                )
        for ranker, s in self.self_retrieval.items():
            lines += [
                "",
                f"Self-retrieval ({ranker}): {s['hit_rate'] * 100:.0f}% of {s['count']} ESMs "
                f"rank first for a held-out sample of their own data; mean rank "
                f"{s['mean_rank']:.2f}; misses: {s['misses']}",
            ]
        for ranker, c in self.score_correlation.items():
            lines.append(
                f"\nScore correlation between targets ({ranker}): mean Spearman "
                f"{c['mean']:.2f} (min {c['min']:.2f}, max {c['max']:.2f}, {c['pairs']} pairs)"
            )
        return "\n".join(lines) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write the report as ``.json``, ``.csv`` (:meth:`to_pandas`) or ``.md``, by suffix."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".json":
            text = to_json(self.to_dict(), indent=1, sort_keys=True) + "\n"
        elif suffix == ".csv":
            text = self.to_pandas().to_csv(index=False)
        elif suffix in (".md", ".markdown"):
            text = self.to_markdown()
        else:
            raise ValueError(f"Cannot write a report as {suffix!r}: use .json, .csv or .md.")
        atomic_write(path, text)
        return path


def target_facts(truth: Truth) -> dict[str, dict[str, Any]]:
    """Per target: no-transfer score, the best source and its score, seeds and sources."""
    facts = {}
    for target, by_source in truth.items():

        def mean(values):
            return sum(values.values()) / len(values) if values else float("nan")

        sources = {s: mean(v) for s, v in by_source.items() if s != NO_TRANSFER}
        best = max(sources, key=sources.get) if sources else None
        facts[target] = {
            "no_transfer": mean(by_source.get(NO_TRANSFER, {})),
            "best_source": best,
            "best": sources.get(best, float("nan")),
            "seeds": len({s for v in by_source.values() for s in v}),
            "sources": len(sources),
        }
    return facts


def build_report(
    scores: Mapping[str, Scores],
    truth: Truth,
    *,
    self_scores: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
    reference: str | None = None,
    num_bootstrap: int = 1000,
    random_draws: int = 100,
    versus_random_draws: int = 40,
    seed: int = 0,
) -> EvaluationReport:
    """Evaluate every ranker in ``scores`` (``{ranker: {target: {source: score}}}``) against
    ``truth`` beside the random baseline and two static ones.

    ``reference`` (default: the first ranker) is the ranker whose scores make the
    "static (mean score)" baseline: each source's mean standardised score over the other
    targets; every other ranker is also compared with it, paired (``versus_reference``), and
    every ranker with the mean of ``versus_random_draws`` random orders on the same resamples
    (``versus_random``). ``self_scores`` (``{ranker: {source: {esm: score}}}``, scores of a held-out sample
    of each source) adds the self-retrieval summary.
    """
    if not scores:
        raise ValueError("build_report needs the scores of at least one ranker.")
    reference = reference or next(iter(scores))
    truth = {t: v for t, v in truth.items() if any(t in table for table in scores.values())}
    static = static_scores(scores[reference])
    tables = {**scores, STATIC_SCORE: static, STATIC_TRANSFER: static_transfer_scores(truth)}
    options = {"num_bootstrap": num_bootstrap, "seed": seed}
    report = EvaluationReport(
        rankers={name: evaluate(table, truth, **options) for name, table in tables.items()},
        versus_static={
            name: compare(table, static, truth, **options) for name, table in scores.items()
        },
        versus_random={
            name: compare_random(table, truth, draws=versus_random_draws, **options)
            for name, table in scores.items()
        },
        versus_reference={
            name: compare(table, scores[reference], truth, **options)
            for name, table in scores.items()
            if name != reference
        },
        reference=reference,
        targets=target_facts(truth),
        score_correlation={name: score_correlation(table) for name, table in scores.items()},
    )
    report.rankers[RANDOM] = evaluate_random(truth, draws=random_draws, seed=seed)
    for name, by_sample in (self_scores or {}).items():
        results = self_retrieval(by_sample)
        report.self_retrieval[name] = {
            **summarize(results),
            "ranks": {r.sample: r.rank for r in results},
        }
    return report


def split_score_file(data: Mapping[str, Mapping[str, Mapping[str, float]]]):
    """A benchmark ``scores.json`` (``{ranker: {"target:<t>"|"self:<s>": {...}}}``) as the
    ``scores`` and ``self_scores`` arguments of :func:`build_report`."""
    scores, selfs = {}, {}
    for ranker, table in data.items():
        scores[ranker] = {
            k.split(":", 1)[1]: v for k, v in table.items() if k.startswith("target:")
        }
        selfs[ranker] = {k.split(":", 1)[1]: v for k, v in table.items() if k.startswith("self:")}
    return scores, {k: v for k, v in selfs.items() if v}


def report_from_results(folder: str | Path, **options) -> EvaluationReport:
    """The report of a results folder holding ``transfer.jsonl`` and ``scores.json`` (the
    layout the benchmark writes)."""
    from hfselect_widgets.engine.evaluation.transfer import TransferStore

    folder = Path(folder)
    missing = [n for n in ("transfer.jsonl", "scores.json") if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} has no {' or '.join(missing)}: point at a folder with the transfer "
            "results and the scores (benchmarks/results/ranking_quality has both)."
        )
    scores, selfs = split_score_file(json.loads((folder / "scores.json").read_text()))
    truth = TransferStore(folder / "transfer.jsonl").truth()
    return build_report(scores, truth, self_scores=selfs, **options)
