"""Every default of a ranking request, in one place: front ends read them from here.

Changing a value here changes it for the Python API, the CLI, the magic and the widgets alike.
"""

from __future__ import annotations

NUM_EXAMPLES = 1000
"""Target rows sampled for ranking (hfselect's default). ``None`` / 0 in a front end: all rows."""
SEED = 42
"""Sampling seed (the same seed picks the same rows as hfselect)."""
SPLIT = "train"
"""The split a Hub dataset is sampled from."""
TEXT_COL = "text"
LABEL_COL = "label"
MAX_LENGTH = 128
"""Texts are truncated to this many tokens, as the published ESMs were trained."""
BATCH_SIZE = 128
"""Texts per embedding batch."""
DEVICE = "auto"
"""``"auto"``: CUDA when present, else the CPU."""
TOP = 10
"""Rows of a printed top list or a shown table."""
FILTER_KEYS = ("task_id", "min_examples", "language", "architecture")
"""The ESM metadata a pool can be narrowed by (``--filter KEY=VALUE``)."""
POOL = "demo"
"""The ESM pool when a front end names none: the bundled demo collection (offline)."""

__all__ = [
    "BATCH_SIZE",
    "DEVICE",
    "FILTER_KEYS",
    "LABEL_COL",
    "MAX_LENGTH",
    "NUM_EXAMPLES",
    "POOL",
    "SEED",
    "SPLIT",
    "TEXT_COL",
    "TOP",
]

# --- training an ESM: the fine-tuning of the base model and the fit of the map ---------------

FINETUNE_EPOCHS = 3
"""Fine-tuning epochs: the paper's recipe."""
FINETUNE_LEARNING_RATE = 2e-5
FINETUNE_BATCH_SIZE = 32
FINETUNE_WEIGHT_DECAY = 0.01
FINETUNE_MIN_STEPS = 150
"""Epochs are added (up to :data:`FINETUNE_MAX_EPOCHS`) until fine-tuning takes at least this
many optimizer steps: 1 epoch of 1,500 rows (47 steps) left fine-tunes that had not learned
(benchmarks/README.md, "Training that learns")."""
FINETUNE_MAX_EPOCHS = 10
ESM_FIT_EPOCHS = 10
"""The ESM fit: hf-dataset-selector 0.2.1's ``ESMTrainer`` recipe (SGD with AdamW)."""
ESM_FIT_BATCH_SIZE = 32
ESM_FIT_LEARNING_RATE = 1e-2
ESM_FIT_WEIGHT_DECAY = 0.01

RANKER = "logme-permutation"
"""The default ranker of the front ends (request layer, CLI, magic, App): ESM-LogME minus its
mean with the target's labels shuffled. On the pool benchmark (benchmarks/README.md, "Which
ranker is the default"; 12 targets, 3 seeds, 2026-12-07) it is the only ranker whose Spearman
with real transfer is clearly above random (+0.43 [0.18, 0.59]), a static order (+0.26
[0.06, 0.47]) and ESM-LogME (+0.23 [0.07, 0.42]), with no metric clearly worse; on regret@3 no
ranker is clear of the static order. It costs one LogME fit with extra label columns.
hf-dataset-selector's ESM-LogME stays a column of every ranking and the default of the
hfselect-compatible ``compute_task_ranking``."""
RESAMPLES = 100
"""Bootstrap resamples of the target rows for rank intervals: 100, so that a 90 % interval
leaves 5 draws out on each side and P(rank 1) reads to 0.01. Cheap where the target has more
rows than dimensions: each resample's LogME then follows from the rows' influences, and the
whole bootstrap costs under twice the plain ranking of the top K at any count
(benchmarks/README.md, "Rank intervals")."""
RANKER_NAMES = ("logme-permutation", "esm-logme", "knn", "textemb", "fusion")
"""Every ranker (:data:`hfselect_widgets.engine.scoring.rankers.RANKERS` describes each),
listed here so that front ends offer them without importing the scoring code."""
