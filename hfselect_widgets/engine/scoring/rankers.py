"""Rankers: ways to score an ESM (a candidate intermediate dataset) for one target.

Every ranker turns what is known about the target (its base-model embeddings and labels) and
one ESM (its config, and the target embeddings mapped through it) into one number, higher =
better. :func:`make_scorer` prepares the target once; the returned function is called per ESM
from the scoring loop, so every ranker streams the pool exactly like ESM-LogME does.

* ``esm-logme``: LogME of the ESM-transformed embeddings (hf-dataset-selector's score, to 1e-6).
* ``logme-permutation``: ESM-LogME minus the mean ESM-LogME of the same features with the
  target's labels shuffled (a few fixed permutations). The shuffled score measures how well the
  features fit *any* labelling of this size; subtracting it removes the part of the score that
  does not depend on the target's labels. The permuted label columns share the ESM's Gram
  matrix and its reduction, so it costs little more than one LogME.
* ``knn``: leave-one-out k-nearest-neighbour accuracy (cosine, distance-weighted votes; R² for
  regression) of the ESM-transformed embeddings (Sorkhei et al., 2025, call kNN on features a
  strong transferability estimator).
* ``fusion``: mean rank of ``logme-permutation``, ``knn`` and ``textemb`` over the pool.
* ``textemb``: cosine between the target's mean base embedding and the source's (stored in
  ESM configs we write under ``source_mean_embedding``; ESMs without it get no score). It needs
  no transformation and no labels: a pure "domain nearness".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from hfselect_widgets.engine.scoring.logme import LogMETarget, label_columns

SOURCE_EMBEDDING_KEY = "source_mean_embedding"
"""ESM config key (ours) of the source's mean base embedding, for the ``textemb`` ranker."""

ESM_LOGME = "esm-logme"
LOGME_PERMUTATION = "logme-permutation"
KNN = "knn"
TEXTEMB = "textemb"
FUSION = "fusion"
FUSION_MEMBERS = ("logme-permutation", "knn", "textemb")
"""The rankers whose mean rank ``fusion`` is (the best fusion on the pool benchmark)."""

RANKERS: Mapping[str, str] = {
    LOGME_PERMUTATION: "ESM-LogME minus its mean with the target's labels shuffled",
    ESM_LOGME: "LogME of the ESM-transformed target embeddings (hf-dataset-selector's score)",
    KNN: "leave-one-out kNN accuracy (R² for regression) on ESM-transformed embeddings",
    TEXTEMB: "cosine of the mean base embeddings of target and source (domain nearness)",
    FUSION: "mean rank of logme-permutation, knn and textemb",
}
"""Every ranker's name and what it measures; the front ends' default first."""

NEEDS_FEATURES = frozenset({ESM_LOGME, LOGME_PERMUTATION, KNN})
"""Rankers that need the target mapped through each ESM (``textemb`` does not)."""
LOGME_BATCHED = frozenset({ESM_LOGME, LOGME_PERMUTATION})
"""Rankers the batched torch LogME (:mod:`.batched`, GPUs) scores: the LogME ones."""

DEFAULT_PERMUTATIONS = 5
DEFAULT_NEIGHBOURS = 10

Scorer = Callable[[np.ndarray | None, Any], float]
"""``scorer(features, config) -> score``: features are the (N, D) ESM-transformed target
embeddings (``None`` for rankers outside :data:`NEEDS_FEATURES`), config the ESM's config."""


def ranker_members(name: str) -> tuple[str, ...]:
    """The rankers whose scores ``name`` needs per ESM (itself, or a fusion's members)."""
    check_ranker(name)
    return FUSION_MEMBERS if name == FUSION else (name,)


def check_ranker(name: str) -> str:
    """``name`` if it is a known ranker, else a ValueError listing them."""
    if name not in RANKERS:
        raise ValueError(f"Unknown ranker {name!r}; choose one of {', '.join(RANKERS)}.")
    return name


def canonical_row_order(embeddings: np.ndarray) -> np.ndarray:
    """An order of the target's rows that does not depend on the order they came in: by their
    base embeddings (lexicographically). Shuffling labels in this order makes the permutation
    control a function of the rows themselves, so the same sample in another order (the CLI
    samples rows, ``compute_task_ranking`` takes them as given) gets the same scores."""
    x = np.asarray(embeddings)
    return np.lexsort(x.T[::-1]) if x.ndim == 2 and x.shape[1] else np.arange(len(x))


class _PermutationTarget(LogMETarget):
    """LogME on the real label columns and ``permutations`` shuffled copies at once.

    ``row_order``: the order in which the labels are shuffled (:func:`canonical_row_order`);
    ``None`` shuffles in the order given."""

    def __init__(
        self,
        labels: np.ndarray,
        regression: bool,
        permutations: int,
        seed: int,
        row_order: np.ndarray | None = None,
    ):
        super().__init__(labels, regression)
        rng = np.random.default_rng(seed)
        real = self.y
        order = np.arange(len(real)) if row_order is None else np.asarray(row_order)
        shuffled = []
        for _ in range(permutations):
            # row order[j] gets the label of row order[perm[j]]
            column = np.empty_like(real)
            column[order] = real[order[rng.permutation(len(real))]]
            shuffled.append(column)
        self.y = np.asfortranarray(np.hstack([real, *shuffled]))
        self.y_sq_norms = (self.y**2).sum(axis=0)

    def combine(self, evidences: np.ndarray) -> np.ndarray:
        # the real labels' mean evidence minus the shuffled ones'; a resample keeps each row's
        # shuffled labels attached to it: the pair is what is resampled
        return self.esm_logme(evidences) - np.mean(evidences[..., self.real_columns :], axis=-1)


def logme_target(
    ranker: str,
    labels: np.ndarray,
    regression: bool,
    *,
    embeddings: np.ndarray | None = None,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> LogMETarget:
    """The target of a LogME ranker, prepared once: its label columns (for
    ``logme-permutation`` the real ones first, then the shuffled copies) and its ``combine``.

    The first ``real_columns`` columns are always the target's own labels, so the mean of
    their evidences is the ESM-LogME score whichever LogME ranker it is. ``embeddings`` (the
    target's base embeddings) fix the order in which labels are shuffled
    (:func:`canonical_row_order`), so that the score does not depend on the rows' order.
    """
    if ranker == ESM_LOGME:
        return LogMETarget(labels, regression)
    if ranker == LOGME_PERMUTATION:
        order = None if embeddings is None else canonical_row_order(embeddings)
        return _PermutationTarget(labels, regression, permutations, seed, order)
    raise ValueError(f"{ranker!r} is not a LogME ranker")


def make_scorers(
    names: Sequence[str],
    embeddings: np.ndarray,
    labels: np.ndarray,
    regression: bool,
    **options: Any,
) -> Callable[[np.ndarray, Any], dict[str, float]]:
    """Prepare several rankers for one target; the result scores one ESM for all of them.

    ESM-LogME and ``logme-permutation`` together share one LogME fit: ESM-LogME is the mean
    evidence of the permutation control's real label columns (each column's fixed point is its
    own, so this equals ESM-LogME alone to rounding), which halves the cost of ranking with
    the permutation control while keeping ESM-LogME as a column.
    """
    names = list(dict.fromkeys(names))
    shared = ESM_LOGME in names and LOGME_PERMUTATION in names
    permuted = None
    if shared:
        permuted = logme_target(
            LOGME_PERMUTATION,
            labels,
            regression,
            embeddings=embeddings,
            **{k: v for k, v in options.items() if k in ("permutations", "seed")},
        )
    scorers = {
        name: make_scorer(name, embeddings, labels, regression, **options)
        for name in names
        if not (shared and name in (ESM_LOGME, LOGME_PERMUTATION))
    }

    def score_all(features: np.ndarray, config: Any) -> dict[str, float]:
        scores: dict[str, float] = {}
        if permuted is not None:
            evidences = permuted.column_evidences(features)
            scores[ESM_LOGME] = float(permuted.esm_logme(evidences))
            scores[LOGME_PERMUTATION] = float(permuted.combine(evidences))
        for name, scorer in scorers.items():
            scores[name] = float(scorer(features if name in NEEDS_FEATURES else None, config))
        return {name: scores[name] for name in names}

    return score_all


def knn_row_outcomes(
    features: np.ndarray, labels: np.ndarray, regression: bool, k: int = DEFAULT_NEIGHBOURS
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out kNN on cosine similarity, row by row: ``(outcome, y)`` where ``outcome`` is
    1/0 for a correct/wrong similarity-weighted vote (classification, ``y`` the labels) or the
    (N, C) similarity-weighted mean prediction (regression, ``y`` the label columns)."""
    f = np.asarray(features, dtype=np.float64)
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    similarity = f @ f.T
    np.fill_diagonal(similarity, -np.inf)  # leave one out
    k = max(1, min(k, len(f) - 1))
    neighbours = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    weights = np.maximum(np.take_along_axis(similarity, neighbours, axis=1), 0.0) + 1e-6
    if regression:
        y = label_columns(labels, True)
        predicted = np.einsum("nk,nkc->nc", weights, y[neighbours]) / weights.sum(1)[:, None]
        return predicted, y
    onehot = label_columns(labels, False)
    votes = np.einsum("nk,nkc->nc", weights, onehot[neighbours])
    truth = np.asarray(labels).astype(int)
    return (votes.argmax(axis=1) == truth).astype(np.float64), truth


def _knn_summary(
    outcome: np.ndarray, y: np.ndarray, regression: bool, weights: np.ndarray | None = None
) -> float:
    """Accuracy (classification) or R² (regression) of the rows' kNN outcomes, each row
    counted ``weights[i]`` times (once when ``weights`` is None)."""
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    if not regression:
        return float(w @ outcome / w.sum())
    mean = (w @ y) / w.sum()
    residual = float(w @ ((y - outcome) ** 2).sum(axis=1))
    total = float(w @ ((y - mean) ** 2).sum(axis=1))
    return 1.0 - residual / total if total > 0 else 0.0


def knn_score(
    features: np.ndarray, labels: np.ndarray, regression: bool, k: int = DEFAULT_NEIGHBOURS
) -> float:
    """Leave-one-out kNN on cosine similarity: accuracy (classification, similarity-weighted
    votes) or R² of the similarity-weighted mean (regression)."""
    outcome, y = knn_row_outcomes(features, labels, regression, k)
    return _knn_summary(outcome, y, regression)


def source_embedding(config: Any) -> np.ndarray | None:
    """The source's mean base embedding from an ESM config, if it was recorded."""
    getter = getattr(config, "get", None)
    value = getter(SOURCE_EMBEDDING_KEY) if callable(getter) else None
    return None if value is None else np.asarray(value, dtype=np.float64)


def mean_embedding(embeddings: np.ndarray) -> list[float]:
    """The value stored under :data:`SOURCE_EMBEDDING_KEY`: the mean embedding, as floats
    rounded to 6 significant digits (a 768-d vector is about 9 kB of JSON)."""
    mean = np.asarray(embeddings, dtype=np.float64).mean(axis=0)
    return [float(f"{v:.6g}") for v in mean]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def make_scorer(
    ranker: str,
    embeddings: np.ndarray,
    labels: np.ndarray,
    regression: bool,
    *,
    permutations: int = DEFAULT_PERMUTATIONS,
    neighbours: int = DEFAULT_NEIGHBOURS,
    seed: int = 0,
) -> Scorer:
    """Prepare ``ranker`` for one target (its base embeddings and labels); the result scores
    one ESM from its transformed features and its config (NaN when it cannot)."""
    if check_ranker(ranker) == FUSION:
        raise ValueError("fusion has no per-ESM scorer: score its members, then rank_fusion.")
    if ranker in (ESM_LOGME, LOGME_PERMUTATION):
        target = logme_target(
            ranker, labels, regression, embeddings=embeddings, permutations=permutations, seed=seed
        )
        return lambda features, config: target.score(features)
    if ranker == KNN:
        labels = np.asarray(labels)
        return lambda features, config: knn_score(features, labels, regression, neighbours)
    target_mean = np.asarray(embeddings, dtype=np.float64).mean(axis=0)

    def textemb(features, config) -> float:
        source = source_embedding(config)
        if source is None or source.shape != target_mean.shape:
            return float("nan")
        return _cosine(target_mean, source)

    return textemb


WeightedScorer = Callable[[np.ndarray], float]
"""One ESM's score for a reweighting of the target's rows (``weights[i]``: how much row ``i``
counts; all ones gives the plain score)."""


def make_resampling_scorer(
    ranker: str,
    embeddings: np.ndarray,
    labels: np.ndarray,
    regression: bool,
    *,
    permutations: int = DEFAULT_PERMUTATIONS,
    neighbours: int = DEFAULT_NEIGHBOURS,
    linearised: bool = True,
) -> Callable[[np.ndarray | None, Any], WeightedScorer]:
    """For the bootstrap: prepare ``ranker`` once for the target, then once per ESM (its
    features and config) into a :data:`WeightedScorer` that scores any reweighting of the rows.

    What does not depend on the weights is computed once per ESM. The LogME rankers, when the
    target has more rows than dimensions and ``linearised`` is on, take each row's influence on
    the score once (one eigen-decomposition, :meth:`LogMETarget.linearised_scorer`) and then
    score a reweighting in O(N), to first order; otherwise (or with ``linearised=False``) they
    refit LogME on the weighted rows, exactly (:meth:`LogMETarget.resampled_column_evidences`;
    with N <= D its Gram matrix is N x N and cheap). kNN finds every row's leave-one-out
    neighbours once and weights the rows' outcomes; TextEmb weights the target's mean embedding.
    """
    if check_ranker(ranker) == FUSION:
        raise ValueError("fusion has no per-ESM scorer: score its members, then rank_fusion.")
    if ranker in (ESM_LOGME, LOGME_PERMUTATION):
        target = logme_target(
            ranker, labels, regression, embeddings=embeddings, permutations=permutations
        )

        def prepare_logme(features, config) -> WeightedScorer:
            rows, dim = np.shape(features)
            if linearised and rows > dim:
                return target.linearised_scorer(features)
            return lambda w: target.resampled_score(features, w)

        return prepare_logme
    if ranker == KNN:

        def prepare_knn(features, config) -> WeightedScorer:
            outcome, y = knn_row_outcomes(features, labels, regression, neighbours)
            return lambda w: _knn_summary(outcome, y, regression, w)

        return prepare_knn
    x = np.asarray(embeddings, dtype=np.float64)

    def prepare_textemb(features, config) -> WeightedScorer:
        source = source_embedding(config)
        if source is None or source.shape != x.shape[1:]:
            return lambda w: float("nan")
        return lambda w: _cosine((w @ x) / w.sum(), source)

    return prepare_textemb


def rank_fusion(tables: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Mean-rank fusion of several rankers' scores of the same candidates: each candidate's
    score is minus its mean rank (1 = best) over the rankers that scored it."""
    candidates = sorted({c for table in tables.values() for c in table})
    ranks: dict[str, list[float]] = {c: [] for c in candidates}
    for table in tables.values():
        finite = {c: v for c, v in table.items() if np.isfinite(v)}
        order = sorted(finite, key=lambda c: -finite[c])
        for position, candidate in enumerate(order, start=1):
            ranks[candidate].append(position)
    return {c: -float(np.mean(r)) if r else float("nan") for c, r in ranks.items()}


__all__ = [
    "ESM_LOGME",
    "FUSION",
    "FUSION_MEMBERS",
    "KNN",
    "LOGME_BATCHED",
    "LOGME_PERMUTATION",
    "NEEDS_FEATURES",
    "RANKERS",
    "SOURCE_EMBEDDING_KEY",
    "TEXTEMB",
    "canonical_row_order",
    "check_ranker",
    "knn_row_outcomes",
    "knn_score",
    "logme_target",
    "make_resampling_scorer",
    "make_scorer",
    "make_scorers",
    "mean_embedding",
    "rank_fusion",
    "ranker_members",
    "source_embedding",
]
