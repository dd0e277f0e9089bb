"""How good is a ranking of intermediate datasets? Metrics against real transfer, with intervals.

Inputs are plain mappings, so that any ranker (ESM-LogME, a baseline, a future one) is judged the
same way:

* ``scores[target][source]``: the ranker's score of each source for a target (higher = better);
* ``truth[target][source][seed]``: the target's test metric after fine-tuning on ``source``
  first, then on the target (one value per seed); ``truth[target][NO_TRANSFER][seed]`` is the
  target fine-tuned alone.

Per target, with the sources ordered by score and ``perf`` the seed-mean of the truth:

* **regret@k** (Poth et al., 2021; the ESM-LogME paper's measure), in percent:
  ``100 * (best - max(perf of the top k)) / best``, where ``best`` is the maximum over all
  sources *and* no transfer: choosing the top k costs that much of the best achievable score.
* **NDCG@k**: gains ``perf - min(perf)`` over the sources, log2 discounts.
* **Spearman** and **Kendall** (tau-b) between the scores and ``perf`` over the sources.
* **top-k hit**: 1 if the truly best source is among the top k.

Every metric is averaged over targets, and :func:`evaluate` gives a bootstrap interval that
resamples the targets and, within each, the seeds of the truth (so both the choice of targets
and the fine-tuning noise widen it). Baselines: :func:`random_scores` (the expected value over
random orders, by Monte Carlo) and :func:`static_scores` (the same order for every target: each
source's mean standardised score, or mean transfer, over the *other* targets).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

NO_TRANSFER = "<no transfer>"
"""The key of the no-transfer baseline in ``truth[target]``."""

DEFAULT_KS = (1, 3, 5)

Scores = Mapping[str, Mapping[str, float]]
Truth = Mapping[str, Mapping[str, Mapping[int, float]]]


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank)."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(len(values), dtype=np.float64)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties); 0 when either side is constant."""
    x, y = _ranks(np.asarray(a, float)), _ranks(np.asarray(b, float))
    x, y = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(np.sum(x * x) * np.sum(y * y)))
    return float(np.sum(x * y) / denominator) if denominator > 0 else 0.0


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b (ties in either side handled as SciPy does); 0 when undefined."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    upper = np.triu_indices(len(x), k=1)
    dx, dy = dx[upper], dy[upper]
    concordance = float(np.sum(dx * dy))
    denominator = math.sqrt(float(np.sum(dx != 0)) * float(np.sum(dy != 0)))
    return concordance / denominator if denominator > 0 else 0.0


def regret_at_k(order: Sequence[int], perf: Sequence[float], best: float, k: int) -> float:
    """``100 * (best - max(perf[order[:k]])) / best`` (percent of the best score lost)."""
    chosen = max(float(perf[i]) for i in list(order)[:k])
    return 100.0 * (best - chosen) / abs(best) if best else 0.0


def ndcg_at_k(order: Sequence[int], perf: Sequence[float], k: int) -> float:
    """NDCG@k with gains ``perf - min(perf)``; 1 when every source performs the same."""
    values = np.asarray(perf, float)
    gains = values - values.min()
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    top = list(order)[:k]
    dcg = float(np.sum(gains[top] * discounts[: len(top)]))
    ideal = np.sort(gains)[::-1][:k]
    idcg = float(np.sum(ideal * discounts[: len(ideal)]))
    return dcg / idcg if idcg > 0 else 1.0


def top_k_hit(order: Sequence[int], perf: Sequence[float], k: int) -> float:
    """1.0 if (one of) the truly best sources is among the first k, else 0.0."""
    values = np.asarray(perf, float)
    best = set(np.flatnonzero(values == values.max()).tolist())
    return 1.0 if best & set(list(order)[:k]) else 0.0


def target_metrics(
    score: Sequence[float], perf: Sequence[float], no_transfer: float | None, ks=DEFAULT_KS
) -> dict[str, float]:
    """Every metric of one target: ``score`` and ``perf`` aligned over the same sources."""
    score = np.asarray(score, float)
    perf = np.asarray(perf, float)
    # Ties in the score are broken against the ranker (worst truth first): no credit for luck.
    order = np.lexsort((perf, -score)).tolist()
    best = float(max(perf.max(), no_transfer if no_transfer is not None else -np.inf))
    result = {"spearman": spearman(score, perf), "kendall": kendall_tau(score, perf)}
    for k in ks:
        k_eff = min(k, len(perf))
        result[f"regret@{k}"] = regret_at_k(order, perf, best, k_eff)
        result[f"ndcg@{k}"] = ndcg_at_k(order, perf, k_eff)
        result[f"hit@{k}"] = top_k_hit(order, perf, k_eff)
    return result


@dataclass
class MetricSummary:
    """One metric of one ranker over the targets: mean and bootstrap interval."""

    mean: float
    low: float
    high: float
    per_target: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """As a plain dict."""
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _sources_of(truth_t: Mapping[str, Mapping[int, float]], scores_t: Mapping[str, float]):
    return sorted(s for s in truth_t if s != NO_TRANSFER and s in scores_t)


def _seed_mean(values: Mapping[int, float], seeds: Sequence[int] | None = None) -> float:
    chosen = list(values) if seeds is None else [s for s in seeds if s in values]
    return float(np.mean([values[s] for s in chosen])) if chosen else float("nan")


def _common_seeds(truth_t: Mapping[str, Mapping[int, float]]) -> list[int]:
    """The seeds every source of a target has finished: while a measurement is still running,
    or after it was interrupted, some sources have a seed more, and comparing sources on
    different seeds would mix seed noise into their order. (No transfer, a baseline rather than
    a candidate, uses the seeds it has among these.)"""
    seed_sets = [set(v) for s, v in truth_t.items() if s != NO_TRANSFER]
    return sorted(set.intersection(*seed_sets)) if seed_sets else []


def _per_target(
    scores: Scores, truth: Truth, target: str, seeds: Sequence[int] | None, ks
) -> dict[str, float] | None:
    scores_t, truth_t = scores.get(target, {}), truth[target]
    sources = _sources_of(truth_t, scores_t)
    if seeds is None:
        seeds = _common_seeds(truth_t)
    if len(sources) < 2 or not seeds:
        return None
    perf = [_seed_mean(truth_t[s], seeds) for s in sources]
    if any(math.isnan(p) for p in perf):
        return None
    no_transfer = truth_t.get(NO_TRANSFER)
    baseline = _seed_mean(no_transfer, seeds) if no_transfer else None
    return target_metrics([scores_t[s] for s in sources], perf, baseline, ks)


def _bootstrap_draws(
    tables: Sequence[Scores],
    truth: Truth,
    targets: Sequence[str],
    ks,
    num_bootstrap: int,
    seed: int,
) -> list[dict[str, list[float]]]:
    """Bootstrap means of every metric, for several score tables on the *same* resamples
    (targets with replacement, then each drawn target's seeds with replacement), so that
    differences between rankers are paired."""
    draws: list[dict[str, list[float]]] = [{} for _ in tables]
    for picked in _resamples(truth, targets, num_bootstrap, seed):
        for table, table_draws in zip(tables, draws, strict=True):
            rows = [_per_target(table, truth, target, seeds, ks) for target, seeds in picked]
            for name in rows[0]:
                table_draws.setdefault(name, []).append(float(np.mean([r[name] for r in rows])))
    return draws


def _resamples(
    truth: Truth, targets: Sequence[str], num_bootstrap: int, seed: int
) -> Iterator[list[tuple[str, list[int]]]]:
    """The bootstrap's resamples, each a list of ``(target, seeds)``: targets drawn with
    replacement, then each drawn target's common seeds with replacement. The same ``seed``
    gives the same resamples, which is what pairs the comparisons."""
    rng = np.random.default_rng(seed)
    seeds_of = {t: _common_seeds(truth[t]) for t in targets}
    for _ in range(num_bootstrap):
        picked = [targets[i] for i in rng.integers(0, len(targets), len(targets))]
        resample = []
        for target in picked:
            seeds = seeds_of[target]
            resample.append((target, [seeds[i] for i in rng.integers(0, len(seeds), len(seeds))]))
        yield resample


def _scored_targets(tables: Sequence[Scores], truth: Truth, ks) -> list[str]:
    return [
        t
        for t in sorted(truth)
        if all(_per_target(table, truth, t, None, ks) is not None for table in tables)
    ]


def _interval(values: Sequence[float], confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    return float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail))


def evaluate(
    scores: Scores,
    truth: Truth,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    num_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, MetricSummary]:
    """Every metric of one ranker, averaged over the targets, with bootstrap intervals.

    A target counts when the truth has at least two of its scored sources. The interval
    resamples targets with replacement and, for each drawn target, its seeds with replacement.
    """
    targets = _scored_targets([scores], truth, ks)
    if not targets:
        raise ValueError("No target has ground truth for at least two scored sources.")
    point = {t: _per_target(scores, truth, t, None, ks) for t in targets}
    (draws,) = _bootstrap_draws([scores], truth, targets, ks, num_bootstrap, seed)
    return {
        name: MetricSummary(
            float(np.mean([point[t][name] for t in targets])),
            *_interval(values, confidence),
            per_target={t: point[t][name] for t in targets},
        )
        for name, values in draws.items()
    }


def compare(
    scores: Scores,
    baseline: Scores,
    truth: Truth,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    num_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, MetricSummary]:
    """``scores`` minus ``baseline`` for every metric, with a *paired* bootstrap interval
    (both evaluated on the same resampled targets and seeds): a difference whose interval
    excludes 0 is one the targets and the fine-tuning noise do not explain away."""
    targets = _scored_targets([scores, baseline], truth, ks)
    if not targets:
        raise ValueError("No target has ground truth for at least two scored sources.")
    a = {t: _per_target(scores, truth, t, None, ks) for t in targets}
    b = {t: _per_target(baseline, truth, t, None, ks) for t in targets}
    draws_a, draws_b = _bootstrap_draws([scores, baseline], truth, targets, ks, num_bootstrap, seed)
    return {
        name: MetricSummary(
            float(np.mean([a[t][name] - b[t][name] for t in targets])),
            *_interval(np.subtract(draws_a[name], draws_b[name]), confidence),
            per_target={t: a[t][name] - b[t][name] for t in targets},
        )
        for name in draws_a
    }


def random_scores(truth: Truth, draws: int = 200, seed: int = 0) -> list[dict[str, dict]]:
    """``draws`` random score tables over the truth's sources (for the random baseline)."""
    rng = np.random.default_rng(seed)
    tables = []
    for _ in range(draws):
        tables.append(
            {
                target: {s: float(rng.random()) for s in truth[target] if s != NO_TRANSFER}
                for target in truth
            }
        )
    return tables


def evaluate_random(
    truth: Truth, *, draws: int = 200, ks: Sequence[int] = DEFAULT_KS, seed: int = 0, **kwargs
) -> dict[str, MetricSummary]:
    """The random baseline: metrics averaged over ``draws`` random orders per target.

    The interval is that of one random order's evaluation, averaged over the draws (its width
    reflects targets and seeds, like the rankers' intervals).
    """
    runs = [
        evaluate(table, truth, ks=ks, seed=seed + i, num_bootstrap=50, **kwargs)
        for i, table in enumerate(random_scores(truth, draws, seed))
    ]
    names = list(runs[0])
    return {
        name: MetricSummary(
            mean=float(np.mean([run[name].mean for run in runs])),
            low=float(np.mean([run[name].low for run in runs])),
            high=float(np.mean([run[name].high for run in runs])),
            per_target={
                t: float(np.mean([run[name].per_target[t] for run in runs]))
                for t in runs[0][name].per_target
            },
        )
        for name in names
    }


def compare_random(
    scores: Scores,
    truth: Truth,
    *,
    draws: int = 40,
    ks: Sequence[int] = DEFAULT_KS,
    num_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, MetricSummary]:
    """``scores`` minus the random baseline for every metric, paired: on each bootstrap
    resample (targets, then seeds; the resamples of :func:`compare`) the ranker's mean is
    compared with the mean of ``draws`` random orders evaluated on that same resample, so
    "beats random" is a claim with an interval that the choice of targets and the fine-tuning
    noise do not explain away."""
    randoms = random_scores(truth, draws, seed)
    targets = _scored_targets([scores], truth, ks)
    if not targets:
        raise ValueError("No target has ground truth for at least two scored sources.")
    cache: dict[tuple[str, tuple[int, ...] | None], dict[str, float]] = {}

    def difference(target: str, seeds: Sequence[int] | None) -> dict[str, float]:
        # A target's metrics depend on its resampled seeds only as a multiset (seed means):
        # a few distinct multisets per target, each evaluated once for the ranker and for
        # every random order.
        key = (target, None if seeds is None else tuple(sorted(seeds)))
        if key not in cache:
            own = _per_target(scores, truth, target, seeds, ks)
            chance = [_per_target(r, truth, target, seeds, ks) for r in randoms]
            cache[key] = {n: own[n] - float(np.mean([c[n] for c in chance])) for n in own}
        return cache[key]

    point = {t: difference(t, None) for t in targets}
    resampled: dict[str, list[float]] = {}
    for picked in _resamples(truth, targets, num_bootstrap, seed):
        rows = [difference(target, seeds) for target, seeds in picked]
        for name in rows[0]:
            resampled.setdefault(name, []).append(float(np.mean([r[name] for r in rows])))
    return {
        name: MetricSummary(
            float(np.mean([point[t][name] for t in targets])),
            *_interval(values, confidence),
            per_target={t: point[t][name] for t in targets},
        )
        for name, values in resampled.items()
    }


def _standardised(values: Mapping[str, float]) -> dict[str, float]:
    array = np.asarray(list(values.values()), float)
    spread = float(array.std()) or 1.0
    return {k: (float(v) - float(array.mean())) / spread for k, v in values.items()}


def static_scores(scores: Scores) -> dict[str, dict[str, float]]:
    """A target-independent order: each source's mean standardised score over the other
    targets (leave-one-out), the same for every target but the one left out."""
    standard = {t: _standardised(v) for t, v in scores.items() if v}
    result = {}
    for target, own in scores.items():
        others = [standard[t] for t in standard if t != target]
        result[target] = {
            s: float(np.mean([o[s] for o in others if s in o])) if others else 0.0 for s in own
        }
    return result


def static_transfer_scores(truth: Truth) -> dict[str, dict[str, float]]:
    """The strongest target-independent baseline: each source's mean gain over no transfer
    on the *other* targets (leave-one-out), i.e. "what usually helps"."""
    gains = {}
    for target, by_source in truth.items():
        base = _seed_mean(by_source[NO_TRANSFER]) if NO_TRANSFER in by_source else 0.0
        gains[target] = {s: _seed_mean(v) - base for s, v in by_source.items() if s != NO_TRANSFER}
    result = {}
    for target, own in gains.items():
        result[target] = {}
        for source in own:
            other = [gains[t][source] for t in gains if t != target and source in gains[t]]
            result[target][source] = float(np.mean(other)) if other else 0.0
    return result


def score_correlation(scores: Scores) -> dict[str, float]:
    """How target-independent a ranker is: the mean, min and max Spearman correlation between
    the score vectors of every pair of targets over their common sources (1 = one order)."""
    targets = sorted(t for t in scores if scores[t])
    values = []
    for i, a in enumerate(targets):
        for b in targets[i + 1 :]:
            common = sorted(set(scores[a]) & set(scores[b]))
            if len(common) >= 3:
                values.append(
                    spearman([scores[a][s] for s in common], [scores[b][s] for s in common])
                )
    if not values:
        return {"mean": float("nan"), "min": float("nan"), "max": float("nan"), "pairs": 0}
    return {
        "mean": float(np.mean(values)),
        "min": float(np.min(values)),
        "max": float(np.max(values)),
        "pairs": len(values),
    }


__all__ = [
    "NO_TRANSFER",
    "DEFAULT_KS",
    "MetricSummary",
    "evaluate",
    "compare_random",
    "evaluate_random",
    "kendall_tau",
    "ndcg_at_k",
    "random_scores",
    "regret_at_k",
    "score_correlation",
    "spearman",
    "static_scores",
    "static_transfer_scores",
    "target_metrics",
    "top_k_hit",
]
