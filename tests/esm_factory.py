"""Test helpers that write ESM folders, fill a Hugging Face cache and fake the Hub API.

Everything here is independent of ``hfselect_widgets.engine.esm.format``'s writer, so that tests of the
reader are not circular: :func:`write_esm` writes the files the way hf-dataset-selector 0.2.1
does (``PyTorchModelHubMixin``: a sorted, indented ``config.json`` that is a transformers
``PretrainedConfig`` dump, and ``model.safetensors`` with ``model.weight`` / ``model.bias``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

# What a transformers 4.4x PretrainedConfig dump adds to hfselect's keys (published ESMs carry
# these; the reader must keep them as extra keys).
HFSELECT_TRANSFORMERS_KEYS: dict[str, Any] = {
    "_name_or_path": "",
    "add_cross_attention": False,
    "architectures": None,
    "bad_words_ids": None,
    "chunk_size_feed_forward": 0,
    "id2label": {"0": "LABEL_0", "1": "LABEL_1"},
    "is_encoder_decoder": False,
    "label2id": {"LABEL_0": 0, "LABEL_1": 1},
    "model_type": "",
    "output_attentions": False,
    "output_hidden_states": False,
    "problem_type": None,
    "return_dict": True,
    "torch_dtype": None,
    "transformers_version": "4.44.2",
}

BROKEN_KINDS = (
    "no_config",
    "invalid_config",
    "bad_json",
    "no_weights",
    "corrupt_weights",
    "nan_weights",
    "wrong_shape",
    "config_dim_mismatch",
)
"""Every kind :func:`write_broken_esm` can write."""

BROKEN_REASONS = {
    "no_config": "config.json",
    "invalid_config": "task_id",
    "bad_json": "not valid JSON",
    "no_weights": "no weights",
    "corrupt_weights": "corrupt",
    "nan_weights": "NaN",
    "wrong_shape": "square",
    "config_dim_mismatch": "esm_embedding_dim",
}
"""A phrase the rejection message of each broken kind must contain."""


def esm_weights(dim: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight (dim x dim) and bias (dim) that :func:`write_esm` writes for ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(dim, dim, generator=generator) / dim**0.5
    bias = torch.randn(dim, generator=generator) * 0.1
    return weight, bias


def hfselect_config(
    dim: int,
    *,
    task_id: str = "task",
    base_model_name: str = "tiny-model",
    version: str = "0.2.1",
    **config: Any,
) -> dict[str, Any]:
    """The ``config.json`` content hfselect 0.2.1 writes for an ESM (transformers keys too)."""
    data: dict[str, Any] = dict(HFSELECT_TRANSFORMERS_KEYS)
    data.update(
        {
            "base_model_name": base_model_name,
            "task_id": task_id,
            "task_subset": None,
            "text_column": "text",
            "label_column": "label",
            "task_split": "train",
            "num_examples": 1000,
            "seed": 42,
            "language": "en",
            "esm_architecture": "linear",
            "esm_embedding_dim": dim,
            "lm_num_epochs": 1,
            "lm_batch_size": 32,
            "lm_learning_rate": 2e-05,
            "lm_weight_decay": 0.01,
            "lm_optimizer": "AdamW",
            "esm_num_epochs": 10,
            "esm_batch_size": 32,
            "esm_learning_rate": 0.001,
            "esm_weight_decay": 0.01,
            "esm_optimizer": "AdamW",
            "developers": "tests",
            "version": version,
        }
    )
    data.update(config)
    return data


def _write_config(folder: Path, data: Mapping[str, Any]) -> None:
    # PyTorchModelHubMixin writes json.dumps(config, sort_keys=True, indent=2).
    (folder / "config.json").write_text(json.dumps(dict(data), sort_keys=True, indent=2))


def write_esm(
    folder: str | os.PathLike,
    dim: int,
    *,
    task_id: str = "task",
    base_model_name: str = "tiny-model",
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    seed: int = 0,
    layout: str = "model",
    version: str | None = None,
    **config: Any,
) -> Path:
    """Write an ESM folder as hfselect does; return the folder.

    ``layout``: ``"model"`` (``model.safetensors`` with ``model.*``, version "0.2.1"),
    ``"legacy"`` (version "0.1.0", ``sequential.0.*`` tensors) or ``"bin"``
    (``pytorch_model.bin`` via ``torch.save`` of the ``model.*`` state dict). ``weight`` and
    ``bias`` default to :func:`esm_weights` of ``seed``; ``config`` overrides config keys.
    """
    if layout not in ("model", "legacy", "bin"):
        raise ValueError(f"unknown layout {layout!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    default_weight, default_bias = esm_weights(dim, seed)
    weight = default_weight if weight is None else weight
    bias = default_bias if bias is None else bias
    if version is None:
        version = "0.1.0" if layout == "legacy" else "0.2.1"
    prefix = "sequential.0" if layout == "legacy" else "model"
    tensors = {
        f"{prefix}.weight": weight.detach().clone().contiguous(),
        f"{prefix}.bias": bias.detach().clone().contiguous(),
    }
    if layout == "bin":
        torch.save(tensors, folder / "pytorch_model.bin")
    else:
        save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    _write_config(
        folder,
        hfselect_config(
            dim, task_id=task_id, base_model_name=base_model_name, version=version, **config
        ),
    )
    return folder


def write_broken_esm(folder: str | os.PathLike, kind: str, dim: int = 4) -> Path:
    """Write an ESM folder that must be rejected; ``kind`` is one of :data:`BROKEN_KINDS`."""
    if kind not in BROKEN_KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {BROKEN_KINDS}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    task_id = f"broken-{kind}"
    if kind == "wrong_shape":
        write_esm(folder, dim, task_id=task_id, weight=torch.randn(dim, dim + 1))
    elif kind == "nan_weights":
        weight, _ = esm_weights(dim)
        weight[0, 0] = float("nan")
        write_esm(folder, dim, task_id=task_id, weight=weight)
    elif kind == "config_dim_mismatch":
        write_esm(folder, dim, task_id=task_id, esm_embedding_dim=dim + 1)
    else:
        write_esm(folder, dim, task_id=task_id)
    if kind == "no_config":
        (folder / "config.json").unlink()
    elif kind == "invalid_config":
        data = json.loads((folder / "config.json").read_text())
        del data["task_id"]
        _write_config(folder, data)
    elif kind == "bad_json":
        (folder / "config.json").write_text('{"task_id": "broken", ')
    elif kind == "no_weights":
        (folder / "model.safetensors").unlink()
    elif kind == "corrupt_weights":
        (folder / "model.safetensors").write_bytes(b"\x00garbage, not safetensors\xff" * 8)
    return folder


# --- Hugging Face cache --------------------------------------------------------------------


def fill_hf_cache(
    repo_id: str,
    folder: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    files: Iterable[str] | None = None,
    revision: str = "main",
) -> Path:
    """Put the files of an ESM folder into a Hugging Face hub cache as repo ``repo_id``.

    Uses huggingface_hub's layout (``models--org--name/blobs/<etag>``,
    ``snapshots/<commit>/<file>`` symlinked to the blob, ``refs/<revision>`` holding the
    commit), so that ``hf_hub_download(repo_id, name)`` with ``HF_HUB_OFFLINE=1`` returns the
    files. ``cache_dir`` defaults to ``huggingface_hub.constants.HF_HUB_CACHE`` at call time;
    ``files`` limits which files are cached. Returns the snapshot folder.
    """
    from huggingface_hub import constants

    folder = Path(folder)
    root = Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE)
    names = sorted(files) if files is not None else sorted(p.name for p in folder.iterdir())
    contents = {name: (folder / name).read_bytes() for name in names}
    digest = hashlib.sha1(repo_id.encode())
    for name in names:
        digest.update(name.encode() + contents[name])
    commit = digest.hexdigest()  # 40 hex digits, like a git commit id

    storage = root / ("models--" + repo_id.replace("/", "--"))
    snapshot = storage / "snapshots" / commit
    (storage / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    (storage / "refs").mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        etag = hashlib.sha256(data).hexdigest()
        blob = storage / "blobs" / etag
        if not blob.exists():
            blob.write_bytes(data)
        pointer = snapshot / name
        if pointer.is_symlink() or pointer.exists():
            pointer.unlink()
        try:
            pointer.symlink_to(os.path.relpath(blob, snapshot))
        except OSError:  # no symlinks (e.g. Windows without developer mode): copy like HF does
            shutil.copyfile(blob, pointer)
    (storage / "refs" / revision).write_text(commit)
    return snapshot


# --- fake Hub API ----------------------------------------------------------------------------


@dataclass
class FakeSibling:
    rfilename: str
    size: int | None = None


@dataclass
class FakeModelInfo:
    """The parts of ``huggingface_hub.ModelInfo`` the engine reads."""

    id: str
    tags: list[str] = field(default_factory=list)
    siblings: list[FakeSibling] | None = None


class FakeOfflineError(ConnectionError):
    """What the fake raises for every call when ``offline=True``."""


class FakeHfApi:
    """An ``HfApi`` stand-in: ESM repos in memory, every call recorded in ``calls``.

    ``aliases`` maps legacy model ids to canonical ones (``model_info(alias).id``); the default
    knows ``bert-base-multilingual-uncased``. With ``offline=True`` every call raises a
    connection error (after being recorded).
    """

    DEFAULT_ALIASES = {
        "bert-base-multilingual-uncased": "google-bert/bert-base-multilingual-uncased",
    }

    def __init__(self, aliases: Mapping[str, str] | None = None, offline: bool = False) -> None:
        self.aliases = dict(self.DEFAULT_ALIASES if aliases is None else aliases)
        self.offline = offline
        self.repos: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []

    def add_esm(
        self,
        repo_id: str,
        base_model: str | None,
        *,
        files: Mapping[str, int] | None = None,
        tags: Iterable[str] = (),
    ) -> None:
        """Register an ESM repo for ``base_model`` (a canonical id) with file sizes in bytes."""
        repo_tags = ["embedding_space_map", *tags]
        if base_model:
            repo_tags += [f"base_model:{base_model}", f"base_model:finetune:{base_model}"]
        self.repos[repo_id] = {
            "tags": repo_tags,
            "files": dict(files or {"config.json": 1500, "model.safetensors": 2_362_600}),
        }

    def _record(self, name: str, arg: Any, kwargs: dict[str, Any]) -> None:
        self.calls.append((name, arg, dict(kwargs)))
        if self.offline:
            raise FakeOfflineError(f"offline: {name}({arg!r})")

    def calls_to(self, name: str) -> list[tuple[str, Any, dict[str, Any]]]:
        return [call for call in self.calls if call[0] == name]

    def list_models(self, *, filter: str | Iterable[str] | None = None, **kwargs: Any):
        self._record(
            "list_models", list([filter] if isinstance(filter, str) else filter or []), kwargs
        )
        wanted = [filter] if isinstance(filter, str) else list(filter or [])
        # Like the Hub, return a lazy iterator.
        return iter(
            [
                FakeModelInfo(id=repo_id, tags=list(repo["tags"]))
                for repo_id, repo in self.repos.items()
                if all(tag in repo["tags"] for tag in wanted)
            ]
        )

    def model_info(self, repo_id: str, *, files_metadata: bool = False, **kwargs: Any):
        self._record("model_info", repo_id, {"files_metadata": files_metadata, **kwargs})
        if repo_id in self.repos:
            repo = self.repos[repo_id]
            siblings = [
                FakeSibling(name, size if files_metadata else None)
                for name, size in repo["files"].items()
            ]
            return FakeModelInfo(id=repo_id, tags=list(repo["tags"]), siblings=siblings)
        if repo_id in self.aliases:
            return FakeModelInfo(id=self.aliases[repo_id])
        if repo_id in self.aliases.values() or self._is_base_model(repo_id):
            return FakeModelInfo(id=repo_id)
        raise KeyError(f"fake Hub: no repository {repo_id!r}")

    def _is_base_model(self, repo_id: str) -> bool:
        return any(f"base_model:{repo_id}" in repo["tags"] for repo in self.repos.values())
