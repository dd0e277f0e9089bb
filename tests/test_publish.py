"""Publishing ESMs to the Hub (engine/publish.py), offline, against a recording fake ``HfApi``.

The fake keeps each repo's files in memory, records every call with its arguments and copies the
uploaded folder's bytes at upload time, so tests can load exactly what would reach the Hub.
"""

from __future__ import annotations

import inspect
import json
import os
import tempfile
import types
from pathlib import Path
from typing import Any

import pytest
import torch
from esm_factory import FakeHfApi, write_esm
from huggingface_hub import HfApi
from safetensors.torch import load_file

from hfselect_widgets.engine.esm.format import ESM
from hfselect_widgets.engine.hub import publish as publish_module
from hfselect_widgets.engine.hub.card import build_model_card, card_metadata_from_readme
from hfselect_widgets.engine.hub.publish import (
    PublishResult,
    publish_esm,
    resolve_token,
    stage_upload_folder,
)
from hfselect_widgets.errors import (
    ESMLoadError,
    HfselectWidgetsError,
    MissingTokenError,
    PublishError,
    RepoExistsError,
    UploadError,
)

DIM = 6
TOKEN = "hf_TestSecretToken0123456789"
REPO = "alice/esm-imdb"


class RecordingHfApi(FakeHfApi):
    """A fake ``HfApi`` for publishing: repos as ``{name: bytes}``, every call recorded and
    checked against the real ``HfApi`` method's signature.

    ``fail`` maps a method name to the exception that method raises (after recording).
    """

    def __init__(self, download_dir: Path, repos: dict[str, dict[str, bytes]] | None = None):
        super().__init__()
        self.download_dir = download_dir
        self.repo_files: dict[str, dict[str, bytes]] = {
            k: dict(v) for k, v in (repos or {}).items()
        }
        self.fail: dict[str, BaseException] = {}
        self.uploaded: dict[str, bytes] = {}

    def _call(self, name: str, arg: Any, kwargs: dict[str, Any]) -> None:
        self._record(name, arg, kwargs)
        if name in self.fail:
            raise self.fail[name]

    @staticmethod
    def _check_real_signature(name: str, *args: Any, **kwargs: Any) -> None:
        """Fail if the real ``HfApi`` method would not accept these arguments."""
        inspect.signature(getattr(HfApi, name)).bind(HfApi(), *args, **kwargs)

    def repo_exists(self, repo_id: str, **kwargs: Any) -> bool:
        self._check_real_signature("repo_exists", repo_id, **kwargs)
        self._call("repo_exists", repo_id, kwargs)
        return repo_id in self.repo_files

    def list_repo_files(self, repo_id: str, **kwargs: Any) -> list[str]:
        self._check_real_signature("list_repo_files", repo_id, **kwargs)
        self._call("list_repo_files", repo_id, kwargs)
        return list(self.repo_files[repo_id])

    def hf_hub_download(self, repo_id: str, filename: str, **kwargs: Any) -> str:
        self._check_real_signature("hf_hub_download", repo_id, filename, **kwargs)
        self._call("hf_hub_download", repo_id, {"filename": filename, **kwargs})
        path = self.download_dir / repo_id.replace("/", "--") / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.repo_files[repo_id][filename])
        return str(path)

    def create_repo(self, repo_id: str, **kwargs: Any) -> str:
        self._check_real_signature("create_repo", repo_id, **kwargs)
        self._call("create_repo", repo_id, kwargs)
        if repo_id in self.repo_files and not kwargs.get("exist_ok"):
            raise RuntimeError(f"409 Conflict: {repo_id} exists")
        self.repo_files.setdefault(repo_id, {".gitattributes": b"*.safetensors filter=lfs\n"})
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, folder_path: str, repo_id: str, **kwargs: Any):
        self._check_real_signature(
            "upload_folder", folder_path=folder_path, repo_id=repo_id, **kwargs
        )
        # Copy the bytes now: the staging folder is removed once publish_esm returns.
        files = {p.name: p.read_bytes() for p in Path(folder_path).iterdir() if p.is_file()}
        self._call("upload_folder", repo_id, {"folder_path": folder_path, "files": files, **kwargs})
        repo = self.repo_files[repo_id]
        for name in kwargs.get("delete_patterns") or []:
            repo.pop(name, None)
        repo.update(files)
        self.uploaded = files
        return types.SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/abc")

    def call_names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


@pytest.fixture
def api(tmp_path) -> RecordingHfApi:
    return RecordingHfApi(tmp_path / "downloads")


@pytest.fixture
def esm_dir(tmp_path) -> Path:
    """An ESM folder as train_esm writes it (fit quality and provenance as extra keys)."""
    return write_esm(
        tmp_path / "esm",
        DIM,
        task_id="stanfordnlp/imdb",
        base_model_name="bert-base-multilingual-uncased",
        task_subset="plain_text",
        esm_fit_method="least_squares",
        esm_ridge=0.0,
        esm_fit_holdout_mse=0.0123,
        esm_fit_holdout_r2=0.875,
        pooling="pooler",
        dataset_license="other",
    )


@pytest.fixture(autouse=True)
def no_login(monkeypatch):
    """No token unless a test gives one: the developer's own login must never be used."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def esm_repo_files(tmp_path: Path, **config: Any) -> dict[str, bytes]:
    folder = write_esm(tmp_path / "existing-esm", DIM, task_id="old-task", seed=7, **config)
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def outputs(esm: ESM) -> torch.Tensor:
    x = torch.randn(5, DIM, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        return esm(x)


# --- the happy path --------------------------------------------------------------------------


def test_publish_creates_repo_then_uploads_config_weights_and_card(api, esm_dir):
    result = publish_esm(esm_dir, REPO, token=TOKEN, private=True, hf_api=api)

    assert api.call_names() == ["repo_exists", "create_repo", "upload_folder"]
    _, repo, create_kwargs = api.calls_to("create_repo")[0]
    assert repo == REPO
    assert create_kwargs == {"private": True, "exist_ok": False, "token": TOKEN}
    _, repo, upload_kwargs = api.calls_to("upload_folder")[0]
    assert repo == REPO and upload_kwargs["token"] == TOKEN
    assert set(upload_kwargs["files"]) == {"config.json", "model.safetensors", "README.md"}
    assert "stanfordnlp/imdb" in upload_kwargs["commit_message"]
    assert "delete_patterns" not in upload_kwargs  # nothing to clean up in a new repo

    assert isinstance(result, PublishResult)
    assert result.repo_id == REPO
    assert result.url == f"https://huggingface.co/{REPO}"
    assert result.files == ["README.md", "config.json", "model.safetensors"]
    assert result.created is True
    assert result.commit_url and result.commit_url.endswith("/commit/abc")


def test_commit_message_can_be_chosen(api, esm_dir):
    publish_esm(esm_dir, REPO, token=TOKEN, hf_api=api, commit_message="v2 of my ESM")
    assert api.calls_to("upload_folder")[0][2]["commit_message"] == "v2 of my ESM"


def test_card_metadata_makes_the_esm_discoverable_like_hfselect(api, esm_dir):
    """Tags, base_model (canonical: the Hub's base_model:<id> tags name canonical ids),
    datasets and license, as hfselect's ESM.publish writes them."""
    publish_esm(esm_dir, REPO, token=TOKEN, hf_api=api)
    metadata = card_metadata_from_readme(api.uploaded["README.md"].decode())

    assert metadata["tags"] == ["embedding_space_map", "BaseLM:bert-base-multilingual-uncased"]
    assert metadata["base_model"] == "google-bert/bert-base-multilingual-uncased"
    assert metadata["datasets"] == ["stanfordnlp/imdb"]
    assert metadata["license"] == "apache-2.0"


def test_card_license_can_be_overridden(api, esm_dir):
    publish_esm(esm_dir, REPO, token=TOKEN, hf_api=api, license="mit")
    assert card_metadata_from_readme(api.uploaded["README.md"].decode())["license"] == "mit"


def test_uploaded_folder_loads_back_with_the_same_outputs(api, esm_dir, tmp_path):
    publish_esm(esm_dir, REPO, token=TOKEN, hf_api=api)
    downloaded = ESM.from_pretrained(write_files(tmp_path / "downloaded", api.uploaded))

    source = ESM.from_pretrained(esm_dir)
    torch.testing.assert_close(outputs(downloaded), outputs(source), rtol=0, atol=0)
    assert downloaded.config.task_id == "stanfordnlp/imdb"
    assert downloaded.config.version == "0.2.1"
    # Provenance and fit quality survive in config.json.
    config = json.loads(api.uploaded["config.json"])
    assert config["esm_fit_holdout_r2"] == 0.875 and config["pooling"] == "pooler"


def test_an_esm_object_can_be_published(api, esm_dir, tmp_path):
    esm = ESM.from_pretrained(esm_dir)
    result = publish_esm(esm, REPO, token=TOKEN, hf_api=api)
    assert "model.safetensors" in result.files
    downloaded = ESM.from_pretrained(write_files(tmp_path / "downloaded", api.uploaded))
    torch.testing.assert_close(outputs(downloaded), outputs(esm), rtol=0, atol=0)


def test_legacy_esm_is_converted_to_the_current_layout(api, tmp_path):
    """A version 0.1.0 ESM (sequential.0.* tensors) is uploaded as model.* with version 0.2.1:
    hfselect would load model.* tensors under 0.1.0 non-strictly, i.e. as random weights."""
    legacy_dir = write_esm(tmp_path / "legacy", DIM, layout="legacy", task_id="old/task")
    legacy = ESM.from_pretrained(legacy_dir)
    assert legacy.config.version == "0.1.0"

    publish_esm(legacy, REPO, token=TOKEN, hf_api=api)

    folder = write_files(tmp_path / "downloaded", api.uploaded)
    assert json.loads((folder / "config.json").read_text())["version"] == "0.2.1"
    assert set(load_file(str(folder / "model.safetensors"))) == {"model.weight", "model.bias"}
    torch.testing.assert_close(outputs(ESM.from_pretrained(folder)), outputs(legacy))
    assert legacy.config.version == "0.1.0"  # the caller's object is not modified


def test_pytorch_bin_esm_is_uploaded_as_safetensors(api, tmp_path):
    bin_dir = write_esm(tmp_path / "bin", DIM, layout="bin")
    result = publish_esm(bin_dir, REPO, token=TOKEN, hf_api=api)
    assert "pytorch_model.bin" not in result.files and "model.safetensors" in result.files


def test_stage_upload_folder_is_a_dry_run_without_hub_calls(esm_dir, tmp_path):
    files = stage_upload_folder(esm_dir, tmp_path / "staged", repo_id=REPO)
    assert files == ["README.md", "config.json", "model.safetensors"]
    staged = ESM.from_pretrained(tmp_path / "staged")
    torch.testing.assert_close(outputs(staged), outputs(ESM.from_pretrained(esm_dir)))
    assert f"ESM.from_pretrained('{REPO}')" in (tmp_path / "staged" / "README.md").read_text()


def test_stage_upload_folder_refuses_a_non_empty_folder(esm_dir, tmp_path):
    target = write_files(tmp_path / "busy", {"notes.txt": b"mine"})
    with pytest.raises(PublishError, match="not an empty folder"):
        stage_upload_folder(esm_dir, target)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_the_staged_folder_is_checked_before_any_hub_call(api, esm_dir, monkeypatch):
    """If the folder that would be uploaded does not load, the Hub is never contacted."""

    def broken_load(*args, **kwargs):
        raise ESMLoadError("staged", "simulated unreadable weights")

    monkeypatch.setattr(publish_module.ESM, "from_pretrained", broken_load)
    with pytest.raises(ESMLoadError, match="simulated"):
        publish_esm(esm_dir, REPO, token=TOKEN, hf_api=api)
    assert api.calls == []


# --- existing repos --------------------------------------------------------------------------


@pytest.mark.parametrize("exist_ok", [False, True])
def test_an_existing_esm_repo_is_not_replaced_without_overwrite(api, esm_dir, tmp_path, exist_ok):
    old = esm_repo_files(tmp_path)
    api.repo_files[REPO] = dict(old)

    with pytest.raises(RepoExistsError, match="overwrite=True") as info:
        publish_esm(esm_dir, REPO, token=TOKEN, hf_api=api, exist_ok=exist_ok)

    assert "old-task" in str(info.value) and info.value.repo_id == REPO
    assert isinstance(info.value, FileExistsError)
    assert not api.calls_to("create_repo") and not api.calls_to("upload_folder")
    assert api.repo_files[REPO] == old


def test_overwrite_replaces_an_esm_repo_and_removes_stale_weights(api, esm_dir, tmp_path):
    old = esm_repo_files(tmp_path)
    old["pytorch_model.bin"] = old.pop("model.safetensors")  # an older upload format
    api.repo_files[REPO] = {".gitattributes": b"", **old}

    result = publish_esm(esm_dir, REPO, token=TOKEN, hf_api=api, overwrite=True)

    assert result.created is False
    assert api.calls_to("create_repo")[0][2]["exist_ok"] is True
    assert api.calls_to("upload_folder")[0][2]["delete_patterns"] == ["pytorch_model.bin"]
    assert "pytorch_model.bin" not in api.repo_files[REPO]
    assert json.loads(api.repo_files[REPO]["config.json"])["task_id"] == "stanfordnlp/imdb"


@pytest.mark.parametrize(
    "kind",
    ["model_without_esm_config", "esm_with_other_files", "dataset_files", "bad_json_config"],
)
@pytest.mark.parametrize("flags", [{"overwrite": True}, {"exist_ok": True}, {}])
def test_a_repo_holding_something_else_is_never_replaced(api, esm_dir, tmp_path, kind, flags):
    if kind == "model_without_esm_config":  # e.g. a fine-tuned BERT
        files = {"config.json": b'{"model_type": "bert"}', "model.safetensors": b"weights"}
    elif kind == "esm_with_other_files":
        files = {**esm_repo_files(tmp_path), "tokenizer.json": b"{}"}
    elif kind == "dataset_files":
        files = {"README.md": b"# data", "train.csv": b"text,label\n"}
    else:
        files = {"config.json": b"{not json", "model.safetensors": b"weights"}
    api.repo_files[REPO] = dict(files)

    with pytest.raises(RepoExistsError, match="something other than an ESM"):
        publish_esm(esm_dir, REPO, token=TOKEN, hf_api=api, **flags)

    assert not api.calls_to("create_repo") and not api.calls_to("upload_folder")
    assert api.repo_files[REPO] == files


def test_an_existing_empty_repo_needs_exist_ok(api, esm_dir):
    api.repo_files[REPO] = {".gitattributes": b"", "README.md": b"# placeholder"}

    with pytest.raises(RepoExistsError, match="exist_ok=True"):
        publish_esm(esm_dir, REPO, token=TOKEN, hf_api=api)
    assert not api.calls_to("upload_folder")

    result = publish_esm(esm_dir, REPO, token=TOKEN, hf_api=api, exist_ok=True)
    assert result.created is False
    assert api.repo_files[REPO]["README.md"].startswith(b"---\n")
    assert "model.safetensors" in api.repo_files[REPO]


# --- token -----------------------------------------------------------------------------------


def test_missing_token_is_a_typed_error_with_the_login_hint(api, esm_dir):
    with pytest.raises(MissingTokenError) as info:
        publish_esm(esm_dir, REPO, hf_api=api)
    message = str(info.value)
    assert "hf auth login" in message and "notebook_login()" in message and "HF_TOKEN" in message
    assert isinstance(info.value, PublishError) and isinstance(info.value, HfselectWidgetsError)
    assert api.calls == []


def test_token_from_hf_token_env_is_used_and_never_leaked(api, esm_dir, monkeypatch):
    """With no explicit token, huggingface_hub's login (here HF_TOKEN) is used; the token
    reaches the Hub calls only, never the uploaded files."""
    import huggingface_hub
    from huggingface_hub.utils import _auth

    monkeypatch.setattr(huggingface_hub, "get_token", _auth.get_token)
    monkeypatch.setenv("HF_TOKEN", TOKEN)

    publish_esm(esm_dir, REPO, hf_api=api)

    assert all(kwargs.get("token") == TOKEN for _, _, kwargs in api.calls)
    for name, data in api.uploaded.items():
        assert TOKEN.encode() not in data, name


def test_explicit_token_wins_over_the_stored_login(monkeypatch):
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_from_login")
    assert resolve_token("hf_explicit") == "hf_explicit"
    assert resolve_token(None, types.SimpleNamespace(token="hf_from_api")) == "hf_from_api"
    assert resolve_token(None, types.SimpleNamespace(token=None)) == "hf_from_login"


def test_hub_failure_messages_never_contain_the_token(api, esm_dir):
    api.fail["create_repo"] = RuntimeError(f"401 Unauthorized: bad token {TOKEN}")

    with pytest.raises(UploadError) as info:
        publish_esm(esm_dir, REPO, token=TOKEN, hf_api=api)

    assert TOKEN not in str(info.value) and "401 Unauthorized" in str(info.value)
    assert info.value.__cause__ is None  # the original text (with the token) is dropped
    assert TOKEN not in repr(info.value.args)


# --- failures --------------------------------------------------------------------------------


def test_upload_failure_gives_the_cause_and_leaves_no_local_state(
    api, esm_dir, tmp_path, monkeypatch
):
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    before = {p.name: p.read_bytes() for p in esm_dir.iterdir()}
    api.fail["upload_folder"] = ConnectionError("connection reset by peer")

    with pytest.raises(UploadError) as info:
        publish_esm(esm_dir, REPO, token=TOKEN, hf_api=api)

    message = str(info.value)
    assert "uploading" in message and "connection reset by peer" in message
    assert "internet connection" in message
    assert isinstance(info.value.__cause__, ConnectionError)
    assert os.listdir(temp_root) == []  # the staging folder is gone
    assert {p.name: p.read_bytes() for p in esm_dir.iterdir()} == before


def test_a_failing_existence_check_stops_before_creating_anything(api, esm_dir):
    api.fail["repo_exists"] = TimeoutError("read timed out")
    with pytest.raises(UploadError, match="checking whether the repo exists.*read timed out"):
        publish_esm(esm_dir, REPO, token=TOKEN, hf_api=api)
    assert api.call_names() == ["repo_exists"]


@pytest.mark.parametrize("repo_id", ["no-namespace", "alice/has space", "alice/../etc", ""])
def test_invalid_repo_ids_are_refused_before_any_hub_call(api, esm_dir, repo_id):
    with pytest.raises(PublishError, match="your-username/esm-name"):
        publish_esm(esm_dir, repo_id, token=TOKEN, hf_api=api)
    assert api.calls == []


def test_a_local_base_model_path_is_refused_because_nobody_could_find_the_esm(api, tmp_path):
    esm_dir = write_esm(tmp_path / "esm", DIM, base_model_name="/home/me/models/my-bert")
    with pytest.raises(PublishError, match="not a Hub model id"):
        publish_esm(esm_dir, REPO, token=TOKEN, hf_api=api)
    assert api.calls == []


def test_a_missing_esm_folder_is_a_typed_error(api, tmp_path):
    with pytest.raises(ESMLoadError, match="no such folder"):
        publish_esm(tmp_path / "nope", REPO, token=TOKEN, hf_api=api)
    assert api.calls == []


# --- the model card --------------------------------------------------------------------------


def test_card_says_what_the_esm_is_how_it_was_trained_and_how_to_use_it(esm_dir):
    config = ESM.from_pretrained(esm_dir).config
    config.extra.update(lm_train_seconds=12.5, lm_task="classification", esm_fit_holdout=0.1)
    card = build_model_card(config, repo_id=REPO)

    # What it is
    assert "Embedding Space Map" in card and "`bert-base-multilingual-uncased`" in card
    assert "stanfordnlp/imdb (subset plain\\_text)" in card
    assert "| Examples | 1000 |" in card and "| Text column(s) | text |" in card
    # How it was trained: LM and ESM hyper-parameters, fit method and quality
    assert "| Learning rate | 2e-05 |" in card and "| Optimizer | AdamW |" in card
    assert "| Method | least\\_squares |" in card and "| Ridge (lambda) | 0 |" in card
    assert "| Held-out MSE | 0.0123 |" in card and "| Held-out R² | 0.875 |" in card
    assert "| Head | classification |" in card and "| Held-out share | 0.1 |" in card
    assert "| Time: lm train (s) | 12.5 |" in card
    # How to use it, with both packages
    assert (
        "compute_task_ranking(\n    dataset, model_name='bert-base-multilingual-uncased', "
        f"esm_repo_ids=['{REPO}']\n)" in card
    )
    assert f"from hfselect import ESM\n\nesm = ESM.from_pretrained('{REPO}')" in card
    # Citation
    assert "Less is More: Parameter-Efficient Selection of Intermediate Tasks" in card
    assert "Schulte, David" in card and "Akbik, Alan" in card


def test_card_without_fit_quality_has_no_fit_quality_section(tmp_path):
    config = ESM.from_pretrained(write_esm(tmp_path / "plain", DIM)).config
    card = build_model_card(config)
    assert "Fit quality" not in card
    assert "your-username/your-esm" in card  # a placeholder when the repo is unknown


def test_card_escapes_user_strings_in_yaml_and_markdown(tmp_path):
    """Hostile dataset names cannot inject metadata, HTML or break the card's layout."""
    esm_dir = write_esm(
        tmp_path / "hostile",
        DIM,
        task_id="evil\n---\nlicense: mit\ntags: [x]",
        task_subset="<script>alert(1)</script> | col",
        label_column="`label`",
        base_model_name="sentence-transformers/all-MiniLM-L6-v2",
    )
    card = build_model_card(ESM.from_pretrained(esm_dir).config, license="apache-2.0")

    metadata = card_metadata_from_readme(card)
    assert metadata == {
        "base_model": "sentence-transformers/all-MiniLM-L6-v2",
        "license": "apache-2.0",
        "tags": ["embedding_space_map", "BaseLM:sentence-transformers/all-MiniLM-L6-v2"],
    }  # a task_id that is no Hub id is left out of `datasets`
    assert "<script>" not in card and "&lt;script&gt;" in card
    assert card.count("\n---\n") == 1  # only the end of the front matter
    assert "| Label column | \\`label\\` |" in card


def test_yaml_special_task_ids_are_quoted_in_the_metadata(tmp_path):
    esm_dir = write_esm(tmp_path / "yaml", DIM, task_id="yes", base_model_name="org/null")
    metadata = card_metadata_from_readme(build_model_card(ESM.from_pretrained(esm_dir).config))
    assert metadata["datasets"] == ["yes"] and metadata["base_model"] == "org/null"
