"""The fine-tuned encoder as a model folder that :func:`load_base_model` loads as it was.

:func:`~.train.train_esm` keeps it when asked (``finetuned_model_dir``): the measurement
harness fine-tunes it further on targets (real transfer).
"""

from __future__ import annotations

import os
from pathlib import Path

from hfselect_widgets._version import __version__
from hfselect_widgets.engine._io import write_json
from hfselect_widgets.engine.training.finetune import FineTuneResult
from hfselect_widgets.engine.training.output import check_output_dir, write_folder_atomically


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
            write_json(
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
            write_json(staging / "modules.json", modules, indent=2)
        write_json(
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

    write_folder_atomically(target, write, overwrite=overwrite)
    return target


__all__ = ["save_finetuned_model"]
