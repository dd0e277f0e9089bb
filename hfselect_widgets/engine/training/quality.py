"""Training-quality checks: whether an ESM just trained can be trusted to rank well.

An ESM is only as good as the fine-tuning it approximates: a fine-tune that did not learn its
task, or a map fitted on too few rows or explaining little of the embeddings' move, ranks
poorly. :func:`quality_warnings` says why in sentences that :func:`~.train.train_esm` issues as
:class:`TrainingQualityWarning` and records in the ESM's config.
"""

from __future__ import annotations

from typing import Any

from hfselect_widgets.engine.esm.fit import FitResult
from hfselect_widgets.engine.training.finetune import FineTuneValidation


class TrainingQualityWarning(UserWarning):
    """Training produced an ESM that may rank poorly (see :attr:`TrainedESM.quality_warnings`)."""


# An ESM fit judged on fewer held-out rows than this says little about the map.
MIN_FIT_HOLDOUT_ROWS = 50
# Below this hold-out R² the map explains little of how fine-tuning moved the embeddings.
POOR_FIT_R2 = 0.2


def validation_values(validation: FineTuneValidation | None) -> dict[str, Any]:
    """The ESM config keys (ours) recording what the fine-tuned model learned."""
    if validation is None:
        return {"lm_learned": None}
    return {
        "lm_val_metric": validation.metric,
        "lm_val_value": round(validation.value, 6),
        "lm_val_baseline": round(validation.baseline, 6),
        "lm_val_rows": validation.num_rows,
        "lm_learned": validation.learned,
    }


def quality_warnings(
    validation: FineTuneValidation | None, fitted: FitResult, embedding_dim: int
) -> list[str]:
    """Sentences for each reason to distrust the ESM that was just trained."""
    found = []
    if validation is not None and validation.learned is False:
        found.append(validation.message())
    holdout = fitted.holdout_quality
    if holdout is None or holdout.num_rows < MIN_FIT_HOLDOUT_ROWS:
        rows = 0 if holdout is None else holdout.num_rows
        found.append(
            f"The ESM fit was checked on {rows} held-out rows (fewer than "
            f"{MIN_FIT_HOLDOUT_ROWS}): too few to judge the map; train on more rows."
        )
    elif not holdout.r2 >= POOR_FIT_R2:
        found.append(
            f"The ESM map explains little of how fine-tuning moved the embeddings (hold-out "
            f"R² {holdout.r2:.2f} on {holdout.num_rows} rows, D = {embedding_dim}): train on "
            "more rows, or use fit='least_squares' with a ridge."
        )
    return found


__all__ = [
    "MIN_FIT_HOLDOUT_ROWS",
    "POOR_FIT_R2",
    "TrainingQualityWarning",
    "quality_warnings",
    "validation_values",
]
