"""Progress stages a person can follow: loading the base model is a stage of its own, and a
stage answered from a cache says "cached" instead of a time (engine/progress.py)."""

from __future__ import annotations

import pandas as pd
from esm_factory import write_esm
from tiny_models import HIDDEN_SIZE, make_tiny_model

from hfselect_widgets.engine.progress import (
    STAGE_DESCRIPTIONS,
    STAGE_EMBEDDING,
    STAGE_MODEL,
    TqdmProgress,
    is_cached_report,
)
from hfselect_widgets.engine.requests import PoolRequest, RankingRequest, TargetRequest


def test_a_stage_whose_first_report_is_complete_is_marked_cached():
    """(n, n) as a stage's first report means a cache answered it; (0, n) then (n, n) is
    work done now."""
    assert is_cached_report(500, 500) and not is_cached_report(0, 500)
    assert not is_cached_report(0, 0) and not is_cached_report(3, None)
    with TqdmProgress(disable=True) as progress:
        progress(STAGE_EMBEDDING, 500, 500)
        progress("scoring", 0, 3)
        progress("scoring", 3, 3)
        assert progress.cached == {STAGE_EMBEDDING}


def test_ranking_reports_model_loading_as_a_stage_before_embedding(tmp_path):
    """RankingRequest.run reports "model" 0 of 1, then 1 of 1, before the embedding stage; a
    second run reports the embedding (embedding cache) and the model (in-process model cache)
    as cached."""
    model = make_tiny_model(tmp_path / "model", kind="bert")
    for i in range(2):
        write_esm(tmp_path / "esms" / f"esm{i}", HIDDEN_SIZE, task_id=f"org/t{i}", seed=i)
    frame = pd.DataFrame(
        {"text": [f"review {i} {'good' if i % 2 else 'bad'}" for i in range(40)],
         "label": [i % 2 for i in range(40)]}
    )  # fmt: skip
    request = RankingRequest(
        target=TargetRequest(source=frame, text_col="text", label_col="label", name="t"),
        pool=PoolRequest(kind="folder", esm_dir=str(tmp_path / "esms")),
        model=str(model),
    )
    calls: list[tuple[str, int, int | None]] = []
    request.run(lambda stage, done, total: calls.append((stage, done, total)))
    model_calls = [c for c in calls if c[0] == STAGE_MODEL]
    assert model_calls == [(STAGE_MODEL, 0, 1), (STAGE_MODEL, 1, 1)]
    stages = [c[0] for c in calls]
    assert stages.index(STAGE_MODEL) < stages.index(STAGE_EMBEDDING)
    assert STAGE_DESCRIPTIONS[STAGE_MODEL] == "Loading model"

    with TqdmProgress(disable=True) as progress:
        request.run(progress)
        assert STAGE_EMBEDDING in progress.cached and STAGE_MODEL in progress.cached
