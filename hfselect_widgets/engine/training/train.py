"""Train ESMs: hfselect's :class:`ESMTrainer`, and :func:`train_esm`, dataset in, ESM folder out.

:func:`train_esm` does the whole path that hfselect leaves to its users: fine-tune the base model
on the dataset (:mod:`.finetune`), embed the dataset with the base and the fine-tuned model
(:mod:`.embedding_dataset`), fit the map (:mod:`.esm_fit`), and write an ESM folder whose config
records every hyper-parameter, the fit's quality and the data's provenance. It refuses to replace
an existing folder unless asked, and writes through a staging folder beside the target, so a
crash never leaves a half-written ESM.

:class:`ESMTrainer` keeps hf-dataset-selector 0.2.1's API and behaviour (its SGD recipe, its
``train_info.json``, overwriting ``output_dir``), with files written atomically.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from hfselect_widgets._version import __version__
from hfselect_widgets.engine.embedding.model import (
    DEFAULT_MAX_LENGTH,
    BaseModel,
    _embedding_dim,
    detect_pooling,
    load_base_model,
    resolve_device,
)
from hfselect_widgets.engine.embedding.pairs import (
    EmbeddingDataset,
    as_tuned_base_model,
    create_embedding_dataset,
)
from hfselect_widgets.engine.esm.fit import (
    FIT_METHODS,
    HFSELECT_SGD_DEFAULTS,
    STAGE_ESM_FIT,
    FitResult,
    _step_reporter,
    fit_esm,
    train_linear_sgd,
)
from hfselect_widgets.engine.esm.format import ESM, FORMAT_VERSION, ESMConfig, _atomic_write_bytes
from hfselect_widgets.engine.model_ids import DEMO_MODEL, is_local_path, model_id_for_path
from hfselect_widgets.engine.progress import CancelToken, ProgressCallback, check_cancel
from hfselect_widgets.engine.training.finetune import (
    FineTuneConfig,
    FineTuneResult,
    FineTuneValidation,
    fine_tune,
)
from hfselect_widgets.errors import OutputExistsError, TrainingConfigError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hfselect_widgets.engine.data.dataset import Dataset

logger = logging.getLogger(__name__)

TRAIN_INFO_NAME = "train_info.json"


# --- writing folders -------------------------------------------------------------------------


def _folder_in_use(path: Path) -> bool:
    """Whether ``path`` is a file, or a folder with anything in it."""
    if not path.exists():
        return False
    return not path.is_dir() or any(path.iterdir())


def check_output_dir(output_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Raise :class:`OutputExistsError` unless ``output_dir`` may be written.

    Free: it does not exist, or is an empty folder. With ``overwrite``, an existing folder
    (never a file) may be replaced as a whole.
    """
    path = Path(output_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise OutputExistsError(str(path))
    if _folder_in_use(path) and not overwrite:
        raise OutputExistsError(str(path))
    return path


def _staging_folder(target: Path) -> Path:
    """A new hidden folder beside ``target`` (same file system, so a rename is atomic)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    staging.mkdir()  # os.mkdir honours the umask (tempfile.mkdtemp would make it private)
    return staging


def _default_file_mode() -> int:
    """The mode ``open()`` gives new files (0o666 minus the umask), read without changing it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644


def _make_files_readable(folder: Path) -> None:
    """Give staged files the usual mode: atomic writes create them private (0600)."""
    mode = _default_file_mode()
    for file in folder.iterdir():
        if file.is_file():
            file.chmod(mode)


def write_folder_atomically(
    output_dir: Path, write: Callable[[Path], None], *, overwrite: bool
) -> None:
    """Let ``write`` fill a staging folder, then rename it to ``output_dir`` in one step.

    An existing ``output_dir`` (allowed by ``overwrite`` or empty) is moved aside first and
    deleted only once the new folder is in place; on any failure the staging folder is
    removed and the old folder, if any, is put back.
    """
    staging = _staging_folder(output_dir)
    try:
        write(staging)
        _make_files_readable(staging)
        check_output_dir(output_dir, overwrite)  # again: the folder may have appeared meanwhile
        if output_dir.exists():
            aside = output_dir.parent / f".{output_dir.name}.old-{uuid.uuid4().hex[:12]}"
            os.rename(output_dir, aside)
            try:
                os.rename(staging, output_dir)
            except BaseException:
                os.rename(aside, output_dir)
                raise
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(staging, output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _replace_files_atomically(output_dir: Path, write: Callable[[Path], None]) -> None:
    """Let ``write`` fill a staging folder, then move each of its files into ``output_dir``.

    Other files in ``output_dir`` are kept (as hfselect's ``save_pretrained`` keeps them); each
    file is replaced in one rename, after all of them were written in full.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = _staging_folder(output_dir)
    try:
        write(staging)
        _make_files_readable(staging)
        for file in sorted(staging.iterdir()):
            os.replace(file, output_dir / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    _atomic_write_bytes(path, (json.dumps(data, indent=2, default=_json_default) + "\n").encode())


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)


def _json_safe(value: Any) -> Any:
    """``value`` as plain JSON types (numpy scalars converted, unknown objects as ``str``)."""
    return json.loads(json.dumps(value, default=_json_default))


# --- hfselect's trainer ----------------------------------------------------------------------


class ESMTrainer:
    """hf-dataset-selector's ``ESMTrainer``: fit an ESM to embedding pairs with its SGD recipe.

    Same constructor, methods, defaults and results as hfselect 0.2.1: MSE, AdamW (learning
    rate 0.01, weight decay 0.01), a linear schedule without warm-up, gradient clipping at 1.0,
    batches in random order drawn from the global torch RNG, ``train_info.json`` beside the ESM.
    ``torch.manual_seed(s)`` before :meth:`train_with_embeddings` gives bit for bit the weights
    hfselect gives after the same seed and call (checked on CPU with torch 2.13). Differences: files are written atomically; a new optimizer is made whenever a new model
    is (hfselect keeps the optimizer of the previous model, which then trains nothing); the
    fine-tuned model is embedded with the base model's pooling (hfselect picks it from each
    model's name); and ``progress``/``cancel`` are accepted.
    """

    def __init__(
        self,
        model: nn.Module | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        weight_decay: float = 0.01,
        learning_rate: float = 0.01,
        device_name: str = "cpu",
    ):
        """Create a trainer; ``device_name`` other than "cpu" is used only if CUDA is present."""
        self.model = model
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.scheduler = None
        if device_name != "cpu" and torch.cuda.is_available():
            self.device = torch.device(device_name)
        else:
            self.device = torch.device("cpu")
        self.loss_fct = nn.MSELoss()
        self.total_loss = 0.0
        self.num_train_examples = 0

    def reset_loss(self) -> None:
        """Reset the running loss (hfselect compatibility)."""
        self.total_loss = 0.0
        self.num_train_examples = 0

    @property
    def avg_loss(self) -> float:
        """The last epoch's summed batch losses per training example (hfselect's definition)."""
        return self.total_loss / self.num_train_examples

    def _create_model(self, architecture: str | None, embedding_dim: int) -> ESM:
        return ESM(architecture=architecture, embedding_dim=embedding_dim)

    def _create_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            model.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )

    def train_with_embeddings(
        self,
        embedding_dataset: EmbeddingDataset,
        architecture: str | None = "linear",
        output_dir: str | os.PathLike | None = None,
        num_epochs: int = 10,
        batch_size: int = 32,
        reset_model: bool = True,
        verbose: int = 1,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ESM:
        """Fit an ESM to the embedding pairs (hfselect's recipe) and return it.

        Args:
            embedding_dataset: base (``x``) and fine-tuned (``y``) embeddings; its metadata goes
                into the ESM's config.
            architecture: ``"linear"`` (the only one).
            output_dir: if given, the ESM (``config.json``, ``model.safetensors``) and
                ``train_info.json`` are written there, replacing those files (as hfselect).
            num_epochs, batch_size: the SGD settings.
            reset_model: ``False`` trains the trainer's current model further.
            verbose: with no ``progress`` callback, ``>= 1`` draws tqdm bars as hfselect does
                (``0`` draws nothing).
            progress: ``progress("esm_fit", step, total_steps)``.
            cancel: checked before each step.
        """
        if not isinstance(embedding_dataset, EmbeddingDataset):  # e.g. hfselect's own class
            embedding_dataset = EmbeddingDataset(
                embedding_dataset.x,
                embedding_dataset.y,
                metadata=getattr(embedding_dataset, "metadata", None),
            )
        if embedding_dataset.num_rows == 0:
            raise TrainingConfigError("The embedding dataset is empty: there is nothing to fit.")
        new_model = self.model is None or reset_model
        if new_model:
            self.model = self._create_model(architecture, embedding_dataset.embedding_dim)
        self.model.to(self.device)
        if self.optimizer is None or new_model:
            self.optimizer = self._create_optimizer(self.model)

        x, y = embedding_dataset.tensors()
        total_steps = math.ceil(len(x) / batch_size) * num_epochs
        bars = None
        if progress is None and verbose >= 1:
            from hfselect_widgets.engine.progress import TqdmProgress

            bars = progress = TqdmProgress()
        try:
            history = train_linear_sgd(
                self.model,
                x,
                y,
                self.optimizer,
                num_epochs=num_epochs,
                batch_size=batch_size,
                device=self.device,
                on_step=_step_reporter(progress, total_steps),
                cancel=cancel,
            )
        finally:
            if bars is not None:
                bars.close()
        self.total_loss = history.epoch_avg_losses[-1] * len(x) if history.epoch_avg_losses else 0
        self.num_train_examples = len(x)

        config = ESMConfig(
            esm_num_epochs=num_epochs,
            esm_learning_rate=self.learning_rate,
            esm_weight_decay=self.weight_decay,
            esm_batch_size=batch_size,
            esm_architecture=architecture,
            esm_embedding_dim=embedding_dataset.embedding_dim,
            esm_optimizer=type(self.optimizer).__name__.lower(),
            esm_fit_method="hfselect",
        )
        config.update(embedding_dataset.metadata)
        self.model.config = config

        if output_dir:
            folder = Path(output_dir)
            if folder.is_dir():
                logger.warning("Overwriting ESM at path: %s", folder)
            train_info = {
                "training_completed_timestamp": datetime.now().strftime("%m/%d/%Y, %H:%M:%S"),
                "num_epochs": num_epochs,
                "num_train_examples": len(embedding_dataset),
                "epoch_train_durations": history.epoch_durations,
                "epoch_avg_losses": history.epoch_avg_losses,
            }

            def write(staging: Path) -> None:
                self.model.save_pretrained(staging)
                _write_json(staging / TRAIN_INFO_NAME, train_info)

            _replace_files_atomically(folder, write)
        return self.model

    def train_with_models(
        self,
        dataset: Dataset,
        base_model: Any,
        tuned_model: Any,
        tokenizer: Any = None,
        architecture: str | None = "linear",
        model_output_dir: str | os.PathLike | None = None,
        embeddings_output_filepath: str | os.PathLike | None = None,
        num_epochs: int = 10,
        train_batch_size: int = 32,
        embeddings_batch_size: int = 128,
        device_name: str = "cpu",
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ESM:
        """Embed ``dataset`` with the base and the fine-tuned model, then fit an ESM.

        Args:
            dataset: the dataset the model was fine-tuned on (:class:`data.Dataset`).
            base_model: the base encoder (a transformers model, or a :class:`BaseModel`).
            tuned_model: the fine-tuned encoder (a transformers model, a :class:`BaseModel`
                or a :class:`FineTuneResult`); embedded with the base model's tokenizer and
                pooling.
            tokenizer: the tokenizer (not needed for a :class:`BaseModel`).
            model_output_dir: where to write the ESM (see :meth:`train_with_embeddings`).
            embeddings_output_filepath: where to save the :class:`EmbeddingDataset`.
            num_epochs, train_batch_size: the SGD settings.
            embeddings_batch_size: texts per embedding batch.
            device_name: device for embedding ("cpu", "cuda", ...).
        """
        device = resolve_device(device_name)
        base = wrap_base_model(base_model, tokenizer, device)
        tuned = as_tuned_base_model(tuned_model, base, device)
        embedding_dataset = create_embedding_dataset(
            dataset,
            base,
            tuned,
            batch_size=embeddings_batch_size,
            progress=progress,
            cancel=cancel,
        )
        if embeddings_output_filepath:
            embedding_dataset.save(embeddings_output_filepath)
        return self.train_with_embeddings(
            embedding_dataset=embedding_dataset,
            architecture=architecture,
            output_dir=model_output_dir,
            num_epochs=num_epochs,
            batch_size=train_batch_size,
            progress=progress,
            cancel=cancel,
        )


def wrap_base_model(
    model: Any, tokenizer: Any = None, device: torch.device | str = "cpu"
) -> BaseModel:
    """A :class:`BaseModel` for a transformers encoder and its tokenizer (hfselect's inputs).

    The Hub id is the model's ``name_or_path`` (for the pip-packaged MiniLM folder:
    ``sentence-transformers/all-MiniLM-L6-v2``; for another local folder: none), and the
    pooling follows the ranking rules (:func:`embedding.detect_pooling`).
    """
    if isinstance(model, BaseModel):
        return model
    if tokenizer is None:
        raise TrainingConfigError(
            "A tokenizer is needed with a transformers model: pass tokenizer=..., or pass a "
            "BaseModel from load_base_model()."
        )
    device = resolve_device(device)
    name = str(getattr(model, "name_or_path", "") or "")
    if name and is_local_path(name):
        model_id = model_id_for_path(name)
    else:
        model_id = name or None
    model.to(device)
    model.eval()
    return BaseModel(
        model=model,
        tokenizer=tokenizer,
        model_id=model_id,
        load_from=name or "in-memory model",
        pooling=detect_pooling(model, name, model_id),
        embedding_dim=_embedding_dim(model, name or "model"),
        device=device,
        max_length=DEFAULT_MAX_LENGTH,
    )


# --- the whole path --------------------------------------------------------------------------


@dataclass
class TrainedESM:
    """The outcome of :func:`train_esm`.

    Attributes:
        esm: the trained ESM (its ``config`` records everything, see :func:`train_esm`).
        output_dir: the folder written, or ``None`` when none was asked for.
        fit: the ESM fit with its hold-out quality.
        embedding_dataset: the embedding pairs the ESM was fitted to.
        finetune_losses: the fine-tuning loss of every step.
        finetune_seconds, embedding_seconds, fit_seconds, total_seconds: wall-clock times.
        validation: what the fine-tuned model learned on held-out rows (``None`` when
            ``FineTuneConfig.validation_share`` is 0).
        quality_warnings: the sentences of every training-quality warning issued (the
            fine-tune barely learned; the ESM fit's hold-out is too small or its R² poor).
        finetuned_model_dir: where the fine-tuned model was kept, if asked.
    """

    esm: ESM
    output_dir: Path | None
    fit: FitResult
    embedding_dataset: EmbeddingDataset
    finetune_losses: list[float]
    finetune_seconds: float
    embedding_seconds: float
    fit_seconds: float
    total_seconds: float
    validation: FineTuneValidation | None = None
    quality_warnings: list[str] = field(default_factory=list)
    finetuned_model_dir: Path | None = None

    @property
    def config(self) -> ESMConfig:
        """The ESM's config."""
        return self.esm.config


_SGD_KEYS = frozenset(HFSELECT_SGD_DEFAULTS)


def _check_fit_options(fit: str, esm_sgd_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    if fit not in FIT_METHODS:
        raise TrainingConfigError(
            f"Unknown ESM fit {fit!r}; choose one of {', '.join(map(repr, FIT_METHODS))}."
        )
    kwargs = dict(esm_sgd_kwargs or {})
    unknown = sorted(set(kwargs) - _SGD_KEYS)
    if unknown:
        raise TrainingConfigError(
            f"Unknown esm_sgd_kwargs {unknown}; the SGD fit takes {sorted(_SGD_KEYS)}."
        )
    if kwargs and fit != "hfselect":
        raise TrainingConfigError(
            "esm_sgd_kwargs apply to fit='hfselect' only; the least-squares fit takes ridge=..."
        )
    return kwargs


def train_esm(
    dataset: Dataset,
    base_model: BaseModel | str | os.PathLike = DEMO_MODEL,
    output_dir: str | os.PathLike | None = None,
    *,
    fit: str = "hfselect",
    ridge: float = 0.0,
    holdout: float = 0.1,
    finetune: FineTuneConfig | None = None,
    esm_sgd_kwargs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    task_id: str | None = None,
    base_model_name: str | None = None,
    developers: str | None = None,
    language: str | None = None,
    device: str | torch.device = "auto",
    embeddings_batch_size: int = 128,
    embeddings_path: str | os.PathLike | None = None,
    finetuned_model_dir: str | os.PathLike | None = None,
    record_timings: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> TrainedESM:
    """Train an ESM for ``dataset``: fine-tune, embed, fit, and write the ESM folder.

    Args:
        dataset: the labelled intermediate dataset (:class:`data.Dataset`; classification or
            regression). Its ``metadata`` (task id, subset, columns, split, sample size, seed,
            and any provenance such as ``dataset_source``/``dataset_license``) goes into the
            ESM's config.
        base_model: a Hub id, a local model folder, or a loaded :class:`BaseModel` (it is not
            modified; fine-tuning works on a copy). Default: the demo model
            ``sentence-transformers/all-MiniLM-L6-v2``.
        output_dir: the ESM folder to write; ``None`` writes nothing. An existing non-empty
            folder is refused (:class:`OutputExistsError`) unless ``overwrite=True``, which
            replaces it as a whole. Written through a staging folder and renamed at the end,
            so it never holds a half-written ESM.
        fit: ``"hfselect"`` (the default: hfselect's SGD recipe, whose rankings agreed
            better with those of the really fine-tuned models in
            ``benchmarks/fit_method_quality.py``; ``esm_sgd_kwargs`` may set ``num_epochs``,
            ``batch_size``, ``learning_rate``, ``weight_decay``) or ``"least_squares"``
            (closed form, with ``ridge``: fits the pairs better but ranked worse).
        holdout: share of rows held out to measure the fit (MSE, R²) before refitting on all.
        finetune: fine-tuning hyper-parameters (default :class:`FineTuneConfig`, the paper's
            recipe); its ``seed`` also seeds the hold-out split and the SGD fit.
        task_id: the dataset's id if ``dataset.metadata`` has none (an ESM needs one).
        base_model_name: the Hub id to record if the base model is a folder of unknown origin.
        developers, language: recorded in the config.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ...
        embeddings_batch_size: texts per embedding batch.
        embeddings_path: if given, the embedding pairs are saved there (``.npz``).
        finetuned_model_dir: if given, the fine-tuned model (encoder weights, tokenizer and its
            pooling) is kept in this folder, loadable with ``load_base_model(folder)``: the
            measurement harness fine-tunes it further on targets (real transfer). Refused when
            it exists and is not empty, unless ``overwrite=True``.
        record_timings: record wall-clock times in the config and ``train_info.json``; pass
            ``False`` for files that are identical on every rebuild.
        progress: stages ``"training"`` (fine-tuning steps), ``"embedding"`` (2 x rows) and
            ``"esm_fit"``.
        cancel: checked between steps; nothing is written once it is set.

    The config holds hfselect's keys (``base_model_name`` is the Hub id, ``version`` is the
    format version ``"0.2.1"``, ``lm_*`` the fine-tuning and ``esm_*`` the fit settings; for
    least squares ``esm_optimizer`` is ``"least_squares"`` and the SGD settings are ``None``)
    plus ``hfselect_widgets_version``, ``esm_ridge``, ``esm_fit_*`` (method, seed, hold-out
    share, hold-out and train MSE/R²), ``pooling``, ``lm_max_length``, ``lm_seed``,
    ``lm_warmup_ratio``, ``lm_max_grad_norm``, ``lm_task``, ``lm_num_labels``,
    ``lm_final_loss``, ``num_train_examples``, ``dataset_fingerprint``, every other
    ``dataset.metadata`` key (``source`` as ``dataset_loaded_from``), and with
    ``record_timings`` the ``*_seconds`` keys.

    Raises:
        OutputExistsError, TrainingConfigError, TrainingError, ModelLoadError, RankingCancelled.
    """
    started = time.perf_counter()
    finetune = finetune or FineTuneConfig()
    finetune.validate()
    sgd_kwargs = _check_fit_options(fit, esm_sgd_kwargs)
    target = check_output_dir(output_dir, overwrite) if output_dir is not None else None
    model_target = (
        check_output_dir(finetuned_model_dir, overwrite)
        if finetuned_model_dir is not None
        else None
    )
    task = task_id or dataset.metadata.get("task_id")
    if not isinstance(task, str) or not task.strip():
        raise TrainingConfigError(
            "The dataset has no name, and an ESM must record one (its task_id): pass "
            "task_id=..., or name the dataset, e.g. Dataset.from_pandas(..., name='my-data')."
        )

    if isinstance(base_model, BaseModel):
        base = base_model
    else:
        base = load_base_model(base_model, device=device, max_length=finetune.max_length)
    model_name = base_model_name or base.model_id or base.load_from

    tuned = fine_tune(base, dataset, finetune, device=device, progress=progress, cancel=cancel)
    embedding_start = time.perf_counter()
    pairs = create_embedding_dataset(
        dataset,
        base,
        tuned,
        batch_size=embeddings_batch_size,
        progress=progress,
        cancel=cancel,
    )
    embedding_seconds = time.perf_counter() - embedding_start
    finetune_losses, finetune_seconds = tuned.losses, tuned.seconds
    validation = tuned.validation
    if model_target is not None:
        save_finetuned_model(tuned, model_target, overwrite=overwrite, task_id=task)
    num_epochs_run = tuned.num_epochs
    del tuned  # free the fine-tuned encoder before fitting

    fitted = fit_esm(
        pairs,
        fit,
        ridge=ridge,
        holdout=holdout,
        seed=finetune.seed,
        progress=progress,
        cancel=cancel,
        **sgd_kwargs,
    )
    check_cancel(cancel, STAGE_ESM_FIT)

    config = ESMConfig()
    config.update(_json_safe(pairs.metadata))
    values: dict[str, Any] = {
        "base_model_name": model_name,
        "task_id": task,
        "language": language,
        "developers": developers,
        "esm_architecture": "linear",
        "esm_embedding_dim": pairs.embedding_dim,
        "lm_num_epochs": num_epochs_run,
        "lm_batch_size": finetune.batch_size,
        "lm_learning_rate": finetune.learning_rate,
        "lm_weight_decay": finetune.weight_decay,
        "lm_optimizer": finetune.optimizer,
        "lm_warmup_ratio": finetune.warmup_ratio,
        "lm_max_length": finetune.max_length,
        "lm_max_grad_norm": finetune.max_grad_norm,
        "lm_seed": finetune.seed,
        "lm_task": "regression" if dataset.is_regression else "classification",
        "lm_num_labels": 1 if dataset.is_regression else dataset.num_classes,
        "lm_final_loss": finetune_losses[-1] if finetune_losses else None,
        "lm_num_steps": len(finetune_losses),
        "lm_min_steps": finetune.min_steps,
        "lm_validation_share": finetune.validation_share,
        **_validation_values(validation),
        "pooling": base.pooling,
        "num_train_examples": len(dataset),
        "dataset_fingerprint": dataset.fingerprint(),
        **fitted.config_values(),
        "version": FORMAT_VERSION,
        "hfselect_widgets_version": __version__,
    }
    if record_timings:
        values.update(
            lm_train_seconds=round(finetune_seconds, 3),
            embedding_seconds=round(embedding_seconds, 3),
            esm_fit_seconds=round(fitted.seconds, 3),
            training_seconds=round(time.perf_counter() - started, 3),
        )
    quality = _quality_warnings(validation, fitted, pairs.embedding_dim)
    values["training_warnings"] = quality or None
    config.update(values)
    config.base_model_name = model_name
    for message in quality:
        warnings.warn(message, TrainingQualityWarning, stacklevel=2)
    esm = ESM(architecture="linear", embedding_dim=pairs.embedding_dim, config=config)
    with torch.no_grad():
        esm.model.weight.copy_(fitted.weight)
        esm.model.bias.copy_(fitted.bias)
    config.validate()

    train_info: dict[str, Any] = {
        "finetune": {
            **finetune.to_dict(),
            "epochs_run": num_epochs_run,
            "step_losses": finetune_losses,
            "validation": validation.to_dict() if validation else None,
        },
        "esm_fit": {
            "method": fitted.method,
            "params": fitted.params,
            "epoch_losses": fitted.losses,
            "holdout_quality": vars(fitted.holdout_quality) if fitted.holdout_quality else None,
            "train_quality": vars(fitted.train_quality),
        },
        "num_train_examples": len(dataset),
    }
    if record_timings:
        train_info["seconds"] = {
            "finetune": finetune_seconds,
            "embedding": embedding_seconds,
            "esm_fit": fitted.seconds,
        }

    if embeddings_path is not None:
        pairs.save(embeddings_path)
    if target is not None:

        def write(staging: Path) -> None:
            esm.save_pretrained(staging)
            _write_json(staging / TRAIN_INFO_NAME, train_info)

        write_folder_atomically(target, write, overwrite=overwrite)
    return TrainedESM(
        esm=esm,
        output_dir=target,
        fit=fitted,
        embedding_dataset=pairs,
        finetune_losses=finetune_losses,
        finetune_seconds=finetune_seconds,
        embedding_seconds=embedding_seconds,
        fit_seconds=fitted.seconds,
        total_seconds=time.perf_counter() - started,
        validation=validation,
        quality_warnings=quality,
        finetuned_model_dir=model_target,
    )


class TrainingQualityWarning(UserWarning):
    """Training produced an ESM that may rank poorly (see :attr:`TrainedESM.quality_warnings`)."""


# An ESM fit judged on fewer held-out rows than this says little about the map.
MIN_FIT_HOLDOUT_ROWS = 50
# Below this hold-out R² the map explains little of how fine-tuning moved the embeddings.
POOR_FIT_R2 = 0.2


def _validation_values(validation: FineTuneValidation | None) -> dict[str, Any]:
    """The ESM config keys (ours) recording what the fine-tuned model learned."""
    if validation is None:
        return {"lm_learned": None}
    return {
        "lm_val_metric": validation.metric,
        "lm_val_value": round(validation.value, 6),
        "lm_val_baseline": round(validation.baseline, 6),
        "lm_val_rows": validation.num_rows,
        "lm_learned": validation.learned,
    }


def _quality_warnings(
    validation: FineTuneValidation | None, fitted: FitResult, embedding_dim: int
) -> list[str]:
    """Sentences for each reason to distrust the ESM that was just trained."""
    found = []
    if validation is not None and validation.learned is False:
        found.append(validation.message())
    holdout = fitted.holdout_quality
    if holdout is None or holdout.num_rows < MIN_FIT_HOLDOUT_ROWS:
        rows = 0 if holdout is None else holdout.num_rows
        found.append(
            f"The ESM fit was checked on {rows} held-out rows (fewer than "
            f"{MIN_FIT_HOLDOUT_ROWS}): too few to judge the map; train on more rows."
        )
    elif not holdout.r2 >= POOR_FIT_R2:
        found.append(
            f"The ESM map explains little of how fine-tuning moved the embeddings (hold-out "
            f"R² {holdout.r2:.2f} on {holdout.num_rows} rows, D = {embedding_dim}): train on "
            "more rows, or use fit='least_squares' with a ridge."
        )
    return found


def save_finetuned_model(
    tuned: FineTuneResult,
    output_dir: str | os.PathLike,
    *,
    overwrite: bool = False,
    task_id: str | None = None,
) -> Path:
    """Write a fine-tuned encoder to a folder that :func:`load_base_model` loads as it was.

    The weights and tokenizer go through transformers' ``save_pretrained``; a ``modules.json``
    and ``1_Pooling/config.json`` declare mean or first-token pooling (so a reloaded model pools
    as the base did), and ``finetune_info.json`` records the task, the recipe and the
    validation. Written atomically; an existing folder is refused unless ``overwrite``.
    """
    target = check_output_dir(output_dir, overwrite)
    encoder = tuned.encoder

    def write(staging: Path) -> None:
        encoder.model.save_pretrained(staging)
        encoder.tokenizer.save_pretrained(staging)
        if encoder.pooling in ("mean", "cls"):
            pooling_dir = staging / "1_Pooling"
            pooling_dir.mkdir()
            _write_json(
                pooling_dir / "config.json",
                {
                    "word_embedding_dimension": encoder.embedding_dim,
                    "pooling_mode_cls_token": encoder.pooling == "cls",
                    "pooling_mode_mean_tokens": encoder.pooling == "mean",
                },
            )
            modules = [
                {
                    "idx": 0,
                    "name": "0",
                    "path": "",
                    "type": "sentence_transformers.models.Transformer",
                },
                {
                    "idx": 1,
                    "name": "1",
                    "path": "1_Pooling",
                    "type": "sentence_transformers.models.Pooling",
                },
            ]
            _atomic_write_bytes(staging / "modules.json", json.dumps(modules, indent=2).encode())
        _write_json(
            staging / "finetune_info.json",
            {
                "task_id": task_id,
                "finetuned_from": encoder.load_from.removesuffix(" (fine-tuned)"),
                "pooling": encoder.pooling,
                "config": tuned.config.to_dict(),
                "epochs_run": tuned.num_epochs,
                "num_steps": tuned.num_steps,
                "validation": tuned.validation.to_dict() if tuned.validation else None,
                "hfselect_widgets_version": __version__,
            },
        )
        for path in staging.rglob("*"):
            if path.is_file():
                path.chmod(_default_file_mode())

    write_folder_atomically(target, write, overwrite=overwrite)
    return target


__all__ = [
    "ESMTrainer",
    "TrainedESM",
    "TrainingQualityWarning",
    "save_finetuned_model",
    "train_esm",
    "wrap_base_model",
    "check_output_dir",
    "write_folder_atomically",
    "TRAIN_INFO_NAME",
]
