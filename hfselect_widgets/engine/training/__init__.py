"""Training ESMs: fine-tuning the base model with validation (finetune), the whole path train_esm (train), its quality checks (quality), hfselect's ESMTrainer (trainer) and abstract Trainer (trainer_base), output folders written atomically (output), the fine-tuned model's folder (finetuned_model)."""

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
    "ESMTrainer": ".trainer",
    "TrainedESM": ".train",
    "train_esm": ".train",
    "TrainingQualityWarning": ".quality",
    "quality_warnings": ".quality",
    "save_finetuned_model": ".finetuned_model",
    "check_output_dir": ".output",
    "write_folder_atomically": ".output",
    "TRAIN_INFO_NAME": ".output",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
