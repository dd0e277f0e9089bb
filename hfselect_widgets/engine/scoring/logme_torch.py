"""LogME in torch, batched over ESMs: the same numbers as :mod:`.logme`, on a GPU when present.

Several ESMs' mapped target features are scored per call: one batched Gram matrix and one batched
symmetric eigen-decomposition (``torch.linalg.eigh``) for all of them, then the reference's
fixed-point iteration for every (ESM, label column) pair at once, each pair stopping on its own
criterion exactly as the reference's per-column loop does. float64 by default (it equals the NumPy
path within 1e-6); float32 is an option for speed whose error the GPU benchmark reports.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from hfselect_widgets.engine.scoring.logme import (
    _EPSILON,
    _MAX_ITERATIONS,
    _SPECTRUM_CUTOFF,
    _TOLERANCE,
    label_columns,
)


def logme_batch(
    features: torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    regression: bool = False,
    *,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """LogME scores (B,) of a batch of feature matrices ``features`` (B, N, D) for one target.

    Equal to ``[logme(f, labels, regression) for f in features]`` (within 1e-6 in float64).
    The computation runs on ``features.device``.
    """
    columns = label_columns(np.asarray(labels), regression)
    return column_evidences_batch(features, columns, dtype=dtype).mean(dim=1)


def column_evidences_batch(
    features: torch.Tensor, columns: np.ndarray, *, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """LogME evidence per label column (B, C) of a batch of feature matrices (B, N, D).

    ``columns`` is the (N, C) label matrix (:func:`.logme.label_columns`, or a
    :class:`.logme.LogMETarget`'s ``y``, such as the permutation control's real and shuffled
    columns side by side): every column shares the batch's Gram matrices and their
    eigen-decompositions, so extra columns cost only the cheap fixed-point iteration.
    """
    if features.ndim != 3:
        raise ValueError(f"features must be (B, N, D), got shape {tuple(features.shape)}")
    device = features.device
    f = features.to(dtype)
    batch, n, d = f.shape
    y = torch.as_tensor(np.asarray(columns), dtype=dtype, device=device)
    if y.shape[0] != n:
        raise ValueError(f"features have {n} rows but the labels have {y.shape[0]}")
    y_sq = (y**2).sum(dim=0)  # (C,)
    gram_is_dxd = n > d
    if gram_is_dxd:
        gram = f.transpose(1, 2) @ f  # (B, D, D)
        rhs = f.transpose(1, 2) @ y  # (B, D, C)
    else:
        gram = f @ f.transpose(1, 2)  # (B, N, N)
        rhs = y.expand(batch, n, y.shape[1])
    vals, vecs = torch.linalg.eigh(gram)
    proj = vecs.transpose(1, 2) @ rhs  # (B, k, C)
    abs_vals = vals.abs()
    if gram_is_dxd:
        keep = abs_vals.sqrt() > _SPECTRUM_CUTOFF  # (B, k)
        sigma = torch.where(keep, abs_vals, torch.zeros_like(abs_vals))
        safe = torch.where(keep, abs_vals, torch.ones_like(abs_vals))
        x2 = torch.where(keep[..., None], proj**2 / safe[..., None], torch.zeros_like(proj))
    else:
        keep = torch.ones_like(abs_vals, dtype=torch.bool)
        sigma = abs_vals
        x2 = proj**2
    res_x2 = y_sq[None, :] - x2.sum(dim=1)  # (B, C)
    return _evidence_batched(sigma, keep, x2, res_x2, n, d)  # (B, C)


def _evidence_batched(sigma, keep, x2, res_x2, n: int, d: int) -> torch.Tensor:
    batch, _, cols = x2.shape
    shape = (batch, cols)
    alpha = torch.ones(shape, dtype=x2.dtype, device=x2.device)
    beta = torch.ones_like(alpha)
    m2 = torch.zeros_like(alpha)
    res2 = torch.zeros_like(alpha)
    active = torch.ones(shape, dtype=torch.bool, device=x2.device)
    s = sigma[:, :, None]  # (B, k, 1)
    for _ in range(_MAX_ITERATIONS):
        t = alpha / beta  # (B, C)
        tt = t[:, None, :]
        gamma = (s / (s + tt)).sum(dim=1)
        m2_new = (s * x2 / ((tt + s) ** 2)).sum(dim=1)
        res2_new = (x2 / ((1 + s / tt) ** 2)).sum(dim=1) + res_x2
        alpha_new = gamma / (m2_new + _EPSILON)
        beta_new = (n - gamma) / (res2_new + _EPSILON)
        # Converged pairs keep their values, as the reference stops its loop for that column.
        alpha = torch.where(active, alpha_new, alpha)
        beta = torch.where(active, beta_new, beta)
        m2 = torch.where(active, m2_new, m2)
        res2 = torch.where(active, res2_new, res2)
        converged = (alpha_new / beta_new - t).abs() / t <= _TOLERANCE
        active = active & ~converged
        if not bool(active.any()):
            break
    terms = torch.log(alpha[:, None, :] + beta[:, None, :] * s)  # (B, k, C)
    log_det = torch.where(keep[:, :, None], terms, torch.zeros_like(terms)).sum(dim=1)
    evidence = (
        d / 2.0 * torch.log(alpha)
        + n / 2.0 * torch.log(beta)
        - 0.5 * log_det
        - beta / 2.0 * res2
        - alpha / 2.0 * m2
        - n / 2.0 * math.log(2 * math.pi)
    )
    return evidence / n


__all__ = ["column_evidences_batch", "logme_batch"]
