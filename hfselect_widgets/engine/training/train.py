"""Train an ESM: :func:`train_esm`, dataset in, ESM folder out.

:func:`train_esm` does the whole path that hfselect leaves to its users: fine-tune the base model
on the dataset (:mod:`.finetune`), embed the dataset with the base and the fine-tuned model
(:mod:`..embedding.pairs`), fit the map (:mod:`..esm.fit`), check the result
(:mod:`.quality`), and write an ESM folder whose config records every hyper-parameter, the
fit's quality and the data's provenance. It refuses to replace an existing folder unless asked,
and writes through a staging folder beside the target (:mod:`.output`), so a crash never leaves
a half-written ESM. hfselect's own trainer is :class:`~.trainer.ESMTrainer`.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from hfselect_widgets._version import __version__
from hfselect_widgets.engine._io import json_safe, write_json
from hfselect_widgets.engine.embedding.model import BaseModel, load_base_model
from hfselect_widgets.engine.embedding.pairs import EmbeddingDataset, create_embedding_dataset
from hfselect_widgets.engine.esm.fit import (
    FIT_METHODS,
    HFSELECT_SGD_DEFAULTS,
    STAGE_ESM_FIT,
    FitResult,
    fit_esm,
)
from hfselect_widgets.engine.esm.format import ESM, FORMAT_VERSION, ESMConfig
from hfselect_widgets.engine.model_ids import DEMO_MODEL
from hfselect_widgets.engine.progress import CancelToken, ProgressCallback, check_cancel
from hfselect_widgets.engine.scoring.rankers import SOURCE_EMBEDDING_KEY, mean_embedding
from hfselect_widgets.engine.training.finetune import (
    FineTuneConfig,
    FineTuneValidation,
    fine_tune,
)
from hfselect_widgets.engine.training.finetuned_model import save_finetuned_model
from hfselect_widgets.engine.training.output import (
    TRAIN_INFO_NAME,
    check_output_dir,
    write_folder_atomically,
)
from hfselect_widgets.engine.training.quality import (
    TrainingQualityWarning,
    quality_warnings,
    validation_values,
)
from hfselect_widgets.errors import TrainingConfigError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hfselect_widgets.engine.data.dataset import Dataset


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
    config.update(json_safe(pairs.metadata))
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
        **validation_values(validation),
        "pooling": base.pooling,
        # The source's mean base embedding: the "textemb" ranker reads it at rank time.
        SOURCE_EMBEDDING_KEY: mean_embedding(pairs.x),
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
    quality = quality_warnings(validation, fitted, pairs.embedding_dim)
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
            write_json(staging / TRAIN_INFO_NAME, train_info)

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


__all__ = ["TrainedESM", "train_esm"]
