"""Fine-tuning the base model on an intermediate dataset (engine/finetune.py)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from tiny_models import TINY_TEXTS, make_tiny_model

from hfselect_widgets.engine.data.dataset import Dataset
from hfselect_widgets.engine.embedding.model import clear_model_cache, embed_texts, load_base_model
from hfselect_widgets.engine.progress import STAGE_TRAINING
from hfselect_widgets.engine.training.finetune import FineTuneConfig, FineTuneResult, fine_tune
from hfselect_widgets.errors import RankingCancelled, TrainingConfigError

# Few, short steps with a learning rate large enough to move a tiny random model visibly.
FAST = dict(
    num_epochs=2, batch_size=8, learning_rate=1e-3, max_length=16, min_steps=0, validation_share=0.0
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("finetune-models")
    return {
        "bert": make_tiny_model(root / "bert", "bert"),
        "st": make_tiny_model(root / "st", "sentence-transformers"),
    }


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    clear_model_cache()
    yield
    clear_model_cache()


def _classification() -> Dataset:
    return Dataset(TINY_TEXTS, [i % 3 for i in range(len(TINY_TEXTS))], text_col="text")


def _regression() -> Dataset:
    values = np.linspace(-1.0, 2.0, len(TINY_TEXTS))
    return Dataset(TINY_TEXTS, values, is_regression=True)


def _embed(encoder) -> np.ndarray:
    return embed_texts(TINY_TEXTS, encoder, batch_size=8)


def test_fine_tuning_changes_embeddings_but_not_the_base_model(tiny):
    """The tuned encoder embeds differently; the (cached, shared) base model is untouched."""
    base = load_base_model(str(tiny["bert"]), max_length=16)
    before = _embed(base)
    result = fine_tune(base, _classification(), FineTuneConfig(**FAST), device="cpu")
    assert isinstance(result, FineTuneResult)
    assert type(result.model) is type(base.model)
    tuned = _embed(result.encoder)
    assert np.abs(tuned - before).max() > 1e-3
    np.testing.assert_array_equal(_embed(base), before)
    # The cached model is still the one load_base_model hands out.
    np.testing.assert_array_equal(_embed(load_base_model(str(tiny["bert"]), max_length=16)), before)
    assert result.encoder.model_id is None and result.encoder.pooling == base.pooling


def test_same_seed_same_model_other_seed_other_model_and_global_rng_untouched(tiny):
    """Fine-tuning is reproducible for a seed and leaves the caller's RNG state alone."""
    dataset = _classification()
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    config = FineTuneConfig(**{**FAST, "num_epochs": 1}, seed=7)
    first = fine_tune(str(tiny["bert"]), dataset, config, device="cpu")
    assert torch.equal(torch.rand(3), expected_next)
    second = fine_tune(str(tiny["bert"]), dataset, config, device="cpu")
    other_config = FineTuneConfig(**{**FAST, "num_epochs": 1}, seed=8)
    other = fine_tune(str(tiny["bert"]), dataset, other_config, device="cpu")
    assert first.losses == second.losses
    np.testing.assert_array_equal(_embed(first.encoder), _embed(second.encoder))
    assert first.losses != other.losses


def test_classification_and_regression_heads(tiny):
    """Classification gets Linear(D, num_classes) + CE, regression Linear(D, 1) + MSE."""
    classification = fine_tune(str(tiny["st"]), _classification(), FineTuneConfig(**FAST))
    linear = [m for m in classification.head.modules() if isinstance(m, torch.nn.Linear)]
    assert linear[0].out_features == 3 and linear[0].in_features == 32
    regression = fine_tune(str(tiny["st"]), _regression(), FineTuneConfig(**FAST))
    linear = [m for m in regression.head.modules() if isinstance(m, torch.nn.Linear)]
    assert linear[0].out_features == 1
    assert all(np.isfinite(regression.losses)) and len(regression.losses) == 6
    # The sentence-transformers folder is fine-tuned on the mean-pooled embedding.
    assert regression.encoder.pooling == "mean"


def test_progress_reaches_total_steps(tiny):
    """Progress reports every step of stage "training", ending at epochs * ceil(N / batch)."""
    calls = []
    result = fine_tune(
        str(tiny["bert"]),
        _classification(),
        FineTuneConfig(**FAST),
        progress=lambda *args: calls.append(args),
    )
    total = 2 * 3  # 20 texts in batches of 8 -> 3 steps per epoch
    assert calls[0] == (STAGE_TRAINING, 0, total)
    assert calls[-1] == (STAGE_TRAINING, total, total)
    assert [done for _, done, _ in calls] == list(range(total + 1))
    assert result.num_steps == total == len(result.losses)


def test_cancel_stops_between_steps(tiny):
    """Setting the cancel event stops training before the next step."""
    cancel = threading.Event()
    steps = []

    def progress(stage, done, total):
        steps.append(done)
        if done == 2:
            cancel.set()

    with pytest.raises(RankingCancelled):
        fine_tune(
            str(tiny["bert"]),
            _classification(),
            FineTuneConfig(**FAST),
            progress=progress,
            cancel=cancel,
        )
    assert max(steps) == 2


@pytest.mark.parametrize(
    "field, value",
    [
        ("learning_rate", 0),
        ("num_epochs", 0),
        ("batch_size", 1.5),
        ("optimizer", "lion"),
        ("warmup_ratio", 1.0),
        ("max_grad_norm", -1.0),
    ],
)
def test_invalid_hyper_parameters_raise_a_typed_error(field, value):
    """A bad hyper-parameter is refused before any model is loaded, naming the field."""
    config = FineTuneConfig(**{field: value})
    with pytest.raises(TrainingConfigError, match=field):
        fine_tune("no-such-model-is-loaded", _classification(), config)
