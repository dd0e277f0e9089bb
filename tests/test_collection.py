"""ESM collections (engine/distributed/): manifests, ``build_collection`` on Ray, sharded ranking.

Ray runs locally, started once for the module (2 CPUs, no dashboard, a small object store, no
memory monitor); the base model is a tiny random BERT, so each ESM trains in a few seconds.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from esm_factory import write_broken_esm, write_esm
from tiny_models import TINY_TEXTS, make_tiny_model

from hfselect_widgets.engine.distributed.build import (
    BUILT,
    FAILED,
    SKIPPED,
    SUMMARY_NAME,
    BuildOptions,
    build_collection,
    finished_esm_config,
)
from hfselect_widgets.engine.distributed.manifest import (
    ManifestError,
    default_name,
    load_manifest,
)

ray = pytest.importorskip("ray")

FAST = BuildOptions(epochs=1, min_steps=0, train_batch_size=8, device="cpu")
TEXTS = [t for t in TINY_TEXTS if t]


# --- manifests -------------------------------------------------------------------------------


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_manifest_applies_defaults_and_resolves_paths(tmp_path):
    """Defaults fill unset keys; relative files resolve against the manifest; names default
    to the file's folder (``mr/train.csv`` -> ``mr``) or the Hub id."""
    (tmp_path / "data" / "mr").mkdir(parents=True)
    (tmp_path / "data" / "mr" / "train.csv").write_text("text,label\na,0\n")
    manifest = load_manifest(
        _write(
            tmp_path / "m.yaml",
            "defaults:\n  rows: 100\n  label_col: y\n"
            "datasets:\n"
            "  - source: data/mr/train.csv\n"
            "  - source: org/pairs\n    subset: s1\n    split: validation\n"
            "    text_col: [a, b]\n    rows: 50\n    regression: true\n",
        )
    )
    first, second = manifest.entries
    assert first.name == "mr" and first.source == str(tmp_path / "data" / "mr" / "train.csv")
    assert (first.rows, first.label_col, first.recorded_task_id) == (100, "y", "mr")
    assert second.name == "org__pairs" and second.recorded_task_id == "org/pairs"
    assert (second.subset, second.split, second.text_col) == ("s1", "validation", ["a", "b"])
    assert (second.rows, second.regression) == (50, True)


def test_csv_manifest_reads_several_text_columns_and_empty_cells(tmp_path):
    """A CSV manifest has the same keys as columns; ``;`` separates text columns."""
    manifest = load_manifest(
        _write(
            tmp_path / "m.csv",
            "name,dataset,text_col,label_col,rows,regression\n"
            "pairs,org/ds,text1;text2,score,200,true\n"
            "plain,org/other,,,,\n",
        )
    )
    pairs, plain = manifest.entries
    assert pairs.text_col == ["text1", "text2"] and pairs.label_col == "score"
    assert (pairs.rows, pairs.regression) == (200, True)
    assert (plain.text_col, plain.label_col, plain.rows, plain.regression) == (
        "text",
        "label",
        None,
        None,
    )


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("datasets:\n  - source: a/b\n    colour: red\n", "unknown keys ['colour']"),
        ("datasets:\n  - name: x\n", "'source'"),
        ("datasets:\n  - source: a/b\n  - source: a/b\n", "must be unique"),
        ("datasets:\n  - source: a/b\n    rows: many\n", "'rows' must be an integer"),
        ("datasets:\n  - source: a/b\n    rows: 0\n", "at least 1"),
        ("datasets:\n  - source: a/b\n    regression: maybe\n", "true or false"),
        ("datasets: [\n", "not valid YAML"),
        ("datasets: []\n", "no datasets"),
        ("source: a/b\n", "unknown top-level keys"),
    ],
)
def test_invalid_manifests_raise_a_manifest_error_naming_the_entry(tmp_path, text, phrase):
    """Every mistake is a ManifestError that says what is wrong (and where)."""
    path = _write(tmp_path / "m.yaml", text)
    with pytest.raises(ManifestError, match=phrase.replace("[", r"\[").replace("]", r"\]")):
        load_manifest(path)


def test_manifest_errors_for_the_file_itself(tmp_path):
    """A missing file or an unknown suffix is refused before anything is read."""
    with pytest.raises(ManifestError, match="no such file"):
        load_manifest(tmp_path / "missing.yaml")
    with pytest.raises(ManifestError, match=r"\.yaml, \.yml or \.csv"):
        load_manifest(_write(tmp_path / "m.txt", "x"))
    error = pytest.raises(ManifestError, load_manifest, _write(tmp_path / "m.yaml", "- {}\n"))
    assert error.value.entry == 1 and error.value.path.endswith("m.yaml")


def test_default_names_are_folder_safe():
    assert default_name("data/sst2/train.csv") == "sst2"
    assert default_name("reviews.jsonl") == "reviews"
    assert default_name("stanfordnlp/imdb") == "stanfordnlp__imdb"


# --- building on Ray ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module (2 CPUs, quiet, small object store)."""
    saved = os.environ.get("RAY_memory_monitor_refresh_ms")
    os.environ["RAY_memory_monitor_refresh_ms"] = "0"  # no OOM killer polling on busy cores
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=200 * 1024**2,
            log_to_driver=False,
        )
    yield ray
    if started_here:
        ray.shutdown()
    if saved is None:
        os.environ.pop("RAY_memory_monitor_refresh_ms", None)
    else:
        os.environ["RAY_memory_monitor_refresh_ms"] = saved


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("collection-model") / "bert", "bert")


@pytest.fixture
def three_datasets(tmp_path):
    """A manifest of two good datasets and one whose text column does not exist."""
    for i, name in enumerate(["alpha", "beta"]):
        labels = [(j + i) % 2 for j in range(2 * len(TEXTS))]
        pd.DataFrame({"text": TEXTS * 2, "label": labels}).to_csv(
            tmp_path / f"{name}.csv", index=False
        )
    pd.DataFrame({"sentence": TEXTS, "label": [j % 2 for j in range(len(TEXTS))]}).to_csv(
        tmp_path / "broken.csv", index=False
    )
    return load_manifest(
        _write(
            tmp_path / "collection.yaml",
            "defaults:\n  rows: 30\ndatasets:\n"
            "  - source: alpha.csv\n  - source: beta.csv\n  - source: broken.csv\n",
        )
    )


def test_build_trains_each_dataset_records_failures_and_resumes(
    local_ray, tiny_model, three_datasets, tmp_path
):
    """Two ESMs are built and load; the broken dataset fails with its reason (not retried);
    a second run skips the finished ESMs without retraining them (same files, same mtimes)."""
    out = tmp_path / "out"
    events = []
    summary = build_collection(
        three_datasets,
        str(tiny_model),
        out,
        options=FAST,
        retries=2,
        on_event=lambda kind, record: events.append((kind, record["name"])),
    )
    status = {r.name: r.status for r in summary.records}
    assert status == {"alpha": BUILT, "beta": BUILT, "broken": FAILED}
    broken = summary.failed[0]
    assert "ColumnNotFoundError" in broken.reason and "'text'" in broken.reason
    assert "not retried" in broken.reason and len(broken.attempts) == 1
    for record in summary.built:
        config = finished_esm_config(record.folder, str(tiny_model))
        assert config is not None and config.task_id == record.name
        assert record.quality["lm_val_metric"] == "accuracy"
        assert "training_warnings" in record.quality
    saved = json.loads((out / SUMMARY_NAME).read_text())
    assert saved["counts"] == {"built": 2, "skipped": 0, "failed": 1}
    assert ("built", "alpha") in events and ("failed", "broken") in events

    weights = {n: out / n / "model.safetensors" for n in ("alpha", "beta")}
    mtimes = {n: p.stat().st_mtime_ns for n, p in weights.items()}
    (weights["beta"]).unlink()  # a damaged ESM is not "finished": it is trained again
    again = build_collection(three_datasets, str(tiny_model), out, options=FAST)
    status = {r.name: r.status for r in again.records}
    assert status == {"alpha": SKIPPED, "beta": BUILT, "broken": FAILED}
    assert weights["alpha"].stat().st_mtime_ns == mtimes["alpha"]
    assert again.skipped[0].quality["lm_val_metric"] == "accuracy"  # read from the config
    assert json.loads((out / SUMMARY_NAME).read_text())["counts"]["skipped"] == 1


def test_a_failure_that_may_pass_is_retried_with_each_reason_recorded(
    local_ray, three_datasets, tmp_path
):
    """A base model that cannot be loaded is not a data error: each task is tried 1 + retries
    times and every attempt's reason is kept."""
    manifest = type(three_datasets)(three_datasets.entries[:1])
    summary = build_collection(
        manifest, str(tmp_path / "no-such-model"), tmp_path / "out", options=FAST, retries=1
    )
    (record,) = summary.records
    assert record.status == FAILED and len(record.attempts) == 2
    assert all(a["error_type"] == "ModelLoadError" for a in record.attempts)
    assert "no-such-model" in record.attempts[-1]["reason"]


def test_cli_build_collection_prints_each_dataset_and_the_counts(
    local_ray, tiny_model, three_datasets, tmp_path, capsys
):
    """``hfselect-widgets build-collection`` exits 1 when a dataset failed, 0 otherwise."""
    from hfselect_widgets.cli import main

    args = ["build-collection", str(three_datasets.path), "--base-model", str(tiny_model)]
    args += ["--out", str(tmp_path / "cli"), "--epochs", "1", "--min-steps", "0"]
    args += ["--train-batch-size", "8", "--device", "cpu", "--rows", "30"]
    assert main(args) == 1
    printed = capsys.readouterr().out
    assert " [built] alpha" in printed and " [failed] broken" in printed
    assert "Built 2, skipped 0 (already finished), failed 1" in printed


def test_publish_uses_publish_esm_and_records_the_repo(
    local_ray, tiny_model, three_datasets, tmp_path, monkeypatch
):
    """With ``publish=ORG`` every finished ESM goes through ``publish_esm`` as ORG/esm-NAME;
    a failed upload is recorded, not raised; a later run does not publish it twice."""
    from hfselect_widgets.engine.hub import publish as publish_module
    from hfselect_widgets.errors import UploadError

    calls = []

    def fake_publish(folder, repo_id, **kwargs):
        calls.append(repo_id)
        if repo_id.endswith("beta"):
            raise UploadError(repo_id, "upload", "the Hub said no")
        return publish_module.PublishResult(repo_id, f"https://hf.co/{repo_id}", ["config.json"])

    monkeypatch.setattr(publish_module, "publish_esm", fake_publish)
    manifest = type(three_datasets)(three_datasets.entries[:2])
    out = tmp_path / "out"
    summary = build_collection(manifest, str(tiny_model), out, options=FAST, publish="me")
    records = {r.name: r for r in summary.records}
    assert records["alpha"].published == "me/esm-alpha"
    assert records["beta"].published is None and "the Hub said no" in records["beta"].publish_error
    build_collection(manifest, str(tiny_model), out, options=FAST, publish="me")
    assert calls == ["me/esm-alpha", "me/esm-beta", "me/esm-beta"]


# --- sharded ranking ---------------------------------------------------------------------------


@pytest.fixture
def esm_pool(tmp_path):
    """Twelve ESM folders of dimension 8 and one broken one, in a folder."""
    folders = [
        write_esm(tmp_path / "pool" / f"esm-{i:02d}", 8, seed=i, task_id=f"task-{i}")
        for i in range(12)
    ]
    folders.insert(5, write_broken_esm(tmp_path / "pool" / "esm-broken", "nan_weights", dim=8))
    return folders


def test_sharded_ranking_equals_the_local_ranking(local_ray, esm_pool, monkeypatch):
    """Same ESMs, scores, failures, warnings and order as locally; the target embeddings are
    put into the object store once, not once per shard."""
    from hfselect_widgets.engine.distributed.sharded import ray_scoring
    from hfselect_widgets.engine.scoring.ranking import ESMHandle, score_embeddings
    from hfselect_widgets.engine.scoring.result import TaskRanking

    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 8)).astype(np.float32)
    labels = rng.integers(0, 3, 40)
    handles = [ESMHandle.from_folder(f) for f in esm_pool]
    local = score_embeddings(x, labels, False, handles, n_jobs=2)

    puts = []
    real_put = ray.put
    monkeypatch.setattr(ray, "put", lambda value, **kw: puts.append(1) or real_put(value, **kw))
    with ray_scoring(shard_size=4):
        sharded = score_embeddings(x, labels, False, handles, n_jobs=2)
    assert len(puts) == 2  # embeddings and labels, for 4 shards

    assert sharded.sources == local.sources
    assert sharded.scores == pytest.approx(local.scores, rel=1e-12, abs=0)
    assert sharded.failures == local.failures and len(local.failures) == 1
    assert sharded.warnings == local.warnings and len(local.warnings) == 1
    ranked = [TaskRanking(r.configs, r.scores) for r in (local, sharded)]
    assert ranked[0].repo_ids == ranked[1].repo_ids
    assert [c.task_id for c in ranked[0].esm_configs] == [c.task_id for c in ranked[1].esm_configs]


def test_ray_scoring_is_off_outside_its_block():
    """Outside ``with ray_scoring()`` rankings run locally (nothing global is left set)."""
    from hfselect_widgets.engine.distributed.sharded import active_ray_scoring, ray_scoring

    assert active_ray_scoring() is None
    with ray_scoring("ray://head:10001", shard_size=7) as settings:
        assert active_ray_scoring() is settings and settings.shard_size == 7
    assert active_ray_scoring() is None


def test_cli_rank_with_ray_prints_the_same_ranking_as_without(local_ray, tiny_model, tmp_path):
    """``rank --ray`` writes the same ranking (ESMs, scores, order) as a local ``rank``."""
    from tiny_models import HIDDEN_SIZE

    from hfselect_widgets.cli import main
    from hfselect_widgets.engine.scoring.result import TaskRanking

    for i in range(6):
        write_esm(tmp_path / "esms" / f"esm{i}", HIDDEN_SIZE, task_id=f"org/task{i}", seed=i)
    words = ["good", "bad", "great", "terrible", "movie", "plot", "music", "story"]
    rows = [{"text": f"{a} {b}", "label": (i // 3) % 2} for i, a in enumerate(words) for b in words]
    pd.DataFrame(rows).to_csv(tmp_path / "target.csv", index=False)
    outputs = []
    for extra in ([], ["--ray"]):
        out = tmp_path / f"ranking{len(extra)}.csv"
        args = ["rank", str(tmp_path / "target.csv"), "--text-col", "text", "--label-col"]
        args += ["label", "--model", str(tiny_model), "--esm-dir", str(tmp_path / "esms")]
        assert main([*args, "--no-progress", "-o", str(out), *extra]) == 0
        outputs.append(TaskRanking.load(out))
    local, sharded = outputs
    assert len(local) == 6 and local.repo_ids == sharded.repo_ids
    assert sharded.scores == pytest.approx(local.scores, rel=1e-12, abs=0)
