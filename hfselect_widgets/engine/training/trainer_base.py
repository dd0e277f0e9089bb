"""hf-dataset-selector's abstract ``Trainer`` (``hfselect.trainers.Trainer``).

hfselect's :class:`~.train.ESMTrainer` derives from it; ours is registered as a virtual subclass,
so ``isinstance(ESMTrainer(), Trainer)`` holds and code written against hfselect's base class
(its constructor, ``reset_loss``, ``avg_loss``, ``_create_optimizer``, ``_create_scheduler``)
keeps working for subclasses that implement ``_train_step`` and ``_create_model``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import nn

from hfselect_widgets.engine.training.finetune import linear_schedule


class Trainer(ABC):
    """An abstract trainer with hfselect's state: model, optimizer, scheduler, running loss.

    Defaults as in hfselect 0.2.1: learning rate 0.001 and weight decay 0.01 (its
    ``ESMTrainer`` overrides the learning rate with 0.01); a ``device_name`` other than
    ``"cpu"`` is used only when CUDA is available.
    """

    def __init__(
        self,
        model: nn.Module | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        learning_rate: float = 0.001,
        weight_decay: float = 0.01,
        device_name: str = "cpu",
    ):
        self.model = model
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.scheduler: Any = None
        if device_name != "cpu" and torch.cuda.is_available():
            self.device = torch.device(device_name)
        else:
            self.device = torch.device("cpu")
        self.total_loss = 0.0
        self.num_train_examples = 0

    @abstractmethod
    def _train_step(self, *args: Any, **kwargs: Any) -> Any:
        """One optimisation step."""

    @abstractmethod
    def _create_model(self, *args: Any, **kwargs: Any) -> nn.Module:
        """A new model to train."""

    def _create_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            model.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )

    @staticmethod
    def _create_scheduler(optimizer: torch.optim.Optimizer, num_train_steps: int) -> Any:
        """transformers' linear schedule without warm-up (hfselect's)."""
        return linear_schedule(optimizer, 0, num_train_steps)

    def reset_loss(self) -> None:
        """Reset the running loss."""
        self.total_loss = 0.0
        self.num_train_examples = 0

    @property
    def avg_loss(self) -> float:
        """The summed batch losses per training example."""
        return self.total_loss / self.num_train_examples


__all__ = ["Trainer"]
