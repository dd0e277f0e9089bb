"""How sure is a ranking? A bootstrap over the target rows for the top-K ESMs.

Each resample reweights the target's rows (a Bayesian bootstrap: weights ``N * Dirichlet(1,
..., 1)``, every row kept with a positive weight) and the same ranker scores the same top-K ESMs
on it. What does not depend on the weights is computed once per ESM: the target mapped through
the ESM, kNN's neighbours, the target's label columns and, when the target has more rows than
dimensions, each row's influence on LogME (one eigen-decomposition), from which every resample's
LogME follows to first order in O(N) (:meth:`LogMETarget.linearised_scorer
<hfselect_widgets.engine.scoring.logme.LogMETarget.linearised_scorer>`). That keeps the whole
bootstrap under twice the plain ranking of the K ESMs, however many resamples; refitting LogME
on every resample costs about 0.7 plain rankings per resample (``benchmarks/bootstrap_cost.py``).
With N <= D every resample is refitted (cheap there: the Gram matrix is N x N). Each ESM's
resampled scores are then
centred on its score for the real target, and every resample is ranked. From the resampled
ranks each ESM gets a rank interval, the probability that it ranks first and that it lands in
the top 3. When the top ranks overlap, the ranking cannot tell them apart at this target size:
say so rather than print "1." and "2." as if they differed.

Why not the classic bootstrap (rows drawn with replacement)? Measured against the real
sampling variability of rankings (independent samples of the same size from a larger pool,
``benchmarks/bootstrap_calibration.py``): a resample with replacement keeps only about 0.63 N
distinct rows, fewer than the embedding dimension for typical targets, where LogME is unstable;
its score spreads came out 1.24 to 1.32 times too wide in the median (up to 40 times where
0.63 N fell below D), and each ESM's scores drifted by a different amount, so that P(rank 1)
could favour another ESM than the ranking's first. Positive weights on
every row keep the rank of the features; centring removes the drift that remains.
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


def bootstrap_weights(num_rows: int, resamples: int, seed: int = 0) -> np.ndarray:
    """``resamples`` x ``num_rows`` Bayesian-bootstrap weights: each row ``N * Dirichlet(1)``,
    so every row counts (a positive weight), the weights of a resample sum to N and, like a
    count of draws with replacement, each has mean 1 and variance about 1."""
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(num_rows), size=resamples) * num_rows


def bootstrap_scores(
    features: Mapping[str, np.ndarray],
    embeddings: np.ndarray,
    labels: np.ndarray,
    regression: bool,
    *,
    configs: Mapping[str, Any] | None = None,
    ranker: str = ESM_LOGME,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    n_jobs: int | None = None,
    others: Mapping[str, Mapping[str, float]] | None = None,
    linearised: bool = True,
) -> tuple[list[str], np.ndarray]:
    """The ranker's scores of the ESMs in ``features`` on each bootstrap resample, centred.

    Returns ``(names, scores)`` with ``scores`` of shape (resamples, K + M): column ``j`` is ESM
    ``names[j]``'s score on each resample, shifted so that its mean over the resamples is the
    ESM's score on the real target (for a fusion: its minus mean rank, fused per resample from
    the members' centred scores). The K bootstrapped ESMs come first, then the M ESMs of
    ``others``, held at their scores (a fusion ranks them anew on each resample). Arguments as
    :func:`bootstrap_ranks`.
    """
    names = list(features)
    configs = {name: (configs or {}).get(name) for name in names}
    labels = np.asarray(labels)
    x = np.asarray(embeddings)
    weights = bootstrap_weights(len(labels), resamples, seed)
    ones = np.ones(len(labels))

    from hfselect_widgets.engine.scoring.ranking import _single_threaded_blas, default_n_jobs

    members = ranker_members(ranker)
    preparers = {
        member: make_resampling_scorer(member, x, labels, regression, linearised=linearised)
        for member in members
    }
    jobs = [(member, name) for member in members for name in names]

    def prepare(job):
        member, name = job
        return preparers[member](
            features[name] if member in NEEDS_FEATURES else None, configs[name]
        )

    def one(w):
        return {member: [score(w) for score in prepared[member]] for member in members}

    workers = max(1, min(n_jobs or default_n_jobs(), max(len(jobs), resamples + 1)))
    # One BLAS thread per worker, as the scoring loop does: nested threading oversubscribes
    # the cores (measured: 4x slower at D = 768 on 2 cores).
    with _single_threaded_blas(workers > 1), ThreadPoolExecutor(workers) as pool:
        # Prepared once per ESM, in parallel: what does not depend on the weights.
        prepared = {member: [] for member in members}
        for (member, _), scorer in zip(jobs, pool.map(prepare, jobs), strict=True):
            prepared[member].append(scorer)
        point, *draws = list(pool.map(one, [ones, *weights]))
    centred = {}
    for member in members:
        table = np.array([d[member] for d in draws], dtype=np.float64).reshape(resamples, -1)
        with np.errstate(invalid="ignore"):
            shift = np.asarray(point[member], dtype=np.float64) - table.mean(axis=0)
        centred[member] = table + shift
    others = {m: dict((others or {}).get(m) or {}) for m in members}
    rest = [
        name for name in dict.fromkeys(n for m in members for n in others[m]) if name not in configs
    ]
    if ranker != FUSION:
        fixed = np.array([others[ranker].get(name, np.nan) for name in rest], dtype=np.float64)
        return names + rest, np.hstack([centred[ranker], np.tile(fixed, (resamples, 1))])
    everyone = names + rest
    fused = [
        rank_fusion(
            {m: {**others[m], **dict(zip(names, centred[m][r], strict=True))} for m in members}
        )
        for r in range(resamples)
    ]
    return everyone, np.array([[f[name] for name in everyone] for f in fused], dtype=np.float64)


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
    others: Mapping[str, Mapping[str, float]] | None = None,
    linearised: bool = True,
) -> dict[str, RankInterval]:
    """Rank intervals of the ESMs in ``features`` (name -> target mapped through that ESM).

    The ranks are positions among the bootstrapped ESMs and those of ``others``; tied scores
    share the better rank.

    Args:
        features: the (N, D) ESM-transformed target embeddings of each ESM (the top K).
        embeddings, labels, regression: the target (base embeddings for ``textemb``).
        configs: ESM configs by name (``textemb`` reads the source embedding from them).
        ranker: the ranker whose order is resampled.
        resamples: bootstrap resamples of the target rows.
        confidence: the share of resampled ranks inside each interval.
        seed: the resampling seed.
        n_jobs: resamples scored at once (LAPACK releases the GIL).
        others: the rest of the ranking, not bootstrapped: ranker member -> {ESM name: its
            score} (the members of a fusion, else the ranker itself), held at those scores, so
            that resampled ranks are positions in the whole ranking.
        linearised: score LogME's resamples to first order from each row's influence (one
            eigen-decomposition per ESM, then O(N) per resample) where the target has more
            rows than dimensions; ``False`` refits LogME on every resample (slower; the
            calibration benchmark compares both).
    """
    if not features:
        return {}
    names, scores = bootstrap_scores(
        features,
        embeddings,
        labels,
        regression,
        configs=configs,
        ranker=ranker,
        resamples=resamples,
        seed=seed,
        n_jobs=n_jobs,
        others=others,
        linearised=linearised,
    )
    # rank 1 = the highest score; tied scores share the better rank ("1 + how many score
    # higher"), so a tie never looks like a lead; a NaN (an ESM the ranker cannot score) is last
    keyed = np.where(np.isfinite(scores), scores, -np.inf)
    k = len(features)  # the bootstrapped ESMs are the first k columns
    ranks = 1 + (keyed[:, None, :] > keyed[:, :k, None]).sum(axis=2)
    tail = (1 - confidence) / 2
    result = {}
    for j, name in enumerate(names[:k]):
        values = ranks[:, j]
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
    "bootstrap_scores",
    "bootstrap_weights",
    "separable_top",
]
