"""hf-dataset-selector's :class:`ESMTrainer`: fit an ESM to embedding pairs with its SGD recipe.

It keeps hfselect 0.2.1's API and behaviour (its SGD recipe, its ``train_info.json``,
overwriting ``output_dir``), with files written atomically. :func:`~.train.train_esm` is the
whole path (fine-tune, embed, fit, write) that hfselect leaves to its users.
"""

from __future__ import annotations

import logging
import math
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from hfselect_widgets.engine._io import write_json
from hfselect_widgets.engine.embedding.model import resolve_device, wrap_base_model
from hfselect_widgets.engine.embedding.pairs import (
    EmbeddingDataset,
    as_tuned_base_model,
    create_embedding_dataset,
)
from hfselect_widgets.engine.esm.fit import _step_reporter, train_linear_sgd
from hfselect_widgets.engine.esm.format import ESM, ESMConfig
from hfselect_widgets.engine.progress import CancelToken, ProgressCallback
from hfselect_widgets.engine.training.output import TRAIN_INFO_NAME, replace_files_atomically
from hfselect_widgets.engine.training.trainer_base import Trainer
from hfselect_widgets.errors import TrainingConfigError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hfselect_widgets.engine.data.dataset import Dataset

logger = logging.getLogger(__name__)


class ESMTrainer(Trainer):
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
        # hfselect's ESMTrainer takes weight_decay before learning_rate, the base the reverse.
        super().__init__(
            model,
            optimizer,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            device_name=device_name,
        )
        self.loss_fct = nn.MSELoss()

    def _create_model(self, architecture: str | None, embedding_dim: int) -> ESM:
        return ESM(architecture=architecture, embedding_dim=embedding_dim)

    def _train_step(self, *args: Any, **kwargs: Any) -> Any:
        # Steps run inside train_linear_sgd (the shared SGD loop), not one at a time here.
        raise NotImplementedError("ESMTrainer trains through train_with_embeddings")

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
                write_json(staging / TRAIN_INFO_NAME, train_info)

            replace_files_atomically(folder, write)
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


__all__ = ["ESMTrainer"]
