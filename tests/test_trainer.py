"""Embedding pairs, hfselect's ESMTrainer and train_esm: dataset in, ESM folder out.

Covers engine/embedding_dataset.py and engine/trainer.py (and ESMConfig.update in esm.py).
"""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pandas as pd
import pytest
import torch
from tiny_models import TINY_TEXTS, make_tiny_model

from hfselect_widgets._version import __version__
from hfselect_widgets.engine.data.dataset import Dataset
from hfselect_widgets.engine.embedding.model import clear_model_cache, load_base_model
from hfselect_widgets.engine.embedding.pairs import (
    EmbeddingDataset,
    create_embedding_dataset,
)
from hfselect_widgets.engine.esm.fit import fit_hfselect_sgd
from hfselect_widgets.engine.esm.format import ESM, ESM_CONFIG_KEYS, ESMConfig
from hfselect_widgets.engine.progress import STAGE_EMBEDDING, STAGE_TRAINING
from hfselect_widgets.engine.training import train as trainer_module
from hfselect_widgets.engine.training.finetune import FineTuneConfig, fine_tune
from hfselect_widgets.engine.training.output import write_folder_atomically
from hfselect_widgets.engine.training.train import train_esm
from hfselect_widgets.engine.training.trainer import ESMTrainer
from hfselect_widgets.errors import (
    EmbeddingDatasetError,
    OutputExistsError,
    PickledMetadataError,
    RankingCancelled,
    TrainingConfigError,
)

FAST = FineTuneConfig(
    num_epochs=1,
    batch_size=10,
    learning_rate=1e-3,
    max_length=16,
    seed=1,
    min_steps=0,
    validation_share=0.0,
)
HUB_ID = "someone/tiny-bert"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny BERT folder that declares a Hub id (as the pip-packaged MiniLM folder does)."""
    folder = make_tiny_model(tmp_path_factory.mktemp("trainer-models") / "bert", "bert")
    (folder / "hfselect_model_id").write_text(HUB_ID + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def dataset():
    frame = pd.DataFrame(
        {"review": TINY_TEXTS, "stars": ["good", "bad", "ok", "bad"] * 5, "id": range(20)}
    )
    data = Dataset.from_pandas(frame, "review", "stars", name="me/reviews", seed=3)
    data.metadata.update(dataset_source="made in the test", dataset_license="CC0-1.0")
    return data


@pytest.fixture(scope="module")
def trained(model_dir, dataset, tmp_path_factory):
    """One full train_esm run, shared by the tests that inspect its result."""
    clear_model_cache()
    output = tmp_path_factory.mktemp("trained") / "esm"
    calls = []
    result = train_esm(
        dataset,
        str(model_dir),
        output,
        fit="least_squares",
        finetune=FAST,
        developers="Tester",
        language="en",
        device="cpu",
        progress=lambda *a: calls.append(a),
    )
    return result, output, calls


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# --- EmbeddingDataset ------------------------------------------------------------------------


def test_embedding_dataset_round_trip_without_pickle(tmp_path):
    """save() writes JSON metadata (loadable with allow_pickle=False); from_disk restores all."""
    rng = np.random.default_rng(0)
    pairs = EmbeddingDataset(
        rng.normal(size=(7, 4)),
        rng.normal(size=(7, 4)),
        metadata={"task_id": "t", "text_column": ("a", "b"), "num_examples": np.int64(7)},
    )
    written = pairs.save(tmp_path / "sub" / "pairs")  # ".npz" is appended, folders made
    assert written == tmp_path / "sub" / "pairs.npz"
    with np.load(written, allow_pickle=False) as raw:  # no pickle anywhere in the file
        assert raw["x"].dtype == np.float32
        assert json.loads(raw["metadata"].item())["num_examples"] == 7
    loaded = EmbeddingDataset.from_disk(written)
    np.testing.assert_array_equal(loaded.x, pairs.x)
    np.testing.assert_array_equal(loaded.y, pairs.y)
    assert loaded.metadata == {"task_id": "t", "text_column": ["a", "b"], "num_examples": 7}
    assert (loaded.embedding_dim, len(loaded), loaded.num_rows) == (4, 7, 7)
    x0, y0 = loaded[0]
    np.testing.assert_array_equal(x0, pairs.x[0])
    np.testing.assert_array_equal(y0, pairs.y[0])
    subset = loaded[2:5]
    assert isinstance(subset, EmbeddingDataset) and len(subset) == 3
    assert subset.metadata == loaded.metadata
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["pairs.npz"]  # no temp files


def test_hfselect_npz_needs_allow_pickle(tmp_path):
    """hfselect pickles its metadata: refused by default with a typed error, read on request."""
    path = tmp_path / "hfselect.npz"
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    metadata = {"base_model_name": "bert-base-uncased", "task_id": "imdb", "text_column": "text"}
    np.savez(path, x=x, y=x + 1, metadata=np.array(metadata))  # as hfselect's save() does
    with pytest.raises(PickledMetadataError, match="allow_pickle=True"):
        EmbeddingDataset.from_disk(path)
    loaded = EmbeddingDataset.from_disk(path, allow_pickle=True)
    assert loaded.metadata == metadata
    np.testing.assert_array_equal(loaded.y, x + 1)


def test_bad_embedding_files_and_shapes_raise_typed_errors(tmp_path):
    """Missing files, non-npz files, missing arrays and mismatched shapes are reported clearly."""
    with pytest.raises(EmbeddingDatasetError, match="no embedding dataset file"):
        EmbeddingDataset.from_disk(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(EmbeddingDatasetError, match="not a readable"):
        EmbeddingDataset.from_disk(tmp_path / "junk.npz")
    np.savez(tmp_path / "only_x.npz", x=np.ones((2, 2)))
    with pytest.raises(EmbeddingDatasetError, match="'y'"):
        EmbeddingDataset.from_disk(tmp_path / "only_x.npz")
    with pytest.raises(EmbeddingDatasetError, match="number"):
        EmbeddingDataset(np.ones((3, 2)), np.ones((2, 2)))
    with pytest.raises(EmbeddingDatasetError, match="dimension"):
        EmbeddingDataset(np.ones((3, 2)), np.ones((3, 4)))


def test_create_embedding_dataset_pairs_base_and_tuned_embeddings(model_dir, dataset):
    """x is the base model's ranking embedding, y the tuned model's; metadata names both."""
    base = load_base_model(str(model_dir), max_length=16)
    tuned = fine_tune(base, dataset, FAST, device="cpu")
    calls = []
    pairs = create_embedding_dataset(
        dataset, base, tuned, batch_size=8, progress=lambda *a: calls.append(a)
    )
    from hfselect_widgets.engine.embedding.model import embed_texts

    np.testing.assert_array_equal(pairs.x, embed_texts(dataset.texts, base, batch_size=8))
    np.testing.assert_array_equal(pairs.y, embed_texts(dataset.texts, tuned.encoder, 8))
    assert calls[-1] == (STAGE_EMBEDDING, 40, 40)
    assert pairs.metadata["base_model_name"] == HUB_ID
    assert pairs.metadata["task_id"] == "me/reviews" and pairs.metadata["seed"] == 3
    assert pairs.metadata["dataset_loaded_from"] == "pandas" and "source" not in pairs.metadata


# --- train_esm -------------------------------------------------------------------------------


def test_trained_esm_saved_and_reloaded_gives_the_same_outputs(trained):
    """The folder written by train_esm loads back (our loader) into the same map."""
    result, output, _ = trained
    assert result.output_dir == output
    # Readable like any file the user writes (atomic writes start from private 0600 files).
    assert (output / "model.safetensors").stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert sorted(p.name for p in output.iterdir()) == [
        "config.json",
        "model.safetensors",
        "train_info.json",
    ]
    reloaded = ESM.from_pretrained(output)
    x = torch.from_numpy(result.embedding_dataset.x)
    with torch.no_grad():
        assert torch.equal(reloaded(x), result.esm(x))
    assert torch.equal(reloaded.weights()[0], result.fit.weight)
    assert reloaded.config == ESMConfig.from_pretrained(output)


def test_config_records_hyper_parameters_versions_and_provenance(trained, dataset):
    """Every hfselect key is filled as DESIGN.md says, plus our fit quality and provenance."""
    result, output, _ = trained
    config = json.loads((output / "config.json").read_text())
    assert set(ESM_CONFIG_KEYS) <= set(config)
    assert config["version"] == "0.2.1"
    assert config["hfselect_widgets_version"] == __version__
    assert config["base_model_name"] == HUB_ID
    expected = {
        "task_id": "me/reviews",
        "text_column": "review",
        "label_column": "stars",
        "seed": 3,
        "language": "en",
        "developers": "Tester",
        "esm_architecture": "linear",
        "esm_embedding_dim": 32,
        "lm_num_epochs": 1,
        "lm_batch_size": 10,
        "lm_learning_rate": 1e-3,
        "lm_weight_decay": 0.01,
        "lm_optimizer": "adamw",
        "lm_max_length": 16,
        "lm_seed": 1,
        "lm_task": "classification",
        "lm_num_labels": 3,
        "esm_optimizer": "least_squares",
        "esm_ridge": 0.0,
        "esm_learning_rate": None,
        "esm_fit_method": "least_squares",
        "esm_fit_holdout": 0.1,
        "esm_fit_holdout_rows": 2,
        "pooling": "pooler",
        "num_train_examples": 20,
        "dataset_source": "made in the test",
        "dataset_license": "CC0-1.0",
        "dataset_loaded_from": "pandas",
        "dataset_fingerprint": dataset.fingerprint(),
    }
    assert {key: config[key] for key in expected} == expected
    quality = result.fit.holdout_quality
    assert config["esm_fit_holdout_mse"] == quality.mse
    assert config["esm_fit_holdout_r2"] == quality.r2
    assert config["esm_fit_train_r2"] == result.fit.train_quality.r2
    assert config["lm_train_seconds"] >= 0 and config["training_seconds"] >= 0
    train_info = json.loads((output / "train_info.json").read_text())
    assert len(train_info["finetune"]["step_losses"]) == 2


def test_train_esm_reports_every_stage(trained):
    """Progress covers fine-tuning steps, both embedding passes and the fit."""
    _, _, calls = trained
    last = {stage: (done, total) for stage, done, total in calls}
    assert last[STAGE_TRAINING] == (2, 2)
    assert last[STAGE_EMBEDDING] == (40, 40)
    assert last["esm_fit"] == (2, 2)


def test_train_esm_refuses_an_existing_folder_unless_overwrite(model_dir, dataset, tmp_path):
    """A non-empty output folder is never touched without overwrite=True; then it is replaced."""
    output = tmp_path / "esm"
    output.mkdir()
    (output / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        train_esm(dataset, str(model_dir), output, finetune=FAST)
    assert (output / "notes.txt").read_text() == "mine"
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(OutputExistsError):
        train_esm(dataset, str(model_dir), tmp_path / "a-file", finetune=FAST, overwrite=True)
    result = train_esm(
        dataset, str(model_dir), output, finetune=FAST, overwrite=True, record_timings=False
    )
    assert sorted(p.name for p in output.iterdir()) == [
        "config.json",
        "model.safetensors",
        "train_info.json",
    ]
    config = json.loads((output / "config.json").read_text())
    assert "training_seconds" not in config and "lm_train_seconds" not in config
    assert result.output_dir == output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "esm"]  # nothing left over


def test_a_failure_mid_write_leaves_no_half_written_folder(tmp_path):
    """A write that fails half-way leaves neither the new folder nor a staging folder."""

    def write_half(staging):
        (staging / "model.safetensors").write_bytes(b"weights")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_folder_atomically(tmp_path / "new", write_half, overwrite=False)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_overwrite_keeps_the_old_esm(model_dir, dataset, tmp_path, monkeypatch):
    """train_esm failing after the weights were written leaves the old folder as it was."""

    def broken(path, data, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(trainer_module, "write_json", broken)  # train_info.json comes last
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text("{}")
    with pytest.raises(OSError, match="disk full"):
        train_esm(dataset, str(model_dir), old, finetune=FAST, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["old"]
    assert [p.name for p in old.iterdir()] == ["config.json"]
    assert (old / "config.json").read_text() == "{}"


def test_train_esm_without_output_dir_and_with_the_hfselect_fit(model_dir, tmp_path):
    """output_dir=None writes nothing; fit='hfselect' records the SGD settings; regression works."""
    values = np.linspace(0.0, 1.0, len(TINY_TEXTS))
    data = Dataset(TINY_TEXTS, values, is_regression=True, metadata={"task_id": "me/scores"})
    result = train_esm(
        data,
        str(model_dir),
        finetune=FAST,
        fit="hfselect",
        esm_sgd_kwargs={"num_epochs": 2},
        embeddings_path=tmp_path / "pairs.npz",
    )
    assert result.output_dir is None
    config = result.config
    assert config.lm_num_epochs == 1 and config.get("lm_task") == "regression"
    assert (config.esm_num_epochs, config.esm_batch_size) == (2, 32)
    assert (config.esm_learning_rate, config.esm_weight_decay) == (1e-2, 0.01)
    assert config.esm_optimizer == "adamw" and config.get("esm_ridge") is None
    assert EmbeddingDataset.from_disk(tmp_path / "pairs.npz").metadata["task_id"] == "me/scores"
    with pytest.raises(TrainingConfigError, match="fit='hfselect' only"):
        train_esm(data, str(model_dir), fit="least_squares", esm_sgd_kwargs={"num_epochs": 2})
    with pytest.raises(TrainingConfigError, match="Unknown ESM fit"):
        train_esm(data, str(model_dir), fit="magic")


def test_train_esm_needs_a_task_id_and_stops_on_cancel(model_dir, tmp_path):
    """An unnamed dataset is refused up front; a cancelled run writes nothing."""
    unnamed = Dataset(TINY_TEXTS, [0, 1] * 10)
    with pytest.raises(TrainingConfigError, match="task_id"):
        train_esm(unnamed, str(model_dir), tmp_path / "esm", finetune=FAST)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(RankingCancelled):
        train_esm(
            unnamed,
            str(model_dir),
            tmp_path / "esm",
            finetune=FAST,
            task_id="me/named",
            cancel=cancel,
        )
    assert list(tmp_path.iterdir()) == []


# --- hfselect's ESMTrainer -------------------------------------------------------------------


def _pairs(rows: int = 40, dim: int = 6) -> EmbeddingDataset:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(rows, dim)).astype(np.float32)
    y = (x @ rng.normal(size=(dim, dim)) * 0.3 + 0.1).astype(np.float32)
    metadata = {"base_model_name": HUB_ID, "task_id": "me/pairs", "text_column": "text"}
    return EmbeddingDataset(x, y, metadata=metadata)


def test_esm_trainer_train_with_embeddings_behaves_like_hfselect(tmp_path):
    """Writes the ESM and train_info.json, overwrites like hfselect, config carries metadata."""
    pairs = _pairs()
    output = tmp_path / "esm"
    output.mkdir()
    (output / "keep.txt").write_text("kept")  # hfselect's save_pretrained keeps other files
    torch.manual_seed(11)
    esm = ESMTrainer().train_with_embeddings(pairs, output_dir=output, num_epochs=3, verbose=0)
    assert isinstance(esm, ESM)
    assert sorted(p.name for p in output.iterdir()) == [
        "config.json",
        "keep.txt",
        "model.safetensors",
        "train_info.json",
    ]
    info = json.loads((output / "train_info.json").read_text())
    assert info["num_epochs"] == 3 and info["num_train_examples"] == 40
    assert len(info["epoch_avg_losses"]) == len(info["epoch_train_durations"]) == 3
    assert isinstance(info["training_completed_timestamp"], str)
    config = esm.config
    assert (config.task_id, config.base_model_name, config.version) == ("me/pairs", HUB_ID, "0.2.1")
    assert (config.esm_num_epochs, config.esm_batch_size, config.esm_learning_rate) == (3, 32, 0.01)
    assert config.esm_embedding_dim == 6 and config.esm_architecture == "linear"
    reloaded = ESM.from_pretrained(output)
    assert torch.equal(reloaded.weights()[0], esm.weights()[0])
    # Same global seed, same recipe: the seeded fit gives the same weights.
    weight, bias, _ = fit_hfselect_sgd(pairs.x, pairs.y, num_epochs=3, seed=11)
    assert torch.equal(weight, esm.weights()[0]) and torch.equal(bias, esm.weights()[1])
    # A second call overwrites the folder's ESM files (hfselect's behaviour).
    torch.manual_seed(12)
    second = ESMTrainer().train_with_embeddings(pairs, output_dir=output, num_epochs=1, verbose=0)
    assert torch.equal(ESM.from_pretrained(output).weights()[0], second.weights()[0])
    assert json.loads((output / "train_info.json").read_text())["num_epochs"] == 1


def test_esm_trainer_reset_model_false_keeps_training_the_same_model():
    """reset_model=False continues from the current weights instead of starting afresh."""
    pairs = _pairs()
    trainer = ESMTrainer()
    first = trainer.train_with_embeddings(pairs, num_epochs=1, verbose=0)
    weight_after_one = first.weights()[0].clone()
    second = trainer.train_with_embeddings(pairs, num_epochs=1, reset_model=False, verbose=0)
    assert second is first
    assert not torch.equal(second.weights()[0], weight_after_one)
    assert trainer.avg_loss > 0


def test_esm_trainer_train_with_models_takes_transformers_models(model_dir, dataset, tmp_path):
    """hfselect's inputs (two transformers encoders and a tokenizer) give an ESM and a file."""
    from transformers import AutoModel, AutoTokenizer

    base = AutoModel.from_pretrained(str(model_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    tuned = fine_tune(load_base_model(str(model_dir)), dataset, FAST, device="cpu").model
    esm = ESMTrainer().train_with_models(
        dataset,
        base,
        tuned,
        tokenizer,
        model_output_dir=tmp_path / "esm",
        embeddings_output_filepath=tmp_path / "pairs.npz",
        num_epochs=1,
    )
    assert esm.config.base_model_name == HUB_ID and esm.config.task_id == "me/reviews"
    assert ESM.from_pretrained(tmp_path / "esm").config.task_id == "me/reviews"
    pairs = EmbeddingDataset.from_disk(tmp_path / "pairs.npz")
    assert pairs.x.shape == (20, 32) and not np.allclose(pairs.x, pairs.y)
    with pytest.raises(TrainingConfigError, match="tokenizer"):
        ESMTrainer().train_with_models(dataset, base, tuned, None)


def test_esm_config_update_sets_known_keys_and_keeps_the_rest():
    """ESMConfig.update (used by hfselect's trainer) fills attributes and extra keys."""
    config = ESMConfig()
    config.update({"task_id": "t", "text_column": ("a", "b"), "streamed": False})
    assert config.task_id == "t" and config.text_column == ["a", "b"]
    assert config.extra == {"streamed": False} and config.to_dict()["streamed"] is False
