"""Training ESMs: fine-tuning the base model with validation (finetune), train_esm and hfselect's ESMTrainer (train)."""

from hfselect_widgets.engine._lazy import lazy_exports

_EXPORTS = {
    "FineTuneConfig": ".finetune",
    "FineTuneResult": ".finetune",
    "FineTuneValidation": ".finetune",
    "MIN_VALIDATION_ROWS": ".finetune",
    "fine_tune": ".finetune",
    "linear_schedule": ".finetune",
    "task_metrics": ".finetune",
    "validation_split": ".finetune",
    "OPTIMIZERS": ".finetune",
    "Trainer": ".trainer_base",
    "ESMTrainer": ".train",
    "TrainedESM": ".train",
    "TrainingQualityWarning": ".train",
    "save_finetuned_model": ".train",
    "train_esm": ".train",
    "wrap_base_model": ".train",
    "check_output_dir": ".train",
    "write_folder_atomically": ".train",
    "TRAIN_INFO_NAME": ".train",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
