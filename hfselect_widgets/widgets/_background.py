"""The life cycle of a panel's background work, once: start, progress, cancel, outcome.

A :class:`TaskRunner` drives one :class:`~.worker.BackgroundTask` at a time for a panel: its
start button (Rank, Train, Publish, Refresh), an optional Cancel button, a
:class:`~.worker.StageProgress`, a status line and an :class:`~.worker.ErrorBox`. The panels
only say what to run and what to show on success.

One task at a time, also across a cancel: Cancel sets the task's event, but the work stops only
at its next check (a fine-tuning step, an ESM), and it may still hold the model or write files
until then. So while a cancelled task is stopping, the start button reads "Stopping…" and is
disabled, and :meth:`TaskRunner.start` waits for the task to end (up to ``stop_grace``
seconds) and then refuses with a message instead of starting a second one beside it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from hfselect_widgets.widgets.worker import (
    CANCELLED,
    FAILED,
    BackgroundTask,
    ErrorBox,
    StageProgress,
    TaskTarget,
    format_seconds,
    message_html,
)

STOPPING_LABEL = "Stopping…"
"""The start button's label while a cancelled task winds down."""

STOP_GRACE_S = 10.0
"""How long :meth:`TaskRunner.start` waits for a cancelled task to stop before refusing."""


class TaskStillStopping(RuntimeError):
    """A new task was asked for while the cancelled one has not stopped yet."""


class TaskRunner:
    """Run a panel's work in the background, one task at a time, and show how it went.

    Args:
        noun: what the work is called in messages (``"ranking"``, ``"training"``).
        start_button: the button that starts the work; disabled while a task runs (and reading
            "Stopping…" while a cancelled one winds down) or while ``ready()`` is false.
        cancel_button: enabled while a task runs and has not been cancelled.
        progress: progress bars (reset at start; the engine's progress callback).
        status: the panel's status line.
        errors: where a failure is shown, with its traceback.
        ready: whether the panel's form allows a start (default: always).
        on_change: called whenever the buttons may need an update (default: :meth:`refresh`);
            a panel with more buttons passes its own update, which calls :meth:`refresh`.
        cancelling, cancelled, failed: status texts; ``{elapsed}`` is replaced by the run time.
        error_context: put before a failure's message (e.g. ``"Refresh from Hub failed: "``).
        redact: rewrites error texts before they are shown (e.g. hides a token).
        name: the worker thread's name.
        stop_grace: seconds :meth:`start` waits for a cancelled task to stop.
    """

    def __init__(
        self,
        noun: str,
        start_button: widgets.Button,
        *,
        cancel_button: widgets.Button | None = None,
        progress: StageProgress | None = None,
        status: widgets.HTML | None = None,
        errors: ErrorBox | None = None,
        ready: Callable[[], bool] | None = None,
        on_change: Callable[[], None] | None = None,
        cancelling: str | None = None,
        cancelled: str = "Cancelled after {elapsed}.",
        failed: str | None = None,
        error_context: str = "",
        redact: Callable[[str], str] | None = None,
        name: str | None = None,
        stop_grace: float = STOP_GRACE_S,
    ):
        self.noun = noun
        self.start_button = start_button
        self.cancel_button = cancel_button
        self.progress = progress
        self.status = status
        self.errors = errors
        self.ready = ready or (lambda: True)
        self.on_change = on_change
        self.cancelling = cancelling or f"Cancelling… (the {noun} stops at its next step)"
        self.cancelled = cancelled
        self.failed = failed if failed is not None else f"The {noun} failed after {{elapsed}}."
        self.error_context = error_context
        self.redact = redact
        self.name = name or f"hfselect-widgets-{noun}"
        self.stop_grace = stop_grace
        self.task: BackgroundTask | None = None
        """The current or last task."""
        self._lock = threading.Lock()
        self._label: str | None = None  # the start button's own label while it says Stopping…

    # -- state ----------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a task runs (cancelled or not)."""
        return self.task is not None and self.task.running

    @property
    def busy(self) -> bool:
        """Whether a task runs and has not been cancelled."""
        return self.running and not self.task.cancel_event.is_set()

    @property
    def stopping(self) -> bool:
        """Whether a cancelled task has not stopped yet."""
        return self.running and self.task.cancel_event.is_set()

    def refresh(self) -> None:
        """Update the start and Cancel buttons to the task's state and ``ready()``."""
        button = self.start_button
        if self.stopping:
            if self._label is None:
                self._label = button.description
            button.description = STOPPING_LABEL
            button.disabled = True
        else:
            if self._label is not None:
                button.description, self._label = self._label, None
            button.disabled = self.busy or not self.ready()
        if self.cancel_button is not None:
            self.cancel_button.disabled = not self.busy

    def _changed(self) -> None:
        (self.on_change or self.refresh)()

    def _say(self, text: str, kind: str = "info") -> None:
        if self.status is not None:
            self.status.value = message_html(text, kind)

    # -- control --------------------------------------------------------------------------------

    def start(
        self,
        prepare: Callable[[], TaskTarget],
        on_success: Callable[[Any, str], None] | None = None,
        *,
        on_end: Callable[[BackgroundTask], None] | None = None,
        on_failure: Callable[[BackgroundTask], None] | None = None,
        wait: bool = False,
        grace: float | None = None,
    ) -> BackgroundTask:
        """Start the work that ``prepare()`` returns, in the background; returns its task.

        ``prepare`` runs once no other task runs: it checks the form (raising ``ValueError``
        with the reasons, which it also shows) and returns ``target(progress, cancel)``.
        ``on_success(result, elapsed)`` shows a result, ``on_failure(task)`` adds to the
        failure shown, ``on_end(task)`` runs after every outcome, first. They run in the worker
        thread. ``wait``: block until the task ended.

        Raises ``RuntimeError`` while a task runs, and :class:`TaskStillStopping` when a
        cancelled task has not stopped within ``grace`` seconds (default ``stop_grace``).
        """
        with self._lock:
            previous = self.task
            if previous is not None and previous.running:
                if not previous.cancel_event.is_set():
                    raise RuntimeError(f"A {self.noun} is running: cancel it first.")
                # One task at a time: the cancelled one stops at its next check.
                previous.wait(self.stop_grace if grace is None else grace)
                if previous.running:
                    message = (
                        f"The cancelled {self.noun} is still stopping: start again once the "
                        f"button no longer reads {STOPPING_LABEL!r}."
                    )
                    self._say(message, "warn")
                    raise TaskStillStopping(message)
            target = prepare()
            if self.errors is not None:
                self.errors.clear()
            if self.progress is not None:
                self.progress.reset()
            task = BackgroundTask(target, progress=self.progress, name=self.name)
            task.on_done(lambda done: self._finished(done, on_success, on_failure, on_end))
            self.task = task
            task.start()
            self._changed()
        if wait:
            task.wait()
        return task

    def cancel(self) -> None:
        """Ask the running task to stop; the start button waits for it ("Stopping…")."""
        task = self.task
        if task is None or not task.running:
            return
        task.cancel()
        self._say(self.cancelling, "warn")
        self._changed()

    def _finished(
        self,
        task: BackgroundTask,
        on_success: Callable[[Any, str], None] | None,
        on_failure: Callable[[BackgroundTask], None] | None,
        on_end: Callable[[BackgroundTask], None] | None,
    ) -> None:
        """Show the outcome of ``task`` (in the worker thread)."""
        if on_end is not None:
            on_end(task)
        if task is not self.task:
            return
        # The buttons first: a status that says the task ended must find the panel usable.
        self._changed()
        elapsed = format_seconds(task.elapsed or 0.0)
        state = task.state
        if state == CANCELLED:
            if self.progress is not None:
                self.progress.mark_stopped("warning")
            self._say(self.cancelled.format(elapsed=elapsed), "warn")
        elif state == FAILED:
            if self.progress is not None:
                self.progress.mark_stopped("danger")
            if self.failed:
                self._say(self.failed.format(elapsed=elapsed), "error")
            if self.errors is not None:
                self.errors.show(task.error, task.traceback, self.error_context, self.redact)
            if on_failure is not None:
                on_failure(task)
        else:
            if self.progress is not None:
                self.progress.mark_unused()
            if on_success is not None:
                on_success(task.result, elapsed)
        self._changed()


__all__ = ["STOPPING_LABEL", "STOP_GRACE_S", "TaskRunner", "TaskStillStopping"]
