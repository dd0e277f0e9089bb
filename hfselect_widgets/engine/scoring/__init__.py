"""Scoring: LogME (logme, with GIL-free LAPACK calls in lapack), the rankers built on it (rankers), ranking ESM pools (ranking), the TaskRanking result (result), the code that recomputes a ranking (codegen)."""

from hfselect_widgets.engine._lazy import lazy_exports

_EXPORTS = {
    "RANKERS": ".rankers",
    "make_scorer": ".rankers",
    "rank_fusion": ".rankers",
    "knn_score": ".rankers",
    "LogME": ".logme",
    "LogMETarget": ".logme",
    "label_columns": ".logme",
    "logme": ".logme",
    "logme_reference": ".logme",
    "ESMHandle": ".ranking",
    "ScoringResult": ".ranking",
    "compute_scores": ".ranking",
    "compute_task_ranking": ".ranking",
    "default_n_jobs": ".ranking",
    "resolve_esm_handles": ".ranking",
    "score_embeddings": ".ranking",
    "ranking_code": ".codegen",
    "TaskRanking": ".result",
    "PANDAS_COLUMNS": ".result",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
