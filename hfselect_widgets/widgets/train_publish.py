"""Train an ESM for your own dataset and publish it to the Hub, from a notebook.

:class:`TrainPublishPanel` is a form over :func:`~hfselect_widgets.engine.training.train.train_esm`
(fine-tune the base model, embed, fit the map, write the ESM folder) and
:func:`~hfselect_widgets.engine.hub.publish.publish_esm`. Training runs in a
:class:`~.worker.BackgroundTask` with one progress bar per stage and Cancel; the fit quality
(held-out MSE and R²) is shown afterwards. Publishing uses the notebook's Hugging Face login:
without one, the panel asks the user to run ``huggingface_hub.notebook_login()``. The token is
never read into a widget, shown or stored by the panel.
"""

from __future__ import annotations

import html
import math
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from hfselect_widgets.engine.esm.fit import HFSELECT_SGD_DEFAULTS
from hfselect_widgets.engine.model_ids import DEFAULT_HUB_MODEL, DEMO_MODEL
from hfselect_widgets.engine.progress import (
    STAGE_EMBEDDING,
    STAGE_ESM_FIT,
    STAGE_TRAINING,
    ProgressCallback,
    check_cancel,
)
from hfselect_widgets.engine.training.finetune import FineTuneConfig
from hfselect_widgets.errors import MissingTokenError
from hfselect_widgets.widgets._background import TaskRunner
from hfselect_widgets.widgets._compat import set_titles
from hfselect_widgets.widgets.dataset_picker import DatasetPicker
from hfselect_widgets.widgets.worker import (
    BackgroundTask,
    ErrorBox,
    StageProgress,
    format_seconds,
    message_html,
)

TRAINING_STAGES = (STAGE_TRAINING, STAGE_EMBEDDING, STAGE_ESM_FIT)

FIT_LEAST_SQUARES = "least_squares"
FIT_HFSELECT = "hfselect"

LOGIN_REQUEST = (
    "No Hugging Face login found. Run this in a notebook cell, paste a token with write "
    "access, then click Publish again:\n"
    "    from huggingface_hub import notebook_login; notebook_login()"
)

_LABEL_WIDTH = "150px"


def _described(widget: widgets.Widget, label: str) -> widgets.HBox:
    return widgets.HBox([widgets.Label(label, layout=widgets.Layout(width=_LABEL_WIDTH)), widget])


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4g}"


def fit_quality_html(trained: Any) -> str:
    """The fit quality of a :class:`~hfselect_widgets.engine.training.train.TrainedESM` as HTML."""
    fit = trained.fit
    rows = []
    if fit.holdout_quality is not None:
        q = fit.holdout_quality
        rows.append(("Held-out", q.mse, q.r2, q.num_rows))
    q = fit.train_quality
    rows.append(("Training rows", q.mse, q.r2, q.num_rows))
    body = "".join(
        f"<tr><td>{name}</td><td>{_number(mse)}</td><td>{_number(r2)}</td><td>{n}</td></tr>"
        for name, mse, r2, n in rows
    )
    where = html.escape(str(trained.output_dir)) if trained.output_dir else "(not saved)"
    validation = getattr(trained, "validation", None)
    learned = ""
    if validation is not None:
        verdict = {True: "learned", False: "barely learned", None: "too few rows to judge"}[
            validation.learned
        ]
        learned = (
            f"Fine-tuning {verdict}: validation {validation.metric} "
            f"<b>{validation.value:.3f}</b> vs {validation.baseline:.3f} for the "
            f"{'majority class' if validation.metric == 'accuracy' else 'mean label'} "
            f"({validation.num_rows} held-out rows, {trained.config.get('lm_num_steps')} steps)."
            "<br>"
        )
    notes = "".join(
        f'<div class="hfsw-warning" style="color:#8a5a00;background:#fff4d6;padding:2px 6px;'
        f'border-left:3px solid #e0a800;margin:2px 0">⚠ {html.escape(message)}</div>'
        for message in getattr(trained, "quality_warnings", None) or []
    )
    return (
        f"<b>ESM for {html.escape(str(trained.config.task_id))}</b> saved to <code>{where}</code> "
        f"in {format_seconds(trained.total_seconds)}.<br>"
        f"{learned}{notes}"
        "<table><thead><tr><th>Fit quality</th><th>MSE</th><th>R²</th><th>Rows</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
        "<i>R² near 1: the map reproduces the fine-tuned embeddings well.</i>"
    )


class TrainPublishPanel(widgets.VBox):
    """Train an ESM (dataset, base model, recipe, hyper-parameters) and publish it.

    Args:
        namespace: where the dataset picker looks for DataFrames (default: the notebook's).
        hf_api: an ``HfApi``-like object for publishing (tests pass a fake).
        base_model: the base model offered first (a Hub id or a local folder).
        output_dir: the default output folder.
        device: where training runs (``"auto"``: CUDA when present).
        num_examples: the default training sample size (0: all rows).
        trainer: replaces the engine's ``train_esm`` (default ``None``; e.g. in tests): called as
            ``trainer(dataset, progress=..., cancel=..., **training_kwargs())``.

    Attributes:
        trained: the last :class:`~hfselect_widgets.engine.training.train.TrainedESM`.
        published: the last :class:`~hfselect_widgets.engine.hub.publish.PublishResult`.
        task, publish_task: the background tasks of the last training and publishing.
        runner, publish_runner: the :class:`~._background.TaskRunner` of each.
    """

    def __init__(
        self,
        namespace: Any = None,
        *,
        hf_api: Any = None,
        base_model: str = DEMO_MODEL,
        output_dir: str | os.PathLike = "",
        device: str = "auto",
        num_examples: int = 10_000,
        trainer: Any = None,
        **kwargs: Any,
    ):
        self.hf_api = hf_api
        self.device = device
        self.trainer = trainer
        self.trained: Any = None
        self.published: Any = None

        # A sample by default: fine-tuning on a whole large Hub dataset takes hours on a CPU.
        self.picker = DatasetPicker(namespace, hf_api=hf_api, num_examples=num_examples)
        self.base_model = widgets.Combobox(
            value=str(base_model),
            options=[DEMO_MODEL, DEFAULT_HUB_MODEL],
            placeholder="a Hub model id or a local model folder",
            ensure_option=False,
            layout=widgets.Layout(width="360px"),
        )
        self.fit = widgets.ToggleButtons(
            options=[("hfselect (SGD)", FIT_HFSELECT), ("Least squares", FIT_LEAST_SQUARES)],
            value=FIT_HFSELECT,
            tooltips=[  # in the order of the options
                "hf-dataset-selector's SGD recipe",
                "Closed-form fit of the map (fast, exact)",
            ],
            style={"button_width": "130px"},
        )
        defaults = FineTuneConfig()
        small = widgets.Layout(width="120px")
        self.epochs = widgets.BoundedIntText(
            value=defaults.num_epochs, min=1, max=1000, layout=small
        )
        self.min_steps = widgets.BoundedIntText(
            value=defaults.min_steps, min=0, max=1_000_000, layout=small
        )
        self.learning_rate = widgets.FloatText(value=defaults.learning_rate, layout=small)
        self.batch_size = widgets.BoundedIntText(
            value=defaults.batch_size, min=1, max=65536, layout=small
        )
        self.weight_decay = widgets.FloatText(value=defaults.weight_decay, layout=small)
        self.seed = widgets.IntText(value=defaults.seed, layout=small)
        self.ridge = widgets.FloatText(value=0.0, layout=small)
        self.holdout = widgets.BoundedFloatText(
            value=0.1, min=0.0, max=0.9, step=0.05, layout=small
        )
        self.esm_epochs = widgets.BoundedIntText(
            value=HFSELECT_SGD_DEFAULTS["num_epochs"], min=1, max=10000, layout=small
        )
        self.esm_learning_rate = widgets.FloatText(
            value=HFSELECT_SGD_DEFAULTS["learning_rate"], layout=small
        )
        self.task_id = widgets.Text(placeholder="default: the dataset's name")
        self.language = widgets.Text(placeholder="e.g. en")
        self.base_model_name = widgets.Text(
            placeholder="the model's Hub id, for a local model folder"
        )
        self.advanced = widgets.Accordion(
            children=[
                widgets.VBox(
                    [
                        widgets.HTML("<b>Fine-tuning the base model</b>"),
                        _described(self.epochs, "Epochs"),
                        _described(self.min_steps, "Min. steps (adds epochs, up to 10)"),
                        _described(self.learning_rate, "Learning rate"),
                        _described(self.batch_size, "Batch size"),
                        _described(self.weight_decay, "Weight decay"),
                        _described(self.seed, "Seed"),
                        widgets.HTML("<b>Fitting the ESM</b>"),
                        _described(self.holdout, "Held-out share"),
                        _described(self.ridge, "Ridge (least squares)"),
                        _described(self.esm_epochs, "SGD epochs (hfselect)"),
                        _described(self.esm_learning_rate, "SGD learning rate"),
                        widgets.HTML("<b>Recorded in the ESM's config</b>"),
                        _described(self.task_id, "Task id"),
                        _described(self.language, "Language"),
                        _described(self.base_model_name, "Base model Hub id"),
                    ]
                )
            ],
            selected_index=None,
        )
        set_titles(self.advanced, ["Advanced settings"])
        self.output_dir = widgets.Text(
            value=str(output_dir),
            placeholder="folder to write the ESM to",
            layout=widgets.Layout(width="360px"),
        )
        self.overwrite_output = widgets.Checkbox(value=False, description="Overwrite", indent=False)
        self.train_button = widgets.Button(description="Train", icon="play", button_style="primary")
        self.cancel_button = widgets.Button(description="Cancel", icon="stop", disabled=True)
        self.progress = StageProgress(TRAINING_STAGES)
        self.status = widgets.HTML()
        self.errors = ErrorBox()
        self.quality = widgets.HTML()

        # Publishing
        self.publish_folder = widgets.Text(
            placeholder="the ESM folder to publish (filled in after training)",
            layout=widgets.Layout(width="360px"),
        )
        self.repo_id = widgets.Text(
            placeholder="your-username/esm-name", layout=widgets.Layout(width="360px")
        )
        self.private = widgets.Checkbox(value=False, description="Private", indent=False)
        self.overwrite_repo = widgets.Checkbox(
            value=False, description="Replace an existing ESM in the repo", indent=False
        )
        self.publish_button = widgets.Button(description="Publish", icon="upload")
        self.publish_status = widgets.HTML()
        self.publish_errors = ErrorBox()
        self.runner = TaskRunner(
            "training",
            self.train_button,
            cancel_button=self.cancel_button,
            progress=self.progress,
            status=self.status,
            errors=self.errors,
            ready=lambda: not self.train_problems(),
            on_change=self._update_buttons,
            cancelling="Cancelling… (training stops at its next step)",
            cancelled="Cancelled after {elapsed}; nothing was written.",
            failed="Training failed after {elapsed}.",
        )
        self.publish_runner = TaskRunner(
            "publishing",
            self.publish_button,
            status=self.publish_status,
            errors=self.publish_errors,
            ready=lambda: not self.runner.running and not self.publish_problems(),
            on_change=self._update_buttons,
            failed="Publishing failed.",
            redact=self._redact_token,
            name="hfselect-widgets-publish",
        )

        super().__init__(
            [
                widgets.HTML("<h4>Intermediate dataset</h4>"),
                self.picker,
                widgets.HTML("<h4>Training</h4>"),
                _described(self.base_model, "Base model"),
                _described(self.fit, "ESM fit"),
                self.advanced,
                _described(widgets.HBox([self.output_dir, self.overwrite_output]), "Output folder"),
                widgets.HBox([self.train_button, self.cancel_button]),
                self.progress,
                self.status,
                self.errors,
                self.quality,
                widgets.HTML("<h4>Publish to the Hugging Face Hub</h4>"),
                _described(self.publish_folder, "ESM folder"),
                _described(self.repo_id, "Repo id"),
                widgets.HBox([self.private, self.overwrite_repo]),
                self.publish_button,
                self.publish_status,
                self.publish_errors,
            ],
            **kwargs,
        )
        self.train_button.on_click(lambda _: self._clicked(lambda: self._train(grace=0.0)))
        self.cancel_button.on_click(lambda _: self.cancel())
        self.publish_button.on_click(lambda _: self._clicked(self.publish))
        self.picker.observe(lambda _: self._update_buttons(), "valid")
        for widget in (self.base_model, self.output_dir, self.publish_folder, self.repo_id):
            widget.observe(lambda _: self._update_buttons(), "value")
        self._update_buttons()

    # -- state ----------------------------------------------------------------------------------

    @property
    def task(self) -> BackgroundTask | None:
        """The background task of the current or last training."""
        return self.runner.task

    @property
    def publish_task(self) -> BackgroundTask | None:
        """The background task of the current or last publishing."""
        return self.publish_runner.task

    @property
    def training(self) -> bool:
        """Whether a training runs and has not been cancelled."""
        return self.runner.busy

    @property
    def publishing(self) -> bool:
        """Whether an upload is running."""
        return self.publish_runner.running

    def train_problems(self) -> list[str]:
        """Why training cannot start yet (empty when it can)."""
        problems = [] if self.picker.validate() else list(self.picker.problems)
        if not self.base_model.value.strip():
            problems.append("Choose a base model.")
        if not self.output_dir.value.strip():
            problems.append("Choose an output folder for the ESM.")
        return problems

    def publish_problems(self) -> list[str]:
        """Why publishing cannot start yet (empty when it can)."""
        problems = []
        if not self.publish_folder.value.strip():
            problems.append("Train an ESM first, or enter the ESM folder to publish.")
        if not self.repo_id.value.strip():
            problems.append("Enter the repo id, e.g. your-username/esm-name.")
        return problems

    def _update_buttons(self) -> None:
        self.runner.refresh()
        self.publish_runner.refresh()

    def _clicked(self, action: Any) -> None:
        try:
            action()
        except (ValueError, RuntimeError):
            pass  # the reason is shown in the panel

    # -- training -------------------------------------------------------------------------------

    def training_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``train_esm`` from the form (without the dataset)."""
        fit = self.fit.value
        kwargs: dict[str, Any] = {
            "base_model": os.path.expanduser(self.base_model.value.strip()),
            "output_dir": os.path.expanduser(self.output_dir.value.strip()),
            "overwrite": self.overwrite_output.value,
            "fit": fit,
            "holdout": self.holdout.value,
            "finetune": FineTuneConfig(
                num_epochs=self.epochs.value,
                max_epochs=max(self.epochs.value, FineTuneConfig.max_epochs),
                min_steps=self.min_steps.value,
                learning_rate=self.learning_rate.value,
                batch_size=self.batch_size.value,
                weight_decay=self.weight_decay.value,
                seed=self.seed.value,
            ),
            "task_id": self.task_id.value.strip() or None,
            "language": self.language.value.strip() or None,
            "base_model_name": self.base_model_name.value.strip() or None,
            "device": self.device,
        }
        if fit == FIT_LEAST_SQUARES:
            kwargs["ridge"] = self.ridge.value
        else:
            kwargs["esm_sgd_kwargs"] = {
                "num_epochs": self.esm_epochs.value,
                "learning_rate": self.esm_learning_rate.value,
            }
        return kwargs

    def train(self, wait: bool = False) -> BackgroundTask:
        """Train in the background and return the task (``wait``: until it ends).

        Raises ``ValueError`` while the form is incomplete and ``RuntimeError`` while a
        training runs (reasons are shown in the panel too). A cancelled training still holds
        the model until it stops: a new one waits for it (Train reads "Stopping…"), up to the
        runner's ``stop_grace`` seconds, and is refused if it has not stopped by then.
        """
        return self._train(wait)

    def _train(self, wait: bool = False, grace: float | None = None) -> BackgroundTask:
        return self.runner.start(self._prepare_training, self._trained, wait=wait, grace=grace)

    def _prepare_training(self) -> Any:
        problems = self.train_problems()
        if problems:
            self.status.value = message_html("Cannot train yet: " + " ".join(problems), "error")
            raise ValueError("Cannot train yet: " + " ".join(problems))
        kwargs = self.training_kwargs()
        picker, trainer = self.picker, self.trainer

        def work(progress: ProgressCallback, cancel: threading.Event) -> Any:
            from hfselect_widgets.engine.training import TrainingQualityWarning, train_esm

            dataset = picker.build_dataset()
            check_cancel(cancel)
            self.status.value = message_html(
                f"Training on {len(dataset)} examples with {kwargs['base_model']}…"
            )
            # The panel shows these warnings itself (amber, under the fit quality).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TrainingQualityWarning)
                return (trainer or train_esm)(dataset, progress=progress, cancel=cancel, **kwargs)

        self.quality.value = ""
        self.status.value = message_html("Loading the dataset…")
        return work

    def cancel(self) -> None:
        """Stop the running training; nothing is written once cancelled. Train reads
        "Stopping…" until the training has stopped."""
        self.runner.cancel()

    def _trained(self, trained: Any, elapsed: str) -> None:
        self.trained = trained
        self.status.value = message_html(f"Trained in {elapsed}.", "ok")
        self.quality.value = fit_quality_html(trained)
        if trained.output_dir is not None:
            self.publish_folder.value = str(trained.output_dir)

    # -- publishing -----------------------------------------------------------------------------

    def publish(self, wait: bool = False) -> BackgroundTask | None:
        """Publish the ESM folder to the repo id (in the background); ``None`` without a login.

        Without a Hugging Face token the panel asks the user to run ``notebook_login()``.
        """
        from hfselect_widgets.engine.hub.publish import publish_esm, resolve_token

        if self.publishing:
            raise RuntimeError("Publishing is under way.")
        problems = self.publish_problems()
        if problems:
            self.publish_status.value = message_html(" ".join(problems), "error")
            raise ValueError(" ".join(problems))
        self.publish_errors.clear()
        try:
            # Only whether a login exists: the token itself is dropped at once.
            resolve_token(None, self.hf_api)
        except MissingTokenError as exc:
            self._ask_for_login(exc)
            return None
        folder = Path(os.path.expanduser(self.publish_folder.value.strip()))
        repo_id = self.repo_id.value.strip()
        options = {
            "private": self.private.value,
            "overwrite": self.overwrite_repo.value,
            "hf_api": self.hf_api,
        }

        def prepare() -> Any:
            self.publish_status.value = message_html(f"Publishing to {repo_id}…")
            return lambda progress, cancel: publish_esm(folder, repo_id, **options)

        return self.publish_runner.start(
            prepare, self._published, on_failure=self._publish_failed, wait=wait
        )

    def _redact_token(self, text: str) -> str:
        """``text`` with the login's token replaced by ``***`` (in case a Hub error quoted it).

        The token is looked up for this replacement only and never kept.
        """
        from hfselect_widgets.engine.hub.publish import resolve_token

        try:
            token = resolve_token(None, self.hf_api)
        except Exception:  # no login: nothing to hide
            return text
        return text.replace(token, "***") if token else text

    def _published(self, published: Any, elapsed: str) -> None:
        self.published = published
        url = html.escape(str(published.url))
        self.publish_status.value = (
            f"<div style='color:#1b7a2f'>Published to "
            f"<a href='{url}' target='_blank'>{url}</a> "
            f"({', '.join(html.escape(f) for f in published.files)}).</div>"
        )

    def _publish_failed(self, task: BackgroundTask) -> None:
        if isinstance(task.error, MissingTokenError):
            self._ask_for_login(task.error)

    def _ask_for_login(self, error: MissingTokenError) -> None:
        """One message asking for ``notebook_login()``: the error box, which would say the
        same again in other words, stays hidden (it keeps the error for code that asks)."""
        self.publish_status.value = message_html(LOGIN_REQUEST, "warn")
        self.publish_errors.clear()
        self.publish_errors.error = error


__all__ = ["LOGIN_REQUEST", "TRAINING_STAGES", "TrainPublishPanel", "fit_quality_html"]
