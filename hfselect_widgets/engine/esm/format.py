"""Embedding Space Maps (ESMs) and their configs, in hf-dataset-selector's folder format.

An ESM folder (local or a Hub repo) holds

* ``config.json``: the ESM's metadata (:class:`ESMConfig`), a transformers ``PretrainedConfig``
  dump as hfselect writes it;
* ``model.safetensors`` with ``model.weight`` (D x D) and ``model.bias`` (D), or, in ESMs of
  format version ``"0.1.0"``, ``sequential.0.weight`` / ``sequential.0.bias``; some Hub repos
  carry ``pytorch_model.bin`` instead of safetensors.

The map is ``y = x W^T + b`` (``torch.nn.Linear``). We always *write* the ``model.*`` layout
with ``version: "0.2.1"``: hfselect reads ``version == "0.1.0"`` as "legacy layout" and would
then load our tensors non-strictly, i.e. silently random. Our own package version goes under
``hfselect_widgets_version``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hfselect_widgets._version import __version__
from hfselect_widgets.engine._io import atomic_write, json_safe, write_json
from hfselect_widgets.errors import ESMLoadError, ESMNotInitializedError, InvalidESMConfigError

CONFIG_NAME = "config.json"
SAFETENSORS_NAME = "model.safetensors"
PYTORCH_BIN_NAME = "pytorch_model.bin"

FORMAT_VERSION = "0.2.1"
"""The hfselect format version we write (see the module docstring)."""
LEGACY_FORMAT_VERSION = "0.1.0"

# The metadata keys of hfselect's ESMConfig, in its order.
ESM_CONFIG_KEYS = (
    "base_model_name",
    "task_id",
    "task_subset",
    "text_column",
    "label_column",
    "task_split",
    "num_examples",
    "seed",
    "language",
    "esm_architecture",
    "esm_embedding_dim",
    "lm_num_epochs",
    "lm_batch_size",
    "lm_learning_rate",
    "lm_weight_decay",
    "lm_optimizer",
    "esm_num_epochs",
    "esm_batch_size",
    "esm_learning_rate",
    "esm_weight_decay",
    "esm_optimizer",
    "developers",
    "version",
)

# Tensor layouts found in published ESMs, newest first: (weight name, bias name).
_LAYOUTS = (
    ("model.weight", "model.bias"),
    ("sequential.0.weight", "sequential.0.bias"),
    ("weight", "bias"),
)


class ESMConfig:
    """Metadata of one ESM: the hfselect keys (see ``ESM_CONFIG_KEYS``) plus any extra keys.

    Behaves like hfselect's ``ESMConfig`` (attribute access, ``get()``, ``is_valid``,
    ``to_dict()``, ``from_pretrained()``) but is a plain object, so that parsing thousands of
    configs is fast. Unknown keys found in a file (including transformers' own keys) are kept
    in ``extra`` and written back unchanged.

    ``repo_id`` is where the config was loaded from (a Hub repo id or ``None`` for a folder); it
    is not part of the file. ``source`` is the repo id or the folder path, for messages.
    """

    def __init__(
        self,
        base_model_name: str | None = None,
        task_id: str | None = None,
        task_subset: str | None = None,
        text_column: str | list[str] | tuple[str, ...] | None = None,
        label_column: str | None = None,
        task_split: str | None = None,
        num_examples: int | None = None,
        seed: int | None = None,
        language: str | None = None,
        esm_architecture: str | None = None,
        esm_embedding_dim: int | None = None,
        lm_num_epochs: int | None = None,
        lm_batch_size: int | None = None,
        lm_learning_rate: float | None = None,
        lm_weight_decay: float | None = None,
        lm_optimizer: str | None = None,
        esm_num_epochs: int | None = None,
        esm_batch_size: int | None = None,
        esm_learning_rate: float | None = None,
        esm_weight_decay: float | None = None,
        esm_optimizer: str | None = None,
        developers: str | None = None,
        version: str | None = FORMAT_VERSION,
        **extra: Any,
    ):
        self.base_model_name = base_model_name
        self.task_id = task_id
        self.task_subset = task_subset
        self.text_column = list(text_column) if isinstance(text_column, tuple) else text_column
        self.label_column = label_column
        self.task_split = task_split
        self.num_examples = num_examples
        self.seed = seed
        self.language = language
        self.esm_architecture = esm_architecture
        self.esm_embedding_dim = esm_embedding_dim
        self.lm_num_epochs = lm_num_epochs
        self.lm_batch_size = lm_batch_size
        self.lm_learning_rate = lm_learning_rate
        self.lm_weight_decay = lm_weight_decay
        self.lm_optimizer = lm_optimizer
        self.esm_num_epochs = esm_num_epochs
        self.esm_batch_size = esm_batch_size
        self.esm_learning_rate = esm_learning_rate
        self.esm_weight_decay = esm_weight_decay
        self.esm_optimizer = esm_optimizer
        self.developers = developers
        self.version = version
        self.repo_id: str | None = extra.pop("repo_id", None)
        self.source: str | None = extra.pop("source", None) or self.repo_id
        self.extra: dict[str, Any] = extra
        # Each ranker's score of this ESM in the ranking that produced this config (not part of
        # the ESM; set by the scoring loop, carried by TaskRanking rows, never written to disk).
        self.ranker_scores: dict[str, float] = {}
        # Its rank interval under resampling of the target (see scoring/uncertainty.py).
        self.rank_interval: dict[str, Any] | None = None

    # -- dict-like access, as hfselect's config offers -------------------------------------

    def get(self, attr_name: str, default_return_val: Any = None) -> Any:
        """The value of ``attr_name`` (a hfselect key or an extra key), else ``default_return_val``.

        hfselect's signature and meaning: a hfselect key that is ``None`` gives ``None``.
        """
        if attr_name in ESM_CONFIG_KEYS or attr_name in ("repo_id", "source"):
            value = getattr(self, attr_name)
            if value is None and attr_name in ("repo_id", "source"):
                return default_return_val
            return value
        return self.extra.get(attr_name, default_return_val)

    def __getitem__(self, name: str) -> Any:
        if name in ESM_CONFIG_KEYS:
            return getattr(self, name)
        return self.extra[name]

    def update(self, values: Mapping[str, Any]) -> None:
        """Set several keys at once, as ``PretrainedConfig.update`` (hfselect's trainer uses it).

        hfselect keys become attributes, ``repo_id``/``source`` set the (unsaved) origin as in
        the constructor, and every other key goes to ``extra``.
        """
        for key, value in dict(values).items():
            if key == "text_column" and isinstance(value, tuple):
                value = list(value)
            if key in ESM_CONFIG_KEYS or key in ("repo_id", "source"):
                setattr(self, key, value)
            else:
                self.extra[key] = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ESMConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return (
            f"ESMConfig(task_id={self.task_id!r}, task_subset={self.task_subset!r}, "
            f"base_model_name={self.base_model_name!r}, repo_id={self.repo_id!r})"
        )

    # -- validity ---------------------------------------------------------------------------

    def validation_error(self) -> str | None:
        """Why this config is invalid, or ``None`` if it is valid."""
        for key in ("base_model_name", "task_id"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value.strip():
                return f"'{key}' must be a non-empty string (got {value!r})"
        arch = self.esm_architecture
        if arch is not None and arch != "linear":
            return f"unsupported esm_architecture {arch!r} (only 'linear' exists)"
        dim = self.esm_embedding_dim
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0):
            return f"'esm_embedding_dim' must be a positive integer (got {dim!r})"
        return None

    @property
    def is_valid(self) -> bool:
        """Whether the config names a base model and a task (hfselect's rule) and is well typed."""
        return self.validation_error() is None

    def validate(self) -> None:
        """Raise :class:`InvalidESMConfigError` with the reason if the config is invalid."""
        reason = self.validation_error()
        if reason is not None:
            raise InvalidESMConfigError(
                f"Invalid ESM config ({self.source or 'unsaved'}): {reason}."
            )

    # -- (de)serialisation ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The config as written to ``config.json`` (extra keys first, hfselect keys last)."""
        data = {k: json_safe(v) for k, v in self.extra.items()}
        for key in ESM_CONFIG_KEYS:
            data[key] = json_safe(getattr(self, key))
        return data

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, repo_id: str | None = None, source: str | None = None
    ) -> ESMConfig:
        """Build a config from a parsed ``config.json`` (unknown keys go to ``extra``)."""
        if not isinstance(data, Mapping):
            raise InvalidESMConfigError(
                f"Invalid ESM config ({source or repo_id}): expected a JSON object, "
                f"got {type(data).__name__}."
            )
        data = dict(data)
        data.pop("repo_id", None)
        data.pop("source", None)
        return cls(**data, repo_id=repo_id, source=source or repo_id)

    @classmethod
    def from_json_file(cls, path: str | os.PathLike, *, repo_id: str | None = None) -> ESMConfig:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as exc:
            raise InvalidESMConfigError(
                f"Invalid ESM config ({repo_id or path}): {path.name} is not valid JSON ({exc})."
            ) from exc
        return cls.from_dict(data, repo_id=repo_id, source=repo_id or str(path.parent))

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, **hub_kwargs: Any
    ) -> ESMConfig:
        """Read ``config.json`` from a local ESM folder or a Hub repo (through the HF cache).

        ``hub_kwargs`` go to ``huggingface_hub.hf_hub_download`` (``revision``, ``cache_dir``,
        ``token``, ``local_files_only``, ``force_download``), as transformers'
        ``PretrainedConfig.from_pretrained`` (hfselect's ``ESMConfig``) takes them.
        """
        path = Path(os.path.expanduser(str(pretrained_model_name_or_path)))
        if path.is_dir():
            config_path = path / CONFIG_NAME
            if not config_path.is_file():
                raise ESMLoadError(str(path), f"no {CONFIG_NAME} in the folder")
            return cls.from_json_file(config_path)
        from huggingface_hub import hf_hub_download

        repo_id = str(pretrained_model_name_or_path)
        local = hf_hub_download(repo_id, CONFIG_NAME, **_hub_download_kwargs(hub_kwargs))
        return cls.from_json_file(local, repo_id=repo_id)

    def save_pretrained(self, save_directory: str | os.PathLike) -> Path:
        """Write ``config.json`` (atomically) into ``save_directory``; return its path."""
        path = Path(save_directory) / CONFIG_NAME
        data = _transformers_defaults()
        data.update(self.to_dict())
        data["hfselect_widgets_version"] = data.get("hfselect_widgets_version") or __version__
        write_json(path, data, indent=2, sort_keys=True)
        return path


# Keywords of older ``PyTorchModelHubMixin.from_pretrained`` versions that huggingface_hub now
# ignores (and ``hf_hub_download`` no longer accepts): dropped, as the Hub library does.
_OBSOLETE_HUB_KWARGS = ("resume_download", "proxies")


def _hub_download_kwargs(hub_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``hub_kwargs`` for ``hf_hub_download``: ``None`` values and obsolete keywords dropped."""
    return {
        key: value
        for key, value in hub_kwargs.items()
        if value is not None and key not in _OBSOLETE_HUB_KWARGS
    }


def _transformers_defaults() -> dict[str, Any]:
    """The keys a transformers ``PretrainedConfig`` dump carries (hfselect's config files have them)."""
    try:
        from transformers import PretrainedConfig

        return PretrainedConfig().to_dict()
    except Exception:  # transformers missing or changed: the keys are cosmetic
        return {}


# --- weights -------------------------------------------------------------------------------


def _find_weights_file(folder: Path) -> Path | None:
    for name in (SAFETENSORS_NAME, PYTORCH_BIN_NAME):
        if (folder / name).is_file():
            return folder / name
    return None


def read_esm_weights(weights_file: str | os.PathLike, source: str | None = None):
    """Read and check the weight matrix and bias of an ESM file.

    Detects the layout by tensor names (``model.*``, legacy ``sequential.0.*``). ``.bin`` files
    are read with ``weights_only=True`` because they come from strangers. Returns
    ``(weight, bias)`` as float32 torch tensors, shapes (D, D) and (D,).

    Raises :class:`ESMLoadError` for unreadable files, unknown layouts, wrong shapes and
    non-finite values.
    """
    weights_file = Path(weights_file)
    source = source or str(weights_file.parent)
    try:
        if weights_file.suffix == ".safetensors":
            from safetensors.torch import load_file

            tensors = load_file(str(weights_file), device="cpu")
        else:
            tensors = torch.load(str(weights_file), map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ESMLoadError(source, f"weights file {weights_file.name} is missing") from exc
    except Exception as exc:
        raise ESMLoadError(
            source, f"weights file {weights_file.name} is corrupt or unreadable ({exc})"
        ) from exc
    if not isinstance(tensors, Mapping):
        raise ESMLoadError(source, f"{weights_file.name} does not hold a dict of tensors")
    for weight_name, bias_name in _LAYOUTS:
        if weight_name in tensors and bias_name in tensors:
            weight, bias = tensors[weight_name], tensors[bias_name]
            break
    else:
        names = ", ".join(sorted(map(str, tensors))[:6]) or "none"
        raise ESMLoadError(
            source,
            f"unknown tensor layout (expected model.weight/model.bias or "
            f"sequential.0.weight/sequential.0.bias; found {names})",
        )
    if not (isinstance(weight, torch.Tensor) and isinstance(bias, torch.Tensor)):
        raise ESMLoadError(source, "weights are not tensors")
    if weight.ndim != 2 or weight.shape[0] != weight.shape[1] or bias.shape != weight.shape[:1]:
        raise ESMLoadError(
            source,
            f"a linear ESM needs a square weight and a matching bias; got weight "
            f"{tuple(weight.shape)} and bias {tuple(bias.shape)}",
        )
    weight = weight.detach().to(torch.float32).contiguous()
    bias = bias.detach().to(torch.float32).contiguous()
    if not (torch.isfinite(weight).all() and torch.isfinite(bias).all()):
        raise ESMLoadError(source, "weights contain NaN or infinite values")
    return weight, bias


def resolve_esm_folder(
    repo_id_or_path: str | os.PathLike, **hub_kwargs: Any
) -> tuple[Path, str | None]:
    """The local folder holding an ESM and its repo id (``None`` for a local folder).

    A Hub repo is fetched through the Hugging Face cache (config and one weights file only), so
    ``HF_HUB_OFFLINE=1`` uses what is cached.
    """
    path = Path(os.path.expanduser(str(repo_id_or_path)))
    if path.is_dir():
        return path, None
    from huggingface_hub import hf_hub_download

    repo_id = str(repo_id_or_path)
    hub_kwargs = _hub_download_kwargs(hub_kwargs)
    config_file = Path(hf_hub_download(repo_id, CONFIG_NAME, **hub_kwargs))
    try:
        hf_hub_download(repo_id, SAFETENSORS_NAME, **hub_kwargs)
    except Exception as first_error:
        # Older repos carry pytorch_model.bin; offline, only one of the two may be cached.
        try:
            hf_hub_download(repo_id, PYTORCH_BIN_NAME, **hub_kwargs)
        except Exception:
            raise first_error from None
    return config_file.parent, repo_id


def load_esm_parts(
    folder: str | os.PathLike, repo_id: str | None = None
) -> tuple[ESMConfig, torch.Tensor, torch.Tensor]:
    """Read and check an ESM folder without building a module: ``(config, weight, bias)``.

    The ranking engine streams over thousands of ESMs with this. Raises :class:`ESMLoadError`
    or :class:`InvalidESMConfigError` with the reason when the ESM cannot be used.
    """
    folder = Path(folder)
    source = repo_id or str(folder)
    config_path = folder / CONFIG_NAME
    if not config_path.is_file():
        raise ESMLoadError(source, f"no {CONFIG_NAME} found")
    config = ESMConfig.from_json_file(config_path, repo_id=repo_id)
    config.source = source
    config.validate()
    weights_file = _find_weights_file(folder)
    if weights_file is None:
        raise ESMLoadError(
            source, f"no weights found (expected {SAFETENSORS_NAME} or {PYTORCH_BIN_NAME})"
        )
    weight, bias = read_esm_weights(weights_file, source)
    dim = weight.shape[0]
    if config.esm_embedding_dim is not None and config.esm_embedding_dim != dim:
        raise ESMLoadError(
            source,
            f"config says esm_embedding_dim={config.esm_embedding_dim} but the weights are "
            f"{dim} x {dim}",
        )
    return config, weight, bias


class ESM(nn.Module):
    """A linear Embedding Space Map ``y = x W^T + b`` with its :class:`ESMConfig`.

    Drop-in for ``hfselect.ESM``: ``ESM(architecture="linear", embedding_dim=D, config=...)``,
    ``ESM.from_pretrained(...)``, ``esm(x)``, ``save_pretrained``, ``push_to_hub``,
    ``publish``, ``convert_legacy_to_new``, ``create_config``. The dimension comes from
    ``embedding_dim`` or the config's ``esm_embedding_dim`` (architecture ``"linear"`` unless
    stated); with neither, the ESM has no map yet, as in hfselect (``is_initialized`` is
    ``False`` and using it raises :class:`ESMNotInitializedError`).

    Publishing (:meth:`publish`, :meth:`push_to_hub`, ``save_pretrained(push_to_hub=True)``)
    goes through :func:`~hfselect_widgets.engine.hub.publish.publish_esm`: unlike hfselect,
    an existing Hub repo is written to only with ``exist_ok=True`` (an empty repo) or
    ``overwrite=True`` (a repo holding an ESM), and never when it holds anything else.
    """

    def __init__(
        self,
        architecture: str | None = None,
        embedding_dim: int | None = None,
        config: ESMConfig | Mapping[str, Any] | None = None,
    ):
        super().__init__()
        if config is None:
            config = ESMConfig()
        elif not isinstance(config, ESMConfig):
            config = ESMConfig.from_dict(config)
        self.config = config
        architecture = architecture or config.esm_architecture
        embedding_dim = embedding_dim or config.esm_embedding_dim
        if architecture is None and embedding_dim is None:
            # hfselect's ESM() with nothing known: no map until one is loaded or trained.
            self.model: nn.Linear | None = None
            return
        architecture = architecture or "linear"
        if architecture != "linear":
            raise InvalidESMConfigError(
                f"Unsupported ESM architecture {architecture!r}: only 'linear' exists."
            )
        if embedding_dim is None:
            raise ESMNotInitializedError(
                "Embedding dimension not provided: pass embedding_dim=... or a config with "
                "esm_embedding_dim."
            )
        self.config.esm_architecture = architecture
        self.config.esm_embedding_dim = int(embedding_dim)
        self.model = nn.Linear(int(embedding_dim), int(embedding_dim))

    # -- convenience -----------------------------------------------------------------------

    @property
    def embedding_dim(self) -> int:
        return self._initialized_model().in_features

    @property
    def repo_id(self) -> str | None:
        return self.config.repo_id

    @property
    def is_initialized(self) -> bool:
        """Whether the ESM has a map (``False`` only for ``ESM()`` without a dimension)."""
        return self.model is not None

    @property
    def is_legacy_model(self) -> bool:
        """Always ``False``: legacy layouts are converted while loading."""
        return False

    def convert_legacy_to_new(self) -> None:
        """hfselect compatibility: nothing to do, legacy ESMs are converted while loading."""

    def create_config(self) -> ESMConfig:
        """The ESM's config (hfselect compatibility)."""
        return self.config

    def _initialized_model(self) -> nn.Linear:
        if self.model is None:
            raise ESMNotInitializedError()
        return self.model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._initialized_model()(x)

    def __repr__(self) -> str:
        return (
            f"ESM - Task ID: {self.config.get('task_id') or 'N/A'} - "
            f"Subset: {self.config.get('task_subset') or 'N/A'}"
        )

    __str__ = __repr__

    # -- loading and saving ------------------------------------------------------------------

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, repo_id: str | None = None) -> ESM:
        """Load an ESM from a local folder, checking config and weights (see :meth:`from_pretrained`)."""
        config, weight, bias = load_esm_parts(folder, repo_id=repo_id)
        esm = cls(architecture="linear", embedding_dim=weight.shape[0], config=config)
        with torch.no_grad():
            esm.model.weight.copy_(weight)
            esm.model.bias.copy_(bias)
        return esm

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *,
        force_download: bool = False,
        token: str | bool | None = None,
        cache_dir: str | os.PathLike | None = None,
        local_files_only: bool = False,
        revision: str | None = None,
        **hub_kwargs: Any,
    ) -> ESM:
        """Load an ESM from a local folder or a Hub repo id (through the Hugging Face cache).

        The keywords are ``PyTorchModelHubMixin.from_pretrained``'s (hfselect's ESM); they and
        ``hub_kwargs`` (e.g. ``subfolder``) go to ``huggingface_hub.hf_hub_download`` and are
        not used for a local folder. Accepts every published layout (``model.*`` and legacy
        ``sequential.0.*`` tensors, ``model.safetensors`` or ``pytorch_model.bin``). Raises
        :class:`ESMLoadError` or :class:`InvalidESMConfigError` with the reason when the ESM
        cannot be used.
        """
        folder, repo_id = resolve_esm_folder(
            pretrained_model_name_or_path,
            force_download=force_download,
            token=token,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            revision=revision,
            **hub_kwargs,
        )
        return cls.from_folder(folder, repo_id=repo_id)

    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        *,
        config: ESMConfig | Mapping[str, Any] | None = None,
        repo_id: str | None = None,
        push_to_hub: bool = False,
        model_card_kwargs: Mapping[str, Any] | None = None,
        **push_to_hub_kwargs: Any,
    ) -> Any:
        """Write ``config.json`` and ``model.safetensors`` in hfselect's format.

        Like hfselect, this replaces the files of an ESM already in ``save_directory``; each file
        is written atomically, so a crash never leaves a half-written ESM. ``config`` (an
        :class:`ESMConfig` or a dict) is written instead of the ESM's own config.

        With ``push_to_hub=True`` the folder is then published as ``repo_id`` (default: the
        folder's name, as huggingface_hub does) through :meth:`push_to_hub`;
        ``push_to_hub_kwargs`` go there (``token``, ``private``, ``commit_message``,
        ``exist_ok``, ``overwrite``, ``hf_api``). Returns the folder, or the
        :class:`~hfselect_widgets.engine.hub.publish.PublishResult` when pushing.
        """
        from safetensors.torch import save

        model = self._initialized_model()
        written = self.config if config is None else _as_config(config)
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        if written.version == LEGACY_FORMAT_VERSION or not written.version:
            # We write the model.* layout, which hfselect only reads for non-legacy versions.
            written.version = FORMAT_VERSION
        written.esm_architecture = "linear"
        written.esm_embedding_dim = self.embedding_dim
        tensors = {
            "model.weight": model.weight.detach().cpu().contiguous(),
            "model.bias": model.bias.detach().cpu().contiguous(),
        }
        atomic_write(folder / SAFETENSORS_NAME, save(tensors, metadata={"format": "pt"}))
        written.save_pretrained(folder)
        if not push_to_hub:
            return folder
        saved = ESM.from_folder(folder)
        return saved.push_to_hub(
            repo_id or folder.resolve().name,
            model_card_kwargs=model_card_kwargs,
            **push_to_hub_kwargs,
        )

    def push_to_hub(
        self,
        repo_id: str,
        *,
        config: ESMConfig | Mapping[str, Any] | None = None,
        commit_message: str | None = None,
        private: bool | None = None,
        token: str | None = None,
        exist_ok: bool = False,
        overwrite: bool = False,
        hf_api: Any = None,
        **unsupported: Any,
    ) -> Any:
        """Upload the ESM (config, weights and a model card) to the Hub repo ``repo_id``.

        ``PyTorchModelHubMixin.push_to_hub``'s keywords, through
        :func:`~hfselect_widgets.engine.hub.publish.publish_esm` and its checks: an existing
        repo needs ``exist_ok=True`` (empty) or ``overwrite=True`` (holding an ESM). ``branch``,
        ``create_pr``, ``allow_patterns``, ``ignore_patterns``, ``delete_patterns`` and
        ``model_card_kwargs`` are refused (one commit to ``main`` with the card built from the
        config). ``config`` replaces the ESM's own config for this upload. Returns a
        :class:`~hfselect_widgets.engine.hub.publish.PublishResult`.
        """
        from hfselect_widgets.engine.hub.publish import publish_esm
        from hfselect_widgets.errors import PublishError

        given = sorted(name for name, value in unsupported.items() if value is not None)
        if given:
            raise PublishError(
                f"push_to_hub does not support {', '.join(given)}: an ESM is published as one "
                "commit to the main branch, with a model card built from its config."
            )
        esm = self if config is None else self._with_config(_as_config(config))
        return publish_esm(
            esm,
            repo_id,
            token=token,
            private=bool(private),
            exist_ok=exist_ok,
            overwrite=overwrite,
            commit_message=commit_message,
            hf_api=hf_api,
        )

    def publish(
        self,
        repo_id: str,
        config: ESMConfig | Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        private: bool = False,
        exist_ok: bool = False,
        overwrite: bool = False,
        commit_message: str | None = None,
        hf_api: Any = None,
    ) -> Any:
        """Publish the ESM to the Hub with a model card (hfselect's ``ESM.publish``).

        ``config`` (an :class:`ESMConfig` or a dict) replaces the ESM's config for the upload;
        it must name the base model and the task (:class:`InvalidESMConfigError` otherwise).
        The rest as in :meth:`push_to_hub`; returns its
        :class:`~hfselect_widgets.engine.hub.publish.PublishResult`.
        """
        return self.push_to_hub(
            repo_id,
            config=config,
            commit_message=commit_message,
            private=private,
            token=token,
            exist_ok=exist_ok,
            overwrite=overwrite,
            hf_api=hf_api,
        )

    def to_disk(self, filepath: str | os.PathLike) -> Path:
        """Write the weights alone (``model.weight``/``model.bias``) to a safetensors file.

        From hf-dataset-selector before 0.2 (its tutorial 3 still calls it); the file holds no
        config: use :meth:`save_pretrained` for an ESM others can load and rank with.
        """
        from safetensors.torch import save

        weight, bias = self.weights()
        path = Path(filepath)
        tensors = {"model.weight": weight.contiguous(), "model.bias": bias.contiguous()}
        atomic_write(path, save(tensors, metadata={"format": "pt"}))
        return path

    @classmethod
    def from_disk(cls, filepath: str | os.PathLike, device_name: str = "cpu") -> ESM:
        """Load weights written by :meth:`to_disk` (any layout :func:`read_esm_weights` reads).

        The ESM gets an empty config; ``.bin``/``.pt`` files are read with
        ``weights_only=True``.
        """
        weight, bias = read_esm_weights(filepath)
        esm = cls(architecture="linear", embedding_dim=weight.shape[0])
        with torch.no_grad():
            esm.model.weight.copy_(weight)
            esm.model.bias.copy_(bias)
        return esm.to(torch.device(device_name))

    def _with_config(self, config: ESMConfig) -> ESM:
        """A copy of this ESM's weights with ``config`` (the original is not changed)."""
        copy = ESM(architecture="linear", embedding_dim=self.embedding_dim, config=config)
        weight, bias = self.weights()
        with torch.no_grad():
            copy.model.weight.copy_(weight)
            copy.model.bias.copy_(bias)
        return copy

    def weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(W, b)`` as detached float32 CPU tensors."""
        model = self._initialized_model()
        return (
            model.weight.detach().to("cpu", torch.float32),
            model.bias.detach().to("cpu", torch.float32),
        )


def _as_config(config: ESMConfig | Mapping[str, Any]) -> ESMConfig:
    """An :class:`ESMConfig` from an ``ESMConfig`` (a fresh copy) or a dict."""
    if isinstance(config, ESMConfig):
        return ESMConfig.from_dict(config.to_dict(), repo_id=config.repo_id, source=config.source)
    if isinstance(config, Mapping):
        return ESMConfig.from_dict(config)
    raise TypeError(f"config must be an ESMConfig or a dict, got {type(config).__name__}.")


def esm_file_size(folder: str | os.PathLike) -> int:
    """Bytes of the weights file in an ESM folder (0 if none)."""
    found = _find_weights_file(Path(folder))
    return found.stat().st_size if found else 0


def expected_weights_bytes(dim: int) -> int:
    """Approximate size of a linear ESM's safetensors file for dimension ``dim`` (float32)."""
    return 4 * (dim * dim + dim) + 200


__all__ = [
    "ESM",
    "ESMConfig",
    "ESM_CONFIG_KEYS",
    "FORMAT_VERSION",
    "read_esm_weights",
    "load_esm_parts",
    "resolve_esm_folder",
    "esm_file_size",
    "expected_weights_bytes",
]
