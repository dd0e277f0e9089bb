"""The Rank tab's forms: DatasetPicker and ESMPoolSelector, driven as a user would, offline.

Widgets are created in plain pytest: without a kernel ipywidgets 8 uses ``comm.DummyComm``, so
setting values and observing state works as in a notebook.
"""

from __future__ import annotations

import datetime
import json

import comm
import ipywidgets as widgets
import pandas as pd
import pytest
from esm_factory import FakeHfApi, fill_hf_cache, write_esm

from hfselect_widgets.engine.data.sampling import TEXT_SEPARATOR
from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.esm.index import ESMIndex
from hfselect_widgets.errors import DatasetError
from hfselect_widgets.widgets.dataset_picker import DatasetPicker
from hfselect_widgets.widgets.esm_pool import ESMPoolSelector, split_items


def pair_frame(rows: int = 12) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": list(range(rows)),
            "premise": [f"premise number {i} is long enough" for i in range(rows)],
            "hypothesis": [f"hypothesis {i}" for i in range(rows)],
            "label": [i % 3 for i in range(rows)],
        }
    )


def scores_frame(rows: int = 10) -> pd.DataFrame:
    return pd.DataFrame(
        {"review": [f"review {i}" for i in range(rows)], "score": [i / 3 for i in range(rows)]}
    )


@pytest.fixture(scope="module")
def hub_folder(tmp_path_factory):
    """A local dataset folder with train and test splits (``datasets`` treats it as a Hub repo)."""
    folder = tmp_path_factory.mktemp("hub") / "my_dataset"
    (folder / "data").mkdir(parents=True)
    frame = pd.DataFrame(
        {
            "sentence": [f"sentence {i}" for i in range(30)],
            "label": [i % 2 for i in range(30)],
        }
    )
    frame.to_csv(folder / "data" / "train.csv", index=False)
    frame.head(8).to_csv(folder / "data" / "test.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def two_subset_folder(tmp_path_factory):
    """A dataset folder whose README declares two subsets with different columns."""
    folder = tmp_path_factory.mktemp("subsets") / "two_subsets_with_other_columns"
    for subset, text_column in (("first", "text"), ("second", "question")):
        (folder / subset).mkdir(parents=True)
        pd.DataFrame(
            {text_column: [f"{subset} {i}" for i in range(10)], "label": [i % 2 for i in range(10)]}
        ).to_csv(folder / subset / "train.csv", index=False)
    (folder / "README.md").write_text(
        "---\nconfigs:\n"
        "- config_name: first\n  data_files:\n  - split: train\n    path: first/train.csv\n"
        "- config_name: second\n  data_files:\n  - split: train\n    path: second/train.csv\n"
        "---\n"
    )
    return folder


def test_widgets_run_without_a_kernel_on_a_dummy_comm():
    """The premise of these tests: no kernel, ipywidgets falls back to DummyComm."""
    picker = DatasetPicker({}, source="demo")
    assert isinstance(picker.comm, comm.DummyComm)


# --- DatasetPicker ---------------------------------------------------------------------------


def test_dataframe_source_suggests_a_text_pair_label_and_task_and_builds_it():
    """A DataFrame variable: pair columns, label and task type are suggested; building joins
    the pair with [SEP] and samples with the seed."""
    frame = pair_frame()
    picker = DatasetPicker({"pairs": frame, "_hidden": frame, "n": 3}, source="dataframe")

    assert picker.dataframe.options == ("pairs",)  # private names and non-frames are skipped
    assert picker.text_cols.value == ("premise", "hypothesis")
    assert picker.label_col.value == "label"
    assert picker.task_type.value == "classification"
    assert "text pair" in picker.suggestion_note.value
    assert picker.valid and picker.problems == []
    assert "premise number 0" in picker.preview.value

    picker.num_examples.value = 5
    dataset = picker.build_dataset()
    assert len(dataset) == 5
    assert all(TEXT_SEPARATOR in text for text in dataset.texts)
    assert dataset.metadata["task_id"] == "pairs"
    assert picker.choices()["text_col"] == ["premise", "hypothesis"]


def test_invalid_choices_are_explained_and_make_the_picker_invalid():
    """No text column, or the label also chosen as text: a message, valid False, no build."""
    picker = DatasetPicker({"pairs": pair_frame()}, source="dataframe")
    picker.text_cols.value = ()
    assert not picker.valid
    assert "at least one text column" in picker.message.value
    with pytest.raises(DatasetError, match="at least one text column"):
        picker.build_dataset()

    picker.text_cols.value = ("premise", "label")
    assert not picker.valid and "also chosen as a text column" in picker.message.value

    picker.text_cols.value = ("premise",)
    assert picker.valid and picker.message.value == ""


def test_no_dataframe_in_the_namespace_says_how_to_fix_it():
    """An empty namespace: the picker asks for a DataFrame; refreshing finds a new one."""
    namespace: dict = {}
    picker = DatasetPicker(namespace, source="dataframe")
    assert not picker.valid and "No pandas DataFrame" in picker.message.value
    namespace["reviews"] = scores_frame()
    picker.refresh_dataframes.click()
    assert picker.dataframe.value == "reviews" and picker.valid


def test_task_type_follows_the_labels_and_can_be_overridden():
    """Float scores suggest regression; choosing classification is passed to the engine."""
    picker = DatasetPicker({"reviews": scores_frame()}, source="dataframe")
    assert picker.text_cols.value == ("review",) and picker.label_col.value == "score"
    assert picker.task_type.value == "regression"
    assert picker.build_dataset().is_regression

    picker.task_type.value = "auto"
    assert picker.is_regression is None


def test_hub_id_is_inspected_from_metadata_into_splits_and_columns(hub_folder):
    """A (local) Hub dataset: entering the id fills splits, columns and the suggestion; the
    chosen split is what gets loaded."""
    picker = DatasetPicker({}, source="hub")
    assert not picker.valid and "Hub dataset id" in picker.message.value

    picker.hub_id.value = str(hub_folder)

    assert picker.split.options == ("train", "test")
    assert picker.split.value == "train"
    assert picker.text_cols.options == ("sentence", "label")
    assert picker.text_cols.value == ("sentence",) and picker.label_col.value == "label"
    assert "sentence" in picker.preview.value  # the column list stands in for rows
    assert picker.valid

    picker.split.value = "test"
    picker.num_examples.value = 0  # all rows
    dataset = picker.build_dataset()
    assert len(dataset) == 8
    assert dataset.metadata["task_split"] == "test"


def test_hub_subset_choice_reinspects_its_columns(two_subset_folder):
    """Choosing another subset reads that subset's columns."""
    picker = DatasetPicker({}, source="hub")
    picker.hub_id.value = str(two_subset_folder)
    assert picker.subset.options == ("first", "second") and picker.subset.value == "first"
    assert "text" in picker.text_cols.options

    picker.subset.value = "second"

    assert "question" in picker.text_cols.options
    assert picker.text_cols.value == ("question",)
    dataset = picker.build_dataset()
    assert dataset.texts[0].startswith("second")


def test_unknown_hub_dataset_shows_the_engine_message(tmp_path):
    """An id that cannot be found (offline): the engine's message is shown, Rank stays off."""
    picker = DatasetPicker({}, source="hub")
    picker.hub_id.value = "someone/no-such-dataset-xyz"
    assert not picker.valid
    assert "no-such-dataset-xyz" in picker.message.value
    assert picker.hub_info is None


def upload(widget: widgets.FileUpload, name: str, content: bytes) -> None:
    """Put a file into a FileUpload as the front end does.

    ipywidgets 8 syncs ``value`` (a tuple of dicts, content as a memoryview); ipywidgets 7 syncs
    ``metadata`` and ``data`` and then bumps ``_counter``, which builds the read-only ``value``
    (a dict keyed by file name).
    """
    if int(widgets.__version__.split(".")[0]) >= 8:
        when = datetime.datetime.now(datetime.timezone.utc)
        widget.value = (
            {
                "name": name,
                "type": "",
                "size": len(content),
                "content": memoryview(content),
                "last_modified": when,
            },
        )
    else:
        widget.metadata = [{"name": name, "type": "", "size": len(content), "lastModified": 0}]
        widget.data = [content]
        widget._counter += 1


@pytest.mark.parametrize(
    ("name", "writer"),
    [
        ("data.csv", lambda frame, path: frame.to_csv(path, index=False)),
        ("data.jsonl", lambda frame, path: frame.to_json(path, orient="records", lines=True)),
        ("data.parquet", lambda frame, path: frame.to_parquet(path)),
    ],
)
def test_uploaded_file_is_previewed_and_loaded_with_from_file(tmp_path, name, writer):
    """An uploaded CSV / JSON lines / Parquet file: columns suggested, loaded by the engine
    under its file name."""
    writer(pair_frame(), tmp_path / name)
    content = (tmp_path / name).read_bytes()
    picker = DatasetPicker({}, source="upload")
    assert not picker.valid and "Upload" in picker.message.value

    upload(picker.upload, name, content)

    assert picker.text_cols.value == ("premise", "hypothesis") and picker.valid
    dataset = picker.build_dataset()
    assert len(dataset) == 12
    assert dataset.metadata["task_id"] == name and dataset.metadata["source"] == "file"


def test_unreadable_upload_is_explained(tmp_path):
    """A file of an unknown type is refused with a message naming the accepted formats."""
    picker = DatasetPicker({}, source="upload")
    upload(picker.upload, "notes.txt", b"abc")
    assert not picker.valid and "notes.txt" in picker.message.value


def test_demo_source_is_ready_offline():
    """The demo target needs no input: valid at once, and it loads with the seed."""
    picker = DatasetPicker({}, source="demo", num_examples=50)
    assert picker.valid
    assert picker.text_cols.value == ("text",) and picker.label_col.value == "label"
    dataset = picker.build_dataset()
    assert len(dataset) == 50 and dataset.metadata["held_out_from"]


def test_force_checkbox_reaches_the_target_request():
    """ "Rank anyway (skip the target checks)" sets TargetRequest.force (off by default), the
    flag that lets the engine's target checks pass a doubtful target."""
    picker = DatasetPicker({}, source="demo")
    assert picker.force.description == "Rank anyway (skip the target checks)"
    assert picker.target_request().force is False
    picker.force.value = True
    assert picker.target_request().force is True and picker.choices()["force"] is True


def test_changing_source_never_sends_a_selection_beyond_the_new_columns():
    """The browser redraws the text-column list as soon as new options arrive and re-applies
    the selection it holds: an index past the new list's end failed there with "Cannot set
    properties of undefined (setting 'selected')" (switching to and from the demo target).
    Whenever the options change, the selection already synced must fit them."""
    frame = pd.DataFrame({"a": ["x"] * 4, "b": ["y"] * 4, "c": [1, 2, 3, 4], "review": ["r"] * 4})
    picker = DatasetPicker({"wide": frame}, source="dataframe")
    picker.text_cols.value = ("review",)  # index 3: beyond the demo's two columns
    bad = []

    def check(change):
        labels = change["new"]
        index = picker.text_cols.index or ()
        if any(i >= len(labels) for i in index):
            bad.append((labels, index))

    picker.text_cols.observe(check, "_options_labels")
    for source in ("demo", "hub", "dataframe", "demo", "upload", "demo"):
        picker.source.value = source
    assert bad == []
    assert picker.text_cols.value == ("text",) and picker.valid


def test_hub_inspect_without_network_says_so_in_words(tmp_path):
    """A raw connection error from the Hub client (httpx's ConnectError) reads as "Cannot
    reach the Hugging Face Hub ..." with what to do, not as "ConnectError: [Errno -3] ..."."""
    import httpx

    class NoNetwork:
        def dataset_info(self, name, **kwargs):
            raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")

    picker = DatasetPicker({}, hf_api=NoNetwork(), source="hub")
    picker.hub_id.value = "someone/some-dataset"
    assert not picker.valid
    problem = picker.problems[0]
    assert problem.startswith("Cannot reach the Hugging Face Hub"), problem
    assert "demo target" in problem and "Source" in problem


# --- ESMPoolSelector -------------------------------------------------------------------------


@pytest.fixture
def esm_pool_dir(tmp_path):
    """Four local ESMs for 'tiny-model' (two languages, different sizes) and one broken folder."""
    root = tmp_path / "esms"
    write_esm(root / "imdb", 4, task_id="stanfordnlp/imdb", num_examples=5000, language="en")
    write_esm(root / "sst2", 4, task_id="glue/sst2", num_examples=800, language="en")
    write_esm(root / "allocine", 4, task_id="allocine", num_examples=3000, language="fr")
    write_esm(root / "other_model", 4, task_id="ag_news", base_model_name="someone/other-model")
    (root / "broken").mkdir()
    (root / "broken" / "config.json").write_text(json.dumps({"task_id": "x"}))
    return root


def test_pool_count_follows_filters_on_a_local_folder(esm_pool_dir):
    """The live count of a local folder changes with every filter, without a ranking."""
    pool = ESMPoolSelector(model_name="tiny-model", esm_dir=esm_pool_dir)
    assert pool.esm_source.value == "folder"
    assert pool.match_count == 4 and pool.valid
    assert "could not be read" in pool.count.value  # the broken folder
    assert "1 trained for another base model" in pool.count.value
    assert "nothing to download" in pool.download.value

    pool.task_filter.value = "IMDB"
    assert pool.match_count == 1
    pool.task_filter.value = ""
    pool.min_examples.value = 1000
    assert pool.match_count == 3  # the default num_examples of write_esm is 1000
    pool.language.value = "fr"
    assert pool.match_count == 1 and "<b>1</b> of 4" in pool.count.value
    pool.language.value = "de"
    assert pool.match_count == 0 and not pool.valid
    assert "No ESM matches" in pool.message.value


def test_pool_selection_gives_ranking_arguments(esm_pool_dir):
    """No filter: the whole folder; filtered: exactly the matching ESM folders."""
    pool = ESMPoolSelector(model_name="tiny-model", esm_dir=esm_pool_dir)
    assert pool.selection() == {"model_name": "tiny-model", "esm_dir": str(esm_pool_dir)}

    pool.repo_ids.value = "sst2, imdb"
    selection = pool.selection()
    assert selection["model_name"] == "tiny-model"
    assert sorted(selection["esm_repo_ids"]) == sorted(
        [str(esm_pool_dir / "imdb"), str(esm_pool_dir / "sst2")]
    )
    assert "esm_dir" not in selection


def test_pool_explains_missing_folders_and_models(tmp_path, esm_pool_dir):
    """A missing ESM folder shows the engine's message; a missing model folder is named; a
    pool whose ESMs are all for another model asks for that model."""
    pool = ESMPoolSelector(model_name="tiny-model", esm_dir=tmp_path / "nope")
    assert not pool.valid and "does not exist" in pool.message.value
    with pytest.raises(ValueError, match="does not exist"):
        pool.selection()

    pool.esm_dir.value = str(esm_pool_dir)
    pool.model_kind.value = "folder"
    pool.model_folder.value = str(tmp_path / "no-model")
    assert not pool.valid and "model folder" in pool.message.value

    pool.model_kind.value = "hub"
    pool.model.value = "someone/unrelated-model"
    assert not pool.valid and "None of the matching ESMs" in pool.message.value


def test_demo_collection_is_the_offline_default():
    """Without arguments the pool is the bundled demo collection with the demo model."""
    pool = ESMPoolSelector()
    assert pool.esm_source.value == "demo" and pool.valid
    assert pool.match_count and pool.match_count >= 5
    assert pool.selection()["model_name"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_hub_pool_counts_from_the_cached_index_and_shows_the_download_size(
    isolated_cache, tmp_path
):
    """Hub source: the count comes from the on-disk ESM index (no network while filtering);
    the download size comes before Rank."""
    model = "google-bert/bert-base-multilingual-uncased"
    configs = [
        ESMConfig(
            base_model_name=model,
            task_id=f"org/task-{i}",
            num_examples=100 * (i + 1),
            language="en" if i % 2 else "de",
            esm_architecture="linear",
            esm_embedding_dim=768,
            repo_id=f"org/indexed-esm-{i}",
        )
        for i in range(6)
    ]
    pool = ESMPoolSelector(source="hub", model_name="bert-base-multilingual-uncased")
    assert pool.match_count is None and "not cached" in pool.count.value
    assert pool.valid  # no filter: the engine lists the model's Hub ESMs itself
    assert "esm_repo_ids" not in pool.selection()
    pool.task_filter.value = "task-1"
    assert not pool.valid and "Refresh from Hub" in pool.message.value

    ESMIndex(configs, base_model=model).save()
    pool.task_filter.value = ""
    pool.rescan()
    assert pool.match_count == 6
    assert pool.architecture.options == (("any", ""), ("linear", "linear"))

    pool.language.value = "en"
    assert pool.match_count == 3
    assert pool.download_plan.count == 3 and pool.download_plan.total_bytes > 7_000_000
    assert "3 ESMs, 0 cached" in pool.download.value
    assert pool.selection()["esm_repo_ids"] == [
        "org/indexed-esm-1",
        "org/indexed-esm-3",
        "org/indexed-esm-5",
    ]

    # A ranking downloads one of them: the panel asks the pool to look at the cache again.
    fill_hf_cache("org/indexed-esm-3", write_esm(tmp_path / "downloaded", 4, task_id="t"))
    pool.forget_download_sizes()
    assert pool.download_plan.cached_count == 1 and "1 cached" in pool.download.value


def test_pool_selection_is_the_engines_resolution_of_its_pool_request(
    isolated_cache, esm_pool_dir, monkeypatch
):
    """The form resolves nothing itself: selection() is RankingRequest.resolve_pool of the
    form's PoolRequest, from the index the form counts with (read once, not again), for a
    filtered folder and for the Hub with "Repo ids" beside another filter (their
    intersection, in the engine as in the live count)."""
    from hfselect_widgets.engine.requests import RankingRequest

    pool = ESMPoolSelector(model_name="tiny-model", esm_dir=esm_pool_dir)
    pool.language.value = "en"
    pool.repo_ids.value = "imdb, sst2"
    reads = []
    monkeypatch.setattr(ESMIndex, "from_folder", lambda *a, **k: reads.append(a) or 1 / 0)
    resolved = pool.resolved_pool()
    assert not reads  # the form's index, not a second read of the folder
    engine = RankingRequest(pool=pool.pool_request(), model="tiny-model").resolve_pool(
        index=pool.index
    )
    assert resolved == engine
    assert pool.selection() == {"model_name": "tiny-model", "esm_repo_ids": engine.esm_repo_ids}
    assert sorted(resolved.esm_repo_ids) == sorted(str(c.source) for c in pool.matches)
    assert pool.pool_request().filters["language"] == ["en"]

    model = "google-bert/bert-base-multilingual-uncased"
    configs = [
        ESMConfig(
            base_model_name=model,
            task_id=f"org/task-{i}",
            language="en" if i % 2 else "de",
            repo_id=f"org/esm-{i}",
        )
        for i in range(6)
    ]
    ESMIndex(configs, base_model=model).save()
    hub = ESMPoolSelector(source="hub", model_name="bert-base-multilingual-uncased")
    hub.language.value = "en"
    hub.repo_ids.value = "org/esm-1, org/esm-2, org/esm-3"
    assert hub.match_count == 2
    assert hub.selection()["esm_repo_ids"] == ["org/esm-1", "org/esm-3"]
    # The engine alone (the magic's and the CLI's path) gives the same pool.
    request = RankingRequest(pool=hub.pool_request(), model="bert-base-multilingual-uncased")
    assert request.resolve_pool().esm_repo_ids == ["org/esm-1", "org/esm-3"]


def test_refresh_from_hub_fetches_coverage_and_index_with_a_fake_hub(isolated_cache, tmp_path):
    """ "Refresh from Hub" lists the base models' coverage and fetches the model's index (here
    from a fake Hub API and a pre-filled Hugging Face cache)."""
    model = "google-bert/bert-base-multilingual-uncased"
    api = FakeHfApi()
    for i in range(2):
        repo = f"org/refreshed-esm-{i}"
        api.add_esm(repo, model)
        fill_hf_cache(
            repo, write_esm(tmp_path / f"esm{i}", 4, task_id=f"task-{i}", base_model_name=model)
        )
    api.add_esm("org/other", "someone/other-model")

    pool = ESMPoolSelector(source="hub", model_name="bert-base-multilingual-uncased", hf_api=api)
    assert pool.match_count is None
    task = pool.refresh(wait=True)

    assert task.state == "succeeded", task.traceback
    assert pool.coverage == {model: 2, "someone/other-model": 1}
    assert model in pool.model.options
    assert "<b>2</b> Hub ESMs for this model" in pool.coverage_note.value
    assert pool.match_count == 2 and pool.valid
    assert not pool.refresh_button.disabled


def _px(width: str) -> int:
    assert width.endswith("px"), width
    return int(width[:-2])


def test_button_labels_fit_their_buttons():
    """Labels were cut to "Demo collect…" and "Refresh from H…": each toggle button and the
    refresh button is at least as wide as its longest label needs (about 7 px per character
    plus padding, and an icon's width)."""
    pool = ESMPoolSelector()
    picker = DatasetPicker({}, source="demo")
    for toggles in (pool.esm_source, pool.model_kind, picker.source, picker.task_type):
        longest = max(len(label) for label, _ in toggles.options)
        assert _px(toggles.style.button_width) >= 7 * longest + 24, toggles.options
    for label in ("Refresh from Hub", "Rescan folder"):
        assert _px(pool.refresh_button.layout.width) >= 7 * len(label) + 24 + 20  # + icon


def test_split_items_reads_lines_commas_and_spaces():
    assert split_items("a/b, c/d\n\ne/f a/b") == ["a/b", "c/d", "e/f"]
