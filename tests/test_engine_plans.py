"""Plan arithmetic the widgets show, done in the engine: download sizes of a filtered pool and
the time left for a stage."""

from __future__ import annotations

import pytest

from hfselect_widgets.engine.hub.download import DownloadPlan
from hfselect_widgets.engine.progress import seconds_left


def test_a_restricted_download_plan_counts_only_the_chosen_repos():
    plan = DownloadPlan(
        count=3,
        cached_count=1,
        total_bytes=5_000_000,
        per_repo={"a": 0, "b": 2_000_000, "c": 3_000_000},
        estimated={"c"},
    )
    part = plan.restrict(["a", "c", "unknown"])
    assert (part.count, part.cached_count, part.total_bytes) == (2, 1, 3_000_000)
    assert part.per_repo == {"a": 0, "c": 3_000_000} and part.estimated == {"c"}
    assert part.to_download == 1
    assert str(part) == "2 ESMs, 1 cached, about 3.0 MB to download"
    assert plan.restrict([]).count == 0


def test_seconds_left_follows_the_rate_since_the_stage_started():
    assert seconds_left(10, 30, 5.0) == pytest.approx(10.0)
    # Steps done before the first report (e.g. cached ESMs) do not count towards the rate.
    assert seconds_left(12, 30, 5.0, done_at_start=10) == pytest.approx(45.0)
    assert seconds_left(0, 30, 5.0) is None and seconds_left(5, 30, 0.0) is None
    assert seconds_left(30, 30, 5.0) == 0.0
