"""Run engine work off the kernel's main thread, and show its progress, outcome and errors.

:class:`BackgroundTask` runs one callable in a daemon thread, so the notebook (and the Cancel
button) stay responsive while a ranking or a training runs. It hands the callable the engine's
two hooks, ``progress(stage, done, total)`` and a :class:`threading.Event` to cancel, keeps the
result or the exception with its formatted traceback, and calls ``on_done`` callbacks when it
ends.

:class:`StageProgress` turns progress callbacks into one progress bar per stage with counts and
the time left; :class:`ErrorBox` shows an error's message with the full traceback behind a
toggle. ipywidgets (7.7 and 8) accepts trait updates from any thread (each one is a comm
message), so the callbacks update widgets directly; a lock keeps concurrent updates (downloads
report from a pool of threads) in order.
"""

from __future__ import annotations

import html
import logging
import threading
import time
import traceback as traceback_module
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ipywidgets as widgets

from hfselect_widgets.engine.progress import (
    STAGE_DESCRIPTIONS,
    STAGE_UNITS,
    ProgressCallback,
    is_cached_report,
    seconds_left,
)
from hfselect_widgets.errors import RankingCancelled
from hfselect_widgets.widgets._compat import set_titles
from hfselect_widgets.widgets.vocabulary import error_text

logger = logging.getLogger(__name__)

TaskTarget = Callable[[ProgressCallback, threading.Event], Any]
"""``target(progress, cancel) -> result``: what a :class:`BackgroundTask` runs."""

PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    "pending",
    "running",
    "succeeded",
    "failed",
    "cancelled",
)


class BackgroundTask:
    """One piece of engine work in a daemon thread, with progress, cancel and its outcome.

    ``target(progress, cancel)`` is called in the thread; ``progress`` forwards to the
    ``progress`` given here (errors raised by the display are logged, never passed to the
    engine) and ``cancel`` is :attr:`cancel_event`. Afterwards exactly one of :attr:`result` or
    :attr:`error` (with :attr:`traceback`) is set, :attr:`state` says how it ended, and the
    ``on_done`` callbacks run in the worker thread before :meth:`wait` returns.

    >>> task = BackgroundTask(lambda progress, cancel: 42).start()
    >>> task.wait(5), task.result
    (True, 42)
    """

    def __init__(
        self,
        target: TaskTarget,
        progress: ProgressCallback | None = None,
        name: str = "hfselect-widgets-task",
    ):
        self._target = target
        self._progress = progress
        self.name = name
        self.cancel_event = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.traceback: str | None = None
        """The formatted traceback of :attr:`error`."""
        self.callback_errors: list[BaseException] = []
        """Exceptions raised by ``on_done`` callbacks (logged too)."""
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._progress_lock = threading.Lock()
        self._callbacks: list[Callable[[BackgroundTask], None]] = []
        self._finished = False
        self._done = threading.Event()

    # -- control ------------------------------------------------------------------------------

    def start(self) -> BackgroundTask:
        """Start the thread (once); returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("This task was started already; create a new BackgroundTask.")
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the work to stop: the engine raises ``RankingCancelled`` at its next check."""
        self.cancel_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the task ended and its callbacks ran; ``False`` if ``timeout`` passed."""
        if self._thread is None:
            raise RuntimeError("The task has not been started.")
        return self._done.wait(timeout)

    def on_done(self, callback: Callable[[BackgroundTask], None]) -> None:
        """Call ``callback(task)`` when the task ends (at once if it has ended already)."""
        with self._lock:
            if not self._finished:
                self._callbacks.append(callback)
                return
        self._call(callback)

    # -- state --------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the thread was started and its outcome is not known yet."""
        return self._thread is not None and not self._finished

    @property
    def done(self) -> bool:
        """Whether the task ended and its callbacks ran."""
        return self._done.is_set()

    @property
    def state(self) -> str:
        """``"pending"``, ``"running"``, ``"succeeded"``, ``"failed"`` or ``"cancelled"``.

        Once Cancel was pressed, a task that stops with :class:`RankingCancelled` (or finishes
        anyway, in a race with the last step) counts as cancelled: its result is not wanted.
        """
        if self._thread is None:
            return PENDING
        if not self._finished:
            return RUNNING
        if isinstance(self.error, RankingCancelled) or (
            self.cancel_event.is_set() and self.error is None
        ):
            return CANCELLED
        return FAILED if self.error is not None else SUCCEEDED

    @property
    def elapsed(self) -> float | None:
        """Seconds the task has run (so far, or in all)."""
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return end - self.started_at

    # -- the thread ---------------------------------------------------------------------------

    def _report(self, stage: str, done: int, total: int | None) -> None:
        if self._progress is None:
            return
        try:
            with self._progress_lock:
                self._progress(stage, done, total)
        except Exception:  # a display problem must not abort the engine's work
            logger.exception("Progress display failed for stage %r", stage)

    def _run(self) -> None:
        try:
            self.result = self._target(self._report, self.cancel_event)
        except BaseException as exc:  # noqa: BLE001 - every outcome is shown to the user
            self.error = exc
            self.traceback = traceback_module.format_exc()
        self.finished_at = time.monotonic()
        with self._lock:
            self._finished = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            self._call(callback)
        self._done.set()

    def _call(self, callback: Callable[[BackgroundTask], None]) -> None:
        try:
            callback(self)
        except Exception as exc:
            self.callback_errors.append(exc)
            logger.exception("A BackgroundTask on_done callback failed")

    def __repr__(self) -> str:
        return f"BackgroundTask({self.name!r}, state={self.state!r})"


# --- formatting --------------------------------------------------------------------------------


def format_seconds(seconds: float) -> str:
    """``"42 s"``, ``"3:07"`` or ``"1:02:03"``."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def message_html(text: str, kind: str = "info") -> str:
    """``text`` (escaped, line breaks kept) in a coloured block; ``kind``: info/ok/warn/error."""
    colours = {"info": "#444", "ok": "#1b7a2f", "warn": "#8a5300", "error": "#b00020"}
    body = html.escape(text).replace("\n", "<br>")
    return f"<div style='color:{colours.get(kind, colours['info'])}'>{body}</div>"


# --- progress bars -----------------------------------------------------------------------------


class _StageRow:
    """A progress bar, its caption and the timing needed for the time left, for one stage."""

    def __init__(self, stage: str, caption: str | None = None, unit: str | None = None):
        self.stage = stage
        self.unit = unit or STAGE_UNITS.get(stage, "step")
        self.counts = ""  # "done / total units" as last shown (kept after a cancel)
        self.bar = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="260px"))
        self.caption = widgets.Label(
            caption or STAGE_DESCRIPTIONS.get(stage, stage), layout=widgets.Layout(width="120px")
        )
        self.text = widgets.Label("waiting")
        self.box = widgets.HBox([self.caption, self.bar, self.text])
        # Stable CSS hooks (``hfsw-*``) for user styling and for the browser tests.
        self.box.add_class("hfsw-stage")
        self.bar.add_class("hfsw-stage-bar")
        self.text.add_class("hfsw-stage-text")
        self.first_seen: tuple[float, int] | None = None
        self.last_shown = 0.0


class StageProgress(widgets.VBox):
    """One progress bar per stage with "done / total unit" and the time left.

    Call the instance (or :meth:`update`) as an engine progress callback. Updates of one stage
    are shown at most every ``min_interval`` seconds (plus the first and the last), so that
    thousands of ESMs do not flood the front end with messages. Stages not named at creation
    get a row when they first report. ``captions`` and ``units`` name stages that the engine's
    :data:`~hfselect_widgets.engine.progress.STAGE_DESCRIPTIONS` does not (or differently).
    """

    def __init__(
        self,
        stages: Iterable[str],
        min_interval: float = 0.1,
        *,
        captions: Mapping[str, str] | None = None,
        units: Mapping[str, str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.min_interval = min_interval
        self._captions = dict(captions or {})
        self._units = dict(units or {})
        self._rows: dict[str, _StageRow] = {}
        self._lock = threading.Lock()
        for stage in stages:
            self._add_row(stage)

    def _add_row(self, stage: str) -> _StageRow:
        row = _StageRow(stage, self._captions.get(stage), self._units.get(stage))
        self._rows[stage] = row
        self.children = (*self.children, row.box)
        return row

    @property
    def stages(self) -> list[str]:
        """The stages shown, in order."""
        return list(self._rows)

    def bar(self, stage: str) -> widgets.IntProgress:
        """The progress bar of ``stage``."""
        return self._rows[stage].bar

    def text(self, stage: str) -> str:
        """The caption beside the bar of ``stage`` (counts and time left)."""
        return self._rows[stage].text.value

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        self.update(stage, done, total)

    def update(self, stage: str, done: int, total: int | None) -> None:
        """Show that ``done`` of ``total`` steps of ``stage`` are done (``total`` may be None)."""
        with self._lock:
            row = self._rows.get(stage) or self._add_row(stage)
            now = time.monotonic()
            if row.first_seen is None:
                row.first_seen = (now, done)
            finished = total is not None and done >= total
            if not finished and done > 0 and now - row.last_shown < self.min_interval:
                return
            row.last_shown = now
            unit = row.unit
            if total is None:
                row.bar.max, row.bar.value = 1, 0
                row.text.value = row.counts = f"{done} {unit}s"
                return
            row.bar.max = max(1, total)
            row.bar.value = min(done, max(1, total))
            counts = row.counts = f"{done} / {total} {unit}{'' if total == 1 else 's'}"
            start, start_done = row.first_seen
            if finished:
                row.bar.bar_style = "success"
                # Complete at its first report: nothing was computed (an embedding cache hit).
                cached = is_cached_report(start_done, total)
                took = "cached" if cached else format_seconds(now - start)
                row.text.value = f"{counts} · {took}"
            else:
                row.bar.bar_style = ""
                seconds = seconds_left(done, total, now - start, start_done)
                left = f" · {format_seconds(seconds)} left" if seconds is not None else ""
                row.text.value = counts + left

    def reset(self) -> None:
        """Empty every bar (before a new run)."""
        with self._lock:
            for row in self._rows.values():
                row.bar.value, row.bar.max, row.bar.bar_style = 0, 1, ""
                row.text.value = "waiting"
                row.first_seen, row.last_shown, row.counts = None, 0.0, ""

    def mark_unused(self, text: str = "not needed") -> None:
        """After a run that finished: ``text`` on the stages that never reported (a pool of
        local ESMs has nothing to download), instead of leaving them "waiting"."""
        with self._lock:
            for row in self._rows.values():
                if row.first_seen is None:
                    row.text.value = text

    def mark_stopped(self, style: str = "warning", text: str | None = None) -> None:
        """Colour the bars of unfinished stages (after a cancel or an error) and replace their
        time left ("49 s left" of a run that no longer runs) by ``text`` (default "stopped")."""
        text = text or ("failed" if style == "danger" else "stopped")
        with self._lock:
            for row in self._rows.values():
                if row.bar.bar_style != "success" and row.first_seen is not None:
                    row.bar.bar_style = style
                    row.text.value = f"{row.counts} · {text}" if row.counts else text


# --- errors ------------------------------------------------------------------------------------


class ErrorBox(widgets.VBox):
    """An error's message, and its full traceback in a collapsed "Traceback" section.

    Hidden while there is no error.
    """

    def __init__(self, **kwargs: Any):
        self.message = widgets.HTML()
        self.traceback = widgets.HTML()
        self.details = widgets.Accordion(children=[self.traceback], selected_index=None)
        set_titles(self.details, ["Traceback"])
        super().__init__([self.message, self.details], **kwargs)
        self.error: BaseException | None = None
        self.clear()

    def show(
        self,
        error: BaseException,
        traceback_text: str | None = None,
        context: str = "",
        redact: Callable[[str], str] | None = None,
    ) -> None:
        """Show ``error`` (prefixed by ``context``) with ``traceback_text`` behind the toggle.

        ``redact`` rewrites both texts before they are shown (e.g. to hide a secret).
        """
        self.error = error
        text = f"{context}{error_text(error)}"
        details = traceback_text or text
        if redact is not None:
            text, details = redact(text), redact(details)
        self.message.value = message_html(text, "error")
        self.traceback.value = (
            f"<pre style='white-space:pre-wrap;font-size:85%'>{html.escape(details)}</pre>"
        )
        self.details.selected_index = None
        self.layout.display = None

    def clear(self) -> None:
        """Hide the box."""
        self.error = None
        self.message.value = ""
        self.traceback.value = ""
        self.layout.display = "none"

    @property
    def text(self) -> str:
        """The message shown (plain text), or ``""``."""
        return "" if self.error is None else error_text(self.error)


__all__ = [
    "BackgroundTask",
    "ErrorBox",
    "StageProgress",
    "error_text",
    "format_seconds",
    "message_html",
]
