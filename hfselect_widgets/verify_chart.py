"""Pure chart builders for a verification (:func:`~hfselect_widgets.engine.evaluation.verify_transfer`).

:func:`verification_frame` turns a :class:`~hfselect_widgets.engine.evaluation.verify.VerificationResult`
into one row per verified candidate; :func:`verification_chart` draws each candidate's gain over
fine-tuning on the target alone (the no-transfer baseline, a rule at 0) as a point with its 95 %
interval (a bar from low to high where there are at least two seeds). No widgets here: the
Verify tab (:mod:`hfselect_widgets.widgets.verify_panel`) shows the chart in a ``JupyterChart``.
"""

from __future__ import annotations

import math
from typing import Any

import altair as alt
import pandas as pd

VERIFY_COLUMNS = ("Candidate", "Rank", "Score", "Mean", "Gain", "Gain low", "Gain high", "Seeds")


def _number(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def verification_frame(result: Any) -> pd.DataFrame:
    """One row per verified candidate, in ranking order: rank, score, mean metric, gain over
    no transfer and its interval (``None`` where one seed gives no interval), seeds."""
    rows = [
        {
            "Candidate": c.name,
            "Rank": c.rank,
            "Score": _number(c.score),
            "Mean": _number(c.mean),
            "Gain": _number(c.gain),
            "Gain low": _number(c.gain_low),
            "Gain high": _number(c.gain_high),
            "Seeds": len(c.values),
        }
        for c in result.candidates
    ]
    return pd.DataFrame(rows, columns=list(VERIFY_COLUMNS))


def verdict(gain: Any, low: Any = None, high: Any = None) -> str:
    """``"helps"`` / ``"hurts"`` when the gain's interval lies above / below 0, else
    ``"unclear"`` (also for one seed, which gives no interval, and for a missing gain)."""
    gain, low, high = _number(gain), _number(low), _number(high)
    if gain is None or low is None or high is None:
        return "unclear"
    if low > 0:
        return "helps"
    return "hurts" if high < 0 else "unclear"


def verification_chart(result: Any, width: int = 420) -> alt.LayerChart:
    """Gain over no transfer per candidate (points), with 95 % intervals (bars) and a rule at 0.

    Higher is better: a candidate right of the rule helped the target more than fine-tuning on
    the target alone did; an interval that crosses the rule is not a clear gain.
    """
    frame = verification_frame(result)
    frame["Label"] = [
        f"{int(rank)}. {name}" if rank is not None and not pd.isna(rank) else str(name)
        for rank, name in zip(frame["Rank"], frame["Candidate"], strict=True)
    ]
    frame["Helps"] = [
        verdict(gain, low, high)
        for gain, low, high in zip(
            frame["Gain"], frame["Gain low"], frame["Gain high"], strict=True
        )
    ]
    metric = getattr(result, "metric", "metric")
    order = list(frame["Label"])
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    data = alt.InlineData(values=records)
    y = alt.Y("Label:N", sort=order, title=None, axis=alt.Axis(labelLimit=320))
    base = alt.Chart(data).encode(y=y)
    tooltip = [
        alt.Tooltip("Candidate:N"),
        alt.Tooltip("Rank:Q"),
        alt.Tooltip("Mean:Q", title=f"{metric} (mean)", format=".4f"),
        alt.Tooltip("Gain:Q", format="+.4f"),
        alt.Tooltip("Gain low:Q", format="+.4f"),
        alt.Tooltip("Gain high:Q", format="+.4f"),
        alt.Tooltip("Seeds:Q"),
    ]
    colour = alt.Color(
        "Helps:N",
        scale=alt.Scale(
            domain=["helps", "unclear", "hurts"], range=["#1b7a2f", "#8a8a8a", "#b00020"]
        ),
        legend=alt.Legend(title=None, orient="bottom"),
    )
    intervals = base.mark_rule(strokeWidth=3, opacity=0.6).encode(
        x=alt.X("Gain low:Q"), x2="Gain high:Q", color=colour, tooltip=tooltip
    )
    points = base.mark_point(filled=True, size=90).encode(
        x=alt.X("Gain:Q", title=f"gain in {metric} over no transfer (95 % interval)"),
        color=colour,
        tooltip=tooltip,
    )
    zero = (
        alt.Chart(alt.InlineData(values=[{"x": 0}]))
        .mark_rule(strokeDash=[4, 3], color="#444")
        .encode(x="x:Q")
    )
    height = max(60, 28 * len(frame))
    return alt.layer(zero, intervals, points).properties(
        width=width, height=height, title="Fine-tuning on the pick first, vs. the target alone"
    )


__all__ = ["VERIFY_COLUMNS", "verdict", "verification_chart", "verification_frame"]
