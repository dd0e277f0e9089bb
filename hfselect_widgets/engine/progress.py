"""Progress reporting and cancellation, shared by every long-running engine function.

The engine never prints. Long work calls ``progress(stage, done, total)`` after each step and
checks ``cancel`` (anything with ``is_set()``, normally a :class:`threading.Event`) between
steps. Front ends turn the callback into tqdm bars (CLI, :class:`TqdmProgress`) or widget
progress bars.

Stage names used by the engine (front ends may show one bar per stage):

``"model"``     the base model loaded (unit: model; 0 of 1, then 1 of 1)
``"metadata"``  ESM configs fetched from the Hub or read from a folder (unit: ESM)
``"download"``  ESM weights downloaded or loaded (unit: ESM)
``"embedding"`` target texts embedded with the base model (unit: text)
``"scoring"``   ESMs scored with LogME (unit: ESM)
``"training"``  fine-tuning steps of the base model (unit: step)
``"esm_fit"``   ESM fitting (unit: step)

A stage whose *first* report is already complete (``done == total > 0``) was answered from a
cache (a cached target embedding reports ``(n, n)`` once; computing it starts at ``(0, n)``):
front ends say "cached" instead of a time (:func:`is_cached_report`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from hfselect_widgets.errors import RankingCancelled

STAGE_MODEL = "model"
STAGE_METADATA = "metadata"
STAGE_DOWNLOAD = "download"
STAGE_EMBEDDING = "embedding"
STAGE_SCORING = "scoring"
STAGE_TRAINING = "training"
STAGE_ESM_FIT = "esm_fit"

STAGE_UNITS = {
    STAGE_MODEL: "model",
    STAGE_METADATA: "ESM",
    STAGE_DOWNLOAD: "ESM",
    STAGE_EMBEDDING: "text",
    STAGE_SCORING: "ESM",
    STAGE_TRAINING: "step",
    STAGE_ESM_FIT: "step",
}

STAGE_DESCRIPTIONS = {
    STAGE_MODEL: "Loading model",
    STAGE_METADATA: "ESM metadata",
    STAGE_DOWNLOAD: "ESM download",
    STAGE_EMBEDDING: "Embedding",
    STAGE_SCORING: "Scoring",
    STAGE_TRAINING: "Fine-tuning",
    STAGE_ESM_FIT: "Fitting ESM",
}

ProgressCallback = Callable[[str, int, "int | None"], None]
"""``progress(stage, done, total)``; ``total`` is ``None`` when unknown."""


class CancelToken(Protocol):
    """Anything with ``is_set()``, e.g. :class:`threading.Event`."""

    def is_set(self) -> bool: ...


def report(progress: ProgressCallback | None, stage: str, done: int, total: int | None) -> None:
    """Call ``progress`` if one was given."""
    if progress is not None:
        progress(stage, done, total)


CACHED = "cached"
"""What a front end shows for a stage answered from a cache (instead of "0.0 s")."""


def is_cached_report(done: int, total: int | None) -> bool:
    """Whether a stage's *first* report ``(done, total)`` means it came from a cache."""
    return total is not None and total > 0 and done >= total


def seconds_left(done: int, total: int, elapsed: float, done_at_start: int = 0) -> float | None:
    """Time left for a stage at the rate seen so far, or ``None`` while there is no rate yet.

    ``elapsed`` seconds have passed since the stage first reported ``done_at_start`` steps
    (steps done before, e.g. ESMs already cached, do not count towards the rate).
    """
    rate = (done - done_at_start) / elapsed if elapsed > 0 else 0.0
    if rate <= 0:
        return None
    return max(0.0, (total - done) / rate)


def check_cancel(cancel: CancelToken | None, stage: str | None = None) -> None:
    """Raise :class:`RankingCancelled` if ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise RankingCancelled(stage)


class TqdmProgress:
    """A progress callback that draws one tqdm bar per stage.

    Use as a context manager so that the bars are closed at the end::

        with TqdmProgress() as progress:
            compute_task_ranking(..., progress=progress)

    ``disable=True`` keeps the callback but draws nothing (like ``huggingface_hub``'s
    ``disable_progress_bars``).
    """

    def __init__(self, disable: bool = False, leave: bool = True, **tqdm_kwargs):
        self.disable = disable
        self.leave = leave
        self.tqdm_kwargs = tqdm_kwargs
        self._bars: dict = {}
        self.cached: set[str] = set()
        """The stages answered from a cache (their bar says "cached")."""

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        from tqdm.auto import tqdm

        bar = self._bars.get(stage)
        if bar is None:
            cached = is_cached_report(done, total)
            bar = tqdm(
                total=total,
                desc=STAGE_DESCRIPTIONS.get(stage, stage),
                unit=STAGE_UNITS.get(stage, "it"),
                disable=self.disable,
                leave=self.leave,
                initial=done if cached else 0,
                postfix=CACHED if cached else None,
                **self.tqdm_kwargs,
            )
            self._bars[stage] = bar
            if cached:
                self.cached.add(stage)
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()

    def __enter__(self) -> TqdmProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
