"""Fitting ESM maps to embedding pairs and measuring the fit (engine/esm_fit.py)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from hfselect_widgets.engine.embedding.pairs import EmbeddingDataset
from hfselect_widgets.engine.esm.fit import (
    STAGE_ESM_FIT,
    FitQuality,
    evaluate_fit,
    fit_esm,
    fit_hfselect_sgd,
    fit_least_squares,
    holdout_split,
)
from hfselect_widgets.errors import (
    EmbeddingDatasetError,
    RankingCancelled,
    TrainingConfigError,
)


def _known_map(rows: int = 300, dim: int = 16, seed: int = 0, noise: float = 0.0):
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=(dim, dim))
    bias = rng.normal(size=dim) + 5.0  # far from 0, so that a shrunk bias would show
    x = rng.normal(size=(rows, dim)) * 2.0 + 1.0
    y = x @ weight.T + bias + noise * rng.normal(size=(rows, dim))
    return x, y, weight, bias


def test_least_squares_recovers_a_known_map_at_ridge_zero():
    """At ridge 0 the closed form returns the generating W and b to 1e-6."""
    x, y, weight, bias = _known_map()
    fitted_w, fitted_b = fit_least_squares(x, y)
    assert fitted_w.dtype == torch.float32 and fitted_w.shape == (16, 16)
    np.testing.assert_allclose(fitted_w.numpy(), weight, atol=1e-6, rtol=0)
    np.testing.assert_allclose(fitted_b.numpy(), bias, atol=1e-6, rtol=0)
    # Torch tensors are accepted as well.
    again_w, _ = fit_least_squares(torch.from_numpy(x), torch.from_numpy(y))
    assert torch.equal(again_w, fitted_w)


def test_least_squares_with_fewer_rows_than_dimensions_is_the_minimum_norm_solution():
    """Rank-deficient x: the fit reproduces the training rows and equals lstsq's min-norm map."""
    x, y, _, _ = _known_map(rows=6, dim=16)
    weight, bias = fit_least_squares(x, y)
    prediction = x @ weight.numpy().T.astype(np.float64) + bias.numpy()
    np.testing.assert_allclose(prediction, y, atol=1e-4)
    x_mean, y_mean = x.mean(0), y.mean(0)
    expected = np.linalg.lstsq(x - x_mean, y - y_mean, rcond=None)[0].T
    np.testing.assert_allclose(weight.numpy(), expected, atol=1e-5)


def test_ridge_shrinks_the_weights_but_not_the_bias():
    """Larger ridge -> smaller ||W||; the bias stays mean(y) - W mean(x), never pulled to 0."""
    x, y, _, _ = _known_map(noise=0.1)
    norms = []
    for ridge in (0.0, 10.0, 1e3, 1e9):
        weight, bias = fit_least_squares(x, y, ridge=ridge)
        norms.append(float(weight.norm()))
        expected_bias = y.mean(0) - weight.numpy().astype(np.float64) @ x.mean(0)
        np.testing.assert_allclose(bias.numpy(), expected_bias, atol=1e-4)
    assert norms[0] > norms[1] > norms[2] > norms[3]
    assert norms[3] < 1e-3  # a huge ridge leaves (almost) only the bias ...
    np.testing.assert_allclose(bias.numpy(), y.mean(0), atol=1e-3)  # ... which is mean(y)
    with pytest.raises(TrainingConfigError, match="ridge"):
        fit_least_squares(x, y, ridge=-1.0)


def test_fit_quality_numbers_on_a_constructed_case():
    """MSE over all coordinates and R² = 1 - SSE/SST around column means, by hand."""
    x = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    y = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 5.0]])
    weight, bias = np.eye(2), np.zeros(2)
    # residuals: [1, 0], [-1, 0], [0, 3] -> SSE = 11 over 6 coordinates
    # column means 1 and 2: SST = (0 + 1 + 1) + (4 + 1 + 9) = 16
    quality = evaluate_fit(weight, bias, x, y)
    assert quality == FitQuality(mse=11 / 6, r2=1 - 11 / 16, num_rows=3)
    perfect = evaluate_fit(weight, bias, x, x @ weight.T)
    assert perfect.mse == 0.0 and perfect.r2 == 1.0
    constant = evaluate_fit(weight, bias, x, np.ones((3, 2)))
    assert np.isnan(constant.r2)


def test_hfselect_sgd_recipe_reduces_the_error_and_is_seeded():
    """hfselect's SGD recipe lowers the MSE from its random start; a seed makes it repeatable."""
    x, y, _, _ = _known_map(rows=96, dim=8)
    x, y = x / 4, y / 40  # the scale of sentence embeddings, where lr 1e-2 is stable
    with torch.random.fork_rng():
        torch.manual_seed(3)
        start = torch.nn.Linear(8, 8)  # the fit's own starting point for seed 3
    initial = evaluate_fit(start.weight.detach(), start.bias.detach(), x, y)
    weight, bias, losses = fit_hfselect_sgd(x, y, num_epochs=10, seed=3)
    final = evaluate_fit(weight, bias, x, y)
    assert final.mse < initial.mse / 3
    assert len(losses) == 10 and losses[-1] < losses[0]
    again_w, again_b, again_losses = fit_hfselect_sgd(x, y, num_epochs=10, seed=3)
    assert torch.equal(again_w, weight) and torch.equal(again_b, bias) and again_losses == losses
    other_w, _, _ = fit_hfselect_sgd(x, y, num_epochs=10, seed=4)
    assert not torch.equal(other_w, weight)


def test_holdout_split_is_seeded_disjoint_and_keeps_enough_rows():
    """10 % of the rows are held out, chosen by the seed; tiny inputs hold out nothing."""
    fit_rows, held = holdout_split(100, 0.1, seed=1)
    assert len(held) == 10 and len(fit_rows) == 90
    assert set(fit_rows).isdisjoint(held) and set(fit_rows) | set(held) == set(range(100))
    assert np.array_equal(holdout_split(100, 0.1, seed=1)[1], held)
    assert not np.array_equal(holdout_split(100, 0.1, seed=2)[1], held)
    assert len(holdout_split(5, 0.1, seed=0)[1]) == 1  # at least one row when asked
    assert len(holdout_split(2, 0.5, seed=0)[1]) == 0  # but never fewer than 2 to fit on
    assert len(holdout_split(50, 0.0, seed=0)[1]) == 0


def test_fit_esm_measures_on_held_out_rows_then_refits_on_all():
    """Quality is measured on rows the first fit never saw; the final map uses every row."""
    x, y, _, _ = _known_map(rows=100, noise=0.5)
    pairs = EmbeddingDataset(x, y, metadata={"task_id": "t"})
    calls = []
    result = fit_esm(pairs, holdout=0.2, seed=5, progress=lambda *a: calls.append(a))
    fit_rows, held = holdout_split(100, 0.2, seed=5)
    held_w, held_b = fit_least_squares(pairs.x[fit_rows], pairs.y[fit_rows])
    assert result.holdout_quality == evaluate_fit(held_w, held_b, pairs.x[held], pairs.y[held])
    assert result.holdout_quality.num_rows == 20
    all_w, all_b = fit_least_squares(pairs.x, pairs.y)
    assert torch.equal(result.weight, all_w) and torch.equal(result.bias, all_b)
    assert result.train_quality == evaluate_fit(all_w, all_b, pairs.x, pairs.y)
    # Held-out rows carry noise the map cannot learn: worse than on the fitted rows.
    assert result.holdout_quality.mse > result.train_quality.mse
    assert calls[-1] == (STAGE_ESM_FIT, 2, 2)
    values = result.config_values()
    assert values["esm_optimizer"] == "least_squares" and values["esm_ridge"] == 0.0
    assert values["esm_fit_holdout_r2"] == result.holdout_quality.r2
    assert values["esm_learning_rate"] is None and values["esm_num_epochs"] is None


def test_fit_esm_with_the_hfselect_recipe_counts_steps_of_both_fits():
    """The SGD method reports every step of the hold-out fit and of the final fit."""
    x, y, _, _ = _known_map(rows=64, dim=4)
    pairs = EmbeddingDataset(x / 4, y / 40)
    calls = []
    result = fit_esm(
        pairs,
        "hfselect",
        holdout=0.25,
        num_epochs=2,
        batch_size=16,
        progress=lambda *a: calls.append(a),
    )
    total = 2 * 3 + 2 * 4  # 48 rows -> 3 batches, 64 rows -> 4 batches, 2 epochs each
    assert calls[-1] == (STAGE_ESM_FIT, total, total)
    assert result.method == "hfselect" and len(result.losses) == 2
    values = result.config_values()
    assert values["esm_num_epochs"] == 2 and values["esm_batch_size"] == 16
    assert values["esm_learning_rate"] == 1e-2 and values["esm_optimizer"] == "adamw"
    final_w, final_b, _ = fit_hfselect_sgd(pairs.x, pairs.y, num_epochs=2, batch_size=16)
    assert torch.equal(result.weight, final_w) and torch.equal(result.bias, final_b)


def test_fit_esm_refuses_bad_options_and_bad_embeddings():
    """Unknown methods, bad hold-out shares and NaN embeddings raise typed errors."""
    pairs = EmbeddingDataset(np.ones((10, 3)), np.ones((10, 3)))
    with pytest.raises(TrainingConfigError, match="method"):
        fit_esm(pairs, "gradient_boosting")
    with pytest.raises(TrainingConfigError, match="holdout"):
        fit_esm(pairs, holdout=1.0)
    with pytest.raises(TrainingConfigError, match="batch_size"):
        fit_esm(pairs, "hfselect", batch_size=0)
    bad = np.ones((10, 3))
    bad[2, 1] = np.nan
    with pytest.raises(EmbeddingDatasetError, match="NaN"):
        fit_esm(EmbeddingDataset(bad, np.ones((10, 3))))


def test_cancel_stops_the_sgd_fit():
    """A set cancel event stops SGD between steps."""
    x, y, _, _ = _known_map(rows=64, dim=4)
    cancel = threading.Event()

    def progress(stage, done, total):
        if done == 3:
            cancel.set()

    with pytest.raises(RankingCancelled):
        fit_hfselect_sgd(x, y, num_epochs=5, progress=progress, cancel=cancel)
