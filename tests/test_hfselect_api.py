"""hf-dataset-selector 0.2.1's own tutorials and tests, run against hfselect_widgets.

The code of hfselect's four tutorials (``tutorials/01_find_datasets.ipynb`` ...
``04_advanced_esm_training.ipynb`` in davidschulte/hf-dataset-selector) and of its tests
(``tests/conftest.py``, ``test_embedding_dataset.py``, ``test_ranking.py``) is transcribed below
with only ``from hfselect import ...`` changed to ``from hfselect_widgets import ...``. Nothing
reaches the network; the Hub inputs are replaced by local equivalents (one comment per step says
what was replaced):

* models: tiny seeded BERTs (``tiny_models.py``) put into a Hugging Face cache under the
  tutorials' model ids (``bert-base-multilingual-uncased``, ``google-bert/bert-base-uncased``,
  ``prithivMLmods/Spam-Bert-Uncased``); with ``HF_HUB_OFFLINE=1`` (conftest) transformers and our
  engine load them from there, so those lines stay as they are;
* ESMs: folders written as hfselect writes them (``esm_factory.py``) in the same cache, listed by
  a fake ``HfApi`` installed as ``huggingface_hub.HfApi`` (what hfselect's discovery and
  publishing call);
* datasets: local dataset folders (a CSV file per split) in place of the Hub datasets
  ``imdb`` and ``prithivMLmods/Spam-Text-Detect-Analysis``: loading a Hub dataset needs the
  network. ``Dataset.from_hugging_face`` reads a local folder like a Hub repo.

The scores are checked against hfselect's own recipe (its ``compute_scores`` loop: ``collate_fn``
batches padded to 128 tokens, ``get_pooled_output``, the ESM, LogME) run on the same inputs.
"""

from __future__ import annotations

import importlib
import inspect
import math
import types
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from esm_factory import FakeHfApi, fill_hf_cache, write_esm
from tiny_models import HIDDEN_SIZE, TINY_TEXTS, make_tiny_model

DIM = HIDDEN_SIZE
MULTILINGUAL = "bert-base-multilingual-uncased"
MULTILINGUAL_CANONICAL = "google-bert/bert-base-multilingual-uncased"
BERT_BASE = "google-bert/bert-base-uncased"
SPAM_BERT = "prithivMLmods/Spam-Bert-Uncased"
TOKEN = "hf_FakeTokenForTheHfselectApiTests0"

# Every top-level name of hf-dataset-selector 0.2.1 (``dir(hfselect)`` without private names):
# its __init__ imports these, its submodules, and what ``from .utils import *`` brings along.
HFSELECT_TOP_LEVEL_NAMES = [
    "Counter",
    "Dataset",
    "ESM",
    "ESMConfig",
    "ESMNotInitializedError",
    "ESMTrainer",
    "EmbeddingDataset",
    "HfApi",
    "InvalidESMConfigError",
    "ModelInfo",
    "Optional",
    "compute_scores",
    "compute_task_ranking",
    "create_embedding_dataset",
    "dataset",
    "defaultdict",
    "embedding_dataset",
    "esm",
    "esm_logme",
    "esmconfig",
    "fetch_esm_configs",
    "fetch_esms",
    "find_esm_model_infos",
    "find_esm_repo_ids",
    "get_esm_coverage",
    "logger",
    "logme",
    "model_info",
    "model_utils",
    "setup_logger",
    "task_ranking",
    "tqdm",
    "trainers",
    "utils",
    "version",
    "__version__",
]

# hfselect's submodules and the names each defines or re-exports (its own, not third-party).
HFSELECT_MODULE_NAMES = {
    "embedding_dataset": [
        "Dataset",
        "EmbeddingDataset",
        "InvalidEmbeddingDatasetError",
        "create_embedding_dataset",
        "get_pooled_output",
        "logger",
    ],
    "esm": ["ESM", "ESMConfig", "ESMNotInitializedError", "InvalidESMConfigError"],
    "esm_logme": [
        "Dataset",
        "ESM",
        "LogME",
        "NoESMsFoundError",
        "TaskRanking",
        "compute_scores",
        "compute_task_ranking",
        "fetch_esms",
        "find_esm_repo_ids",
        "get_pooled_output",
        "logger",
    ],
    "dataset": ["DATASET_STREAMING_BUFFER_SIZE", "Dataset", "EmptyDatasetError", "TEXT_SEPARATOR"],
    "trainers": [
        "Dataset",
        "ESM",
        "ESMConfig",
        "ESMTrainer",
        "EmbeddingDataset",
        "Trainer",
        "create_embedding_dataset",
        "logger",
    ],
    "utils": [
        "ESM",
        "ESMConfig",
        "ESMNotInitializedError",
        "InvalidESMConfigError",
        "fetch_esm_configs",
        "fetch_esms",
        "find_esm_model_infos",
        "find_esm_repo_ids",
        "get_esm_coverage",
        "logger",
    ],
    "task_ranking": ["ESMConfig", "InvalidTaskRankingError", "TaskRanking"],
    "esmconfig": ["ESMConfig", "InvalidESMConfigError"],
    "logme": ["LogME"],
    "model_utils": ["get_pooled_output"],
    "setup_logger": ["logger"],
    "version": ["__version__"],
}

# The ESMs on the fake Hub for bert-base-multilingual-uncased: (task id, num_examples).
ESM_TASKS = [
    ("stanfordnlp/imdb", 10000),
    ("Yelp/yelp_review_full", 10000),
    ("app_reviews", 300),
    ("stanfordnlp/sst2", 8544),
    ("amazon_reviews_multi", 6000),
    ("fancyzhx/ag_news", 10000),
    ("ohidaoui/darija-reviews", 851),
    ("tweet_eval", 5000),
    ("Areeb123/drug_reviews", 450),
    ("cornell-movie-review-data/rotten_tomatoes", 8530),
    ("glue", 3668),
    ("stanfordnlp/snli", 10000),
    ("hotel_reviews", 700),
]
OTHER_BASE_ESM = "esm-hub/ESM_sst2_for_bert_base"

POSITIVE = ["good", "great", "loved", "wonderful", "fun", "best"]
NEGATIVE = ["bad", "terrible", "boring", "awful", "worst", "dull"]


def esm_repo_id(task_id: str) -> str:
    return "esm-hub/ESM_" + task_id.replace("/", "__")


# --- the local stand-ins for the Hub -----------------------------------------------------------


def review_frame(rows: int, seed: int) -> pd.DataFrame:
    """An IMDB-like table (text, label 0/1) whose sentiment words follow the label; a few
    unlabelled rows (label -1), which hfselect's from_hugging_face drops."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(rows):
        label = -1 if i % 97 == 5 else i % 2
        words = rng.choice(POSITIVE if label == 1 else NEGATIVE, size=2)
        filler = TINY_TEXTS[int(rng.integers(len(TINY_TEXTS)))]
        texts.append(f"{filler} the movie was {words[0]} and {words[1]}.".strip())
        labels.append(label)
    return pd.DataFrame({"text": texts, "label": labels})


def spam_frame(rows: int, seed: int) -> pd.DataFrame:
    """A Spam-Text-Detect-like table (Category "ham"/"spam", Message)."""
    rng = np.random.default_rng(seed)
    spam_words = ["win", "cash", "free", "prize", "call", "now"]
    ham_words = ["see", "you", "at", "lunch", "ok", "thanks"]
    categories, messages = [], []
    for i in range(rows):
        spam = i % 3 == 0
        words = rng.choice(spam_words if spam else ham_words, size=3)
        messages.append(" ".join(words) + f" {int(rng.integers(100))}")
        categories.append("spam" if spam else "ham")
    return pd.DataFrame({"Category": categories, "Message": messages})


def write_dataset_folder(folder: Path, frame: pd.DataFrame) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "data" / "train.csv", index=False)
    return folder


class HubStandIn(FakeHfApi):
    """The fake ``HfApi``: lists the cached ESMs and takes uploads in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.token = TOKEN
        self.repo_files: dict[str, dict[str, bytes]] = {}

    def repo_exists(self, repo_id: str, **kwargs: Any) -> bool:
        self._record("repo_exists", repo_id, kwargs)
        return repo_id in self.repo_files

    def list_repo_files(self, repo_id: str, **kwargs: Any) -> list[str]:
        self._record("list_repo_files", repo_id, kwargs)
        return list(self.repo_files[repo_id])

    def hf_hub_download(self, repo_id: str, filename: str, **kwargs: Any) -> str:
        self._record("hf_hub_download", repo_id, {"filename": filename, **kwargs})
        path = Path(self.download_dir) / repo_id.replace("/", "--") / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.repo_files[repo_id][filename])
        return str(path)

    def create_repo(self, repo_id: str, **kwargs: Any) -> str:
        self._record("create_repo", repo_id, kwargs)
        if repo_id in self.repo_files and not kwargs.get("exist_ok"):
            raise RuntimeError(f"409 Conflict: {repo_id} exists")
        self.repo_files.setdefault(repo_id, {".gitattributes": b"*.safetensors filter=lfs\n"})
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, folder_path: str, repo_id: str, **kwargs: Any):
        files = {p.name: p.read_bytes() for p in Path(folder_path).iterdir() if p.is_file()}
        self._record("upload_folder", repo_id, {"files": sorted(files), **kwargs})
        self.repo_files[repo_id].update(files)
        return types.SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/1")

    def uploaded_folder(self, repo_id: str, folder: Path) -> Path:
        """The files of ``repo_id`` as a local folder (what others would download)."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.repo_files[repo_id].items():
            (folder / name).write_bytes(data)
        return folder


def build_hub(root: Path, api: HubStandIn) -> types.SimpleNamespace:
    """Models and ESMs into the Hugging Face cache (``constants.HF_HUB_CACHE``), ESMs listed
    on ``api``, and the two dataset folders. Returns the folders."""
    models = root / "models"
    for repo_id, seed in ((MULTILINGUAL, 0), (BERT_BASE, 1), (SPAM_BERT, 2)):
        fill_hf_cache(repo_id, make_tiny_model(models / repo_id.replace("/", "--"), seed=seed))
    for i, (task_id, num_examples) in enumerate(ESM_TASKS):
        folder = write_esm(
            root / "esms" / f"esm{i}",
            DIM,
            seed=10 + i,
            task_id=task_id,
            base_model_name=MULTILINGUAL,
            num_examples=num_examples,
        )
        fill_hf_cache(esm_repo_id(task_id), folder)
        api.add_esm(esm_repo_id(task_id), MULTILINGUAL_CANONICAL)
    other = write_esm(
        root / "esms" / "other", DIM, seed=99, task_id="sst2", base_model_name=BERT_BASE
    )
    fill_hf_cache(OTHER_BASE_ESM, other)
    api.add_esm(OTHER_BASE_ESM, BERT_BASE)
    api.download_dir = root / "downloads"
    return types.SimpleNamespace(
        imdb=write_dataset_folder(root / "datasets" / "imdb", review_frame(1500, seed=0)),
        spam=write_dataset_folder(root / "datasets" / "spam", spam_frame(1200, seed=1)),
    )


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The stand-in Hub for this module: its own HF cache, the fake ``HfApi`` installed."""
    import datasets  # noqa: F401  (imported before HfApi is replaced: they bind it at import)
    import huggingface_hub
    import transformers  # noqa: F401
    from huggingface_hub import constants

    from hfselect_widgets.engine.embedding.model import clear_model_cache

    root = tmp_path_factory.mktemp("hfselect-api")
    api = HubStandIn()
    threads = torch.get_num_threads()
    # One thread: these tiny models and 32 x 32 maps gain nothing from two, and on a busy
    # machine every small op would wait for the second thread.
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        # A cache of its own: other test modules must not find these models under Hub ids.
        patch.setattr(constants, "HF_HUB_CACHE", str(root / "hf-cache"))
        patch.setattr(huggingface_hub, "HfApi", lambda *args, **kwargs: api)
        folders = build_hub(root, api)
        yield types.SimpleNamespace(api=api, root=root, **vars(folders))
        clear_model_cache()  # the tiny models were cached in-process under Hub ids
    clear_model_cache()
    torch.set_num_threads(threads)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in a fresh working directory (the tutorials write files like ``./esm.safetensors``)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- hfselect's compute_scores, transcribed (the reference for the numbers) --------------------


def hfselect_recipe_embeddings(dataset, model, tokenizer, batch_size=128):
    """The first half of hfselect 0.2.1's ``compute_scores`` loop on our objects: ``collate_fn``
    batches padded to 128 tokens, ``get_pooled_output``. Returns (embeddings, labels)."""
    from torch.utils.data import DataLoader, SequentialSampler

    from hfselect_widgets.esm_logme import get_pooled_output

    loader = DataLoader(
        dataset,
        sampler=SequentialSampler(dataset),
        batch_size=batch_size,
        collate_fn=lambda rows: dataset.collate_fn(rows, tokenizer=tokenizer),
    )
    embeddings, labels = [], []
    model.eval()
    with torch.no_grad():
        for input_ids, attention_mask, batch_labels in loader:
            embeddings.append(get_pooled_output(model, input_ids, attention_mask))
            labels.append(batch_labels.numpy())
    return torch.cat(embeddings), np.concatenate(labels)


def hfselect_recipe_scores(recipe_embeddings, esms, is_regression=False) -> list[float]:
    """The second half: each ESM on the base embeddings, then ``LogME(...).fit`` per ESM."""
    from hfselect_widgets.esm_logme import LogME

    base, labels = recipe_embeddings
    with torch.no_grad():
        return [
            LogME(regression=is_regression).fit(esm(base).numpy(), labels, add_intercept=False)
            for esm in esms
        ]


# --- the API surface ---------------------------------------------------------------------------


def test_every_top_level_name_of_hfselect_exists():
    import hfselect_widgets

    missing = [name for name in HFSELECT_TOP_LEVEL_NAMES if not hasattr(hfselect_widgets, name)]
    assert missing == []
    assert hfselect_widgets.FineTuneConfig.__name__ == "FineTuneConfig"
    assert hfselect_widgets.errors.ESMNotInitializedError is hfselect_widgets.ESMNotInitializedError
    namespace: dict[str, Any] = {}
    exec("from hfselect_widgets import *", namespace)  # hfselect users write this too
    assert {"Dataset", "ESM", "compute_task_ranking", "EmbeddingDataset"} <= set(namespace)


@pytest.mark.parametrize("module", sorted(HFSELECT_MODULE_NAMES))
def test_hfselect_submodules_are_aliases_of_the_engine(module):
    alias = importlib.import_module(f"hfselect_widgets.{module}")
    missing = [name for name in HFSELECT_MODULE_NAMES[module] if not hasattr(alias, name)]
    assert missing == []
    assert sorted(alias.__all__) == sorted(HFSELECT_MODULE_NAMES[module])
    # Thin aliases: no class or function of their own.
    for name in alias.__all__:
        value = getattr(alias, name)
        if isinstance(value, (type, types.FunctionType)):
            assert value.__module__.startswith("hfselect_widgets.engine") or (
                value.__module__ == "hfselect_widgets.errors"
            ), name


def test_hfselect_signatures_and_keyword_names():
    from hfselect_widgets import ESM, ESMConfig, create_embedding_dataset

    def params(function):
        return list(inspect.signature(function).parameters)

    assert params(ESMConfig.get) == ["self", "attr_name", "default_return_val"]
    assert params(ESM.from_pretrained)[:6] == [
        "pretrained_model_name_or_path",
        "force_download",
        "token",
        "cache_dir",
        "local_files_only",
        "revision",
    ]
    assert params(ESM.save_pretrained)[:6] == [
        "self",
        "save_directory",
        "config",
        "repo_id",
        "push_to_hub",
        "model_card_kwargs",
    ]
    assert params(create_embedding_dataset)[:7] == [
        "dataset",
        "base_model",
        "tuned_model",
        "tokenizer",
        "device_name",
        "output_path",
        "batch_size",
    ]
    config = ESMConfig("m", "t", num_examples=5, flavour="x")
    assert config.get("num_examples") == 5 and config.get("flavour") == "x"
    assert config.get(attr_name="missing", default_return_val="N/A") == "N/A"


def test_uninitialized_esm_behaves_like_hfselects():
    from hfselect_widgets import ESM, ESMNotInitializedError

    esm = ESM()
    assert not esm.is_initialized and repr(esm) == "ESM - Task ID: N/A - Subset: N/A"
    with pytest.raises(ESMNotInitializedError):
        esm(torch.zeros(1, 4))
    with pytest.raises(ESMNotInitializedError, match="Embedding dimension not provided"):
        ESM(architecture="linear")
    esm = ESM(architecture="linear", embedding_dim=4)
    esm.convert_legacy_to_new()  # hfselect's call after loading: nothing to convert here
    assert esm.is_initialized and not esm.is_legacy_model


def test_hfselect_dataset_constructor_rows_collate_and_files(hub, tmp_path):
    import datasets
    from transformers import AutoTokenizer

    from hfselect_widgets import Dataset

    hf = datasets.Dataset.from_pandas(spam_frame(12, seed=3), preserve_index=False)
    # hfselect's constructor, positional and by keyword; its rows are used as they are.
    data = Dataset(hf, "Message", "Category", False, {"task_id": "me/spam"})
    same = Dataset(dataset=hf, text_col="Message", label_col="Category", is_regression=False)
    assert data.texts == same.texts == list(hf["Message"])
    assert data.class_names == ["ham", "spam"] and data.label_dim == 2 and data.dataset_len == 12
    assert data.labels.tolist() == [int(c == "spam") for c in hf["Category"]]
    assert data[0] == hf[0] and data[0]["Message"] == hf[0]["Message"]
    assert data.metadata["task_id"] == "me/spam"
    # Our own constructor keeps working.
    assert Dataset(["a", "b"], [0, 1], text_col="text")[1] == {"text": "b", "label": 1}

    tokenizer = AutoTokenizer.from_pretrained(MULTILINGUAL)
    input_ids, mask, labels = data.collate_fn([data[0], data[1]], tokenizer=tokenizer)
    assert input_ids.shape == mask.shape == (2, 128)
    assert labels.tolist() == data.labels[:2].tolist()
    expected = tokenizer(data.texts[:2], padding="max_length", truncation=True, max_length=128)
    assert input_ids.tolist() == expected["input_ids"]

    path = data.save(tmp_path / "dataset.pt")
    loaded = Dataset.from_disk(path)
    assert loaded.texts == data.texts and loaded.labels.tolist() == data.labels.tolist()
    assert loaded[3] == data[3] and loaded.metadata == data.metadata
    torch.save({"not": "ours"}, tmp_path / "pickle.pt")  # e.g. hfselect's pickled Dataset
    with pytest.raises(Exception, match="allow_pickle"):
        Dataset.from_disk(tmp_path / "pickle.pt")


# --- hfselect's tests: conftest.py, test_embedding_dataset.py, test_ranking.py -----------------


@pytest.fixture(scope="module")
def imdb_dataset(hub):
    """hfselect's conftest ``imdb_dataset``; ``name="imdb"`` -> a local folder of IMDB-like rows
    (a Hub dataset needs the network)."""
    from hfselect_widgets import Dataset

    return Dataset.from_hugging_face(
        name=str(hub.imdb),  # was: name="imdb"
        split="train",
        text_col="text",
        label_col="label",
        is_regression=False,
        num_examples=1000,
    )


@pytest.fixture(scope="module")
def bert_model(hub):
    """hfselect's conftest: ``AutoModel.from_pretrained(BERT_MODEL_NAME)`` (from the cache)."""
    from transformers import AutoModel

    return AutoModel.from_pretrained(MULTILINGUAL)


@pytest.fixture(scope="module")
def bert_tokenizer(hub):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(MULTILINGUAL)


@pytest.fixture(scope="module")
def bert_model_name():
    return MULTILINGUAL


@pytest.fixture(scope="module")
def recipe_embeddings(imdb_dataset, bert_model, bert_tokenizer):
    """hfselect's embeddings of the IMDB stand-in (computed once for the checks below)."""
    return hfselect_recipe_embeddings(imdb_dataset, bert_model, bert_tokenizer)


def test_embedding_dataset(bert_model, bert_tokenizer, imdb_dataset, in_tmp, recipe_embeddings):
    """hfselect's tests/test_embedding_dataset.py, verbatim."""
    from hfselect_widgets.embedding_dataset import create_embedding_dataset

    embedding_dataset = create_embedding_dataset(
        imdb_dataset, bert_model, bert_model, bert_tokenizer
    )

    assert len(embedding_dataset) == len(imdb_dataset)

    filepath = "./test_embedding_dataset.npz"
    embedding_dataset.save(filepath)
    embedding_dataset = embedding_dataset.from_disk(filepath)

    assert len(embedding_dataset) == len(imdb_dataset)

    # Beyond hfselect's test: the pairs are hfselect's embeddings (pooler output of 128-token
    # batches) and carry the dataset's metadata.
    np.testing.assert_allclose(embedding_dataset.x, recipe_embeddings[0].numpy(), atol=2e-5)
    np.testing.assert_array_equal(embedding_dataset.x, embedding_dataset.y)
    assert embedding_dataset.metadata["base_model_name"] == MULTILINGUAL
    assert embedding_dataset.metadata["num_examples"] == 1000


def test_ranking(bert_model_name, imdb_dataset, recipe_embeddings):
    """hfselect's tests/test_ranking.py, verbatim (the fake Hub lists 13 ESMs; the cached
    ``bert-base-multilingual-uncased`` repo is a model, not an ESM; the other ids do not
    exist)."""
    from hfselect_widgets import compute_task_ranking, find_esm_repo_ids

    esm_repo_ids = find_esm_repo_ids(model_name=bert_model_name)[:12]
    esm_repo_ids.append("fake_repo_ids_for_error_triggering")
    esm_repo_ids.append("bert-base-multilingual-uncased")
    esm_repo_ids += ["a" * i for i in range(200)]

    task_ranking = compute_task_ranking(
        imdb_dataset, model_name=bert_model_name, esm_repo_ids=esm_repo_ids
    )

    assert len(task_ranking) == 12

    # Beyond hfselect's test: every bad id is reported, and the scores are hfselect's numbers.
    assert "fake_repo_ids_for_error_triggering" in task_ranking.failures
    assert "bert-base-multilingual-uncased" in task_ranking.failures
    from hfselect_widgets import fetch_esms

    esms = fetch_esms(esm_repo_ids[:12])
    expected = dict(
        zip(
            [esm.config.task_id for esm in esms],
            hfselect_recipe_scores(recipe_embeddings, esms),
            strict=True,
        )
    )
    got = dict(zip([c.task_id for c in task_ranking.esm_configs], task_ranking.scores, strict=True))
    assert got.keys() == expected.keys()
    for task_id, score in got.items():
        assert math.isclose(score, expected[task_id], rel_tol=1e-4, abs_tol=1e-5), task_id


# --- tutorial 1: rank intermediate datasets ----------------------------------------------------


def test_tutorial_1_find_datasets(hub, capsys):
    """tutorials/01_find_datasets.ipynb."""
    from hfselect_widgets import Dataset, compute_task_ranking

    MODEL_NAME = "bert-base-multilingual-uncased"  # noqa: N806  (as in the tutorial)

    dataset = Dataset.from_hugging_face(
        name=str(hub.imdb),  # was: name="imdb" (a local folder of IMDB-like rows)
        split="train",
        text_col="text",
        label_col="label",
        is_regression=False,
        num_examples=1000,
        seed=42,
    )

    # ESM discovery and download: the fake HfApi lists the cached ESMs (was: the Hub).
    task_ranking = compute_task_ranking(dataset, model_name=MODEL_NAME)

    print(len(task_ranking))

    print(f"The task ranking consists of {len(task_ranking)} intermediate datasets.\n")
    print(task_ranking)

    df = task_ranking.to_pandas()
    df.head(10)

    print(task_ranking[:5])

    try:
        print(df.head(10).to_markdown())
    except ImportError:  # pandas needs the optional package tabulate for to_markdown
        print(df.head(10).to_string())

    out = capsys.readouterr().out.splitlines()
    assert out[0] == str(len(ESM_TASKS))
    assert out[1] == f"The task ranking consists of {len(ESM_TASKS)} intermediate datasets."
    first = out[3]
    assert first.startswith("1.") and "Score: " in first
    assert first.split()[1] == task_ranking.esm_configs[0].task_id
    assert out[3 + 10] == "..."  # hfselect prints the top 10, then "..."
    assert list(df.columns) == [
        "Task ID",
        "Task Subset",
        "Text Column",
        "Label Column",
        "Task Split",
        "Num Examples",
        "ESM Architecture",
        "Score",
    ]
    assert df.index.name == "Rank" and list(df.index) == list(range(1, len(ESM_TASKS) + 1))
    assert task_ranking.scores == sorted(task_ranking.scores, reverse=True)
    assert len(task_ranking[:5]) == 5


# --- tutorial 2: filter the pool of ESMs -------------------------------------------------------


def test_tutorial_2_filter_esms(hub, capsys):
    """tutorials/02_filter_esms.ipynb (Hub listing and downloads: the fake HfApi and the cache)."""
    from hfselect_widgets import Dataset, fetch_esm_configs, find_esm_repo_ids

    repo_ids = find_esm_repo_ids("bert-base-multilingual-uncased")
    print(f"Found {len(repo_ids)} ESM repo IDs.")

    esm_configs = fetch_esm_configs(repo_ids)

    filtered_repo_ids = []
    for repo_id, esm_config in zip(repo_ids, esm_configs, strict=False):
        if esm_config.num_examples >= 500 and "review" in esm_config.task_id:
            filtered_repo_ids.append(repo_id)

    print(f"Found {len(filtered_repo_ids)} ESMs that satisfy the conditions.\n")
    print("\n".join(filtered_repo_ids))

    from hfselect_widgets import fetch_esms

    esms = fetch_esms(filtered_repo_ids)

    esms[0].config

    from hfselect_widgets import Dataset, compute_task_ranking  # noqa: F811 (as in the tutorial)

    MODEL_NAME = "bert-base-multilingual-uncased"  # noqa: N806

    dataset = Dataset.from_hugging_face(
        name=str(hub.imdb),  # was: name="imdb"
        split="train",
        text_col="text",
        label_col="label",
        is_regression=False,
        num_examples=1000,
        seed=42,
    )

    task_ranking = compute_task_ranking(
        dataset, model_name=MODEL_NAME, esm_repo_ids=filtered_repo_ids
    )

    task_ranking.to_pandas()

    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Found {len(ESM_TASKS)} ESM repo IDs."
    expected = [
        esm_repo_id(task_id)
        for task_id, num_examples in ESM_TASKS
        if num_examples >= 500 and "review" in task_id
    ]
    assert filtered_repo_ids == expected and len(expected) == 5
    assert out[1] == f"Found {len(expected)} ESMs that satisfy the conditions."
    assert [esm.repo_id for esm in esms] == expected
    assert esms[0].config.base_model_name == MULTILINGUAL
    assert sorted(task_ranking.repo_ids) == sorted(expected)
    assert OTHER_BASE_ESM not in repo_ids  # ESMs of another base model are not listed


def test_esm_coverage_counts_esms_per_base_model(hub):
    """hfselect's get_esm_coverage (README) against the fake Hub."""
    from hfselect_widgets import find_esm_model_infos, get_esm_coverage

    assert get_esm_coverage() == {MULTILINGUAL_CANONICAL: len(ESM_TASKS), BERT_BASE: 1}
    assert [info.id for info in find_esm_model_infos(BERT_BASE)] == [OTHER_BASE_ESM]


# --- tutorial 3: train and publish an ESM ------------------------------------------------------


@pytest.fixture(scope="module")
def spam_dataset(hub):
    from hfselect_widgets import Dataset

    return Dataset.from_hugging_face(
        name=str(hub.spam),  # was: name="prithivMLmods/Spam-Text-Detect-Analysis"
        split="train",
        text_col="Message",
        label_col="Category",
        is_regression=False,
        num_examples=1000,
    )


def test_tutorial_3_train_esm(hub, spam_dataset, in_tmp, capsys):
    """tutorials/03_train_esm.ipynb."""
    from transformers import BertModel, BertTokenizer

    from hfselect_widgets import Dataset, ESMTrainer

    # The three models come from the Hugging Face cache (tiny stand-ins under the same ids).
    base_model = BertModel.from_pretrained("google-bert/bert-base-uncased")
    tuned_model = BertModel.from_pretrained("prithivMLmods/Spam-Bert-Uncased")

    tokenizer = BertTokenizer.from_pretrained("google-bert/bert-base-uncased")

    dataset = Dataset.from_hugging_face(
        name=str(hub.spam),  # was: name="prithivMLmods/Spam-Text-Detect-Analysis"
        split="train",
        text_col="Message",
        label_col="Category",
        is_regression=False,
        num_examples=1000,
    )

    device_name = "cpu"  # Change this to cuda if you want to use a GPU

    trainer = ESMTrainer(device_name=device_name)

    esm = trainer.train_with_models(
        dataset=dataset, base_model=base_model, tuned_model=tuned_model, tokenizer=tokenizer
    )

    esm

    esm.config

    tokenized_input = tokenizer(
        dataset[0]["Message"],
        padding="max_length",
        truncation=True,
        max_length=128,
        return_tensors="pt",
        return_token_type_ids=False,
    )

    base_embedding = base_model(**tokenized_input)[1]
    transformed_embedding = esm(base_embedding)

    print(transformed_embedding.shape)

    # hfselect 0.2.1 has no ESM.to_disk (an older release had it); we keep it for this line.
    esm.to_disk("esm.safetensors")

    # Publishing: the fake HfApi takes the upload (was: the Hub, with the user's login).
    esm.publish("davidschulte/ESM__prithivMLmods_Spam-Text-Detect-Analysis")

    # What the tutorial shows, checked.
    assert capsys.readouterr().out.strip() == f"torch.Size([1, {DIM}])"
    assert repr(esm) == f"ESM - Task ID: {hub.spam} - Subset: N/A"
    config = esm.config
    assert config.base_model_name == "google-bert/bert-base-uncased"
    assert (config.task_id, config.text_column, config.label_column) == (
        str(hub.spam),
        "Message",
        "Category",
    )
    assert (config.num_examples, config.task_split, config.esm_num_epochs) == (1000, "train", 10)
    assert (config.esm_learning_rate, config.esm_weight_decay, config.esm_batch_size) == (
        0.01,
        0.01,
        32,
    )
    from hfselect_widgets import ESM

    restored = ESM.from_disk("esm.safetensors")
    torch.testing.assert_close(restored(base_embedding), transformed_embedding)
    repo = "davidschulte/ESM__prithivMLmods_Spam-Text-Detect-Analysis"
    assert sorted(hub.api.repo_files[repo]) == [
        ".gitattributes",
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    published = ESM.from_pretrained(hub.api.uploaded_folder(repo, in_tmp / "published"))
    torch.testing.assert_close(published(base_embedding), transformed_embedding)
    card = (in_tmp / "published" / "README.md").read_text()
    assert "embedding_space_map" in card and "BaseLM:google-bert/bert-base-uncased" in card


def test_publishing_never_replaces_a_repo_unless_asked(hub, in_tmp):
    """ESM.publish / push_to_hub / save_pretrained(push_to_hub=True) go through publish_esm."""
    from hfselect_widgets import ESM, ESMConfig
    from hfselect_widgets.errors import RepoExistsError

    config = ESMConfig(base_model_name=BERT_BASE, task_id="me/data")
    esm = ESM(architecture="linear", embedding_dim=DIM, config=config)
    result = esm.push_to_hub("me/esm-a")
    assert result.repo_id == "me/esm-a" and result.created
    with pytest.raises(RepoExistsError):
        esm.push_to_hub("me/esm-a")  # hfselect would overwrite it
    with pytest.raises(RepoExistsError):
        esm.publish("me/esm-a", config={"base_model_name": BERT_BASE, "task_id": "other"})
    replaced = esm.publish(
        "me/esm-a", config={"base_model_name": BERT_BASE, "task_id": "other"}, overwrite=True
    )
    assert not replaced.created
    assert esm.config.task_id == "me/data"  # the config passed to publish is used for it only
    pushed = esm.save_pretrained("esm-b", push_to_hub=True, repo_id="me/esm-b")
    assert pushed.repo_id == "me/esm-b" and (in_tmp / "esm-b" / "config.json").is_file()
    with pytest.raises(Exception, match="branch"):
        esm.push_to_hub("me/esm-c", branch="dev")
    from hfselect_widgets import InvalidESMConfigError

    with pytest.raises(InvalidESMConfigError):
        esm.publish("me/esm-d", config={"task_id": "no base model"})


def test_save_pretrained_with_hfselects_keywords(hub, tmp_path):
    from hfselect_widgets import ESM, ESMConfig

    esm = ESM(architecture="linear", embedding_dim=DIM, config=ESMConfig(BERT_BASE, "t"))
    folder = esm.save_pretrained(
        tmp_path / "esm", config={"base_model_name": BERT_BASE, "task_id": "u"}
    )
    loaded = ESM.from_pretrained(
        folder, force_download=False, token=None, cache_dir=None, local_files_only=True
    )
    assert loaded.config.task_id == "u" and esm.config.task_id == "t"
    cached = ESM.from_pretrained(
        esm_repo_id("stanfordnlp/imdb"), local_files_only=True, revision="main"
    )
    assert cached.repo_id == esm_repo_id("stanfordnlp/imdb") and cached.embedding_dim == DIM


# --- tutorial 4: ESM training with hyper-parameter search --------------------------------------


class FixedTrial:
    """Stands in for ``optuna.trial.Trial`` (optuna is not a dependency): fixed suggestions."""

    def __init__(self, params: dict[str, Any]):
        self.params = params

    def suggest_int(self, name: str, low: int, high: int) -> int:
        assert low <= self.params[name] <= high
        return self.params[name]

    def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float:
        assert low <= self.params[name] <= high
        return self.params[name]


class GridStudy:
    """Stands in for ``optuna.create_study(direction="minimize", sampler=...)``: tries the given
    parameter sets in order and keeps the best."""

    def __init__(self, candidates: list[dict[str, Any]]):
        self.candidates = candidates
        self.values: list[float] = []

    def optimize(self, objective, n_trials: int, show_progress_bar: bool = False) -> None:
        for params in self.candidates[:n_trials]:
            self.values.append(objective(FixedTrial(params)))

    @property
    def best_params(self) -> dict[str, Any]:
        return self.candidates[int(np.argmin(self.values))]


def test_tutorial_4_advanced_esm_training(hub, in_tmp, capsys):
    """tutorials/04_advanced_esm_training.ipynb; the optuna study is replaced by two fixed
    trials (optuna is not installed here, and 100 trials would take minutes)."""
    pytest.importorskip("sklearn")
    import torch
    from sklearn.metrics import mean_squared_error
    from sklearn.model_selection import KFold
    from torch.utils.data import DataLoader, SequentialSampler
    from transformers import BertModel, BertTokenizer

    from hfselect_widgets import Dataset, EmbeddingDataset, ESMTrainer, create_embedding_dataset

    device_name = "cpu"

    base_model = BertModel.from_pretrained("google-bert/bert-base-uncased")
    tuned_model = BertModel.from_pretrained("prithivMLmods/Spam-Bert-Uncased")

    tokenizer = BertTokenizer.from_pretrained("google-bert/bert-base-uncased")

    dataset = Dataset.from_hugging_face(
        name=str(hub.spam),  # was: name="prithivMLmods/Spam-Text-Detect-Analysis"
        split="train",
        text_col="Message",
        label_col="Category",
        is_regression=False,
        num_examples=1000,
    )

    embedding_dataset = create_embedding_dataset(
        dataset=dataset,
        base_model=base_model,
        tuned_model=tuned_model,
        tokenizer=tokenizer,
        device_name=device_name,
    )

    embedding_dataset.save("./embedding_dataset_test.npz")
    embedding_dataset = EmbeddingDataset.from_disk("./embedding_dataset_test.npz")

    def objective(trial, k_folds=5):
        num_epochs = trial.suggest_int("num_epochs", 3, 20)
        learning_rate = trial.suggest_float("learning_rate", 1e-5, 1, log=True)
        weight_decay = trial.suggest_float("weight_decay", 1e-5, 1, log=True)
        batch_size = trial.suggest_int("batch_size", 8, 32)

        trainer = ESMTrainer(
            weight_decay=weight_decay, learning_rate=learning_rate, device_name=device_name
        )

        kfold = KFold(n_splits=k_folds, shuffle=True)
        fold_results = []

        # Start print
        print("--------------------------------")

        # K-fold Cross Validation model evaluation
        for fold, (train_ids, test_ids) in enumerate(kfold.split(dataset)):  # noqa: B007
            train_split = embedding_dataset[train_ids]
            test_split = embedding_dataset[test_ids]
            test_split_x, test_split_y = test_split.x, test_split  # noqa: F841

            esm = trainer.train_with_embeddings(
                embedding_dataset=train_split,
                num_epochs=num_epochs,
                batch_size=batch_size,
                verbose=0,
            )

            sampler = SequentialSampler(test_split)
            test_loader = DataLoader(test_split, sampler=sampler, batch_size=128)

            fold_mse = 0
            for batch in test_loader:
                batch_base_embeddings, batch_transformed_embeddings = batch
                with torch.no_grad():
                    transformed_embeddings = esm(batch_base_embeddings).detach().numpy()
                batch_mse = mean_squared_error(transformed_embeddings, batch_transformed_embeddings)
                fold_mse += batch_mse * len(batch) / len(test_loader)

            fold_results.append(fold_mse)

        return sum(fold_results) / len(fold_results)

    # was: study = optuna.create_study(direction="minimize", sampler=GPSampler(seed=42))
    study = GridStudy(
        [
            {"num_epochs": 3, "learning_rate": 1e-4, "weight_decay": 1e-2, "batch_size": 32},
            {"num_epochs": 3, "learning_rate": 2e-2, "weight_decay": 1e-5, "batch_size": 32},
        ]
    )

    study.optimize(objective, n_trials=2, show_progress_bar=True)  # was: n_trials=100

    study.best_params

    trainer = ESMTrainer(
        weight_decay=study.best_params["weight_decay"],
        learning_rate=study.best_params["learning_rate"],
        device_name=device_name,
    )

    esm = trainer.train_with_embeddings(
        embedding_dataset=embedding_dataset,
        num_epochs=study.best_params["num_epochs"],
        batch_size=study.best_params["batch_size"],
    )

    esm

    esm.config

    assert capsys.readouterr().out.count("--------------------------------") == 2
    assert len(embedding_dataset) == 1000 and embedding_dataset.embedding_dim == DIM
    assert all(np.isfinite(study.values))
    assert study.best_params["learning_rate"] == 2e-2  # the larger rate fits better here
    assert esm.config.esm_num_epochs == 3 and esm.config.esm_batch_size == 32
    assert esm.config.task_id == str(hub.spam) and esm.config.base_model_name == BERT_BASE
    assert repr(esm) == f"ESM - Task ID: {hub.spam} - Subset: N/A"


def test_hfselect_compute_scores_signature_gives_the_recipes_numbers(
    imdb_dataset, bert_model, bert_tokenizer, recipe_embeddings
):
    """``compute_scores(dataset, base_model, esms, tokenizer)`` as hfselect calls it."""
    from hfselect_widgets import compute_scores, fetch_esms, find_esm_repo_ids

    esms = fetch_esms(find_esm_repo_ids(MULTILINGUAL)[:3])
    scores = compute_scores(imdb_dataset, bert_model, esms, bert_tokenizer)
    expected = hfselect_recipe_scores(recipe_embeddings, esms)
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5)
