"""Fit a linear ESM ``y = x W^T + b`` to embedding pairs, and measure how well it fits.

Two fits:

* ``"least_squares"`` (our default): the closed-form least-squares solution, computed in float64
  from one SVD of the centred base embeddings, with an optional ridge penalty ``λ ||W||²`` on the
  weights (never on the bias: x and y are centred, so the bias is ``mean(y) - W mean(x)``). At
  ``λ = 0`` it is the minimum-norm solution, exact up to float rounding; rank-deficient inputs
  (fewer rows than dimensions, constant dimensions) are handled.
* ``"hfselect"``: hf-dataset-selector 0.2.1's recipe, step for step: ``nn.Linear`` initialised
  by torch, mean squared error, AdamW (learning rate 1e-2, weight decay 0.01), a linear
  learning-rate decay without warm-up, gradient norm clipped to 1.0, batches of 32 in a new
  random order every epoch, 10 epochs. With the same seed it reproduces hfselect's
  ``torch.manual_seed(seed); ESMTrainer().train_with_embeddings(...)`` on CPU.

:func:`fit_esm` measures the fit's quality (:class:`FitQuality`: MSE and R²) on a held-out share
of the rows after fitting on the rest, then refits on all rows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from hfselect_widgets.engine import defaults
from hfselect_widgets.engine.embedding.model import resolve_device
from hfselect_widgets.engine.embedding.pairs import EmbeddingDataset
from hfselect_widgets.engine.progress import (
    STAGE_ESM_FIT,
    CancelToken,
    ProgressCallback,
    check_cancel,
    report,
)
from hfselect_widgets.engine.training.finetune import linear_schedule
from hfselect_widgets.errors import EmbeddingDatasetError, TrainingConfigError, TrainingError

FIT_METHODS = ("least_squares", "hfselect")

HFSELECT_SGD_DEFAULTS: dict[str, Any] = {
    "num_epochs": defaults.ESM_FIT_EPOCHS,
    "batch_size": defaults.ESM_FIT_BATCH_SIZE,
    "learning_rate": defaults.ESM_FIT_LEARNING_RATE,
    "weight_decay": defaults.ESM_FIT_WEIGHT_DECAY,
}
"""hf-dataset-selector 0.2.1's ``ESMTrainer`` defaults (the paper used a learning rate of 1e-3)."""

ArrayLike = np.ndarray | torch.Tensor


# --- quality ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitQuality:
    """How well a map predicts ``y`` from ``x`` on some rows.

    Attributes:
        mse: mean squared error over all N x D coordinates (torch's ``MSELoss``).
        r2: ``1 - SSE / SST`` over all coordinates, SST taken around each column's mean; 1 is
            perfect, 0 is no better than predicting the column means (``nan`` if y is constant).
        num_rows: rows it was measured on.
    """

    mse: float
    r2: float
    num_rows: int


def _float64(values: ArrayLike, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise EmbeddingDatasetError(f"{name} must be a 2-D array, got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise EmbeddingDatasetError(f"{name} contains NaN or infinite values.")
    return array


def _pair(x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x64, y64 = _float64(x, "x"), _float64(y, "y")
    if x64.shape != y64.shape:
        raise EmbeddingDatasetError(
            f"x and y must have the same shape (a linear ESM is square), got {x64.shape} and "
            f"{y64.shape}."
        )
    if len(x64) == 0:
        raise EmbeddingDatasetError("There are no embedding pairs to fit.")
    return x64, y64


def evaluate_fit(weight: ArrayLike, bias: ArrayLike, x: ArrayLike, y: ArrayLike) -> FitQuality:
    """MSE and R² of the map ``x W^T + b`` against ``y`` (computed in float64)."""
    x64, y64 = _pair(x, y)
    w = _float64(weight, "weight")
    b = np.asarray(bias.detach().cpu() if isinstance(bias, torch.Tensor) else bias, np.float64)
    residual = x64 @ w.T + b - y64
    sse = float(np.sum(residual**2))
    sst = float(np.sum((y64 - y64.mean(axis=0)) ** 2))
    r2 = 1.0 - sse / sst if sst > 0 else math.nan
    return FitQuality(mse=sse / y64.size, r2=r2, num_rows=len(y64))


# --- closed form -----------------------------------------------------------------------------


def fit_least_squares(
    x: ArrayLike, y: ArrayLike, ridge: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (ridge) least-squares map from ``x`` to ``y``: ``(weight (D, D), bias (D,))`` float32.

    Minimises ``sum ||x_i W^T + b - y_i||² + ridge * ||W||²_F`` (a sum over rows, as
    scikit-learn's ``Ridge``); the bias is not penalised. Solved in float64 through the SVD of
    the centred ``x``; at ``ridge = 0`` singular values below numpy's ``lstsq`` cut-off are
    treated as zero, which gives the minimum-norm solution for rank-deficient inputs.
    """
    if not isinstance(ridge, (int, float)) or isinstance(ridge, bool) or not ridge >= 0:
        raise TrainingConfigError(f"ridge must be a number >= 0, got {ridge!r}.")
    x64, y64 = _pair(x, y)
    x_mean, y_mean = x64.mean(axis=0), y64.mean(axis=0)
    x_centred, y_centred = x64 - x_mean, y64 - y_mean
    u, s, vt = np.linalg.svd(x_centred, full_matrices=False)
    if ridge == 0:
        cutoff = (s.max() if s.size else 0.0) * max(x64.shape) * np.finfo(np.float64).eps
        safe = np.where(s > cutoff, s, 1.0)
        factors = np.where(s > cutoff, 1.0 / safe, 0.0)
    else:
        factors = s / (s**2 + ridge)
    coefficients = vt.T @ (factors[:, None] * (u.T @ y_centred))  # (D_in, D_out) = W^T
    bias = y_mean - x_mean @ coefficients
    return (
        torch.from_numpy(np.ascontiguousarray(coefficients.T, dtype=np.float32)),
        torch.from_numpy(bias.astype(np.float32)),
    )


# --- hfselect's SGD recipe -------------------------------------------------------------------


@dataclass
class SGDHistory:
    """What :func:`train_linear_sgd` did, per epoch.

    ``epoch_avg_losses`` follows hfselect's ``train_info.json`` (sum of the batch losses divided
    by the number of rows); ``epoch_mean_losses`` is the mean batch MSE.
    """

    epoch_avg_losses: list[float] = field(default_factory=list)
    epoch_mean_losses: list[float] = field(default_factory=list)
    epoch_durations: list[float] = field(default_factory=list)
    num_steps: int = 0


def _hfselect_epoch_order(count: int, generator: torch.Generator | None) -> torch.Tensor:
    """The row order of one epoch, drawn from the RNG exactly as hfselect's loop draws it.

    hfselect iterates ``tqdm.auto.tqdm(DataLoader(dataset, sampler=RandomSampler(dataset)))``.
    Per epoch that makes two DataLoader iterators (tqdm's asyncio class calls ``iter()`` in its
    constructor, then again when iterated), each drawing a base seed from the global RNG; then
    the sampler draws the seed of its own generator (unless one was given) for ``randperm``.
    """
    for _ in range(2):
        torch.empty((), dtype=torch.int64).random_(generator=generator)
    if generator is None:
        seed = int(torch.empty((), dtype=torch.int64).random_().item())
        generator = torch.Generator().manual_seed(seed)
    return torch.randperm(count, generator=generator)


def train_linear_sgd(
    module: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    *,
    num_epochs: int,
    batch_size: int,
    device: torch.device,
    generator: torch.Generator | None = None,
    max_grad_norm: float | None = 1.0,
    on_step: Callable[[], None] | None = None,
    cancel: CancelToken | None = None,
) -> SGDHistory:
    """Train ``module`` to map ``x`` to ``y`` exactly as hfselect's ``ESMTrainer`` does.

    A new linear schedule (no warm-up) spans this call's steps. ``generator`` (default: the
    global torch RNG, as hfselect) draws the batch order; ``on_step`` is called after each step;
    ``cancel`` is checked before each step.
    """
    count = len(x)
    steps_per_epoch = math.ceil(count / batch_size)
    scheduler = linear_schedule(optimizer, 0, steps_per_epoch * num_epochs)
    loss_function = nn.MSELoss()
    history = SGDHistory()
    module.to(device)
    module.train()
    for _epoch in range(num_epochs):
        start = time.perf_counter()
        order = _hfselect_epoch_order(count, generator)
        total_loss = 0.0
        for first in range(0, count, batch_size):
            check_cancel(cancel, STAGE_ESM_FIT)
            rows = order[first : first + batch_size]
            inputs, targets = x[rows].to(device), y[rows].to(device)
            module.zero_grad()
            loss = loss_function(module(inputs.float()), targets.float())
            value = float(loss.item())
            if not math.isfinite(value):
                raise TrainingError(
                    f"Fitting the ESM diverged: the loss became {value}. Lower the learning "
                    "rate or use the closed-form fit (method='least_squares')."
                )
            total_loss += value
            loss.backward()
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(module.parameters(), max_grad_norm)
            optimizer.step()
            scheduler.step()
            history.num_steps += 1
            if on_step is not None:
                on_step()
        history.epoch_durations.append(time.perf_counter() - start)
        history.epoch_avg_losses.append(total_loss / count)
        history.epoch_mean_losses.append(total_loss / steps_per_epoch)
    module.eval()
    return history


def _check_sgd_params(num_epochs: int, batch_size: int, learning_rate: float, weight_decay: float):
    for name, value in (("num_epochs", num_epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise TrainingConfigError(f"ESM {name} must be a positive integer, got {value!r}.")
    if not isinstance(learning_rate, (int, float)) or not learning_rate > 0:
        raise TrainingConfigError(f"ESM learning_rate must be > 0, got {learning_rate!r}.")
    if not isinstance(weight_decay, (int, float)) or not weight_decay >= 0:
        raise TrainingConfigError(f"ESM weight_decay must be >= 0, got {weight_decay!r}.")


def fit_hfselect_sgd(
    x: ArrayLike,
    y: ArrayLike,
    num_epochs: int = defaults.ESM_FIT_EPOCHS,
    batch_size: int = defaults.ESM_FIT_BATCH_SIZE,
    learning_rate: float = defaults.ESM_FIT_LEARNING_RATE,
    weight_decay: float = defaults.ESM_FIT_WEIGHT_DECAY,
    seed: int = 0,
    *,
    device: str | torch.device = "cpu",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Fit the map with hfselect's SGD recipe: ``(weight, bias, per-epoch mean MSE)``.

    Seeded and isolated: the global torch RNG is seeded with ``seed`` for the initialisation and
    the batch order, and restored afterwards. Progress is ``progress("esm_fit", step, total)``.
    """
    _check_sgd_params(num_epochs, batch_size, learning_rate, weight_decay)
    x32 = torch.from_numpy(_pair(x, y)[0].astype(np.float32))
    y32 = torch.from_numpy(_float64(y, "y").astype(np.float32))
    weight, bias, history = _sgd_fit(
        x32,
        y32,
        num_epochs=num_epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        seed=seed,
        device=resolve_device(device),
        progress=_step_reporter(progress, math.ceil(len(x32) / batch_size) * num_epochs),
        cancel=cancel,
    )
    return weight, bias, history.epoch_mean_losses


def _step_reporter(
    progress: ProgressCallback | None, total: int, done: int = 0
) -> Callable[[], None] | None:
    """An ``on_step`` callback that reports ``STAGE_ESM_FIT`` progress, counting from ``done``."""
    if progress is None:
        return None
    count = [done]
    report(progress, STAGE_ESM_FIT, done, total)

    def step() -> None:
        count[0] += 1
        progress(STAGE_ESM_FIT, count[0], total)

    return step


def _sgd_fit(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    num_epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float,
    seed: int,
    device: torch.device,
    progress: Callable[[], None] | None,
    cancel: CancelToken | None,
) -> tuple[torch.Tensor, torch.Tensor, SGDHistory]:
    rng_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(seed)
        # Created like hfselect's ESM (nn.Linear(D, D)), so the initial weights match too.
        linear = nn.Linear(x.shape[1], x.shape[1])
        linear.to(device)
        optimizer = torch.optim.AdamW(
            linear.parameters(), lr=learning_rate, weight_decay=weight_decay
        )
        history = train_linear_sgd(
            linear,
            x,
            y,
            optimizer,
            num_epochs=num_epochs,
            batch_size=batch_size,
            device=device,
            on_step=progress,
            cancel=cancel,
        )
    return (
        linear.weight.detach().cpu().to(torch.float32).contiguous(),
        linear.bias.detach().cpu().to(torch.float32).contiguous(),
        history,
    )


# --- one call: fit, measure, refit -----------------------------------------------------------


@dataclass
class FitResult:
    """A fitted ESM map with its quality and the parameters that produced it.

    Attributes:
        weight, bias: the map fitted on all rows (float32, (D, D) and (D,)).
        method: ``"least_squares"`` or ``"hfselect"``.
        holdout_quality: quality on the held-out rows of a fit made without them (``None``
            when ``holdout`` was 0 or there were too few rows).
        train_quality: quality of the final map on all rows it was fitted on.
        params: the fit's hyper-parameters (``ridge`` or the SGD settings, ``holdout``,
            ``seed``).
        seconds: wall-clock time of both fits.
        losses: per-epoch mean MSE of the final SGD fit (empty for least squares).
    """

    weight: torch.Tensor
    bias: torch.Tensor
    method: str
    holdout_quality: FitQuality | None
    train_quality: FitQuality
    params: dict[str, Any]
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)

    def config_values(self) -> dict[str, Any]:
        """The ESM config keys describing this fit (hfselect's ``esm_*`` keys and ours)."""
        sgd = self.method == "hfselect"
        holdout = self.holdout_quality
        return {
            "esm_num_epochs": self.params.get("num_epochs") if sgd else None,
            "esm_batch_size": self.params.get("batch_size") if sgd else None,
            "esm_learning_rate": self.params.get("learning_rate") if sgd else None,
            "esm_weight_decay": self.params.get("weight_decay") if sgd else None,
            "esm_optimizer": "adamw" if sgd else "least_squares",
            "esm_ridge": None if sgd else self.params.get("ridge"),
            "esm_fit_method": self.method,
            "esm_fit_seed": self.params.get("seed"),
            "esm_fit_holdout": self.params.get("holdout"),
            "esm_fit_holdout_rows": holdout.num_rows if holdout else 0,
            "esm_fit_holdout_mse": holdout.mse if holdout else None,
            "esm_fit_holdout_r2": holdout.r2 if holdout else None,
            "esm_fit_train_mse": self.train_quality.mse,
            "esm_fit_train_r2": self.train_quality.r2,
        }


def holdout_split(count: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(fit_rows, held_out_rows)``: a seeded random ``holdout`` share held out.

    At least one row is held out when ``holdout > 0``, and at least two are kept for fitting;
    with fewer than three rows nothing is held out.
    """
    order = np.random.default_rng(seed).permutation(count)
    held = int(round(holdout * count))
    if holdout > 0:
        held = max(held, 1)
    if count - held < 2:
        held = 0
    return np.sort(order[held:]), np.sort(order[:held])


def fit_esm(
    embedding_dataset: EmbeddingDataset,
    method: str = "least_squares",
    *,
    ridge: float = 0.0,
    holdout: float = 0.1,
    seed: int = 0,
    num_epochs: int = HFSELECT_SGD_DEFAULTS["num_epochs"],
    batch_size: int = HFSELECT_SGD_DEFAULTS["batch_size"],
    learning_rate: float = HFSELECT_SGD_DEFAULTS["learning_rate"],
    weight_decay: float = HFSELECT_SGD_DEFAULTS["weight_decay"],
    device: str | torch.device = "cpu",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> FitResult:
    """Fit an ESM map to embedding pairs, measure it on held-out rows, then refit on all rows.

    Args:
        embedding_dataset: the pairs (``x`` base, ``y`` fine-tuned embeddings).
        method: ``"least_squares"`` (closed form, ``ridge``) or ``"hfselect"`` (SGD recipe,
            ``num_epochs``, ``batch_size``, ``learning_rate``, ``weight_decay``, ``device``).
        holdout: share of rows held out to measure the fit (0 to skip), drawn with ``seed``.
        seed: seeds the hold-out split and the SGD fit.
        progress: ``progress("esm_fit", done, total)``; for SGD ``total`` counts the steps of
            both fits, for least squares the fits.
        cancel: checked between steps / fits.

    Raises:
        TrainingConfigError: unknown method or invalid parameter.
        EmbeddingDatasetError: non-finite or inconsistent embeddings.
        TrainingError: the SGD loss diverged.
        RankingCancelled: ``cancel`` was set.
    """
    if method not in FIT_METHODS:
        raise TrainingConfigError(
            f"Unknown ESM fit method {method!r}; choose one of {', '.join(map(repr, FIT_METHODS))}."
        )
    if not isinstance(holdout, (int, float)) or isinstance(holdout, bool) or not 0 <= holdout < 1:
        raise TrainingConfigError(f"holdout must be in [0, 1), got {holdout!r}.")
    if method == "least_squares":
        if not isinstance(ridge, (int, float)) or isinstance(ridge, bool) or not ridge >= 0:
            raise TrainingConfigError(f"ridge must be a number >= 0, got {ridge!r}.")
        params: dict[str, Any] = {"ridge": float(ridge)}
    else:
        _check_sgd_params(num_epochs, batch_size, learning_rate, weight_decay)
        params = {
            "num_epochs": num_epochs,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "weight_decay": weight_decay,
            "max_grad_norm": 1.0,
        }
    params.update(holdout=holdout, seed=seed)

    x, y = embedding_dataset.tensors()
    _pair(x, y)  # shape and finiteness checks, with clear errors
    fit_rows, held_rows = holdout_split(len(x), holdout, seed)
    start = time.perf_counter()
    check_cancel(cancel, STAGE_ESM_FIT)

    if method == "least_squares":
        total = 2 if len(held_rows) else 1
        report(progress, STAGE_ESM_FIT, 0, total)
        holdout_quality = None
        if len(held_rows):
            weight, bias = fit_least_squares(x[fit_rows], y[fit_rows], ridge)
            holdout_quality = evaluate_fit(weight, bias, x[held_rows], y[held_rows])
            report(progress, STAGE_ESM_FIT, 1, total)
            check_cancel(cancel, STAGE_ESM_FIT)
        weight, bias = fit_least_squares(x, y, ridge)
        report(progress, STAGE_ESM_FIT, total, total)
        losses: list[float] = []
    else:
        torch_device = resolve_device(device)
        steps = math.ceil(len(x) / batch_size) * num_epochs
        held_steps = math.ceil(len(fit_rows) / batch_size) * num_epochs if len(held_rows) else 0
        on_step = _step_reporter(progress, held_steps + steps)
        sgd = dict(
            num_epochs=num_epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            seed=seed,
            device=torch_device,
            progress=on_step,
            cancel=cancel,
        )
        holdout_quality = None
        if len(held_rows):
            rows = torch.from_numpy(fit_rows)
            weight, bias, _ = _sgd_fit(x[rows], y[rows], **sgd)
            holdout_quality = evaluate_fit(weight, bias, x[held_rows], y[held_rows])
        weight, bias, history = _sgd_fit(x, y, **sgd)
        losses = history.epoch_mean_losses

    return FitResult(
        weight=weight,
        bias=bias,
        method=method,
        holdout_quality=holdout_quality,
        train_quality=evaluate_fit(weight, bias, x, y),
        params=params,
        seconds=time.perf_counter() - start,
        losses=losses,
    )


__all__ = [
    "STAGE_ESM_FIT",
    "FIT_METHODS",
    "HFSELECT_SGD_DEFAULTS",
    "FitQuality",
    "FitResult",
    "SGDHistory",
    "evaluate_fit",
    "fit_least_squares",
    "fit_hfselect_sgd",
    "fit_esm",
    "holdout_split",
    "train_linear_sgd",
]
