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
        "filters": 'the "Filters" section under "ESMs"',
        "max_bytes": "the App sets none: rank fewer ESMs",
        # training and publishing (TrainPublishPanel)
        "overwrite": 'tick "Overwrite"',
        "output_dir:overwrite": 'tick "Overwrite" beside the "Output folder"',
        "repo_id:overwrite": 'tick "Replace an existing ESM in the repo"',
        "exist_ok": 'tick "Replace an existing ESM in the repo"',
        "token": "set the HF_TOKEN environment variable before starting Jupyter",
    },
)
"""How the widgets name each fix (their controls), for :meth:`HfselectWidgetsError.render`."""


def error_text(error: BaseException) -> str:
    """What a widget shows for ``error``: a typed error in the widgets' words, else the
    exception's type and message."""
    if isinstance(error, HfselectWidgetsError):
        return error.render(WIDGET_WORDS)
    return f"{type(error).__name__}: {error}"


__all__ = ["WIDGET_WORDS", "error_text"]
