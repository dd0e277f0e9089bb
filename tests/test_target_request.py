"""One dispatch of a target's source: ``TargetRequest.load`` hands every kind to ``Dataset.load``.

A DataFrame, a ``datasets.Dataset``, a data file and a local dataset folder (read by
``datasets`` as a Hub repo would be) all go through the one dispatch, with the request's
split, subset, name and sample; offline, tiny data.
"""

from __future__ import annotations

import datasets
import pandas as pd
import pytest

from hfselect_widgets.engine.data.dataset import Dataset
from hfselect_widgets.engine.requests import TargetRequest


def frame(rows: int = 12) -> pd.DataFrame:
    return pd.DataFrame(
        {"text": [f"text number {i}" for i in range(rows)], "label": [i % 2 for i in range(rows)]}
    )


@pytest.fixture
def calls(monkeypatch):
    """Every Dataset.load call: (source type, keyword arguments)."""
    seen = []
    load = Dataset.load.__func__

    def spy(cls, source, *args, **kwargs):
        seen.append((source, kwargs))
        return load(cls, source, *args, **kwargs)

    monkeypatch.setattr(Dataset, "load", classmethod(spy))
    return seen


def test_every_source_kind_goes_through_dataset_load(tmp_path, calls):
    csv = tmp_path / "reviews.csv"
    frame().to_csv(csv, index=False)
    folder = tmp_path / "hub_like"
    (folder / "data").mkdir(parents=True)
    frame(20).to_csv(folder / "data" / "train.csv", index=False)
    frame(6).to_csv(folder / "data" / "test.csv", index=False)

    sources = {
        "frame": (frame(), "mine"),
        "datasets": (datasets.Dataset.from_pandas(frame()), "mine"),
        "file": (str(csv), None),
        "folder": (str(folder), "ignored: a Hub dataset's name is its id"),
    }
    loaded = {}
    for kind, (source, name) in sources.items():
        request = TargetRequest(source=source, name=name, num_examples=None, split="test")
        loaded[kind] = request.load()
    assert len(calls) == 4
    assert isinstance(calls[0][0], pd.DataFrame) and isinstance(calls[1][0], pd.DataFrame)
    assert all(kwargs["split"] == "test" and kwargs["num_examples"] is None for _, kwargs in calls)
    assert len(loaded["frame"]) == len(loaded["datasets"]) == len(loaded["file"]) == 12
    assert len(loaded["folder"]) == 6  # the test split
    assert loaded["frame"].metadata["task_id"] == "mine"
    assert loaded["file"].metadata["task_id"] == "reviews.csv"
    assert loaded["folder"].metadata["task_id"] == str(folder)


def test_a_loaded_dataset_and_the_demo_target_need_no_dispatch(calls):
    dataset = Dataset(["a", "b", "c"], [0, 1, 0])
    assert TargetRequest(source=dataset).load() is dataset
    demo = TargetRequest(num_examples=None).load()
    assert demo.metadata.get("held_out_from")
    assert not calls
