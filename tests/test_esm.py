"""The ESM folder format (engine/esm.py): what hfselect writes loads, what we write is hfselect's.

ESM folders are written by ``tests/esm_factory.py`` independently of the code under test, the
way hf-dataset-selector 0.2.1 writes them.
"""

from __future__ import annotations

import json

import pytest
import torch
from esm_factory import (
    BROKEN_KINDS,
    BROKEN_REASONS,
    HFSELECT_TRANSFORMERS_KEYS,
    esm_weights,
    fill_hf_cache,
    hfselect_config,
    write_broken_esm,
    write_esm,
)
from safetensors.torch import load_file, save_file

from hfselect_widgets._version import __version__
from hfselect_widgets.engine.esm.format import (
    ESM,
    ESM_CONFIG_KEYS,
    FORMAT_VERSION,
    ESMConfig,
    expected_weights_bytes,
    read_esm_weights,
)
from hfselect_widgets.errors import ESMLoadError, InvalidESMConfigError

DIM = 6


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """A fresh, empty Hugging Face hub cache for one test (offline mode is on in conftest)."""
    from huggingface_hub import constants

    path = tmp_path / "hf-hub"
    path.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(path))
    return path


def _inputs(dim: int = DIM) -> torch.Tensor:
    return torch.randn(5, dim, generator=torch.Generator().manual_seed(123))


def _expected(dim: int = DIM, seed: int = 0) -> torch.Tensor:
    weight, bias = esm_weights(dim, seed)
    return _inputs(dim) @ weight.T + bias


class _NotATensor:
    """A picklable object that ``torch.load(weights_only=True)`` must refuse."""


# --- loading what hfselect writes ------------------------------------------------------------


def test_hfselect_written_esm_maps_x_to_x_wt_plus_b(tmp_path):
    """An ESM folder in hfselect's format loads and computes y = x W^T + b."""
    folder = write_esm(tmp_path / "esm", DIM, task_id="org/data", seed=3)
    esm = ESM.from_pretrained(folder)
    with torch.no_grad():
        out = esm(_inputs())
    torch.testing.assert_close(out, _expected(seed=3))
    assert esm.embedding_dim == DIM
    assert esm.config.task_id == "org/data"
    assert esm.config.base_model_name == "tiny-model"
    assert esm.repo_id is None  # a local folder has no repo id


@pytest.mark.parametrize("layout", ["legacy", "bin"])
def test_legacy_and_bin_layouts_give_the_same_outputs_as_the_current_one(tmp_path, layout):
    """sequential.0.* tensors (version 0.1.0) and pytorch_model.bin load like model.safetensors."""
    current = ESM.from_pretrained(write_esm(tmp_path / "model", DIM, seed=5))
    other = ESM.from_pretrained(write_esm(tmp_path / layout, DIM, seed=5, layout=layout))
    with torch.no_grad():
        torch.testing.assert_close(other(_inputs()), current(_inputs()), rtol=0, atol=0)
    assert not other.is_legacy_model


def test_extra_config_keys_are_kept_on_load(tmp_path):
    """Transformers' keys in a published config survive as extra keys, unchanged."""
    esm = ESM.from_pretrained(write_esm(tmp_path / "esm", DIM, my_note="kept"))
    assert (
        esm.config.get("transformers_version") == HFSELECT_TRANSFORMERS_KEYS["transformers_version"]
    )
    assert esm.config.get("my_note") == "kept"
    assert esm.config["id2label"] == HFSELECT_TRANSFORMERS_KEYS["id2label"]


def test_list_text_column_loads_as_list(tmp_path):
    """Several text columns (a JSON list in config.json) load as a list."""
    esm = ESM.from_pretrained(write_esm(tmp_path / "esm", DIM, text_column=["premise", "hyp"]))
    assert esm.config.text_column == ["premise", "hyp"]


def test_float64_weights_load_as_float32_with_the_same_values(tmp_path):
    """Weights stored in another float dtype are converted, not rejected."""
    weight, bias = esm_weights(DIM, 1)
    folder = write_esm(tmp_path / "esm", DIM, weight=weight.double(), bias=bias.double())
    esm = ESM.from_pretrained(folder)
    assert esm.model.weight.dtype == torch.float32
    torch.testing.assert_close(esm.model.weight.detach(), weight)


# --- writing hfselect's format ---------------------------------------------------------------


def _saved_esm(tmp_path, **config) -> tuple[ESM, dict]:
    esm = ESM(
        architecture="linear",
        embedding_dim=DIM,
        config=ESMConfig(base_model_name="tiny-model", task_id="org/data", **config),
    )
    esm.save_pretrained(tmp_path / "saved")
    return esm, json.loads((tmp_path / "saved" / "config.json").read_text())


def test_save_then_load_gives_the_same_outputs(tmp_path):
    """save_pretrained -> from_pretrained round-trips weights and config exactly."""
    esm, _ = _saved_esm(tmp_path, task_subset="sub", text_column=("a", "b"), num_examples=10)
    loaded = ESM.from_pretrained(tmp_path / "saved")
    with torch.no_grad():
        torch.testing.assert_close(loaded(_inputs()), esm(_inputs()), rtol=0, atol=0)
    assert loaded.config.task_subset == "sub"
    assert loaded.config.text_column == ["a", "b"]
    assert loaded.config.num_examples == 10
    for key in ESM_CONFIG_KEYS:
        assert loaded.config.get(key) == esm.config.get(key), key


def test_saved_files_are_hfselects_format(tmp_path):
    """model.safetensors holds exactly model.weight (D x D) and model.bias (D)."""
    _saved_esm(tmp_path)
    tensors = load_file(str(tmp_path / "saved" / "model.safetensors"))
    assert set(tensors) == {"model.weight", "model.bias"}
    assert tensors["model.weight"].shape == (DIM, DIM)
    assert tensors["model.bias"].shape == (DIM,)


def test_saved_config_has_exactly_hfselects_keys_plus_our_version(tmp_path):
    """config.json = transformers' keys + hfselect's keys + hfselect_widgets_version, no more."""
    from transformers import PretrainedConfig

    _, data = _saved_esm(tmp_path)
    own_keys = set(data) - set(PretrainedConfig().to_dict())
    assert own_keys == set(ESM_CONFIG_KEYS) | {"hfselect_widgets_version"}
    # The factory mirrors hfselect's ESMConfig signature: the key sets must agree.
    assert set(hfselect_config(DIM)) - set(HFSELECT_TRANSFORMERS_KEYS) == set(ESM_CONFIG_KEYS)
    assert "repo_id" not in data and "source" not in data


def test_saved_version_is_the_hfselect_format_marker(tmp_path):
    """version is "0.2.1" (hfselect's marker for model.* tensors); our version is separate."""
    _, data = _saved_esm(tmp_path)
    assert data["version"] == FORMAT_VERSION == "0.2.1"
    assert data["hfselect_widgets_version"] == __version__
    assert data["esm_architecture"] == "linear"
    assert data["esm_embedding_dim"] == DIM


def test_resaving_a_legacy_esm_writes_the_current_layout(tmp_path):
    """A loaded 0.1.0 ESM is saved as version 0.2.1 with model.* tensors (else hfselect would
    load it non-strictly, i.e. with random weights)."""
    legacy = ESM.from_pretrained(write_esm(tmp_path / "legacy", DIM, layout="legacy", seed=2))
    legacy.save_pretrained(tmp_path / "resaved")
    data = json.loads((tmp_path / "resaved" / "config.json").read_text())
    assert data["version"] == "0.2.1"
    assert set(load_file(str(tmp_path / "resaved" / "model.safetensors"))) == {
        "model.weight",
        "model.bias",
    }
    with torch.no_grad():
        torch.testing.assert_close(
            ESM.from_pretrained(tmp_path / "resaved")(_inputs()), _expected(seed=2)
        )


def test_save_overwrites_and_leaves_no_temporary_files(tmp_path):
    """Saving twice into one folder replaces the ESM; atomic writes leave no .tmp files."""
    _saved_esm(tmp_path)
    esm, _ = _saved_esm(tmp_path, task_subset="second")
    names = sorted(p.name for p in (tmp_path / "saved").iterdir())
    assert names == ["config.json", "model.safetensors"]
    assert ESM.from_pretrained(tmp_path / "saved").config.task_subset == "second"


def test_expected_weights_bytes_is_close_to_the_real_file_size(tmp_path):
    """Download plans estimate sizes from D: the estimate must be within 1% of a real file."""
    esm = ESM(architecture="linear", embedding_dim=64, config=ESMConfig("m", "t"))
    esm.save_pretrained(tmp_path / "esm")
    real = (tmp_path / "esm" / "model.safetensors").stat().st_size
    assert abs(expected_weights_bytes(64) - real) / real < 0.01


# --- rejection -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", BROKEN_KINDS)
def test_every_broken_esm_is_rejected_with_its_reason(tmp_path, kind):
    """Broken ESMs raise a typed error whose message names the problem (never a crash)."""
    folder = write_broken_esm(tmp_path / kind, kind)
    with pytest.raises((ESMLoadError, InvalidESMConfigError)) as caught:
        ESM.from_pretrained(folder)
    assert BROKEN_REASONS[kind] in str(caught.value)


def test_bin_with_arbitrary_objects_is_refused(tmp_path):
    """pytorch_model.bin is read with weights_only=True: pickled objects are not executed."""
    folder = tmp_path / "evil"
    write_esm(folder, DIM)
    weight, bias = esm_weights(DIM)
    (folder / "model.safetensors").unlink()
    torch.save(
        {"model.weight": weight, "model.bias": bias, "x": _NotATensor()},
        folder / "pytorch_model.bin",
    )
    with pytest.raises(ESMLoadError, match="corrupt or unreadable"):
        ESM.from_pretrained(folder)


def test_unknown_tensor_names_are_rejected(tmp_path):
    """A weights file without a known layout is rejected, naming the tensors found."""
    weight, bias = esm_weights(DIM)
    path = tmp_path / "model.safetensors"
    save_file({"encoder.weight": weight, "encoder.bias": bias}, str(path))
    with pytest.raises(ESMLoadError, match="unknown tensor layout.*encoder.bias"):
        read_esm_weights(path)


def test_infinite_bias_is_rejected(tmp_path):
    """Non-finite values anywhere (here: the bias) reject the ESM."""
    weight, bias = esm_weights(DIM)
    bias[2] = float("inf")
    with pytest.raises(ESMLoadError, match="NaN or infinite"):
        ESM.from_pretrained(write_esm(tmp_path / "esm", DIM, bias=bias))


# --- ESMConfig -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"base_model_name": ""}, "base_model_name"),
        ({"task_id": None}, "task_id"),
        ({"task_id": 3}, "task_id"),
        ({"esm_architecture": "mlp"}, "esm_architecture"),
        ({"esm_embedding_dim": True}, "esm_embedding_dim"),
        ({"esm_embedding_dim": -4}, "esm_embedding_dim"),
        ({"esm_embedding_dim": "768"}, "esm_embedding_dim"),
    ],
)
def test_invalid_configs_name_the_offending_key(changes, reason):
    """validation_error() says which key is wrong; validate() raises InvalidESMConfigError."""
    config = ESMConfig(**{**hfselect_config(DIM), **changes})
    assert not config.is_valid
    assert reason in config.validation_error()
    with pytest.raises(InvalidESMConfigError, match=reason):
        config.validate()


def test_valid_config_has_no_validation_error():
    """A config with base model and task id is valid (hfselect's rule)."""
    assert ESMConfig(base_model_name="m", task_id="t").validation_error() is None


def test_config_from_non_object_json_is_rejected(tmp_path):
    """A config.json holding a list is an InvalidESMConfigError, not a TypeError."""
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(InvalidESMConfigError, match="JSON object"):
        ESMConfig.from_json_file(tmp_path / "config.json")


def test_config_to_dict_round_trips_and_leaves_out_location():
    """to_dict/from_dict keep every key; repo_id and source are not part of the file."""
    config = ESMConfig.from_dict({**hfselect_config(DIM), "extra_key": [1]}, repo_id="org/x")
    data = config.to_dict()
    assert "repo_id" not in data and "source" not in data
    assert ESMConfig.from_dict(data) == config
    assert config.repo_id == "org/x" and config.source == "org/x"


def test_config_and_esm_load_from_the_hf_cache_by_repo_id(tmp_path, hf_cache):
    """from_pretrained("org/name") reads the Hugging Face cache offline and records the repo id."""
    write_esm(tmp_path / "esm", DIM, task_id="cached-task", seed=4)
    fill_hf_cache("org/cached-esm", tmp_path / "esm")
    config = ESMConfig.from_pretrained("org/cached-esm")
    assert config.task_id == "cached-task"
    assert config.repo_id == "org/cached-esm"
    esm = ESM.from_pretrained("org/cached-esm")
    assert esm.repo_id == "org/cached-esm"
    with torch.no_grad():
        torch.testing.assert_close(esm(_inputs()), _expected(seed=4))


def test_repr_matches_hfselect():
    """str(esm) reads like hfselect's: 'ESM - Task ID: ... - Subset: ...'."""
    esm = ESM(embedding_dim=2, config=ESMConfig("m", "org/data", task_subset="s"))
    assert str(esm) == "ESM - Task ID: org/data - Subset: s"
