"""Target datasets: loading (Hub, files, DataFrames), sampling and labels, column suggestions, Hub inspection."""

from hfselect_widgets.engine._lazy import lazy_exports

_EXPORTS = {
    "TEXT_SEPARATOR": ".dataset",
    "DATASET_STREAMING_BUFFER_SIZE": ".dataset",
    "FILE_FORMATS": ".dataset",
    "Dataset": ".dataset",
    "ColumnSuggestion": ".dataset",
    "HubDatasetInfo": ".dataset",
    "suggest_columns": ".dataset",
    "inspect_hub_dataset": ".dataset",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
