"""Local ESM folders (engine/esm_folder.py): discovery, configs and loading, broken ones reported."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from esm_factory import BROKEN_KINDS, BROKEN_REASONS, esm_weights, write_broken_esm, write_esm

from hfselect_widgets.engine.esm.folder import (
    find_esm_folders,
    load_esm_folder,
    read_esm_folder_configs,
)
from hfselect_widgets.engine.esm.index import ESMIndex
from hfselect_widgets.engine.progress import STAGE_DOWNLOAD, STAGE_METADATA
from hfselect_widgets.errors import ESMFolderNotFoundError, RankingCancelled

DIM = 4
# Broken kinds whose config.json is fine: only loading the weights can reject them.
WEIGHT_KINDS = {"corrupt_weights", "nan_weights", "wrong_shape", "config_dim_mismatch"}


@pytest.fixture
def esm_dir(tmp_path):
    """Two good ESMs at different depths, one legacy, one .bin, and every broken kind."""
    root = tmp_path / "esms"
    write_esm(root / "b-task", DIM, task_id="b", seed=2)
    write_esm(root / "group" / "a-task", DIM, task_id="a", seed=1)
    write_esm(root / "group" / "legacy", DIM, task_id="legacy", layout="legacy", seed=3)
    write_esm(root / "z-bin", DIM, task_id="bin", layout="bin", seed=4)
    for kind in BROKEN_KINDS:
        write_broken_esm(root / "broken" / kind, kind, dim=DIM)
    return root


GOOD = ["b-task", "group/a-task", "group/legacy", "z-bin"]


def _relative(paths, root):
    return [str(p.relative_to(root)) for p in paths]


def test_find_lists_complete_esm_folders_recursively_and_sorted(esm_dir):
    """Folders with config.json and weights, at any depth, sorted; incomplete ones left out."""
    found = _relative(find_esm_folders(esm_dir), esm_dir)
    broken_with_both_files = sorted(
        f"broken/{k}"
        for k in BROKEN_KINDS
        if k
        not in {
            "no_config",
            "no_weights",
        }
    )
    assert found == sorted(GOOD + broken_with_both_files)


def test_find_returns_the_folder_itself_when_it_is_an_esm(esm_dir):
    """esm_dir may be one ESM folder."""
    assert find_esm_folders(esm_dir / "b-task") == [esm_dir / "b-task"]


def test_find_skips_hidden_folders_and_does_not_look_inside_esms(tmp_path):
    """.cache-like hidden folders and sub-folders of an ESM are not ESMs of their own."""
    write_esm(tmp_path / ".hidden" / "esm", DIM)
    write_esm(tmp_path / "outer", DIM)
    write_esm(tmp_path / "outer" / "inner", DIM)
    assert find_esm_folders(tmp_path) == [tmp_path / "outer"]


def test_missing_folder_raises_a_typed_file_not_found_error(tmp_path):
    """A missing esm_dir is ESMFolderNotFoundError (a FileNotFoundError) naming the path."""
    missing = tmp_path / "nope"
    with pytest.raises(ESMFolderNotFoundError, match="nope.*does not exist") as caught:
        find_esm_folders(missing)
    assert isinstance(caught.value, FileNotFoundError)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ESMFolderNotFoundError, match="not a folder"):
        read_esm_folder_configs(tmp_path / "file.txt")


def test_read_configs_returns_valid_ones_and_reports_broken_configs(esm_dir):
    """Configs carry their folder as source; broken configs and incomplete folders are
    reported with a reason."""
    configs = read_esm_folder_configs(esm_dir)
    by_folder = {c.source: c for c in configs}
    assert by_folder[str(esm_dir / "group" / "a-task")].task_id == "a"
    assert all(c.repo_id is None for c in configs)
    expected_ok = set(GOOD) | {f"broken/{k}" for k in WEIGHT_KINDS}
    assert set(_relative(map(Path, by_folder), esm_dir)) == expected_ok
    config_kinds = set(BROKEN_KINDS) - WEIGHT_KINDS
    assert set(configs.failures) == {str(esm_dir / "broken" / k) for k in config_kinds}
    for kind in config_kinds:
        assert BROKEN_REASONS[kind] in configs.failures[str(esm_dir / "broken" / kind)]


def test_load_folder_loads_good_esms_and_reports_every_broken_kind(esm_dir):
    """Every good layout loads with its weights; every broken kind is in failures with the
    reason, and none of them aborts the others."""
    esms = load_esm_folder(esm_dir)
    tasks = sorted(esm.config.task_id for esm in esms)
    assert tasks == ["a", "b", "bin", "legacy"]
    legacy = next(esm for esm in esms if esm.config.task_id == "legacy")
    torch.testing.assert_close(legacy.model.weight.detach(), esm_weights(DIM, 3)[0])
    assert len(esms.failures) == len(BROKEN_KINDS)
    for kind in BROKEN_KINDS:
        assert BROKEN_REASONS[kind] in esms.failures[str(esm_dir / "broken" / kind)], kind
    assert f"Fetched 4 of {4 + len(BROKEN_KINDS)} ESMs" in esms.summary()


def test_progress_reaches_total_for_configs_and_loading(tmp_path):
    """Both stages report (stage, 0, n) first and (stage, n, n) last."""
    for name in ("a", "b", "c"):
        write_esm(tmp_path / name, DIM, task_id=name)
    stages = ((read_esm_folder_configs, STAGE_METADATA), (load_esm_folder, STAGE_DOWNLOAD))
    for function, stage in stages:
        calls: list[tuple] = []
        function(tmp_path, progress=lambda *args, calls=calls: calls.append(args))
        assert calls[0] == (stage, 0, 3)
        assert calls[-1] == (stage, 3, 3)


def test_cancel_stops_reading_and_loading(tmp_path):
    """A set cancel event raises RankingCancelled."""
    write_esm(tmp_path / "a", DIM)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(RankingCancelled):
        read_esm_folder_configs(tmp_path, cancel=cancel)
    with pytest.raises(RankingCancelled):
        load_esm_folder(tmp_path, cancel=cancel)


def test_an_empty_folder_gives_an_empty_report(tmp_path):
    """No ESMs below esm_dir is not an error here (the ranking decides what to say)."""
    configs = read_esm_folder_configs(tmp_path)
    assert list(configs) == [] and configs.failures == {}


def test_index_over_local_configs_filters_by_folder(esm_dir):
    """ESMIndex.from_configs takes a folder report (with its failures); repo_ids filters match
    folder paths for local ESMs."""
    index = ESMIndex.from_configs(read_esm_folder_configs(esm_dir))
    assert len(index.failures) == len(BROKEN_KINDS) - len(WEIGHT_KINDS)
    picked = index.filter(repo_ids=[str(esm_dir / "b-task")])
    assert [c.task_id for c in picked] == ["b"]
    assert [c.task_id for c in index.filter(task_id="LEG", min_examples=1)] == ["legacy"]
