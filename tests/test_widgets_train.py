"""The Train & publish panel: train a tiny ESM from a DataFrame, then publish it to a fake Hub.

Offline: the base model is a tiny random model; publishing goes to an in-memory fake ``HfApi``.
The developer's own Hugging Face login is never used (``get_token`` is patched to find none).
"""

from __future__ import annotations

import json
import threading
import types
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd
import pytest
from esm_factory import write_esm
from tiny_models import TINY_TEXTS, make_tiny_model

from hfselect_widgets.errors import (
    MissingTokenError,
    OutputExistsError,
    RankingCancelled,
)
from hfselect_widgets.widgets.train_publish import TrainPublishPanel

WAIT_S = 120
TOKEN = "hf_WidgetTestSecret0123456789"
REPO = "alice/esm-tiny"


class FakePublishApi:
    """The ``HfApi`` methods publish_esm calls, recording them; repos live in memory."""

    def __init__(self, token: str | None = None):
        self.token = token
        self.calls: list[tuple[str, str]] = []
        self.repos: dict[str, dict[str, bytes]] = {}

    def repo_exists(self, repo_id: str, **kwargs: Any) -> bool:
        self.calls.append(("repo_exists", repo_id))
        return repo_id in self.repos

    def create_repo(self, repo_id: str, **kwargs: Any) -> str:
        self.calls.append(("create_repo", repo_id))
        self.repos.setdefault(repo_id, {})
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, folder_path: str, repo_id: str, **kwargs: Any):
        self.calls.append(("upload_folder", repo_id))
        files = {p.name: p.read_bytes() for p in Path(folder_path).iterdir() if p.is_file()}
        self.repos[repo_id].update(files)
        return types.SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/1")


@pytest.fixture(autouse=True)
def no_login(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny", "bert")


def tiny_frame() -> pd.DataFrame:
    return pd.DataFrame({"text": TINY_TEXTS, "label": [i % 2 for i in range(len(TINY_TEXTS))]})


def all_widget_text(root: widgets.Widget) -> str:
    """Every string trait of ``root`` and the widgets below it (what a front end could show)."""
    texts, stack, seen = [], [root], set()
    while stack:
        widget = stack.pop()
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        for name in widget.keys:
            value = getattr(widget, name)
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, (tuple, list)):
                texts += [v for v in value if isinstance(v, str)]
                stack += [v for v in value if isinstance(v, widgets.Widget)]
    return "\n".join(texts)


def test_train_a_tiny_esm_from_a_dataframe_and_show_the_fit_quality(tiny_model, tmp_path):
    """One epoch on a tiny DataFrame: the ESM folder is written, the fit quality (held-out MSE
    and R²) is shown, and the folder is offered for publishing."""
    panel = TrainPublishPanel({"tiny": tiny_frame()}, device="cpu")
    panel.picker.source.value = "dataframe"
    panel.base_model.value = str(tiny_model)
    panel.output_dir.value = str(tmp_path / "esm")
    panel.epochs.value = 1
    panel.batch_size.value = 8
    panel.base_model_name.value = "google-bert/bert-base-uncased"
    panel.fit.value = "least_squares"  # the closed form: fast and exact on a tiny sample
    assert not panel.train_button.disabled

    task = panel.train(wait=True)

    assert task.state == "succeeded", task.traceback
    trained = panel.trained
    config = json.loads((tmp_path / "esm" / "config.json").read_text())
    assert config["task_id"] == "tiny" and config["lm_num_epochs"] >= 1
    assert config["base_model_name"] == "google-bert/bert-base-uncased"
    assert config["esm_fit_method"] == "least_squares"
    assert "Held-out" in panel.quality.value and "R²" in panel.quality.value
    assert f"{trained.fit.holdout_quality.r2:.4g}" in panel.quality.value
    assert panel.publish_folder.value == str(tmp_path / "esm")
    assert panel.progress.bar("training").bar_style == "success"
    assert panel.progress.bar("esm_fit").bar_style == "success"
    assert not panel.train_button.disabled and panel.cancel_button.disabled


def test_hfselect_fit_passes_its_sgd_settings(tiny_model):
    """The hfselect recipe sends the advanced SGD settings; least squares sends the ridge."""
    panel = TrainPublishPanel({"tiny": tiny_frame()})
    assert panel.fit.value == "hfselect"  # the default: it ranked better (benchmarks/)
    panel.fit.value = "least_squares"
    panel.ridge.value = 0.5
    assert panel.training_kwargs()["ridge"] == 0.5
    assert "esm_sgd_kwargs" not in panel.training_kwargs()
    panel.fit.value = "hfselect"
    panel.esm_epochs.value = 3
    panel.esm_learning_rate.value = 0.001
    kwargs = panel.training_kwargs()
    assert kwargs["esm_sgd_kwargs"] == {"num_epochs": 3, "learning_rate": 0.001}
    assert "ridge" not in kwargs


def test_cancel_stops_training_and_writes_nothing(tiny_model, tmp_path, monkeypatch):
    """Cancel while fine-tuning: the worker stops with RankingCancelled, no folder is written,
    and the panel can train again once it has stopped."""
    panel = TrainPublishPanel({"tiny": tiny_frame()}, device="cpu")
    panel.picker.source.value = "dataframe"
    panel.base_model.value = str(tiny_model)
    panel.output_dir.value = str(tmp_path / "esm")
    panel.batch_size.value = 4
    reached, release = threading.Event(), threading.Event()
    show = panel.progress.update

    def held_update(stage, done, total):
        show(stage, done, total)
        if stage == "training" and not reached.is_set():
            reached.set()
            release.wait(WAIT_S)

    monkeypatch.setattr(panel.progress, "update", held_update)
    task = panel.train()
    assert reached.wait(WAIT_S), task.traceback
    assert panel.train_button.disabled and not panel.cancel_button.disabled

    panel.cancel_button.click()

    assert panel.train_button.disabled and panel.cancel_button.disabled  # until it stopped
    assert panel.train_button.description == "Stopping…"
    release.set()
    assert task.wait(WAIT_S)
    assert not panel.train_button.disabled and panel.train_button.description == "Train"
    assert task.state == "cancelled" and isinstance(task.error, RankingCancelled)
    assert "nothing was written" in panel.status.value
    assert not (tmp_path / "esm").exists()
    assert panel.trained is None


def test_existing_output_folder_is_refused_with_the_engine_message(tiny_model, tmp_path):
    """An output folder that holds files: OutputExistsError is shown; nothing is replaced."""
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    panel = TrainPublishPanel({"tiny": tiny_frame()}, device="cpu")
    panel.picker.source.value = "dataframe"
    panel.base_model.value = str(tiny_model)
    panel.output_dir.value = str(tmp_path / "taken")

    task = panel.train(wait=True)

    assert isinstance(task.error, OutputExistsError)
    assert '"Overwrite"' in panel.errors.text and "already exists" in panel.errors.text
    assert "overwrite=True" not in panel.errors.text  # the widget's control, not Python's keyword
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    assert not panel.train_button.disabled


def test_train_button_waits_for_a_complete_form():
    panel = TrainPublishPanel({"tiny": tiny_frame()})
    panel.picker.source.value = "dataframe"
    assert panel.train_button.disabled  # no output folder yet
    assert "output folder" in " ".join(panel.train_problems())
    with pytest.raises(ValueError, match="output folder"):
        panel.train()
    panel.output_dir.value = "somewhere"
    assert not panel.train_button.disabled


def test_publish_uploads_the_esm_folder_with_the_login_and_never_shows_the_token(tmp_path):
    """Publish: the fake Hub receives the ESM and its card; the panel links the repo; the token
    appears in no widget."""
    esm = write_esm(
        tmp_path / "esm",
        4,
        task_id="stanfordnlp/imdb",
        base_model_name="bert-base-multilingual-uncased",
    )
    api = FakePublishApi(token=TOKEN)
    panel = TrainPublishPanel({}, hf_api=api)
    assert panel.publish_button.disabled
    panel.publish_folder.value = str(esm)
    panel.repo_id.value = REPO
    panel.private.value = True
    assert not panel.publish_button.disabled

    task = panel.publish(wait=True)

    assert task.state == "succeeded", task.traceback
    assert [name for name, _ in api.calls] == ["repo_exists", "create_repo", "upload_folder"]
    assert {"config.json", "model.safetensors", "README.md"} <= set(api.repos[REPO])
    assert panel.published.repo_id == REPO
    assert f"https://huggingface.co/{REPO}" in panel.publish_status.value
    assert TOKEN not in all_widget_text(panel)


def test_publish_without_a_login_asks_for_notebook_login(tmp_path):
    """No token anywhere: nothing reaches the Hub and the panel asks for notebook_login()."""
    esm = write_esm(tmp_path / "esm", 4, task_id="t", base_model_name="bert-base-uncased")
    api = FakePublishApi(token=None)
    panel = TrainPublishPanel({}, hf_api=api)
    panel.publish_folder.value = str(esm)
    panel.repo_id.value = REPO

    assert panel.publish() is None

    assert api.calls == []
    assert "notebook_login()" in panel.publish_status.value
    assert isinstance(panel.publish_errors.error, MissingTokenError)
    # Said once: the error box, which would repeat it in other words, stays hidden.
    assert panel.publish_errors.layout.display == "none"
    assert "No Hugging Face token found" not in all_widget_text(panel)


def test_publish_errors_are_shown_and_redact_the_token(tmp_path):
    """A Hub failure that quotes the token is shown with the token replaced by ***."""
    esm = write_esm(tmp_path / "esm", 4, task_id="t", base_model_name="bert-base-uncased")
    api = FakePublishApi(token=TOKEN)

    def refuse(repo_id: str, **kwargs: Any) -> str:
        raise RuntimeError(f"403 Forbidden for token {TOKEN}")

    api.create_repo = refuse
    panel = TrainPublishPanel({}, hf_api=api)
    panel.publish_folder.value = str(esm)
    panel.repo_id.value = REPO

    task = panel.publish(wait=True)

    assert task.state == "failed"
    assert "403 Forbidden" in panel.publish_errors.message.value
    assert TOKEN not in all_widget_text(panel)
    assert not panel.publish_button.disabled
