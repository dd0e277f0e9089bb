"""The run panel and its background worker: rank on a tiny model, cancel mid-run, show errors.

Everything runs offline on a tiny random sentence-transformers model and ESMs written to a
temporary folder. Cancellation is made deterministic by holding the worker inside its first
"scoring" progress report until the test has pressed Cancel.
"""

from __future__ import annotations

import threading

import pandas as pd
import pytest
from esm_factory import write_esm
from tiny_models import HIDDEN_SIZE, TINY_TEXTS, make_tiny_model

from hfselect_widgets.engine.progress import check_cancel
from hfselect_widgets.errors import ColumnNotFoundError, RankingCancelled
from hfselect_widgets.widgets.dataset_picker import DatasetPicker
from hfselect_widgets.widgets.esm_pool import ESMPoolSelector
from hfselect_widgets.widgets.run_panel import RunPanel
from hfselect_widgets.widgets.worker import BackgroundTask, ErrorBox, StageProgress

# The tiny model folder has no known Hub id: the engine warns (and the panel shows it).
pytestmark = pytest.mark.filterwarnings("ignore:The base model has no known Hub id")

WAIT_S = 60  # generous upper bounds for a slow CI machine; never a timing assertion


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny", "sentence-transformers")


@pytest.fixture(scope="module")
def esm_dir(tmp_path_factory):
    """Three ESMs that fit the tiny model and one of another dimension (skipped)."""
    root = tmp_path_factory.mktemp("esms")
    for i, task in enumerate(("org/alpha", "org/beta", "org/gamma")):
        write_esm(root / task.split("/")[1], HIDDEN_SIZE, task_id=task, seed=i)
    write_esm(root / "wrong_dim", 16, task_id="org/wrong-dim")
    return root


def target_frame() -> pd.DataFrame:
    return pd.DataFrame({"text": TINY_TEXTS, "label": [i % 2 for i in range(len(TINY_TEXTS))]})


def make_panel(tiny_model, esm_dir, namespace=None, **options) -> RunPanel:
    namespace = {"target": target_frame()} if namespace is None else namespace
    picker = DatasetPicker(namespace, source="dataframe", num_examples=0)
    pool = ESMPoolSelector(model_name=str(tiny_model), esm_dir=esm_dir)
    options.setdefault("embedding_cache", None)
    options.setdefault("n_jobs", 2)
    return RunPanel(picker, pool, **options)


# --- the run panel -------------------------------------------------------------------------------


def test_rank_completes_on_a_tiny_model_and_shows_the_outcome(tiny_model, esm_dir):
    """Rank: the ranking is kept and announced, progress bars are complete, the skipped ESM is
    listed with its reason, and the panel is ready for the next run."""
    panel = make_panel(tiny_model, esm_dir)
    received = []
    panel.on_ranking(received.append)
    assert not panel.rank_button.disabled and panel.cancel_button.disabled

    task = panel.rank(wait=True)

    assert task.state == "succeeded", task.traceback
    ranking = panel.ranking
    assert received == [ranking]
    assert sorted(ranking.task_ids) == ["org/alpha", "org/beta", "org/gamma"]
    assert "Ranked 3 intermediate datasets" in panel.status.value
    assert "no known Hub id" in panel.status.value  # the engine's warning, shown
    assert "org/" in panel.summary.value  # the top of the ranking
    assert panel.skipped.layout.display is None
    assert "wrong_dim" in panel.skipped_table.value
    assert "16-dimensional" in panel.skipped_table.value
    assert panel.progress.text("embedding").startswith(f"{len(TINY_TEXTS)} / {len(TINY_TEXTS)}")
    assert panel.progress.text("scoring").startswith("4 / 4 ESMs")
    assert panel.progress.bar("scoring").bar_style == "success"
    # local ESMs: nothing was downloaded, and the bar says so instead of "waiting"
    assert panel.progress.text("download") == "not needed"
    assert panel.errors.layout.display == "none"
    assert not panel.rank_button.disabled and panel.cancel_button.disabled


def test_rank_button_is_blocked_while_a_form_is_invalid(tiny_model, esm_dir):
    """An invalid dataset choice disables Rank; rank() refuses with the reason; fixing it
    enables Rank again."""
    panel = make_panel(tiny_model, esm_dir)
    panel.picker.text_cols.value = ()
    assert panel.rank_button.disabled
    with pytest.raises(ValueError, match="text column"):
        panel.rank()
    assert "text column" in panel.status.value

    panel.picker.text_cols.value = ("text",)
    assert not panel.rank_button.disabled

    panel.pool.task_filter.value = "no-such-task"
    assert panel.rank_button.disabled


def test_cancel_mid_run_stops_the_worker_and_frees_the_panel_once_it_stopped(
    tiny_model, esm_dir, monkeypatch
):
    """Cancel during scoring: Rank reads "Stopping…" until the worker stopped with
    RankingCancelled (two rankings never run side by side), then is usable again; no ranking
    is kept, and the outcome says so."""
    panel = make_panel(tiny_model, esm_dir)
    reached, release = threading.Event(), threading.Event()
    show = panel.progress.update

    def held_update(stage, done, total):
        show(stage, done, total)
        if stage == "scoring" and not reached.is_set():
            reached.set()
            release.wait(WAIT_S)

    monkeypatch.setattr(panel.progress, "update", held_update)
    task = panel.rank()
    assert reached.wait(WAIT_S), task.traceback
    assert task.running and panel.running
    assert panel.rank_button.disabled and not panel.cancel_button.disabled

    panel.cancel_button.click()

    assert task.cancel_event.is_set()
    assert panel.rank_button.disabled and panel.rank_button.description == "Stopping…"
    assert panel.cancel_button.disabled and not panel.running
    assert "Cancelling" in panel.status.value
    release.set()
    assert task.wait(WAIT_S)
    assert not panel.rank_button.disabled and panel.rank_button.description == "Rank"
    assert task.state == "cancelled"
    assert isinstance(task.error, RankingCancelled)
    assert panel.ranking is None
    assert "Cancelled" in panel.status.value
    assert panel.errors.layout.display == "none"  # a cancel is not an error

    # ... and the panel ranks again normally.
    monkeypatch.setattr(panel.progress, "update", show)
    assert panel.rank(wait=True).state == "succeeded"
    assert panel.ranking is not None


def test_engine_error_is_shown_with_its_message_and_traceback(tiny_model, esm_dir):
    """The DataFrame loses its label column after it was picked: the engine's
    ColumnNotFoundError message appears in the panel, the traceback behind a toggle."""
    namespace = {"target": target_frame()}
    panel = make_panel(tiny_model, esm_dir, namespace=namespace)
    namespace["target"] = target_frame().rename(columns={"label": "stars"})

    task = panel.rank(wait=True)

    assert task.state == "failed" and isinstance(task.error, ColumnNotFoundError)
    assert panel.errors.layout.display is None
    assert str(task.error) in panel.errors.text
    assert "&#x27;label&#x27; does not exist" in panel.errors.message.value
    assert panel.errors.details.selected_index is None  # collapsed until asked for
    assert "Traceback" in panel.errors.traceback.value
    assert "ColumnNotFoundError" in panel.errors.traceback.value
    assert "failed" in panel.status.value
    assert panel.ranking is None
    assert not panel.rank_button.disabled and panel.cancel_button.disabled


def test_ranker_receives_the_pool_selection_and_settings(tiny_model, esm_dir):
    """The panel passes the dataset, the pool's selection and its settings to the ranker."""
    calls = []

    def fake_ranker(dataset, **kwargs):
        calls.append((dataset, kwargs))
        raise RuntimeError("stop here")

    panel = make_panel(tiny_model, esm_dir, ranker=fake_ranker, batch_size=7)
    task = panel.rank(wait=True)
    dataset, kwargs = calls[0]
    assert len(dataset) == len(TINY_TEXTS)
    assert kwargs["model_name"] == str(tiny_model) and kwargs["esm_dir"] == str(esm_dir)
    assert kwargs["batch_size"] == 7 and callable(kwargs["progress"])
    assert isinstance(kwargs["cancel"], threading.Event)
    assert task.state == "failed" and "RuntimeError: stop here" in panel.errors.text


def test_rank_hands_the_engine_its_request_and_the_pool_the_engine_resolved(
    tiny_model, esm_dir, monkeypatch
):
    """Rank loads the target with the request's TargetRequest and runs the RankingRequest
    with the pool that RankingRequest.resolve_pool gave for the form's index: the panel has
    no loading or pool resolution of its own."""
    from hfselect_widgets.engine.requests import RankingRequest

    seen = {}
    resolve = RankingRequest.resolve_pool

    def spy_resolve(self, *args, **kwargs):
        seen["index"] = kwargs.get("index")
        seen["resolved"] = resolve(self, *args, **kwargs)
        return seen["resolved"]

    def fake_run(self, progress=None, cancel=None, *, dataset=None, pool=None):
        seen.update(request=self, dataset=dataset, pool=pool)
        raise RuntimeError("stop here")

    monkeypatch.setattr(RankingRequest, "resolve_pool", spy_resolve)
    monkeypatch.setattr(RankingRequest, "run", fake_run)
    panel = make_panel(tiny_model, esm_dir)
    task = panel.rank(wait=True)
    assert task.state == "failed" and "stop here" in panel.errors.text
    assert seen["index"] is panel.pool.index and seen["index"] is not None
    assert seen["pool"] is seen["resolved"]
    assert seen["pool"].ranking_kwargs() == {"model_name": str(tiny_model), "esm_dir": str(esm_dir)}
    assert len(seen["dataset"]) == len(TINY_TEXTS) and seen["dataset"] is panel.dataset
    assert seen["request"].target.source is panel.picker.namespace["target"]


def test_ranker_and_rank_intervals_reach_the_request_and_the_ranking(tiny_model, esm_dir):
    """The Ranker dropdown offers every engine ranker (the permutation control first, the
    default: the best ranker on the transfer benchmark); the
    choice and "Rank intervals" (off, or a bootstrap of the top K, K=20 by default) go into the
    RankingRequest, and the ranking records the ranker that produced it."""
    from hfselect_widgets.engine import defaults

    panel = make_panel(tiny_model, esm_dir)
    assert [value for _, value in panel.ranker_menu.options] == list(defaults.RANKER_NAMES)
    assert panel.ranker_menu.value == defaults.RANKER == "logme-permutation"
    assert panel.uncertainty == 0 and panel.uncertainty_k.value == 20
    assert panel.uncertainty_k.layout.display == "none"  # shown only when switched on
    request = panel.ranking_request()
    assert request.ranker == "logme-permutation" and request.uncertainty == 0

    panel.ranker_menu.value = "knn"
    panel.uncertainty_toggle.value = True
    panel.uncertainty_k.value = 3
    assert panel.uncertainty_k.layout.display is None
    request = panel.ranking_request()
    assert request.ranker == "knn" and request.uncertainty == 3

    task = panel.rank(wait=True)
    assert task.state == "succeeded", task.traceback
    assert panel.ranking.metadata["ranker"] == "knn"
    assert panel.ranking.metadata.get("uncertainty")  # the bootstrap ran
    assert "(ranker: knn)" in panel.status.value


def test_small_sample_warning_is_amber_not_green(tiny_model, esm_dir):
    """The engine's warning about a small sample (20 rows <= 32 dimensions) is shown in the
    warning colour, apart from the green success line."""
    from hfselect_widgets.widgets.worker import message_html

    panel = make_panel(tiny_model, esm_dir)
    assert panel.rank(wait=True).state == "succeeded"
    ok_block, _, warn_block = panel.status.value.partition("</div>")
    amber = message_html("x", "warn").split("'")[1]  # the style of a warning
    green = message_html("x", "ok").split("'")[1]
    assert "Ranked 3 intermediate datasets" in ok_block and green in ok_block
    assert "unreliable" not in ok_block
    assert "unreliable" in warn_block and amber in warn_block


def test_target_check_refusal_names_the_force_box_and_force_ranks_anyway(tiny_model, esm_dir):
    """Labels that are nearly all unique (free text) are refused with advice that names the
    "Rank anyway (skip the target checks)" box; ticking it ranks the same target."""
    from hfselect_widgets.errors import LabelsLookLikeTextError

    texts = TINY_TEXTS + TINY_TEXTS[:10]
    frame = pd.DataFrame({"text": texts, "opinion": [f"opinion {i}" for i in range(30)]})
    panel = make_panel(tiny_model, esm_dir, namespace={"target": frame})
    panel.picker.text_cols.value = ("text",)
    panel.picker.label_col.value = "opinion"
    panel.picker.task_type.value = "classification"

    task = panel.rank(wait=True)
    assert task.state == "failed" and isinstance(task.error, LabelsLookLikeTextError)
    assert 'tick "Rank anyway (skip the target checks)"' in panel.errors.text

    panel.picker.force.value = True
    assert panel.rank(wait=True).state == "succeeded"


# --- the worker ----------------------------------------------------------------------------------


def test_background_task_keeps_the_result_and_runs_callbacks_before_wait_returns():
    seen = []
    task = BackgroundTask(lambda progress, cancel: 42)
    task.on_done(lambda t: seen.append(t.result))
    assert task.state == "pending"
    task.start()
    assert task.wait(WAIT_S)
    assert task.result == 42 and task.state == "succeeded" and seen == [42]
    late = []
    task.on_done(lambda t: late.append(t.state))  # registered after the end: called at once
    assert late == ["succeeded"]
    with pytest.raises(RuntimeError):
        task.start()


def test_background_task_captures_errors_with_their_traceback():
    def fail(progress, cancel):
        raise ColumnNotFoundError("txt", ["text", "label"], role="text column")

    task = BackgroundTask(fail).start()
    assert task.wait(WAIT_S)
    assert task.state == "failed" and isinstance(task.error, ColumnNotFoundError)
    assert "ColumnNotFoundError" in task.traceback and "in fail" in task.traceback


def test_background_task_cancel_is_seen_by_the_engine_check():
    started = threading.Event()

    def work(progress, cancel):
        started.set()
        cancel.wait(WAIT_S)
        check_cancel(cancel, "scoring")

    task = BackgroundTask(work).start()
    assert started.wait(WAIT_S) and task.running
    task.cancel()
    assert task.wait(WAIT_S)
    assert task.state == "cancelled" and not task.running


def test_progress_display_errors_never_abort_the_work():
    """A failing progress display is logged; the engine's work goes on."""

    def broken_display(stage, done, total):
        raise RuntimeError("display broke")

    def work(progress, cancel):
        progress("embedding", 1, 2)
        return "done"

    task = BackgroundTask(work, progress=broken_display).start()
    assert task.wait(WAIT_S) and task.result == "done"


def test_stage_progress_shows_counts_time_left_and_completion():
    bars = StageProgress(["embedding", "scoring"], min_interval=0)
    bars("embedding", 0, 10)
    assert bars.text("embedding") == "0 / 10 texts"
    bars("embedding", 5, 10)
    assert bars.bar("embedding").value == 5 and bars.bar("embedding").max == 10
    assert bars.text("embedding").startswith("5 / 10 texts")
    bars("embedding", 10, 10)
    assert bars.bar("embedding").bar_style == "success"
    bars("download", 3, None)  # a stage not named at creation, with no total
    assert bars.stages == ["embedding", "scoring", "download"]
    assert bars.text("download") == "3 ESMs"
    bars.mark_unused()  # the run is over: a stage that never reported was not needed
    assert bars.text("scoring") == "not needed"
    assert bars.text("embedding").startswith("10 / 10 texts")
    bars.reset()
    assert bars.text("embedding") == "waiting" and bars.bar("embedding").value == 0


def test_stopped_bars_keep_their_counts_but_no_time_left():
    """After a cancel the bar of a stage in progress read "2 / 10 ESMs · 49 s left" for good;
    it now keeps the counts and says "stopped" ("failed" after an error)."""
    import time

    bars = StageProgress(["embedding", "scoring"], min_interval=0)
    bars("embedding", 10, 10)
    bars("scoring", 1, 10)
    bars._rows["scoring"].first_seen = (time.monotonic() - 30, 0)  # 30 s for the first ESM
    bars("scoring", 2, 10)
    assert "left" in bars.text("scoring")
    bars.mark_stopped("warning")
    assert bars.text("scoring") == "2 / 10 ESMs · stopped"
    assert bars.bar("scoring").bar_style == "warning"
    assert bars.text("embedding").startswith("10 / 10 texts")  # a finished stage stays so
    bars.mark_stopped("danger")
    assert bars.text("scoring") == "2 / 10 ESMs · failed"


def test_error_box_redacts_and_hides():
    box = ErrorBox()
    assert box.layout.display == "none"
    box.show(
        RuntimeError("token hf_secret leaked"),
        "trace hf_secret",
        redact=lambda t: t.replace("hf_secret", "***"),
    )
    assert "hf_secret" not in box.message.value + box.traceback.value
    assert "***" in box.message.value and box.layout.display is None
    box.clear()
    assert box.layout.display == "none" and box.text == ""


def test_a_stage_complete_at_its_first_report_says_cached_not_zero_seconds():
    """An embedding served from the cache reports done == total at once: the bar says
    "cached", while a stage that did work shows how long it took."""
    from hfselect_widgets.widgets.run_panel import RANKING_STAGES
    from hfselect_widgets.widgets.worker import StageProgress

    assert RANKING_STAGES[0] == "model"  # loading the base model is the first stage shown
    progress = StageProgress(["embedding", "scoring"], min_interval=0)
    progress("embedding", 1000, 1000)
    progress("scoring", 0, 7)
    progress("scoring", 7, 7)
    assert "cached" in progress.text("embedding")
    assert "cached" not in progress.text("scoring") and "7 / 7" in progress.text("scoring")
