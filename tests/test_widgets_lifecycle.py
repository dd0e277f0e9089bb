"""One background-task life cycle for every panel: start, progress, cancel, outcome.

The race that matters: Cancel only asks the work to stop at its next check, so a cancelled
fine-tuning may hold the model for a while. Train (or Rank) pressed again in that time must not
start a second run beside the first: the button reads "Stopping…" until the first returned,
then a new run works. Offline and quick: the engine's work is replaced by fakes that a
``threading.Event`` holds inside.
"""

from __future__ import annotations

import threading
import time
import types

import ipywidgets as widgets
import pandas as pd
import pytest
from tiny_models import TINY_TEXTS

from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.progress import check_cancel
from hfselect_widgets.engine.scoring.result import TaskRanking
from hfselect_widgets.errors import OutputExistsError, RankingCancelled
from hfselect_widgets.widgets._background import STOPPING_LABEL, TaskRunner, TaskStillStopping
from hfselect_widgets.widgets.dataset_picker import DatasetPicker
from hfselect_widgets.widgets.esm_pool import ESMPoolSelector
from hfselect_widgets.widgets.run_panel import RunPanel
from hfselect_widgets.widgets.train_publish import TrainPublishPanel
from hfselect_widgets.widgets.worker import ErrorBox, StageProgress

WAIT_S = 60


class HeldWork:
    """A fake engine function: each call waits inside until released, then honours Cancel.

    Records how many calls run at once and the order in which calls start and end.
    """

    def __init__(self, result, calls: int = 3):
        self.result = result
        self.lock = threading.Lock()
        self.active = self.max_active = self.calls = 0
        self.events: list[tuple[str, int]] = []
        self.entered = [threading.Event() for _ in range(calls)]
        self.release = [threading.Event() for _ in range(calls)]

    def __call__(self, dataset, *, progress, cancel, **kwargs):
        with self.lock:
            number = self.calls
            self.calls += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.events.append(("start", number))
        try:
            progress("training", 0, 2)
            self.entered[number].set()
            # One long step (a fine-tuning epoch, say) that does not look at Cancel.
            assert self.release[number].wait(WAIT_S)
            check_cancel(cancel, "training")
            progress("training", 2, 2)
            return self.result
        finally:
            with self.lock:
                self.active -= 1
                self.events.append(("end", number))


def fake_trained() -> types.SimpleNamespace:
    """What fit_quality_html needs of a TrainedESM."""
    quality = types.SimpleNamespace(mse=0.25, r2=0.75, num_rows=10)
    return types.SimpleNamespace(
        fit=types.SimpleNamespace(holdout_quality=None, train_quality=quality),
        output_dir=None,
        config=types.SimpleNamespace(task_id="tiny"),
        total_seconds=1.0,
        validation=None,
        quality_warnings=[],
    )


def train_panel(trainer) -> TrainPublishPanel:
    frame = pd.DataFrame({"text": TINY_TEXTS, "label": [i % 2 for i in range(len(TINY_TEXTS))]})
    panel = TrainPublishPanel({"tiny": frame}, trainer=trainer)
    panel.picker.source.value = "dataframe"
    panel.output_dir.value = "unused-by-the-fake"
    panel.publish_folder.value = "some/esm"
    panel.repo_id.value = "alice/esm"
    assert not panel.train_button.disabled
    return panel


def in_thread(function):
    """Run ``function()`` in a thread; returns (thread, a dict that gets "result")."""
    out: dict = {}
    thread = threading.Thread(target=lambda: out.setdefault("result", function()), daemon=True)
    thread.start()
    return thread, out


def test_train_again_while_the_cancelled_training_stops_never_runs_two_at_once():
    """Cancel, then Train while the first fine-tuning is still inside its step: the button
    reads "Stopping…" (disabled), a click starts nothing and says why, Train from code waits
    for the first to return and only then starts; at most one fine-tuning runs at any time."""
    trainer = HeldWork(fake_trained())
    panel = train_panel(trainer)
    first = panel.train()
    assert trainer.entered[0].wait(WAIT_S)
    assert panel.training and panel.train_button.disabled

    panel.cancel_button.click()

    assert not panel.training  # cancelled ...
    assert first.running  # ... but still stopping
    assert panel.train_button.disabled and panel.train_button.description == STOPPING_LABEL
    assert panel.cancel_button.disabled
    assert panel.publish_button.disabled  # the model and the output folder are still in use

    # A click that still arrives (a front end that has not seen "disabled" yet) starts nothing.
    panel.train_button.click()
    assert trainer.calls == 1
    assert "still stopping" in panel.status.value

    # Train from code waits for the cancelled training ...
    thread, out = in_thread(panel.train)
    time.sleep(0.3)
    assert trainer.calls == 1 and thread.is_alive()
    trainer.release[0].set()  # ... which reaches its next check and stops
    thread.join(WAIT_S)
    second = out["result"]
    assert trainer.entered[1].wait(WAIT_S)
    assert first.state == "cancelled" and isinstance(first.error, RankingCancelled)
    assert panel.train_button.description == "Train" and panel.training
    trainer.release[1].set()
    assert second.wait(WAIT_S)

    assert second.state == "succeeded", second.traceback
    assert trainer.max_active == 1
    assert trainer.events == [("start", 0), ("end", 0), ("start", 1), ("end", 1)]
    assert panel.trained is trainer.result and "Trained in" in panel.status.value
    assert not panel.train_button.disabled and panel.cancel_button.disabled
    assert not panel.publish_button.disabled


def test_a_training_that_does_not_stop_in_time_refuses_a_new_one_with_a_message():
    trainer = HeldWork(fake_trained())
    panel = train_panel(trainer)
    panel.runner.stop_grace = 0.05
    first = panel.train()
    assert trainer.entered[0].wait(WAIT_S)
    panel.cancel()

    with pytest.raises(TaskStillStopping, match="still stopping"):
        panel.train()

    assert trainer.calls == 1 and panel.task is first
    assert "still stopping" in panel.status.value
    trainer.release[0].set()
    assert first.wait(WAIT_S) and first.state == "cancelled"
    assert "nothing was written" in panel.status.value
    trainer.release[1].set()
    assert panel.train(wait=True).state == "succeeded"
    assert trainer.max_active == 1


def test_rank_again_while_the_cancelled_ranking_stops_waits_for_it():
    """The Rank panel shares the life cycle: Rank reads "Stopping…" after Cancel, and a new
    ranking starts only after the cancelled one returned."""
    ranking = TaskRanking([ESMConfig(base_model_name="m", task_id="org/t")], [0.5])
    ranker = HeldWork(ranking)
    panel = RunPanel(DatasetPicker({}, source="demo"), ESMPoolSelector(), ranker=ranker)
    assert not panel.rank_button.disabled
    first = panel.rank()
    assert ranker.entered[0].wait(WAIT_S)

    panel.cancel_button.click()
    assert panel.rank_button.disabled and panel.rank_button.description == STOPPING_LABEL
    thread, out = in_thread(panel.rank)
    time.sleep(0.3)
    assert ranker.calls == 1
    ranker.release[0].set()
    thread.join(WAIT_S)
    ranker.release[1].set()
    assert out["result"].wait(WAIT_S)

    assert first.state == "cancelled" and out["result"].state == "succeeded"
    assert ranker.max_active == 1
    assert ranker.events == [("start", 0), ("end", 0), ("start", 1), ("end", 1)]
    assert panel.ranking is ranking and panel.rank_button.description == "Rank"


def test_runner_relays_progress_shows_failures_and_refuses_a_second_start():
    start, cancel = widgets.Button(description="Go"), widgets.Button(description="Cancel")
    progress, status, errors = StageProgress(["training"]), widgets.HTML(), ErrorBox()
    runner = TaskRunner(
        "job", start, cancel_button=cancel, progress=progress, status=status, errors=errors
    )
    gate = threading.Event()

    def work(report, cancel_event):
        report("training", 3, 3)
        gate.wait(WAIT_S)
        raise OutputExistsError("/tmp/out")

    task = runner.start(lambda: work)
    assert start.disabled and not cancel.disabled
    with pytest.raises(RuntimeError, match="A job is running"):
        runner.start(lambda: work)
    gate.set()
    assert task.wait(WAIT_S)

    assert progress.text("training").startswith("3 / 3")
    assert isinstance(errors.error, OutputExistsError)
    assert "The job failed after" in status.value
    assert not start.disabled and cancel.disabled and start.description == "Go"


def test_a_form_problem_starts_nothing():
    runner = TaskRunner("job", widgets.Button(description="Go"))

    def prepare():
        raise ValueError("Choose a base model.")

    with pytest.raises(ValueError, match="base model"):
        runner.start(prepare)
    assert runner.task is None and not runner.start_button.disabled
