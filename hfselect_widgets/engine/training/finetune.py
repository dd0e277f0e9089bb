"""Fine-tune a base language model on an intermediate dataset (the first step of training an ESM).

The model is trained with a small head on the *same pooled embedding* that ranking uses (see
:func:`embedding.pool`): mean pooling for sentence-transformers models, the pooler output for
BERT, the first token for DistilBERT/RoBERTa. A classification dataset gets
``Dropout + Linear(D, num_classes)`` with cross-entropy, a regression dataset
``Dropout + Linear(D, 1)`` with mean squared error, as ``*ForSequenceClassification`` models do.
The ESM later learns how this fine-tuning moved the pooled embeddings.

Defaults follow the ESM-LogME paper: 3 epochs, learning rate 2e-5, batch size 32, AdamW with
weight decay 0.01, a linear learning-rate schedule (no warm-up), gradients clipped to norm 1.0,
texts truncated to 128 tokens, with two additions that make small datasets learn and say so:
``min_steps`` adds epochs (up to ``max_epochs``) when the dataset is too small for the paper's
three epochs to reach enough optimizer steps, and ``validation_share`` of the rows is held out
to measure what the model learned against the majority (or mean) baseline
(:class:`FineTuneValidation`). Everything is overridable through :class:`FineTuneConfig`.

Runs are reproducible for a seed on one machine: the head's initialisation, dropout and the
batch order are drawn from RNGs seeded with ``config.seed`` (the global torch RNG state is
restored afterwards). The base model is never modified: training works on a private copy.
"""

from __future__ import annotations

import copy
import math
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from hfselect_widgets.engine import defaults
from hfselect_widgets.engine.embedding.model import (
    DEFAULT_MAX_LENGTH,
    BaseModel,
    _pad_batch,
    _pad_token_id,
    load_base_model,
    pool,
    resolve_device,
)
from hfselect_widgets.engine.progress import (
    STAGE_TRAINING,
    CancelToken,
    ProgressCallback,
    check_cancel,
    report,
)
from hfselect_widgets.errors import TrainingConfigError, TrainingError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hfselect_widgets.engine.data.dataset import Dataset

OPTIMIZERS = ("adamw", "adam", "sgd")


@dataclass
class FineTuneConfig:
    """Hyper-parameters of fine-tuning the base model (defaults: the ESM-LogME paper's recipe).

    Attributes:
        num_epochs: passes over the dataset.
        learning_rate: peak learning rate (the schedule decays it linearly to 0).
        batch_size: texts per optimisation step.
        weight_decay: decoupled weight decay (AdamW), applied to all parameters.
        optimizer: ``"adamw"`` (default), ``"adam"`` or ``"sgd"``.
        warmup_ratio: fraction of the steps with a linear warm-up (0 = none).
        max_length: texts are truncated to this many tokens (ranking uses 128).
        seed: seeds the head, dropout and the batch order.
        max_grad_norm: gradients are clipped to this norm; ``None`` disables clipping.
        head_dropout: dropout before the head; ``None`` takes the model's own
            (``classifier_dropout`` or ``hidden_dropout_prob``, else 0.1).
        min_steps: when ``num_epochs`` passes give fewer optimizer steps than this, more epochs
            are run (at most ``max_epochs``): small datasets otherwise stop after a few dozen
            steps having learned nothing (``benchmarks/README.md``, "Training that learns").
            0 keeps exactly ``num_epochs``.
        max_epochs: the cap on the epochs that ``min_steps`` may add.
        validation_share: share of the rows held out (drawn with ``seed``) to measure the
            fine-tuned model against the majority / mean baseline; 0 trains on every row and
            measures nothing.
    """

    num_epochs: int = defaults.FINETUNE_EPOCHS
    learning_rate: float = defaults.FINETUNE_LEARNING_RATE
    batch_size: int = defaults.FINETUNE_BATCH_SIZE
    weight_decay: float = defaults.FINETUNE_WEIGHT_DECAY
    optimizer: str = "adamw"
    warmup_ratio: float = 0.0
    max_length: int = DEFAULT_MAX_LENGTH
    seed: int = 42
    max_grad_norm: float | None = 1.0
    head_dropout: float | None = None
    min_steps: int = defaults.FINETUNE_MIN_STEPS
    max_epochs: int = defaults.FINETUNE_MAX_EPOCHS
    validation_share: float = 0.1

    def epochs_for(self, num_rows: int) -> int:
        """The epochs actually run on ``num_rows`` training rows (see ``min_steps``)."""
        steps_per_epoch = max(1, math.ceil(num_rows / self.batch_size))
        needed = math.ceil(self.min_steps / steps_per_epoch) if self.min_steps else 0
        return max(self.num_epochs, min(self.max_epochs, needed))

    def validate(self) -> None:
        """Raise :class:`TrainingConfigError` naming the first invalid value."""

        def bad(name: str, rule: str) -> TrainingConfigError:
            return TrainingConfigError(
                f"Fine-tuning {name} must be {rule}, got {getattr(self, name)!r}."
            )

        for name in ("num_epochs", "batch_size", "max_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(name, "a positive integer")
        for name in ("min_steps",):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise bad(name, "an integer >= 0")
        if (
            isinstance(self.max_epochs, bool)
            or not isinstance(self.max_epochs, int)
            or self.max_epochs < self.num_epochs
        ):
            raise bad("max_epochs", "an integer >= num_epochs")
        if not _is_number(self.validation_share) or not 0 <= self.validation_share < 0.5:
            raise bad("validation_share", "in [0, 0.5)")
        if not _is_number(self.learning_rate) or not self.learning_rate > 0:
            raise bad("learning_rate", "a positive number")
        if not _is_number(self.weight_decay) or self.weight_decay < 0:
            raise bad("weight_decay", "a number >= 0")
        if not _is_number(self.warmup_ratio) or not 0 <= self.warmup_ratio < 1:
            raise bad("warmup_ratio", "in [0, 1)")
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", f"one of {', '.join(map(repr, OPTIMIZERS))}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise bad("seed", "an integer")
        if self.max_grad_norm is not None and (
            not _is_number(self.max_grad_norm) or not self.max_grad_norm > 0
        ):
            raise bad("max_grad_norm", "a positive number or None")
        if self.head_dropout is not None and (
            not _is_number(self.head_dropout) or not 0 <= self.head_dropout < 1
        ):
            raise bad("head_dropout", "in [0, 1) or None")

    def to_dict(self) -> dict[str, Any]:
        """The hyper-parameters as a plain dict."""
        return asdict(self)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class FineTuneResult:
    """The outcome of :func:`fine_tune`.

    Attributes:
        encoder: the fine-tuned encoder as a :class:`BaseModel` (same class as the base
            model's encoder, same tokenizer, pooling and maximum length; in eval mode), ready
            for :func:`embedding.embed_texts`.
        head: the trained head (dropout + linear layer on the pooled embedding).
        losses: the training loss of every step.
        seconds: wall-clock time of the training loop.
        config: the hyper-parameters used.
        num_steps: optimisation steps taken.
    """

    encoder: BaseModel
    head: nn.Module
    losses: list[float]
    seconds: float
    config: FineTuneConfig
    num_steps: int
    num_epochs: int = 0
    validation: FineTuneValidation | None = None

    @property
    def model(self) -> Any:
        """The fine-tuned transformers encoder (``encoder.model``)."""
        return self.encoder.model

    def predict(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        """The head's outputs for ``texts``: class logits (N, C), or (N,) for regression."""
        from hfselect_widgets.engine.embedding.model import embed_texts

        features = embed_texts(list(texts), self.encoder, batch_size)
        with torch.inference_mode():
            device = next(self.head.parameters()).device
            out = self.head(torch.as_tensor(features, device=device)).float().cpu().numpy()
        return out[:, 0] if out.shape[1] == 1 and self.is_regression else out

    @property
    def is_regression(self) -> bool:
        """Whether the head is a regression head (one output trained with MSE)."""
        return bool(getattr(self.head, "is_regression", False))

    def evaluate(self, dataset: Dataset, batch_size: int = 128) -> dict[str, float]:
        """Metrics of the fine-tuned model on a labelled ``dataset`` (see :func:`task_metrics`)."""
        predictions = self.predict(list(dataset.texts), batch_size)
        return task_metrics(predictions, np.asarray(dataset.labels), self.is_regression)


# Below these many held-out rows a validation metric says too little to warn on.
MIN_VALIDATION_ROWS = 20


@dataclass
class FineTuneValidation:
    """What a fine-tuned model learned, measured on rows it was not trained on.

    Attributes:
        metric: ``"accuracy"`` (classification) or ``"r2"`` (regression).
        value: the model's metric on the held-out rows.
        baseline: the same metric of the trivial predictor (the training rows' majority class,
            or their mean label).
        margin: how far above the baseline ``value`` must be to count as learned: 0.02, or
            twice the baseline's standard error on this many rows if larger.
        num_rows: held-out rows.
        learned: ``value > baseline + margin``; ``None`` when there were fewer than
            :data:`MIN_VALIDATION_ROWS` held-out rows to judge by.
        metrics: every metric of :func:`task_metrics` on the held-out rows.
    """

    metric: str
    value: float
    baseline: float
    margin: float
    num_rows: int
    learned: bool | None
    metrics: dict[str, float] = field(default_factory=dict)

    def message(self) -> str:
        """One sentence for people: what was measured and whether the model learned."""
        measured = (
            f"validation {self.metric} {self.value:.3f} vs {self.baseline:.3f} for the "
            f"{'majority class' if self.metric == 'accuracy' else 'mean label'} "
            f"({self.num_rows} held-out rows)"
        )
        if self.learned is None:
            return f"Fine-tuning: {measured}: too few rows to judge whether it learned."
        if self.learned:
            return f"Fine-tuning learned the source task: {measured}."
        if self.value > self.baseline + min_gain(self.metric):
            # Above the baseline, but not by more than these few rows can vouch for.
            return (
                f"Could not confirm that fine-tuning learned the source task: {measured}, a "
                f"gain of {self.value - self.baseline:+.3f} where these rows can only vouch "
                f"for more than {self.margin:+.3f}. Validate on more rows (a larger sample or "
                "validation_share), or train longer to make sure: an ESM of a model that did "
                "not learn is close to the identity map and ranks low for every target."
            )
        return (
            f"Fine-tuning barely learned the source task: {measured}. An ESM of a model that "
            "did not learn is close to the identity map and ranks low for every target: train "
            "longer (more epochs or min_steps), with a higher learning rate, or on more rows."
        )

    def to_dict(self) -> dict[str, Any]:
        """The validation as a plain dict."""
        return asdict(self)


def min_gain(metric: str) -> float:
    """The smallest gain over the baseline that counts as learning at all."""
    return 0.05 if metric == "r2" else 0.02


def learning_margin(metric: str, baseline: float, num_rows: int) -> float:
    """How far above the baseline a validation metric must be to say the model learned: for
    accuracy also two standard errors of the majority-class accuracy on ``num_rows`` rows."""
    if metric == "r2":
        return min_gain(metric)
    spread = math.sqrt(max(baseline * (1 - baseline), 1e-12) / max(num_rows, 1))
    return max(min_gain(metric), 2.0 * spread)


def task_metrics(predictions: np.ndarray, labels: np.ndarray, is_regression: bool) -> dict:
    """Accuracy and macro-F1 (classification: ``predictions`` are logits or class ids), or
    Pearson, Spearman, R² and MSE (regression), as plain floats."""
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    if is_regression:
        y, p = labels.astype(np.float64), predictions.astype(np.float64).reshape(-1)
        mse = float(np.mean((p - y) ** 2))
        variance = float(np.var(y))
        return {
            "pearson": _correlation(p, y),
            "spearman": _correlation(_ranks(p), _ranks(y)),
            "r2": 1.0 - mse / variance if variance > 0 else 0.0,
            "mse": mse,
        }
    predicted = predictions.argmax(-1) if predictions.ndim == 2 else predictions.astype(int)
    y = labels.astype(np.int64)
    f1s = []
    for label in np.unique(np.concatenate([y, predicted])):
        tp = float(np.sum((predicted == label) & (y == label)))
        fp = float(np.sum((predicted == label) & (y != label)))
        fn = float(np.sum((predicted != label) & (y == label)))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return {"accuracy": float(np.mean(predicted == y)), "macro_f1": float(np.mean(f1s))}


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), as Spearman's correlation needs."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(len(values), dtype=np.float64)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    return float(np.sum(a * b) / denominator) if denominator > 0 else 0.0


def _validate_model(
    result_head: nn.Module,
    encoder: BaseModel,
    texts: list[str],
    labels: np.ndarray,
    train_labels: np.ndarray,
    is_regression: bool,
) -> FineTuneValidation:
    """Measure the fine-tuned model on the held-out rows against the trivial predictor."""
    from hfselect_widgets.engine.embedding.model import embed_texts

    features = embed_texts(texts, encoder, 128)
    with torch.inference_mode():
        device = next(result_head.parameters()).device
        outputs = result_head(torch.as_tensor(features, device=device)).float().cpu().numpy()
    count = len(labels)
    if is_regression:
        metrics = task_metrics(outputs[:, 0], labels, True)
        baseline_mse = float(np.mean((labels - float(np.mean(train_labels))) ** 2))
        variance = float(np.var(labels))
        baseline = 1.0 - baseline_mse / variance if variance > 0 else 0.0
        metric, value = "r2", metrics["r2"]
    else:
        metrics = task_metrics(outputs, labels, False)
        majority = np.bincount(train_labels.astype(np.int64)).argmax()
        baseline = float(np.mean(labels == majority))
        metric, value = "accuracy", metrics["accuracy"]
    margin = learning_margin(metric, baseline, count)
    learned = None if count < MIN_VALIDATION_ROWS else bool(value > baseline + margin)
    return FineTuneValidation(
        metric=metric,
        value=float(value),
        baseline=float(baseline),
        margin=float(margin),
        num_rows=count,
        learned=learned,
        metrics=metrics,
    )


def _head_dropout(model: Any, config: FineTuneConfig) -> float:
    if config.head_dropout is not None:
        return float(config.head_dropout)
    model_config = getattr(model, "config", None)
    for name in ("classifier_dropout", "seq_classif_dropout", "hidden_dropout_prob", "dropout"):
        value = getattr(model_config, name, None)
        if _is_number(value) and 0 <= value < 1:
            return float(value)
    return 0.1


def _make_optimizer(parameters: list[nn.Parameter], config: FineTuneConfig):
    if config.optimizer == "adamw":
        return torch.optim.AdamW(
            parameters, lr=config.learning_rate, weight_decay=config.weight_decay
        )
    if config.optimizer == "adam":
        return torch.optim.Adam(
            parameters, lr=config.learning_rate, weight_decay=config.weight_decay
        )
    return torch.optim.SGD(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)


def linear_schedule(optimizer: torch.optim.Optimizer, num_warmup_steps: int, num_steps: int):
    """transformers' ``get_linear_schedule_with_warmup``, without importing transformers."""

    def factor(step: int) -> float:
        if step < num_warmup_steps:
            return step / max(1, num_warmup_steps)
        return max(0.0, (num_steps - step) / max(1, num_steps - num_warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _private_copy(
    base_model: BaseModel | str | os.PathLike,
    config: FineTuneConfig,
    device: torch.device,
    pooling: str | None,
) -> BaseModel:
    """A base model whose weights nobody else holds, on ``device``, ready to train."""
    if isinstance(base_model, BaseModel):
        # The given model may be shared through the in-process model cache: never train it.
        model = copy.deepcopy(base_model.model)
        private = BaseModel(
            model=model,
            tokenizer=base_model.tokenizer,
            model_id=base_model.model_id,
            load_from=base_model.load_from,
            pooling=pooling or base_model.pooling,
            embedding_dim=base_model.embedding_dim,
            device=device,
            max_length=config.max_length,
        )
    else:
        private = load_base_model(
            base_model, pooling=pooling, device=device, max_length=config.max_length, reuse=False
        )
    private.model.to(device)
    for parameter in private.model.parameters():
        parameter.requires_grad_(True)
    return private


def fine_tune(
    base_model: BaseModel | str | os.PathLike,
    dataset: Dataset,
    config: FineTuneConfig | None = None,
    *,
    device: str | torch.device = "auto",
    pooling: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> FineTuneResult:
    """Fine-tune ``base_model`` on ``dataset`` (classification or regression) and return it.

    Args:
        base_model: a loaded :class:`BaseModel` (it is copied, never modified) or a Hub id /
            local folder (loaded privately with ``load_base_model(..., reuse=False)``).
        dataset: the labelled dataset (:class:`data.Dataset`); ``dataset.is_regression``
            picks the head and loss.
        config: hyper-parameters (default: the paper's recipe, see :class:`FineTuneConfig`).
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ...
        pooling: overrides the base model's pooling (default: the one ranking uses).
        progress: called as ``progress("training", steps_done, total_steps)``.
        cancel: checked before every step; when set, :class:`RankingCancelled` is raised.

    Raises:
        TrainingConfigError: an invalid hyper-parameter.
        TrainingError: the loss became NaN or infinite (lower the learning rate).
        ModelLoadError, PoolingError: the base model cannot be loaded or pooled as asked.
        RankingCancelled: ``cancel`` was set.
    """
    config = config or FineTuneConfig()
    config.validate()
    torch_device = resolve_device(device)
    check_cancel(cancel, STAGE_TRAINING)
    encoder = _private_copy(base_model, config, torch_device, pooling)
    model, tokenizer = encoder.model, encoder.tokenizer

    all_texts = list(dataset.texts)
    all_labels = np.asarray(dataset.labels)
    train_rows, validation_rows = validation_split(len(all_texts), config)
    texts = [all_texts[i] for i in train_rows]
    count = len(texts)
    encoded = tokenizer(
        texts,
        truncation=True,
        max_length=config.max_length,
        padding=False,
        return_token_type_ids=False,
        return_attention_mask=False,
    )["input_ids"]
    pad_id = _pad_token_id(tokenizer)
    if dataset.is_regression:
        labels = torch.as_tensor(all_labels[train_rows], dtype=torch.float32)
        num_outputs, loss_function = 1, nn.MSELoss()
    else:
        labels = torch.as_tensor(all_labels[train_rows], dtype=torch.long)
        num_outputs, loss_function = int(dataset.num_classes or 1), nn.CrossEntropyLoss()

    num_epochs = config.epochs_for(count)
    steps_per_epoch = math.ceil(count / config.batch_size)
    total_steps = steps_per_epoch * num_epochs
    losses: list[float] = []
    report(progress, STAGE_TRAINING, 0, total_steps)
    rng_devices = [torch_device.index or 0] if torch_device.type == "cuda" else []
    start = time.perf_counter()
    # Seed the head, dropout and shuffling without disturbing the caller's RNG state.
    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(config.seed)
        head = nn.Sequential(
            nn.Dropout(_head_dropout(model, config)),
            nn.Linear(encoder.embedding_dim, num_outputs),
        ).to(torch_device)
        head.is_regression = bool(dataset.is_regression)
        shuffler = torch.Generator().manual_seed(config.seed)
        parameters = list(model.parameters()) + list(head.parameters())
        optimizer = _make_optimizer(parameters, config)
        warmup = math.ceil(config.warmup_ratio * total_steps)
        scheduler = linear_schedule(optimizer, warmup, total_steps)
        model.train()
        head.train()
        try:
            for _epoch in range(num_epochs):
                order = torch.randperm(count, generator=shuffler)
                for first in range(0, count, config.batch_size):
                    check_cancel(cancel, STAGE_TRAINING)
                    batch = order[first : first + config.batch_size]
                    input_ids, attention_mask = _pad_batch(
                        [encoded[i] for i in batch.tolist()], pad_id
                    )
                    input_ids = input_ids.to(torch_device)
                    attention_mask = attention_mask.to(torch_device)
                    outputs = model(input_ids=input_ids, attention_mask=attention_mask)
                    logits = head(pool(outputs, attention_mask, encoder.pooling))
                    target = labels[batch].to(torch_device)
                    if dataset.is_regression:
                        logits = logits.squeeze(-1)
                    loss = loss_function(logits, target)
                    if not torch.isfinite(loss):
                        raise TrainingError(
                            f"Fine-tuning diverged: the loss became {loss.item()} at step "
                            f"{len(losses) + 1}. Lower the learning rate (now "
                            f"{config.learning_rate}) or check the labels for extreme values."
                        )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if config.max_grad_norm is not None:
                        torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    losses.append(float(loss.item()))
                    report(progress, STAGE_TRAINING, len(losses), total_steps)
        finally:
            model.eval()
            head.eval()
    seconds = time.perf_counter() - start
    validation = None
    if len(validation_rows):
        check_cancel(cancel, STAGE_TRAINING)
        validation = _validate_model(
            head,
            encoder,
            [all_texts[i] for i in validation_rows],
            all_labels[validation_rows],
            all_labels[train_rows],
            bool(dataset.is_regression),
        )
    # It is no longer the Hub model, and no embedding cache may mistake it for the base model
    # (or for another fine-tuning of it).
    encoder._model_identity = f"{encoder.name}|fine-tuned={uuid.uuid4().hex}"
    encoder.load_from = f"{encoder.load_from} (fine-tuned)"
    encoder.model_id = None
    return FineTuneResult(
        encoder=encoder,
        head=head,
        losses=losses,
        seconds=seconds,
        config=config,
        num_steps=len(losses),
        num_epochs=num_epochs,
        validation=validation,
    )


def validation_split(num_rows: int, config: FineTuneConfig) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, validation): ``validation_share`` of the rows, drawn with the seed.

    At least one row is always kept for training; with fewer than 2 rows nothing is held out.
    """
    count = int(round(num_rows * config.validation_share)) if num_rows >= 2 else 0
    count = min(count, num_rows - 1)
    order = np.random.default_rng(config.seed).permutation(num_rows)
    return np.sort(order[count:]), np.sort(order[:count])


__all__ = [
    "FineTuneConfig",
    "FineTuneResult",
    "FineTuneValidation",
    "MIN_VALIDATION_ROWS",
    "fine_tune",
    "linear_schedule",
    "task_metrics",
    "validation_split",
    "OPTIMIZERS",
]
