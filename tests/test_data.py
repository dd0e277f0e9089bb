"""Target data: hfselect's row selection and label rules, loaders, errors, column suggestions.

Everything is offline: a local dataset folder stands in for a Hub repo (``datasets`` loads it
through the same builder code), DataFrames and files are made in code.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import datasets
import numpy as np
import pandas as pd
import pytest

from hfselect_widgets.engine.data import (
    TEXT_SEPARATOR,
    ColumnSuggestion,
    Dataset,
    inspect_hub_dataset,
    suggest_columns,
)
from hfselect_widgets.errors import (
    ColumnNotFoundError,
    DatasetNotFoundError,
    EmptyDatasetError,
    LabelTypeError,
    MissingTextError,
    SingleClassError,
    SplitNotFoundError,
    SubsetNotFoundError,
)

NUM_TRAIN = 60


def _train_frame(num_rows: int = NUM_TRAIN) -> pd.DataFrame:
    """Rows with distinct texts, int labels with some -1, string labels and float scores."""
    labels = [(i * 7) % 4 - 1 for i in range(num_rows)]  # -1, 0, 1, 2
    return pd.DataFrame(
        {
            "text": [f"sentence number {i}" for i in range(num_rows)],
            "hypothesis": [f"hypothesis {i}" for i in range(num_rows)],
            "label": labels,
            "sentiment": [["neutral", "positive", "negative"][i % 3] for i in range(num_rows)],
            "score": [round(i * 0.37 - 3.0, 2) for i in range(num_rows)],
        }
    )


@pytest.fixture(scope="module")
def hub_folder(tmp_path_factory):
    """A local dataset folder with a train and a test split, loaded like a Hub repo."""
    folder = tmp_path_factory.mktemp("hub") / "my_dataset"
    (folder / "data").mkdir(parents=True)
    _train_frame().to_csv(folder / "data" / "train.csv", index=False)
    _train_frame(12).to_csv(folder / "data" / "test.csv", index=False)
    return folder


def _hfselect_recipe(folder, split, columns, label_col, classification, num_examples, seed):
    """hfselect 0.2.1's ``Dataset.from_hugging_face`` row selection, spelled out."""
    dataset = datasets.load_dataset(str(folder), split=split).select_columns(columns)
    if classification:
        dataset = dataset.filter(lambda example: example[label_col] != -1)
    if num_examples is not None:
        num_examples = min(len(dataset), num_examples)
        dataset = dataset.shuffle(seed=seed).select(range(num_examples))
    return dataset


# --- row selection ---------------------------------------------------------------------------


@pytest.mark.parametrize(("num_examples", "seed"), [(10, 0), (25, 42), (1000, 7), (None, None)])
def test_hub_rows_match_hfselect_shuffle_select_recipe(hub_folder, num_examples, seed):
    """Same seed -> the same rows, in the same order, as hfselect's shuffle(seed).select."""
    ours = Dataset.from_hugging_face(
        str(hub_folder), "train", "text", "label", num_examples=num_examples, seed=seed
    )
    reference = _hfselect_recipe(
        hub_folder, "train", ["text", "label"], "label", True, num_examples, seed
    )
    assert ours.texts == list(reference["text"])
    assert ours.labels.tolist() == list(reference["label"])
    assert ours.metadata["num_examples"] == (None if num_examples is None else len(reference))


def test_different_seeds_pick_different_rows(hub_folder):
    """The seed matters (guards against ignoring it)."""
    first = Dataset.from_hugging_face(
        str(hub_folder), "train", "text", "label", num_examples=10, seed=1
    )
    second = Dataset.from_hugging_face(
        str(hub_folder), "train", "text", "label", num_examples=10, seed=2
    )
    assert first.texts != second.texts


def test_minus_one_rows_are_dropped_before_sampling(hub_folder):
    """Label -1 rows never appear and do not count towards num_examples."""
    frame = _train_frame()
    unlabelled = int((frame["label"] == -1).sum())
    everything = Dataset.from_hugging_face(str(hub_folder), "train", "text", "label")
    assert len(everything) == NUM_TRAIN - unlabelled
    assert everything.texts == frame.loc[frame["label"] != -1, "text"].tolist()
    sampled = Dataset.from_hugging_face(
        str(hub_folder), "train", "text", "label", num_examples=NUM_TRAIN - unlabelled, seed=3
    )
    assert len(sampled) == NUM_TRAIN - unlabelled
    assert sorted(sampled.texts) == sorted(everything.texts)


def test_streaming_matches_hfselect_streaming_recipe(hub_folder):
    """streaming=True uses hfselect's buffered shuffle and take."""
    ours = Dataset.from_hugging_face(
        str(hub_folder), "train", "text", "label", num_examples=8, seed=5, streaming=True
    )
    stream = datasets.load_dataset(str(hub_folder), split="train", streaming=True)
    stream = stream.select_columns(["text", "label"]).filter(lambda row: row["label"] != -1)
    reference = list(stream.shuffle(seed=5, buffer_size=100_000).take(8))
    assert ours.texts == [row["text"] for row in reference]
    assert ours.metadata["streamed"] is True


# --- labels ----------------------------------------------------------------------------------


def test_string_labels_become_ids_in_sorted_order(hub_folder):
    """hfselect's ClassLabel: sorted label strings -> ids 0..C-1."""
    data = Dataset.from_hugging_face(str(hub_folder), "train", "text", "sentiment")
    assert data.class_names == ["negative", "neutral", "positive"]
    assert data.num_classes == 3
    raw = _train_frame()["sentiment"].tolist()
    assert [data.class_names[i] for i in data.labels] == raw
    assert data.labels.dtype == np.int64 and not data.is_regression


def test_float_labels_infer_regression_and_keep_all_rows(hub_folder):
    """Float labels mean regression; the -1 filter does not apply to regressions."""
    data = Dataset.from_hugging_face(str(hub_folder), "train", "text", "score")
    assert data.is_regression
    assert data.labels.dtype == np.float64 and data.labels.shape == (NUM_TRAIN,)
    assert data.num_classes is None
    np.testing.assert_allclose(data.labels, _train_frame()["score"].to_numpy())


def test_int_labels_infer_classification_with_max_plus_one_classes():
    """Int labels: classification, num_classes counts ids 0..max like LogME."""
    frame = pd.DataFrame({"text": list("abcdef"), "label": [0, 3, 0, 3, 0, 3]})
    data = Dataset.from_pandas(frame, "text", "label")
    assert not data.is_regression and data.num_classes == 4 and data.class_names is None


def test_class_label_feature_names_are_kept(tmp_path):
    """A ClassLabel feature (here from a Parquet dataset folder) gives the class names."""
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    folder = tmp_path / "parquet_dataset"
    (folder / "data").mkdir(parents=True)
    data = {"text": [f"t{i}" for i in range(8)], "label": [0, 1, -1, 1, 0, 1, 0, 0]}
    datasets.Dataset.from_dict(data, features=features).to_parquet(
        str(folder / "data" / "train.parquet")
    )
    loaded = Dataset.from_hugging_face(str(folder), "train", "text", "label")
    assert loaded.class_names == ["neg", "pos"]
    assert len(loaded) == 7 and not loaded.is_regression


def test_pandas_whole_number_floats_are_classes_but_hub_floats_are_regression():
    """A CSV int column made float by a NaN still counts as class ids (documented choice)."""
    frame = pd.DataFrame({"text": list("abcdef"), "label": [1.0, 0.0, np.nan, 1.0, 0.0, -1.0]})
    data = Dataset.from_pandas(frame, "text", "label", drop_missing=True)
    assert not data.is_regression
    assert data.labels.tolist() == [1, 0, 1, 0]  # NaN row and -1 row dropped
    forced = Dataset.from_pandas(frame.dropna(), "text", "label", is_regression=True)
    assert forced.is_regression and len(forced) == 5


def test_regression_with_text_labels_raises_label_type_error():
    """Text labels cannot be regression targets: the message says what to do."""
    frame = pd.DataFrame({"text": list("abcd"), "label": ["good", "bad", "good", "bad"]})
    with pytest.raises(LabelTypeError, match="is_regression=False"):
        Dataset.from_pandas(frame, "text", "label", is_regression=True)


def test_fractional_labels_forced_to_classification_raise():
    """Scores cannot silently become class ids."""
    frame = pd.DataFrame({"text": list("abcd"), "label": [0.5, 1.0, 2.5, 0.0]})
    with pytest.raises(LabelTypeError, match="is_regression=True"):
        Dataset.from_pandas(frame, "text", "label", is_regression=False)


def test_is_regression_must_be_a_bool():
    """A number passed positionally as is_regression (hfselect's order) is refused."""
    frame = pd.DataFrame({"text": list("abcd"), "label": [0, 1, 0, 1]})
    with pytest.raises(TypeError, match="is_regression"):
        Dataset.from_pandas(frame, "text", "label", 10)


def test_single_class_raises():
    """One class left after filtering cannot be ranked."""
    frame = pd.DataFrame({"text": list("abcd"), "label": [1, -1, 1, 1]})
    with pytest.raises(SingleClassError, match="single class"):
        Dataset.from_pandas(frame, "text", "label")


def test_all_unlabelled_rows_raise_empty_dataset():
    """Nothing left after dropping -1 labels is an EmptyDatasetError that says why."""
    frame = pd.DataFrame({"text": list("abc"), "label": [-1, -1, -1]})
    with pytest.raises(EmptyDatasetError, match="label -1"):
        Dataset.from_pandas(frame, "text", "label")


def test_missing_text_raises_unless_drop_missing():
    """None/NaN texts: MissingTextError naming the column, or dropped on request."""
    frame = pd.DataFrame({"text": ["a", None, "c", np.nan, "e"], "label": [0, 1, 0, 1, 1]})
    with pytest.raises(MissingTextError, match="2 of 5 rows") as caught:
        Dataset.from_pandas(frame, "text", "label")
    assert caught.value.column == "text"
    kept = Dataset.from_pandas(frame, "text", "label", drop_missing=True)
    assert kept.texts == ["a", "c", "e"]


def test_several_text_columns_are_joined_with_sep(hub_folder):
    """text_col=[a, b] gives 'a [SEP] b' per row, as hfselect's _concat_columns."""
    data = Dataset.from_hugging_face(str(hub_folder), "train", ["text", "hypothesis"], "score")
    assert TEXT_SEPARATOR == " [SEP] "
    assert data.texts[3] == "sentence number 3 [SEP] hypothesis 3"
    assert data.text_col == ["text", "hypothesis"]
    assert data.metadata["text_column"] == ["text", "hypothesis"]


# --- errors from the Hub path ----------------------------------------------------------------


def test_unknown_split_lists_available_splits(hub_folder):
    """A wrong split names the ones that exist."""
    with pytest.raises(SplitNotFoundError) as caught:
        Dataset.from_hugging_face(str(hub_folder), "validation", "text", "label")
    assert caught.value.available == ["train", "test"]
    assert "'train', 'test'" in str(caught.value)


@pytest.mark.parametrize(
    ("text_col", "label_col", "missing"), [("txt", "label", "txt"), ("text", "lbl", "lbl")]
)
def test_unknown_column_lists_available_columns(hub_folder, text_col, label_col, missing):
    """A wrong text or label column names the columns that exist."""
    with pytest.raises(ColumnNotFoundError) as caught:
        Dataset.from_hugging_face(str(hub_folder), "train", text_col, label_col)
    assert caught.value.column == missing
    assert "'sentiment'" in str(caught.value) and "'score'" in str(caught.value)


def test_unknown_subset_lists_available_subsets(hub_folder):
    """A wrong subset names the subsets that exist."""
    with pytest.raises(SubsetNotFoundError, match="'default'"):
        Dataset.from_hugging_face(str(hub_folder), "train", "text", "label", subset="nope")


def test_unknown_dataset_offline_raises_not_found_with_hint(tmp_path):
    """Offline, an uncached Hub id or a missing folder is a DatasetNotFoundError."""
    with pytest.raises(DatasetNotFoundError, match="Offline"):
        Dataset.from_hugging_face("someone/no-such-dataset", "train", "text", "label")
    with pytest.raises(DatasetNotFoundError, match="no such local folder"):
        Dataset.from_hugging_face(str(tmp_path / "missing"), "train", "text", "label")


# --- DataFrames and files --------------------------------------------------------------------


def test_from_pandas_gives_the_same_rows_as_the_hub_path(hub_folder):
    """The same data as a DataFrame and as a dataset folder: same rows for the same seed."""
    from_frame = Dataset.from_pandas(_train_frame(), "text", "label", num_examples=15, seed=11)
    from_hub = Dataset.from_hugging_face(
        str(hub_folder), "train", "text", "label", num_examples=15, seed=11
    )
    assert from_frame.texts == from_hub.texts
    assert from_frame.labels.tolist() == from_hub.labels.tolist()
    assert from_frame.metadata["source"] == "pandas" and from_hub.metadata["source"] == "hub"


def test_csv_tsv_jsonl_json_and_parquet_files_load_the_same_rows(tmp_path):
    """Every file format gives the rows from_pandas gives for the same seed."""
    frame = _train_frame(30)
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_csv(tmp_path / "d.tsv", index=False, sep="\t")
    frame.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    (tmp_path / "d.json").write_text(json.dumps(frame.to_dict(orient="records")))
    frame.to_parquet(tmp_path / "d.parquet", index=False)
    frame.to_csv(tmp_path / "d.txt", index=False)
    expected = Dataset.from_pandas(frame, "text", "sentiment", num_examples=9, seed=4)
    for name in ["d.csv", "d.tsv", "d.jsonl", "d.json", "d.parquet"]:
        loaded = Dataset.from_file(tmp_path / name, "text", "sentiment", num_examples=9, seed=4)
        assert loaded.texts == expected.texts, name
        assert loaded.labels.tolist() == expected.labels.tolist(), name
        assert loaded.metadata["source"] == "file" and loaded.metadata["task_id"] == name
    overridden = Dataset.from_file(tmp_path / "d.txt", "text", "label", file_format="csv")
    assert len(overridden) == int((frame["label"] != -1).sum())


def test_load_dispatches_on_the_kind_of_source(hub_folder, tmp_path):
    """Dataset.load: DataFrame, file, folder/Hub id; a missing data file is not a Hub id."""
    frame = _train_frame(20)
    frame.to_csv(tmp_path / "d.csv", index=False)
    assert Dataset.load(frame, "text", "label").metadata["source"] == "pandas"
    assert Dataset.load(tmp_path / "d.csv", "text", "label").metadata["source"] == "file"
    assert Dataset.load(str(hub_folder), "text", "label", split="test").metadata["source"] == "hub"
    with pytest.raises(DatasetNotFoundError, match="no such file"):
        Dataset.load("missing.csv", "text", "label")


# --- the Dataset object ----------------------------------------------------------------------


def test_fingerprint_is_stable_and_changes_with_a_label():
    """Equal data -> equal fingerprint; one changed label -> a different one."""
    frame = pd.DataFrame({"text": list("abcdef"), "label": [0, 1, 0, 1, 0, 1]})
    first = Dataset.from_pandas(frame, "text", "label")
    again = Dataset.from_pandas(frame.copy(), "text", "label")
    assert first.fingerprint() == again.fingerprint()
    assert len(first.fingerprint()) == 64
    changed = frame.copy()
    changed.loc[2, "label"] = 1
    assert Dataset.from_pandas(changed, "text", "label").fingerprint() != first.fingerprint()
    as_regression = Dataset.from_pandas(frame, "text", "label", is_regression=True)
    assert as_regression.fingerprint() != first.fingerprint()


def test_fingerprint_is_a_known_value():
    """The digest does not depend on the process (no Python hash): pinned values."""
    assert Dataset(["a", "b"], [0, 1]).fingerprint() == (
        "79895b8ac94c2d1ad5435787ad7f190154d07852d048291587e160f3451e22c7"
    )
    assert Dataset(["a", "b"], [0.5, 1.0], is_regression=True).fingerprint() == (
        "90f027459eac268033468a869f831b7b33563730bc3f110bbf8a2f41146013f2"
    )
    # Texts are length-prefixed: moving a character between rows changes the digest.
    assert Dataset(["ab", ""], [0, 1]).fingerprint() != Dataset(["a", "b"], [0, 1]).fingerprint()


def test_rows_metadata_and_underlying_dataset(hub_folder):
    """__getitem__ gives the raw sampled row (as hfselect); .texts/.labels the clean ones."""
    data = Dataset.from_hugging_face(
        str(hub_folder), "train", "text", "sentiment", num_examples=5, seed=0
    )
    assert data[0] == data.dataset[0]
    assert data[0]["text"] == data.texts[0]
    assert data[0]["sentiment"] == data.class_names[data.labels[0]]
    assert data[-1] == data.dataset[4]
    with pytest.raises(IndexError):
        data[5]
    assert len(data) == 5 and len(data.dataset) == 5
    assert data.dataset[0]["sentiment"] == data.class_names[data.labels[0]]
    assert data.dataset is data.hf_dataset
    assert set(data.metadata) >= {
        "task_id",
        "task_subset",
        "text_column",
        "label_column",
        "task_split",
        "num_examples",
        "seed",
        "streamed",
        "source",
    }
    assert data.metadata["task_split"] == "train" and data.metadata["seed"] == 0


# --- column suggestions ----------------------------------------------------------------------


def test_suggest_text_and_class_label_features():
    """text + ClassLabel label -> that pair, classification."""
    features = datasets.Features(
        {
            "idx": datasets.Value("int32"),
            "text": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["neg", "pos"]),
        }
    )
    suggestion = suggest_columns(features)
    assert suggestion == ColumnSuggestion(["text"], "label", False, suggestion.reasons)
    assert suggestion.text_col == "text" and suggestion.reasons


def test_suggest_sentence_pair_with_float_label_is_regression():
    """sentence1/sentence2 + float label (STS-B) -> a text pair and a regression."""
    suggestion = suggest_columns(
        {"sentence1": "string", "sentence2": "string", "label": "float32", "idx": "int32"}
    )
    assert suggestion.text_cols == ["sentence1", "sentence2"]
    assert suggestion.label_col == "label" and suggestion.is_regression is True


def test_suggest_premise_hypothesis_with_class_label():
    """premise/hypothesis + ClassLabel (MNLI) -> a pair, classification."""
    features = datasets.Features(
        {
            "premise": datasets.Value("string"),
            "hypothesis": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["entailment", "neutral", "contradiction"]),
        }
    )
    suggestion = suggest_columns(features)
    assert suggestion.text_col == ["premise", "hypothesis"]
    assert suggestion.is_regression is False


def test_suggest_from_dataframe_uses_lengths_and_whole_number_floats():
    """A DataFrame: the longest string column is the text; whole-number floats are classes."""
    frame = pd.DataFrame(
        {
            "author": ["ann", "bob", "cy", "dee"] * 5,
            "body_of_work": [f"a rather long piece of writing number {i}" for i in range(20)],
            "stars": [1.0, 2.0, np.nan, 5.0] * 5,
        }
    )
    suggestion = suggest_columns(frame)
    assert suggestion.text_cols == ["body_of_work"]
    assert suggestion.label_col == "stars" and suggestion.is_regression is False


def test_suggest_without_label_candidates_says_so():
    """Only texts: no label, no task type, and a reason telling the user to choose."""
    suggestion = suggest_columns({"text": "string"})
    assert suggestion.label_col is None and suggestion.is_regression is None
    assert any("No label column" in reason for reason in suggestion.reasons)


# --- Hub metadata ----------------------------------------------------------------------------


def test_inspect_local_folder_lists_splits_features_and_suggestion(hub_folder):
    """inspect_hub_dataset on a dataset folder with two splits."""
    info = inspect_hub_dataset(str(hub_folder))
    assert info.splits == ["train", "test"]
    assert info.subsets == ["default"] and info.subset == "default"
    assert set(info.features) == {"text", "hypothesis", "label", "sentiment", "score"}
    assert info.suggestion.label_col == "label"
    assert info.suggestion.is_regression is False
    assert info.suggestion.text_cols == ["text"]


def test_inspect_reads_the_dataset_card_through_hf_api():
    """With an HfApi-like object, the card's YAML gives subsets, splits and features."""
    card = {
        "configs": [{"config_name": "default", "data_files": "x.csv", "default": True}],
        "dataset_info": {
            "config_name": "default",
            "features": [
                {"name": "sentence", "dtype": "string"},
                {"name": "label", "dtype": {"class_label": {"names": {"0": "neg", "1": "pos"}}}},
            ],
            "splits": [
                {"name": "train", "num_examples": 100},
                {"name": "validation", "num_examples": 10},
            ],
        },
    }
    calls = []

    def dataset_info(name):
        calls.append(name)
        return SimpleNamespace(card_data=card)

    info = inspect_hub_dataset("someone/sst", hf_api=SimpleNamespace(dataset_info=dataset_info))
    assert calls == ["someone/sst"]
    assert info.splits == ["train", "validation"]
    assert info.num_rows == {"train": 100, "validation": 10}
    assert info.suggestion.text_cols == ["sentence"] and info.suggestion.label_col == "label"


def test_inspect_unknown_dataset_and_subset(hub_folder):
    """Unknown dataset -> DatasetNotFoundError; unknown subset -> SubsetNotFoundError."""
    with pytest.raises(DatasetNotFoundError):
        inspect_hub_dataset("someone/no-such-dataset")
    with pytest.raises(SubsetNotFoundError):
        inspect_hub_dataset(str(hub_folder), subset="nope")


@pytest.fixture(scope="module")
def two_subset_folder(tmp_path_factory):
    """A dataset folder whose README declares two subsets (configs), like many Hub repos."""
    folder = tmp_path_factory.mktemp("subsets") / "two_subsets"
    for subset in ("first", "second"):
        (folder / subset).mkdir(parents=True)
        frame = _train_frame(10)
        frame["text"] = [f"{subset} {i}" for i in range(10)]
        frame.to_csv(folder / subset / "train.csv", index=False)
    (folder / "README.md").write_text(
        "---\nconfigs:\n"
        "- config_name: first\n  data_files:\n  - split: train\n    path: first/train.csv\n"
        "- config_name: second\n  data_files:\n  - split: train\n    path: second/train.csv\n"
        "---\n"
    )
    return folder


def test_subsets_must_be_chosen_and_are_listed(two_subset_folder):
    """Several subsets and none chosen: the error lists them; a chosen one loads."""
    with pytest.raises(SubsetNotFoundError, match="'first', 'second'"):
        Dataset.from_hugging_face(str(two_subset_folder), "train", "text", "label")
    second = Dataset.from_hugging_face(
        str(two_subset_folder), "train", "text", "label", subset="second"
    )
    assert second.texts[0].startswith("second") and second.metadata["task_subset"] == "second"
    info = inspect_hub_dataset(str(two_subset_folder))
    assert info.subsets == ["first", "second"] and info.subset == "first"
    assert info.splits == ["train"]
