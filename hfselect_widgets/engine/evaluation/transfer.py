"""Real-transfer ground truth: does intermediate fine-tuning on a source help a target?

For every (target, start model, seed) the start model (the base model, or the base model already
fine-tuned on a source, e.g. the one :func:`train_esm` keeps with ``finetuned_model_dir=``) is
fine-tuned on the target's small training sample and evaluated on the target's test rows. The
base model as start is the **no-transfer** baseline (:data:`metrics.NO_TRANSFER`).

Results go to a JSON-lines file, one line per finished run, appended and flushed as soon as the
run ends: a run killed halfway loses at most the fine-tuning in progress, and running the same
grid again skips every run already in the file (idempotent). A run is identified by target,
start model, seed and the recipe's fingerprint, so changing the recipe re-measures.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hfselect_widgets.engine.evaluation.metrics import NO_TRANSFER
from hfselect_widgets.engine.progress import CancelToken, ProgressCallback, check_cancel, report

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hfselect_widgets.engine.data.dataset import Dataset
    from hfselect_widgets.engine.training.finetune import FineTuneConfig

STAGE_TRANSFER = "transfer"
"""Progress stage of :func:`measure_transfer` (unit: fine-tuning run)."""

# The metric that ranks sources for a classification / regression target.
PRIMARY_METRIC = {False: "accuracy", True: "pearson"}


@dataclass(frozen=True)
class TransferTarget:
    """A target of the measurement: its small training sample and its test rows."""

    name: str
    train: Dataset
    test: Dataset


def target_recipe() -> FineTuneConfig:
    """The fine-tuning recipe on a small target (200-row scale): 5 epochs of batches of 16 at
    5e-5, no extra validation split (the test rows measure it), no step floor."""
    from hfselect_widgets.engine.training.finetune import FineTuneConfig

    return FineTuneConfig(
        num_epochs=5, batch_size=16, learning_rate=5e-5, min_steps=0, validation_share=0.0
    )


def recipe_key(config: FineTuneConfig) -> str:
    """A short fingerprint of a recipe (without its seed): runs of other recipes are not reused."""
    values = {k: v for k, v in config.to_dict().items() if k != "seed"}
    return hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()[:10]


class TransferStore:
    """The JSON-lines file of finished runs (see the module docstring)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.records: list[dict[str, Any]] = []
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if not line:
                    continue
                try:
                    self.records.append(json.loads(line))
                except ValueError:
                    continue  # a line cut by a crash: the run is simply redone
        self._keys = {self._key(r) for r in self.records}

    @staticmethod
    def _key(record: Mapping[str, Any]) -> tuple:
        return (record["target"], record["source"], int(record["seed"]), record["recipe"])

    def has(self, target: str, source: str, seed: int, recipe: str) -> bool:
        """Whether this run is already in the file."""
        return (target, source, int(seed), recipe) in self._keys

    def add(self, record: Mapping[str, Any]) -> None:
        """Append one finished run and flush it to disk (fsync) before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A crash can leave a line without its newline: start on a fresh line, or the new
        # record would be glued to the broken one and lost with it.
        cut = self.path.exists() and self.path.stat().st_size > 0 and not self._ends_with_newline()
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(("\n" if cut else "") + json.dumps(dict(record), sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.records.append(dict(record))
        self._keys.add(self._key(record))

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"

    def truth(
        self, metric: str | None = None, recipe: str | None = None
    ) -> dict[str, dict[str, dict[int, float]]]:
        """``truth[target][source][seed]`` of one metric (default: each target's primary)."""
        table: dict[str, dict[str, dict[int, float]]] = {}
        for record in self.records:
            if recipe is not None and record["recipe"] != recipe:
                continue
            name = metric or PRIMARY_METRIC[bool(record.get("is_regression"))]
            if name not in record["metrics"]:
                continue
            by_source = table.setdefault(record["target"], {})
            by_source.setdefault(record["source"], {})[int(record["seed"])] = float(
                record["metrics"][name]
            )
        return table


def measure_transfer(
    targets: Iterable[TransferTarget],
    start_models: Mapping[str, Any],
    store: TransferStore | str | os.PathLike,
    *,
    seeds: Iterable[int] = (0, 1, 2),
    recipe: FineTuneConfig | None = None,
    skip_self: bool = True,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    log: Any = None,
) -> TransferStore:
    """Fine-tune every start model on every target for every seed; record test metrics.

    Args:
        targets: the targets (small train sample, test rows).
        start_models: source name -> model to start from (a folder such as the one
            ``train_esm(..., finetuned_model_dir=...)`` keeps, a Hub id or a loaded
            :class:`BaseModel`); the key :data:`NO_TRANSFER` names the base model itself.
        store: the results file (or a :class:`TransferStore`); runs already in it are skipped.
        seeds: the seeds of each (target, start) pair; seeds are the outer loop, so that a
            partial run already covers every pair once.
        recipe: the target fine-tuning recipe (default :func:`target_recipe`); its seed is
            replaced by each seed in turn.
        skip_self: skip a source whose name is the target's (it would transfer trivially).
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ...
        progress: ``progress("transfer", runs_done, runs_total)`` after each run.
        cancel: checked before each run and between fine-tuning steps.
        log: an optional callable that receives one line per finished run.

    Returns the store, with every run of the grid in it.
    """
    from hfselect_widgets.engine.embedding.model import load_base_model
    from hfselect_widgets.engine.training.finetune import fine_tune

    store = store if isinstance(store, TransferStore) else TransferStore(store)
    recipe = recipe or target_recipe()
    key = recipe_key(recipe)
    targets = list(targets)
    seeds = list(seeds)
    grid = [
        (seed, target, source)
        for seed in seeds
        for target in targets
        for source in start_models
        if not (skip_self and source == target.name)
    ]
    total = len(grid)
    done = sum(store.has(t.name, s, seed, key) for seed, t, s in grid)
    report(progress, STAGE_TRANSFER, done, total)
    loaded: dict[str, Any] = {}
    for seed, target, source in grid:
        if store.has(target.name, source, seed, key):
            continue
        check_cancel(cancel, STAGE_TRANSFER)
        start = start_models[source]
        if isinstance(start, (str, os.PathLike)):
            # One loaded copy per start model (fine_tune trains a private copy of it).
            if source not in loaded:
                loaded.clear()
                loaded[source] = load_base_model(start, device=device, reuse=False)
            start = loaded[source]
        began = time.perf_counter()
        tuned = fine_tune(
            start, target.train, replace(recipe, seed=seed), device=device, cancel=cancel
        )
        metrics = tuned.evaluate(target.test)
        record = {
            "target": target.name,
            "source": source,
            "seed": seed,
            "recipe": key,
            "is_regression": bool(target.train.is_regression),
            "metrics": metrics,
            "train_rows": len(target.train),
            "test_rows": len(target.test),
            "final_loss": tuned.losses[-1] if tuned.losses else None,
            "seconds": round(time.perf_counter() - began, 2),
        }
        del tuned
        store.add(record)
        done += 1
        report(progress, STAGE_TRANSFER, done, total)
        if log is not None:
            log(
                f"[{done}/{total}] {target.name} <- {source} seed {seed}: "
                + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
                + f" ({record['seconds']:.0f} s)"
            )
    return store


__all__ = [
    "NO_TRANSFER",
    "PRIMARY_METRIC",
    "STAGE_TRANSFER",
    "TransferStore",
    "TransferTarget",
    "measure_transfer",
    "recipe_key",
    "target_recipe",
]
