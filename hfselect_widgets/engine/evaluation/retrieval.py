"""Retrieval checks: cheap sanity checks of a ranker that need no fine-tuning at all.

* **Self-retrieval**: a held-out sample of a source's own data should rank that source's ESM
  first; an ESM that is not found by its own data cannot be trusted for anything else.
* **Expected pairs**: for a target and the sources a person expects to be related (e.g. one
  sentiment dataset for another), the best rank among the expected ones.

Both work on score tables ``scores[sample][source]`` (one ranking per sample), so any ranker can
be checked; :func:`ranking_scores` turns a :class:`TaskRanking` into one row of such a table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class RetrievalResult:
    """Where the expected source(s) landed in one sample's ranking."""

    sample: str
    expected: list[str]
    rank: int | None
    """1-based rank of the best-placed expected source; ``None`` if none was ranked."""
    num_candidates: int
    top: list[str]

    @property
    def hit(self) -> bool:
        """Whether an expected source ranked first."""
        return self.rank == 1

    def to_dict(self) -> dict[str, Any]:
        """As a plain dict (with ``hit``)."""
        return {**asdict(self), "hit": self.hit}


def _order(scores: Mapping[str, float]) -> list[str]:
    # Ties are broken by name so the check is deterministic.
    return sorted(scores, key=lambda s: (-float(scores[s]), s))


def retrieval_rank(
    sample: str, scores: Mapping[str, float], expected: Iterable[str]
) -> RetrievalResult:
    """The best rank of any ``expected`` source in the ranking ``scores`` of ``sample``."""
    expected = list(expected)
    order = _order(scores)
    ranks = [order.index(source) + 1 for source in expected if source in scores]
    return RetrievalResult(
        sample=sample,
        expected=expected,
        rank=min(ranks) if ranks else None,
        num_candidates=len(order),
        top=order[:3],
    )


def self_retrieval(scores: Mapping[str, Mapping[str, float]]) -> list[RetrievalResult]:
    """For every sample named like a source, the rank of that source's own ESM."""
    return [retrieval_rank(name, row, [name]) for name, row in sorted(scores.items())]


def expected_pairs(
    scores: Mapping[str, Mapping[str, float]], expected: Mapping[str, Iterable[str]]
) -> list[RetrievalResult]:
    """For every ``target -> [related sources]``, the best rank among the related sources."""
    return [
        retrieval_rank(target, scores[target], related)
        for target, related in sorted(expected.items())
        if target in scores
    ]


def summarize(results: Iterable[RetrievalResult]) -> dict[str, Any]:
    """Share ranked first, mean rank and the misses (sample and rank)."""
    results = list(results)
    ranked = [r for r in results if r.rank is not None]
    return {
        "count": len(results),
        "hit_rate": sum(r.hit for r in results) / len(results) if results else float("nan"),
        "mean_rank": sum(r.rank for r in ranked) / len(ranked) if ranked else float("nan"),
        "misses": {r.sample: r.rank for r in results if not r.hit},
    }


def ranking_scores(ranking: Any, key: str = "task_id") -> dict[str, float]:
    """One row of a score table from a :class:`TaskRanking`: ``{config.<key>: score}``."""
    return {
        str(getattr(config, key)): float(score)
        for config, score in zip(ranking.esm_configs, ranking.scores, strict=True)
    }


__all__ = [
    "RetrievalResult",
    "expected_pairs",
    "ranking_scores",
    "retrieval_rank",
    "self_retrieval",
    "summarize",
]
