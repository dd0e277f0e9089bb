"""ESMs from the Hub (engine/hub/) and the on-disk ESM config index (engine/esm/index.py).

Nothing reaches the network: discovery goes through ``FakeHfApi`` and files through a
pre-filled Hugging Face cache with ``HF_HUB_OFFLINE=1`` (set in conftest).
"""

from __future__ import annotations

import json
import threading

import huggingface_hub
import pytest
import torch
from esm_factory import (
    FakeHfApi,
    esm_weights,
    fill_hf_cache,
    write_broken_esm,
    write_esm,
)

from hfselect_widgets.engine.esm.format import ESMConfig, expected_weights_bytes
from hfselect_widgets.engine.esm.index import ESMIndex, index_path
from hfselect_widgets.engine.hub import download as hub
from hfselect_widgets.engine.hub.discovery import (
    find_esm_model_infos,
    find_esm_repo_ids,
    get_esm_coverage,
)
from hfselect_widgets.engine.hub.download import (
    DownloadPlan,
    FetchReport,
    download_esm_folders,
    fetch_esm_configs,
    fetch_esms,
    plan_download,
)
from hfselect_widgets.engine.progress import STAGE_DOWNLOAD, STAGE_METADATA
from hfselect_widgets.errors import (
    DownloadLimitError,
    HubUnavailableError,
    NoESMsFoundError,
    RankingCancelled,
)

DIM = 4
MBERT = "google-bert/bert-base-multilingual-uncased"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """A fresh, empty Hugging Face hub cache for one test (offline mode is on in conftest)."""
    from huggingface_hub import constants

    path = tmp_path / "hf-hub"
    path.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(path))
    return path


@pytest.fixture
def fake_api():
    """Three mBERT ESMs (one tagged language:en), one MiniLM ESM, one untagged repo."""
    api = FakeHfApi()
    api.add_esm("org/esm-a", MBERT, tags=["language:en"])
    api.add_esm("org/esm-b", MBERT)
    api.add_esm("org/esm-c", MBERT)
    api.add_esm("other/esm-m", MINILM)
    api.add_esm("other/untagged", None)
    return api


def _cache_esm(tmp_path, repo_id: str, *, seed: int = 0, broken: str | None = None, **config):
    """Write an ESM folder and put it into the HF cache as ``repo_id``."""
    folder = tmp_path / "src" / repo_id.replace("/", "__")
    if broken:
        write_broken_esm(folder, broken, dim=DIM)
    else:
        write_esm(folder, DIM, seed=seed, task_id=f"task-of-{repo_id}", **config)
    fill_hf_cache(repo_id, folder)
    return folder


class _Recorder:
    def __init__(self):
        self.calls: list[tuple[str, int, int | None]] = []

    def __call__(self, stage, done, total):
        self.calls.append((stage, done, total))


# --- discovery -------------------------------------------------------------------------------


def test_find_passes_filters_like_hfselect_and_resolves_the_canonical_id(fake_api):
    """list_models gets [filters..., embedding_space_map, base_model:<canonical id>]."""
    filters = ["language:en"]
    ids = find_esm_repo_ids("bert-base-multilingual-uncased", filters=filters, hf_api=fake_api)
    assert ids == ["org/esm-a"]
    assert fake_api.calls_to("model_info")[0][1] == "bert-base-multilingual-uncased"
    assert fake_api.calls_to("list_models")[0][1] == [
        "language:en",
        "embedding_space_map",
        f"base_model:{MBERT}",
    ]


def test_find_does_not_mutate_the_callers_filters(fake_api):
    """hfselect appends to the caller's list; we must not (repeated calls would pile up tags)."""
    filters = ["language:en"]
    find_esm_repo_ids(MBERT, filters=filters, hf_api=fake_api)
    find_esm_repo_ids(MBERT, filters=filters, hf_api=fake_api)
    assert filters == ["language:en"]


def test_find_without_a_model_lists_every_esm_and_accepts_a_string_filter(fake_api):
    """No model name: only the ESM tag (plus filters); a single filter may be a string."""
    assert len(find_esm_repo_ids(hf_api=fake_api)) == 5
    infos = find_esm_model_infos(filters="language:en", hf_api=fake_api)
    assert [info.id for info in infos] == ["org/esm-a"]
    assert fake_api.calls_to("list_models")[-1][1] == ["language:en", "embedding_space_map"]


def test_coverage_counts_esms_per_base_model_most_first(fake_api):
    """get_esm_coverage counts base_model:finetune: tags; untagged repos are not counted."""
    fake_api.add_esm("x/only-plain-tag", None, tags=[f"base_model:{MINILM}"])
    coverage = get_esm_coverage(hf_api=fake_api)
    assert coverage == {MBERT: 3, MINILM: 2}
    assert list(coverage) == [MBERT, MINILM]


def test_unreachable_hub_raises_hub_unavailable():
    """A connection error while listing ESMs becomes HubUnavailableError with advice."""
    with pytest.raises(HubUnavailableError, match="Cannot reach the Hugging Face Hub"):
        find_esm_repo_ids(MBERT, hf_api=FakeHfApi(offline=True))
    with pytest.raises(HubUnavailableError):
        get_esm_coverage(hf_api=FakeHfApi(offline=True))


# --- configs ---------------------------------------------------------------------------------


def test_fetch_configs_keeps_repo_ids_aligned_and_reports_failures(tmp_path, hf_cache):
    """Valid configs come back in input order, each with its repo_id; the missing and the
    invalid ones are in failures with a reason."""
    _cache_esm(tmp_path, "org/a")
    _cache_esm(tmp_path, "org/invalid", broken="invalid_config")
    _cache_esm(tmp_path, "org/b")
    fetched = fetch_esm_configs(["org/b", "org/missing", "org/invalid", "org/a"])
    assert isinstance(fetched, FetchReport)
    assert [c.repo_id for c in fetched] == ["org/b", "org/a"]
    assert [c.task_id for c in fetched] == ["task-of-org/b", "task-of-org/a"]
    assert set(fetched.failures) == {"org/missing", "org/invalid"}
    assert "task_id" in fetched.failures["org/invalid"]
    assert "cache" in fetched.failures["org/missing"]
    assert "2 failed" in fetched.summary() and "org/missing" in fetched.summary()


def test_fetch_configs_offline_with_nothing_cached_raises_hub_unavailable(hf_cache):
    """No network and nothing cached: one clear error instead of N identical failures."""
    with pytest.raises(HubUnavailableError, match="2 ESMs"):
        fetch_esm_configs(["org/x", "org/y"])


def test_fetch_configs_progress_reaches_total(tmp_path, hf_cache):
    """progress('metadata', done, total) starts at 0 and ends at total."""
    for name in ("a", "b", "c"):
        _cache_esm(tmp_path, f"org/{name}")
    progress = _Recorder()
    fetch_esm_configs(["org/a", "org/b", "org/c"], progress=progress, max_workers=2)
    assert progress.calls[0] == (STAGE_METADATA, 0, 3)
    assert progress.calls[-1] == (STAGE_METADATA, 3, 3)
    dones = [done for _, done, _ in progress.calls]
    assert dones == sorted(dones)


# --- ESMs ------------------------------------------------------------------------------------


def test_fetch_esms_loads_cached_esms_and_reports_broken_ones(tmp_path, hf_cache):
    """Cached ESMs load with their weights, in input order, duplicates once; a NaN ESM and
    an uncached one are reported, not raised."""
    _cache_esm(tmp_path, "org/a", seed=1)
    _cache_esm(tmp_path, "org/nan", broken="nan_weights")
    _cache_esm(tmp_path, "org/b", seed=2)
    esms = fetch_esms(["org/b", "org/nan", "org/a", "org/b", "org/gone"], max_workers=3)
    assert [esm.repo_id for esm in esms] == ["org/b", "org/a"]
    weight, _ = esm_weights(DIM, 2)
    torch.testing.assert_close(esms[0].model.weight.detach(), weight)
    assert "NaN" in esms.failures["org/nan"]
    assert "cache" in esms.failures["org/gone"]


def test_fetch_esms_runs_downloads_concurrently(tmp_path, hf_cache, monkeypatch):
    """Two downloads must be in flight at once: each waits at a barrier for the other."""
    _cache_esm(tmp_path, "org/a")
    _cache_esm(tmp_path, "org/b")
    barrier = threading.Barrier(2)
    original = hub.resolve_esm_folder

    def meet_then_resolve(repo_id, **kwargs):
        barrier.wait(timeout=10)  # raises BrokenBarrierError if run one at a time
        return original(repo_id, **kwargs)

    monkeypatch.setattr(hub, "resolve_esm_folder", meet_then_resolve)
    esms = fetch_esms(["org/a", "org/b"], max_workers=2)
    assert esms.failures == {}
    assert len(esms) == 2


def test_download_folders_returns_local_folders_without_loading(tmp_path, hf_cache):
    """download_esm_folders maps repo ids to folders holding config and weights."""
    _cache_esm(tmp_path, "org/a")
    _cache_esm(tmp_path, "org/legacy", layout="bin")
    folders, failures = download_esm_folders(["org/a", "org/legacy", "org/gone"])
    assert list(folders) == ["org/a", "org/legacy"]
    assert (folders["org/a"] / "model.safetensors").is_file()
    assert (folders["org/legacy"] / "pytorch_model.bin").is_file()
    assert ESMConfig.from_json_file(folders["org/a"] / "config.json").task_id == "task-of-org/a"
    assert list(failures) == ["org/gone"]


def test_fetch_esms_progress_reaches_total(tmp_path, hf_cache):
    """progress('download', done, total) ends at total, failures included."""
    _cache_esm(tmp_path, "org/a")
    progress = _Recorder()
    fetch_esms(["org/a", "org/gone"], progress=progress)
    assert progress.calls[0] == (STAGE_DOWNLOAD, 0, 2)
    assert progress.calls[-1] == (STAGE_DOWNLOAD, 2, 2)


def test_cancel_before_start_raises_and_downloads_nothing(hf_cache, monkeypatch):
    """A set cancel event raises RankingCancelled before any download."""
    calls = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: calls.append(a))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(RankingCancelled):
        fetch_esms(["org/a", "org/b"], cancel=cancel)
    with pytest.raises(RankingCancelled):
        fetch_esm_configs(["org/a"], cancel=cancel)
    assert calls == []


def test_cancel_during_fetch_stops_it(tmp_path, hf_cache):
    """Setting cancel while fetching (here from the progress callback) raises RankingCancelled."""
    repo_ids = [f"org/e{i}" for i in range(6)]
    for repo_id in repo_ids:
        _cache_esm(tmp_path, repo_id)
    cancel = threading.Event()

    def progress(stage, done, total):
        if done >= 1:
            cancel.set()

    with pytest.raises(RankingCancelled):
        fetch_esms(repo_ids, progress=progress, cancel=cancel, max_workers=1)


# --- download plans and caps -----------------------------------------------------------------


def test_plan_counts_cached_repos_as_free_and_reads_sizes_from_the_hub(tmp_path, hf_cache):
    """Cached ESMs cost 0 bytes; others take config + weights sizes from Hub metadata."""
    _cache_esm(tmp_path, "org/esm-a")
    api = FakeHfApi()
    api.add_esm("org/esm-b", MBERT, files={"config.json": 1000, "model.safetensors": 5_000_000})
    api.add_esm("org/esm-c", MBERT, files={"config.json": 1000, "pytorch_model.bin": 3_000_000})
    plan = plan_download(["org/esm-a", "org/esm-b", "org/esm-c"], hf_api=api)
    assert isinstance(plan, DownloadPlan)
    assert (plan.count, plan.cached_count) == (3, 1)
    assert plan.per_repo == {"org/esm-a": 0, "org/esm-b": 5_001_000, "org/esm-c": 3_001_000}
    assert plan.total_bytes == 8_002_000
    assert str(plan) == "3 ESMs, 1 cached, 8.0 MB to download"
    assert all(call[2]["files_metadata"] for call in api.calls_to("model_info"))


def test_plan_estimates_offline_from_known_dims_or_768(hf_cache):
    """Offline: a known dimension gives the size; otherwise D=768 is assumed (and said so)."""
    api = FakeHfApi(offline=True)
    known = ESMConfig("m", "t", esm_embedding_dim=384, repo_id="org/known")
    plan = plan_download(["org/known", "org/unknown"], hf_api=api, configs=[known])
    assert plan.per_repo["org/known"] == hub.CONFIG_BYTES_ESTIMATE + expected_weights_bytes(384)
    assert plan.per_repo["org/unknown"] == hub.CONFIG_BYTES_ESTIMATE + expected_weights_bytes(768)
    assert plan.estimated == {"org/known", "org/unknown"}
    assert str(plan).startswith("2 ESMs, 0 cached, about ")


def test_max_bytes_cap_raises_before_any_download(hf_cache, monkeypatch):
    """Above max_bytes: DownloadLimitError naming the size, and no file is downloaded."""
    calls = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: calls.append(a))
    api = FakeHfApi()
    api.add_esm("org/big", MBERT, files={"config.json": 1000, "model.safetensors": 9_000_000})
    with pytest.raises(DownloadLimitError, match="9.0 MB") as caught:
        fetch_esms(["org/big"], max_bytes=1_000_000, hf_api=api)
    assert caught.value.count == 1
    with pytest.raises(DownloadLimitError):
        download_esm_folders(["org/big"], max_bytes=1_000_000, hf_api=api)
    assert calls == []


def test_max_bytes_cap_ignores_cached_esms(tmp_path, hf_cache):
    """Cached ESMs download nothing, so a zero cap still lets them load."""
    _cache_esm(tmp_path, "org/a")
    esms = fetch_esms(["org/a"], max_bytes=0, hf_api=FakeHfApi(offline=True))
    assert [esm.repo_id for esm in esms] == ["org/a"]


# --- the ESM index ---------------------------------------------------------------------------


@pytest.fixture
def hub_with_esms(tmp_path, hf_cache, fake_api):
    """fake_api's mBERT ESMs with their config files in the HF cache."""
    _cache_esm(tmp_path, "org/esm-a", language="en", num_examples=500)
    _cache_esm(tmp_path, "org/esm-b", language="de", num_examples=2000)
    _cache_esm(tmp_path, "org/esm-c", broken="invalid_config")
    _cache_esm(tmp_path, "other/esm-m", base_model_name=MINILM)
    return fake_api


def test_index_fetches_configs_and_caches_them_on_disk(hub_with_esms, isolated_cache):
    """load() lists the model's ESMs, fetches their configs and writes one JSON file."""
    progress = _Recorder()
    index = ESMIndex.load("bert-base-multilingual-uncased", hf_api=hub_with_esms, progress=progress)
    assert index.base_model == MBERT
    assert index.repo_ids == ["org/esm-a", "org/esm-b"]
    assert "task_id" in index.failures["org/esm-c"]
    assert progress.calls[-1] == (STAGE_METADATA, 3, 3)
    path = index_path(MBERT)
    assert path.parent == isolated_cache / "esm_index"
    assert len(json.loads(path.read_text())["configs"]) == 2


def test_index_loads_offline_from_disk_without_calling_the_hub(hub_with_esms, isolated_cache):
    """After one fetch the index loads with the Hub unreachable, with the same configs."""
    first = ESMIndex.load(MBERT, hf_api=hub_with_esms)
    offline = FakeHfApi(offline=True)
    again = ESMIndex.load("bert-base-multilingual-uncased", hf_api=offline)
    assert [c.to_dict() for c in again] == [c.to_dict() for c in first]
    assert again.repo_ids == first.repo_ids
    assert again.failures == first.failures
    assert again.fetched_at == pytest.approx(first.fetched_at)
    assert offline.calls == []


def test_index_refresh_fetches_again(hub_with_esms, tmp_path, isolated_cache):
    """refresh=True lists and fetches again, so new ESMs appear."""
    assert len(ESMIndex.load(MBERT, hf_api=hub_with_esms)) == 2
    hub_with_esms.add_esm("org/esm-new", MBERT)
    _cache_esm(tmp_path, "org/esm-new")
    assert len(ESMIndex.load(MBERT, hf_api=hub_with_esms)) == 2  # cached
    refreshed = ESMIndex.load(MBERT, refresh=True, hf_api=hub_with_esms)
    assert "org/esm-new" in refreshed.repo_ids
    assert "org/esm-new" in ESMIndex.load(MBERT, hf_api=FakeHfApi(offline=True)).repo_ids


def test_index_refresh_offline_says_an_older_index_is_cached(hub_with_esms, isolated_cache):
    """Refreshing without a network raises HubUnavailableError that points to the cache."""
    ESMIndex.load(MBERT, hf_api=hub_with_esms)
    with pytest.raises(HubUnavailableError, match="refresh=False"):
        ESMIndex.load(MBERT, refresh=True, hf_api=FakeHfApi(offline=True))


def test_index_offline_without_cache_raises_hub_unavailable(isolated_cache):
    """No network and no cached index: HubUnavailableError."""
    with pytest.raises(HubUnavailableError):
        ESMIndex.load(MBERT, hf_api=FakeHfApi(offline=True))


def test_index_for_a_model_without_esms_names_the_covered_models(hub_with_esms, isolated_cache):
    """NoESMsFoundError says which base models do have ESMs."""
    with pytest.raises(NoESMsFoundError, match=MBERT) as caught:
        ESMIndex.load("org/lonely-model", hf_api=hub_with_esms)
    assert caught.value.coverage == {MBERT: 3, MINILM: 1}


def test_index_follows_hub_renames_offline(hub_with_esms, isolated_cache):
    """A legacy name the offline table does not know still finds its index offline."""
    hub_with_esms.aliases["my-old-name"] = MBERT
    ESMIndex.load("my-old-name", hf_api=hub_with_esms)
    again = ESMIndex.load("my-old-name", hf_api=FakeHfApi(offline=True))
    assert again.base_model == MBERT and len(again) == 2


def test_corrupt_index_file_is_fetched_again(hub_with_esms, isolated_cache):
    """A damaged cache file is ignored, not a crash."""
    ESMIndex.load(MBERT, hf_api=hub_with_esms)
    index_path(MBERT).write_text("{not json")
    assert len(ESMIndex.load(MBERT, hf_api=hub_with_esms)) == 2


def _configs() -> list[ESMConfig]:
    def config(repo, task, n, lang, base=MBERT, arch="linear"):
        return ESMConfig(
            base_model_name=base,
            task_id=task,
            num_examples=n,
            language=lang,
            esm_architecture=arch,
            repo_id=repo,
        )

    return [
        config("o/1", "stanfordnlp/IMDB", 1000, "en"),
        config("o/2", "glue", 500, "EN"),
        config("o/3", "germeval", 3000, "de", base="bert-base-multilingual-uncased"),
        config("o/4", "imdb-de", None, ["de", "en"]),
        config("o/5", "minilm-task", 9000, "en", base=MINILM),
    ]


def _repos(configs):
    return [c.repo_id for c in configs]


def test_index_filters_by_each_criterion():
    """filter() matches task id substrings case-insensitively and the other fields exactly."""
    index = ESMIndex.from_configs(_configs())
    assert _repos(index.filter(task_id="imdb")) == ["o/1", "o/4"]
    assert _repos(index.filter(min_examples=1000)) == ["o/1", "o/3", "o/5"]
    assert _repos(index.filter(language="en")) == ["o/1", "o/2", "o/4", "o/5"]
    assert _repos(index.filter(language=["de"])) == ["o/3", "o/4"]
    assert _repos(index.filter(repo_ids=["o/2", "o/5", "o/99"])) == ["o/2", "o/5"]
    assert _repos(index.filter(base_model=MBERT)) == ["o/1", "o/2", "o/3", "o/4"]
    assert _repos(index.filter(architecture="mlp")) == []
    assert _repos(index.filter(task_id="IMDB", language="de")) == ["o/4"]
    assert _repos(index.filter()) == _repos(_configs())


def test_index_counts_base_models_and_converts_to_pandas():
    """base_models() counts per base model; to_pandas() has one row per ESM."""
    index = ESMIndex.from_configs(_configs())
    assert index.base_models() == {MBERT: 3, "bert-base-multilingual-uncased": 1, MINILM: 1}
    frame = index.to_pandas()
    assert list(frame["Repo ID"]) == _repos(_configs())
    assert frame.loc[3, "Language"] == "de,en"
    assert {"Task ID", "Num Examples", "Base Model"} <= set(frame.columns)
