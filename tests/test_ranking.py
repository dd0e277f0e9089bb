"""The whole ranking pipeline on a tiny model: order, equality with the reference, robustness."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
import torch
from esm_factory import FakeHfApi, fill_hf_cache, write_broken_esm, write_esm
from tiny_models import _WORDS, HIDDEN_SIZE, make_tiny_model

from hfselect_widgets.engine.data.dataset import Dataset
from hfselect_widgets.engine.embedding.model import embed_texts, load_base_model
from hfselect_widgets.engine.esm.format import ESM
from hfselect_widgets.engine.scoring.logme import logme_reference
from hfselect_widgets.engine.scoring.ranking import (
    ESMHandle,
    compute_scores,
    compute_task_ranking,
    score_embeddings,
)
from hfselect_widgets.errors import NoESMsFoundError, RankingCancelled

DIM = HIDDEN_SIZE
MODEL_ID = "tiny-org/tiny-model"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = make_tiny_model(
        tmp_path_factory.mktemp("model") / "tiny", kind="sentence-transformers"
    )
    # Declares the Hub id this local folder stands for, so ESMs can be matched by base model.
    (folder / "hfselect_model_id").write_text(MODEL_ID)
    return folder


@pytest.fixture(scope="module")
def texts():
    words = _WORDS[:12]
    return [" ".join(t) for t in itertools.islice(itertools.permutations(words, 3), 0, 1320, 11)]


@pytest.fixture(scope="module")
def separable(model_dir, texts):
    """A target whose labels are a linear function of the base embeddings, and its direction."""
    base = load_base_model(model_dir, device="cpu")
    x = embed_texts(texts, base).astype(np.float64)
    rng = np.random.default_rng(0)
    direction = rng.standard_normal(DIM)
    projection = (x - x.mean(0)) @ direction
    labels = (projection > np.median(projection)).astype(int)
    dataset = Dataset.from_pandas(
        __import__("pandas").DataFrame({"text": texts, "label": labels}),
        text_col="text",
        label_col="label",
    )
    return dataset, direction / np.linalg.norm(direction)


def _informative_esm(direction: np.ndarray, scale: float = 5.0):
    """Keeps the label direction and shrinks the others: classes become separable."""
    v = torch.tensor(direction, dtype=torch.float32)[:, None]
    weight = 0.05 * torch.eye(DIM) + scale * (v @ v.T)
    return weight, torch.zeros(DIM)


def _blind_esm(direction: np.ndarray, seed: int):
    """A random map that projects the label direction out: the labels are noise to it."""
    gen = torch.Generator().manual_seed(seed)
    v = torch.tensor(direction, dtype=torch.float32)[:, None]
    projector = torch.eye(DIM) - v @ v.T
    weight = torch.randn(DIM, DIM, generator=gen) @ projector
    return weight, torch.randn(DIM, generator=gen)


@pytest.fixture(scope="module")
def esm_dir(tmp_path_factory, separable):
    _, direction = separable
    root = tmp_path_factory.mktemp("esms")
    weight, bias = _informative_esm(direction)
    write_esm(
        root / "good",
        DIM,
        task_id="org/separable",
        base_model_name=MODEL_ID,
        weight=weight,
        bias=bias,
    )
    for i in range(4):
        weight, bias = _blind_esm(direction, seed=i)
        write_esm(
            root / f"blind{i}",
            DIM,
            task_id=f"org/blind{i}",
            base_model_name=MODEL_ID,
            weight=weight,
            bias=bias,
        )
    return root


def test_esm_that_separates_the_classes_ranks_first(model_dir, separable, esm_dir):
    """The ESM built to make the target classes separable must be ranked first."""
    dataset, _ = separable
    ranking = compute_task_ranking(dataset, model_name=str(model_dir), esm_dir=esm_dir, n_jobs=2)
    assert ranking.task_ids[0] == "org/separable"
    assert len(ranking) == 5 and not ranking.failures
    assert ranking.metadata["pooling"] == "mean"
    assert ranking.metadata["model_id"] == MODEL_ID
    assert ranking.metadata["num_examples"] == len(dataset)


def test_scores_equal_the_reference_logme_on_transformed_embeddings(model_dir, separable, esm_dir):
    """Each score equals hfselect's LogME of the ESM-transformed target embeddings (to 1e-6)."""
    dataset, _ = separable
    base = load_base_model(model_dir, device="cpu")
    x = torch.tensor(embed_texts(dataset.texts, base))
    esms = [ESM.from_pretrained(esm_dir / name) for name in ("good", "blind0", "blind1")]
    scores = compute_scores(dataset, base, esms, n_jobs=1)
    for esm, score in zip(esms, scores, strict=True):
        with torch.no_grad():
            features = esm(x).numpy()
        assert score == pytest.approx(logme_reference(features, dataset.labels), abs=1e-6)


def test_broken_and_mismatched_esms_are_skipped_with_reasons(
    model_dir, separable, esm_dir, tmp_path
):
    """A bad ESM never aborts a ranking: it is skipped and its reason reported."""
    dataset, _ = separable
    pool = tmp_path / "pool"
    for name in ("good", "blind0"):
        ESM.from_pretrained(esm_dir / name).save_pretrained(pool / name)
    for kind in ("corrupt_weights", "nan_weights", "invalid_config", "no_weights"):
        write_broken_esm(pool / kind, kind, dim=DIM)
    write_esm(pool / "wrong_dim", DIM // 2, task_id="org/small", base_model_name=MODEL_ID)
    write_esm(pool / "other_model", DIM, task_id="org/other", base_model_name="someone/else")
    ranking = compute_task_ranking(dataset, model_name=str(model_dir), esm_dir=pool, n_jobs=2)
    assert sorted(ranking.task_ids) == ["org/blind0", "org/separable"]
    reasons = {k.rsplit("/", 1)[-1]: v for k, v in ranking.failures.items()}
    assert "corrupt" in reasons["corrupt_weights"]
    assert "NaN" in reasons["nan_weights"]
    assert "task_id" in reasons["invalid_config"]
    assert "no weights" in reasons["no_weights"]
    assert "16-dimensional" in reasons["wrong_dim"] and "32-dimensional" in reasons["wrong_dim"]
    assert "someone/else" in reasons["other_model"]


def test_local_model_without_hub_id_keeps_foreign_esms_with_a_warning(separable, esm_dir, tmp_path):
    """With a model folder of unknown origin, ESMs whose dimension fits are kept, with a warning."""
    dataset, _ = separable
    anonymous = make_tiny_model(tmp_path / "anon", kind="sentence-transformers")
    with pytest.warns(UserWarning, match="no known Hub id"):
        ranking = compute_task_ranking(dataset, model_name=str(anonymous), esm_dir=esm_dir)
    assert len(ranking) == 5
    assert ranking.metadata["model_id"] is None


def test_esm_objects_repo_paths_and_folder_give_the_same_scores(model_dir, separable, esm_dir):
    """esms=, esm_repo_ids= (folders) and esm_dir= are three ways to name the same pool."""
    dataset, _ = separable
    folders = sorted(p for p in esm_dir.iterdir() if p.is_dir())
    by_dir = compute_task_ranking(dataset, model_name=str(model_dir), esm_dir=esm_dir)
    by_ids = compute_task_ranking(
        dataset, model_name=str(model_dir), esm_repo_ids=[str(f) for f in folders]
    )
    by_objects = compute_task_ranking(
        dataset, model_name=str(model_dir), esms=[ESM.from_pretrained(f) for f in folders]
    )
    assert by_dir.task_ids == by_ids.task_ids == by_objects.task_ids
    np.testing.assert_allclose(by_dir.scores, by_objects.scores, atol=1e-12)


def test_hub_repo_ids_are_read_from_a_prefilled_cache_offline(model_dir, separable, esm_dir):
    """Hub ESMs come through the Hugging Face cache (HF_HUB_OFFLINE=1); uncached ones fail clearly."""
    dataset, _ = separable
    fill_hf_cache("esm-user/good", esm_dir / "good")
    fill_hf_cache("esm-user/blind0", esm_dir / "blind0")
    ranking = compute_task_ranking(
        dataset,
        model_name=str(model_dir),
        esm_repo_ids=["esm-user/good", "esm-user/blind0", "esm-user/not-cached"],
    )
    assert ranking.repo_ids == ["esm-user/good", "esm-user/blind0"]
    assert set(ranking.failures) == {"esm-user/not-cached"}


def test_no_esms_names_base_models_that_have_some(model_dir, separable):
    """Asking for a model without ESMs says which base models do have ESMs."""
    dataset, _ = separable
    api = FakeHfApi()
    api.add_esm("u/esm1", "google-bert/bert-base-multilingual-uncased")
    api.add_esm("u/esm2", "google-bert/bert-base-multilingual-uncased")
    with pytest.raises(NoESMsFoundError, match="bert-base-multilingual-uncased \\(2\\)"):
        compute_task_ranking(dataset, model_name=str(model_dir), hf_api=api)


def test_progress_reaches_every_stage_total(model_dir, separable, esm_dir):
    """Embedding and scoring each report done == total at the end."""
    dataset, _ = separable
    seen: dict[str, tuple[int, int | None]] = {}
    compute_task_ranking(
        dataset,
        model_name=str(model_dir),
        esm_dir=esm_dir,
        progress=lambda stage, done, total: seen.__setitem__(stage, (done, total)),
    )
    assert seen["embedding"] == (len(dataset), len(dataset))
    assert seen["scoring"] == (5, 5)


def test_cancel_during_scoring_raises_ranking_cancelled(model_dir, separable, esm_dir):
    """Setting the cancel event mid-run stops the ranking with RankingCancelled."""
    dataset, _ = separable
    cancel = threading.Event()

    def progress(stage, done, total):
        if stage == "scoring" and done >= 1:
            cancel.set()

    with pytest.raises(RankingCancelled):
        compute_task_ranking(
            dataset, model_name=str(model_dir), esm_dir=esm_dir, progress=progress, cancel=cancel
        )


def test_scoring_streams_a_bounded_number_of_esms(separable):
    """ESMs are loaded lazily: never more than 2 x n_jobs are held at once, however many there are."""
    dataset, direction = separable
    rng = np.random.default_rng(0)
    x = rng.standard_normal((len(dataset), DIM)).astype(np.float32)
    live = {"now": 0, "max": 0, "created": 0}
    lock = threading.Lock()
    weight, bias = _informative_esm(direction)

    class CountingHandle(ESMHandle):
        def load(self):
            with lock:
                live["now"] += 1
                live["max"] = max(live["max"], live["now"])
            config = ESM(
                embedding_dim=DIM, config={"task_id": self.source, "base_model_name": MODEL_ID}
            ).config
            return config, weight, bias

    def handles():
        for i in range(60):
            live["created"] += 1
            # Handles not yet drained count as live: they are created lazily, one at a time.
            assert live["created"] - live["done"] <= 2 * 2 + 1
            yield CountingHandle(source=f"esm{i}")

    live["done"] = 0

    def progress(stage, done, total):
        live["done"] = done
        with lock:
            live["now"] = max(0, live["now"] - 1) if done else live["now"]

    result = score_embeddings(x, dataset.labels, False, handles(), n_jobs=2, progress=progress)
    assert len(result.scores) == 60
    assert live["max"] <= 2 * 2


def test_sample_not_larger_than_the_embedding_dimension_warns(model_dir, esm_dir):
    """N <= D makes hfselect's LogME unreliable: the ranking says so (warning and metadata)."""
    import pandas as pd

    texts = [f"good movie number {i}" if i % 2 else f"bad film {i}" for i in range(DIM)]
    small = Dataset.from_pandas(
        pd.DataFrame({"text": texts, "label": [i % 2 for i in range(DIM)]}),
        text_col="text",
        label_col="label",
    )
    with pytest.warns(UserWarning, match="not more than the embedding dimension"):
        ranking = compute_task_ranking(small, model_name=str(model_dir), esm_dir=esm_dir)
    assert any("unreliable" in w for w in ranking.metadata["warnings"])
