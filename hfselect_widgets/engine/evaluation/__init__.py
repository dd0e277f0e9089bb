"""Ranking quality as a feature: retrieval checks, real-transfer ground truth and metrics.

* :mod:`.retrieval`: does a held-out sample of a source rank its own ESM first? (no
  fine-tuning needed)
* :mod:`.transfer`: the ground truth: fine-tune the base model and each source model on a
  target's small sample, evaluate on its test rows, seeds, resumable results.
* :mod:`.verify`: the check in the toolkit: fine-tune on a ranking's top picks, then on the
  user's target, against the target alone.
* :mod:`.report`: every ranker beside the baselines, as tables (JSON, CSV, Markdown).
* :mod:`.metrics`: regret@k, NDCG@k, Spearman, Kendall and top-k hits, with bootstrap intervals
  over targets and seeds, always beside the random and static baselines.
"""

from hfselect_widgets.engine.evaluation.metrics import (
    NO_TRANSFER,
    MetricSummary,
    compare,
    evaluate,
    evaluate_random,
    score_correlation,
    static_scores,
    static_transfer_scores,
)
from hfselect_widgets.engine.evaluation.report import (
    EvaluationReport,
    build_report,
    report_from_results,
)
from hfselect_widgets.engine.evaluation.retrieval import (
    RetrievalResult,
    expected_pairs,
    ranking_scores,
    self_retrieval,
    summarize,
)
from hfselect_widgets.engine.evaluation.transfer import (
    TransferStore,
    TransferTarget,
    measure_transfer,
    recipe_key,
    target_recipe,
)
from hfselect_widgets.engine.evaluation.verify import (
    VerificationResult,
    verify_transfer,
)

__all__ = [
    "NO_TRANSFER",
    "EvaluationReport",
    "MetricSummary",
    "RetrievalResult",
    "TransferStore",
    "TransferTarget",
    "VerificationResult",
    "build_report",
    "compare",
    "evaluate",
    "evaluate_random",
    "expected_pairs",
    "measure_transfer",
    "ranking_scores",
    "recipe_key",
    "report_from_results",
    "score_correlation",
    "self_retrieval",
    "static_scores",
    "static_transfer_scores",
    "summarize",
    "target_recipe",
    "verify_transfer",
]
