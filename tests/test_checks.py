"""Sanity checks of the target before ranking (engine/data/checks.py, via the request layer)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from hfselect_widgets.engine.data import Dataset
from hfselect_widgets.engine.data.checks import check_target, check_target_columns
from hfselect_widgets.engine.requests import PoolRequest, RankingRequest, TargetRequest
from hfselect_widgets.errors import (
    HfselectWidgetsError,
    LabelsLookLikeTextError,
    TargetCheckError,
    TargetQualityWarning,
    TextIsLabelError,
    UninformativeTextError,
)


def _frame(n: int = 60, labels=None, texts=None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "text": texts if texts is not None else [f"review {i} was {i % 7}" for i in range(n)],
            "label": labels if labels is not None else [i % 2 for i in range(n)],
        }
    )


def _request(frame: pd.DataFrame, tmp_path, **target) -> RankingRequest:
    target = TargetRequest(source=frame, num_examples=None, **target)
    # An empty ESM folder and a base model folder that does not exist: anything that gets
    # past the checks fails at the model, before embedding (a missing ESM folder would be
    # refused before the target is even loaded).
    (tmp_path / "no-esms").mkdir(exist_ok=True)
    pool = PoolRequest(kind="folder", esm_dir=str(tmp_path / "no-esms"))
    return RankingRequest(target=target, pool=pool, model=str(tmp_path / "no-model"))


def test_good_target_passes_silently():
    dataset = Dataset.from_pandas(_frame(), "text", "label")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_target(dataset) == []


def test_text_column_equal_to_label_column_is_refused(tmp_path):
    with pytest.raises(TextIsLabelError) as info:
        check_target_columns("label", "label")
    assert info.value.field == "label_col"
    with pytest.raises(TextIsLabelError):
        _request(_frame(), tmp_path, text_col=["text", "label"], label_col="label").run()
    from hfselect_widgets.cli import CLI_WORDS

    assert "--label-col COL" in info.value.render(CLI_WORDS)


def test_nearly_unique_string_labels_are_refused_unless_forced(tmp_path):
    frame = _frame(labels=[f"the label text number {i}" for i in range(60)])
    dataset = Dataset.from_pandas(frame, "text", "label")
    with pytest.raises(LabelsLookLikeTextError, match="almost surely a text column") as info:
        check_target(dataset)
    assert isinstance(info.value, TargetCheckError)
    from hfselect_widgets.cli import CLI_WORDS

    rendered = info.value.render(CLI_WORDS)
    assert "--force" in rendered and "--regression" in rendered
    with pytest.warns(TargetQualityWarning, match="single example"):  # forced: a warning
        check_target(dataset, force=True)
    with pytest.raises(LabelsLookLikeTextError):
        _request(frame, tmp_path).run()
    with pytest.raises(HfselectWidgetsError) as forced, pytest.warns(TargetQualityWarning):
        _request(frame, tmp_path, force=True).run()
    assert not isinstance(forced.value, TargetCheckError)


def test_nearly_unique_numeric_classes_suggest_regression():
    frame = _frame(labels=list(range(60)))
    dataset = Dataset.from_pandas(frame, "text", "label", is_regression=False)
    with pytest.raises(LabelsLookLikeTextError) as info:
        check_target(dataset)
    assert "is_regression=True" in str(info.value)
    assert "text column" not in str(info.value)


def test_few_distinct_labels_are_fine_even_if_unique():
    dataset = Dataset.from_pandas(_frame(10, labels=[f"c{i}" for i in range(10)]), "text", "label")
    with pytest.warns(TargetQualityWarning):  # single examples, but not refused
        check_target(dataset)


def test_empty_texts_are_refused_even_when_forced():
    dataset = Dataset([" ", "", "  "], [0, 1, 0])
    with pytest.raises(UninformativeTextError, match="empty"):
        check_target(dataset, force=True)


def test_nearly_constant_texts_are_refused_unless_forced(tmp_path):
    texts = ["same text"] * 59 + ["other"]
    dataset = Dataset.from_pandas(_frame(texts=texts), "text", "label")
    with pytest.raises(UninformativeTextError, match="59 of 60 texts"):
        check_target(dataset)
    check_target(dataset, force=True)
    with pytest.raises(UninformativeTextError):
        _request(_frame(texts=texts), tmp_path).run()


def test_single_example_classes_warn():
    labels = ["a"] * 20 + ["b"] * 20 + ["rare"]
    dataset = Dataset.from_pandas(_frame(41, labels=labels), "text", "label")
    with pytest.warns(TargetQualityWarning, match="1 class of 'label' has a single example"):
        messages = check_target(dataset)
    assert any("'rare'" in m for m in messages)
    labels = ["a"] * 20 + ["b"] * 20 + ["rare", "odd"]
    dataset = Dataset.from_pandas(_frame(42, labels=labels), "text", "label")
    with pytest.warns(TargetQualityWarning, match="2 classes of 'label' have a single example"):
        check_target(dataset)


def test_extreme_imbalance_warns():
    labels = [0] * 200 + [1] * 3
    dataset = Dataset.from_pandas(_frame(203, labels=labels), "text", "label")
    with pytest.warns(TargetQualityWarning, match="extremely imbalanced"):
        check_target(dataset)
    # 199 of 200 rows is 99.5%, not a rounded "100%" that hides the other class.
    dataset = Dataset.from_pandas(_frame(200, labels=[0] * 199 + [1]), "text", "label")
    with pytest.warns(TargetQualityWarning, match=r"largest 199 rows, 99\.5%"):
        check_target(dataset)


def test_regression_targets_skip_class_checks():
    dataset = Dataset.from_pandas(
        _frame(labels=[i / 10 for i in range(60)]), "text", "label", is_regression=True
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_target(dataset) == []


def test_cli_refuses_text_labels_in_one_line_and_accepts_force(tmp_path, capsys):
    from hfselect_widgets.cli import main

    path = tmp_path / "target.csv"
    _frame(labels=[f"the label text number {i}" for i in range(60)]).to_csv(path, index=False)
    base = ["rank", str(path), "--text-col", "text", "--label-col", "label", "--no-progress"]
    # An empty ESM folder and a missing model folder: a forced run stops at the model.
    (tmp_path / "none").mkdir()
    base += ["--model", str(tmp_path / "no-model")]
    status = main([*base, "--esm-dir", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and "--force" in err
    status = main([*base, "--esm-dir", str(tmp_path / "none"), "--force"])
    err = capsys.readouterr().err
    # The CLI prints the target's warnings itself, each on a line of its own.
    assert any(line.startswith("Warning: ") for line in err.splitlines())
    assert "almost surely" not in err
