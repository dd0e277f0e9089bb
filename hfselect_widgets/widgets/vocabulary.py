"""Errors in the widgets' own words: fixes name the App's controls as the user sees them.

The engine's typed errors (:mod:`hfselect_widgets.errors`) carry machine-readable fixes
(``Fix("is_regression", True)``); :data:`WIDGET_WORDS` phrases each one as the control to use
(``choose "Regression" as the "Task"``), where the CLI says ``--regression`` and Python
``pass is_regression=True``. :func:`error_text` is the one place where a widget turns an
exception into the text it shows.
"""

from __future__ import annotations

from typing import Any

from hfselect_widgets.errors import ANY_VALUE, HfselectWidgetsError, Vocabulary


def _task_phrase(value: Any) -> str:
    return f'choose "{"Classification" if value is False else "Regression"}" as the "Task"'


def _sample_phrase(value: Any) -> str:
    if value is ANY_VALUE:
        return 'more rows under "Sample"'
    if value is None:
        return 'set "Sample" to 0 rows (0 = all)'
    return f'set "Sample" to {value} rows'


WIDGET_WORDS = Vocabulary(
    "widgets",
    {
        # the target dataset (DatasetPicker)
        "is_regression": _task_phrase,
        "num_examples": _sample_phrase,
        "drop_missing": 'tick "Drop rows without text or label"',
        "force": 'tick "Rank anyway (skip the target checks)"',
        "file_format": "rename the file to end in .csv, .tsv, .jsonl or .parquet and upload it "
        "again",
        "subset": 'the "Subset" dropdown (click "Inspect" to fill it)',
        "split": 'the "Split" dropdown',
        "text_col": 'the "Text column(s)" list',
        "label_col": 'the "Label column" dropdown',
        "dataset": '"Upload file" or "DataFrame" as the "Source"',
        # the base model and the ESM pool (ESMPoolSelector)
        "model": '"Local folder" as the "Base model", then its "Model folder"',
        "esm_dir": 'choose "Local folder" under "ESMs" and enter its "ESM folder"',
        "demo": 'choose "Demo collection" under "ESMs"',
        "filters": 'the "Filters" section under "ESMs"',
        "max_bytes": "the App sets none: rank fewer ESMs",
        "ranker": 'the "Ranker" dropdown on the Rank tab',
        "uncertainty": 'the "Rank intervals" setting on the Rank tab',
        "resamples": "the App uses the default number of resamples",
        # training and publishing (TrainPublishPanel)
        "overwrite": 'tick "Overwrite"',
        "output_dir:overwrite": 'tick "Overwrite" beside the "Output folder"',
        "repo_id:overwrite": 'tick "Replace an existing ESM in the repo"',
        "exist_ok": 'tick "Replace an existing ESM in the repo"',
        "token": "set the HF_TOKEN environment variable before starting Jupyter",
    },
)
"""How the widgets name each fix (their controls), for :meth:`HfselectWidgetsError.render`."""


def _is_network_error(error: BaseException) -> bool:
    """Whether ``error`` is a failed connection (httpx's ``ConnectError``, a timeout, ...)."""
    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    try:
        from hfselect_widgets.engine.hub.network import is_connectivity_error
    except Exception:  # pragma: no cover - huggingface_hub missing
        return False
    try:
        return is_connectivity_error(error)
    except Exception:  # pragma: no cover - a broken HTTP client
        return False


NETWORK_TEXT = (
    "Cannot reach the Hugging Face Hub (no network connection?), and nothing usable is cached. "
    "Connect to the internet once, or use a file, a DataFrame or the demo target as the "
    '"Source". (Details: {detail})'
)
"""What a widget shows for a raw connection error (instead of ``ConnectError: ...``)."""


def error_text(error: BaseException) -> str:
    """What a widget shows for ``error``: a typed error in the widgets' words, a friendly
    sentence for a failed connection to the Hub, else the exception's type and message."""
    if isinstance(error, HfselectWidgetsError):
        return error.render(WIDGET_WORDS)
    if _is_network_error(error):
        detail = " ".join(str(error).split())[:160] or type(error).__name__
        return NETWORK_TEXT.format(detail=f"{type(error).__name__}: {detail}")
    return f"{type(error).__name__}: {error}"


__all__ = ["NETWORK_TEXT", "WIDGET_WORDS", "error_text"]
