"""How sure is a ranking? A bootstrap over the target rows for the top-K ESMs.

The target's rows are resampled with replacement; each resample is scored by the same ranker for
the same top-K ESMs and ranked. What does not depend on the resample is computed once: the
target mapped through each ESM (the expensive matrix product) is resampled by row indexing, not
recomputed, and the LogME rankers score a resample from how often each row was drawn, exactly,
on its distinct rows only. From the resampled ranks each ESM gets a rank interval, the probability that it
ranks first and that it lands in the top 3. When the top ranks overlap, the ranking cannot tell
them apart at this target size: say so rather than print "1." and "2." as if they differed.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hfselect_widgets.engine import defaults
from hfselect_widgets.engine.scoring.rankers import (
    ESM_LOGME,
    FUSION,
    NEEDS_FEATURES,
    make_resampling_scorer,
    make_scorer,
    rank_fusion,
    ranker_members,
)

DEFAULT_TOP_K = 20
DEFAULT_RESAMPLES = defaults.RESAMPLES
DEFAULT_CONFIDENCE = 0.9


@dataclass(frozen=True)
class RankInterval:
    """One ESM's rank under resampling of the target rows."""

    rank_low: int
    rank_high: int
    p_first: float
    p_top3: float

    def label(self) -> str:
        """``"2"`` when the interval is one rank, else ``"1-3"``."""
        if self.rank_low == self.rank_high:
            return str(self.rank_low)
        return f"{self.rank_low}-{self.rank_high}"

    def to_dict(self) -> dict[str, Any]:
        """As a plain dict."""
        return asdict(self)


def _resample_scores(names, features, configs, x, labels, regression, ranker, index, resamplers):
    tables = {}
    for member in ranker_members(ranker):
        resampler = resamplers.get(member)
        if resampler is not None:
            counts = np.bincount(index, minlength=len(labels))
            tables[member] = {name: resampler(features[name], counts) for name in names}
            continue
        scorer = make_scorer(member, x[index], labels[index], regression)
        tables[member] = {
            name: scorer(features[name][index] if member in NEEDS_FEATURES else None, configs[name])
            for name in names
        }
    return rank_fusion(tables) if ranker == FUSION else tables[ranker]


def bootstrap_ranks(
    features: Mapping[str, np.ndarray],
    embeddings: np.ndarray,
    labels: np.ndarray,
    regression: bool,
    *,
    configs: Mapping[str, Any] | None = None,
    ranker: str = ESM_LOGME,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    n_jobs: int | None = None,
) -> dict[str, RankInterval]:
    """Rank intervals of the ESMs in ``features`` (name -> target mapped through that ESM).

    Args:
        features: the (N, D) ESM-transformed target embeddings of each ESM (the top K).
        embeddings, labels, regression: the target (base embeddings for ``textemb``).
        configs: ESM configs by name (``textemb`` reads the source embedding from them).
        ranker: the ranker whose order is resampled.
        resamples: bootstrap resamples of the target rows.
        confidence: the share of resampled ranks inside each interval.
        seed: the resampling seed.
        n_jobs: resamples scored at once (LAPACK releases the GIL).
    """
    names = list(features)
    if not names:
        return {}
    configs = dict(configs or {})
    for name in names:
        configs.setdefault(name, None)
    labels = np.asarray(labels)
    x = np.asarray(embeddings)
    rng = np.random.default_rng(seed)
    indices = [rng.integers(0, len(labels), len(labels)) for _ in range(resamples)]
    if not regression:
        # A resample that lost a class would change the label columns LogME averages over.
        full = set(np.unique(labels).tolist())
        for i, index in enumerate(indices):
            while set(np.unique(labels[index]).tolist()) != full:
                index = rng.integers(0, len(labels), len(labels))
            indices[i] = index

    # Prepared once: the LogME rankers score a resample from its row counts (exact, and cheaper
    # than the resample's N rows: about 0.63 N of them are distinct).
    resamplers = {
        member: make_resampling_scorer(member, labels, regression)
        for member in ranker_members(ranker)
    }

    def one(index):
        scores = _resample_scores(
            names, features, configs, x, labels, regression, ranker, index, resamplers
        )
        order = sorted(names, key=lambda n: -scores[n] if np.isfinite(scores[n]) else np.inf)
        return {name: position for position, name in enumerate(order, start=1)}

    from hfselect_widgets.engine.scoring.ranking import _single_threaded_blas, default_n_jobs

    workers = max(1, min(n_jobs or default_n_jobs(), len(indices)))
    # One BLAS thread per worker, as the scoring loop does: nested threading oversubscribes
    # the cores (measured: 4x slower at D = 768 on 2 cores).
    with _single_threaded_blas(workers > 1), ThreadPoolExecutor(workers) as pool:
        ranks = list(pool.map(one, indices))
    tail = (1 - confidence) / 2
    result = {}
    for name in names:
        values = np.array([r[name] for r in ranks])
        result[name] = RankInterval(
            rank_low=int(np.floor(np.quantile(values, tail))),
            rank_high=int(np.ceil(np.quantile(values, 1 - tail))),
            p_first=float(np.mean(values == 1)),
            p_top3=float(np.mean(values <= 3)),
        )
    return result


def separable_top(intervals: Mapping[str, RankInterval], top: int = 1) -> bool:
    """Whether the first ``top`` ranks are told apart: no other ESM's interval reaches them."""
    ordered = sorted(intervals.values(), key=lambda r: (r.rank_low, r.rank_high))
    if len(ordered) <= top:
        return True
    return all(r.rank_low > top for r in ordered[top:]) and all(
        r.rank_high <= top for r in ordered[:top]
    )


__all__ = [
    "DEFAULT_RESAMPLES",
    "DEFAULT_TOP_K",
    "RankInterval",
    "bootstrap_ranks",
    "separable_top",
]
