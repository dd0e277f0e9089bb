"""Target datasets: the Dataset (dataset), Hub loading (loading), sampling and labels (sampling), data files (files), column suggestions (suggest), Hub inspection (inspect), hfselect's constructor and file format (hfselect_compat)."""

from hfselect_widgets.engine._lazy import lazy_exports

_EXPORTS = {
    "TEXT_SEPARATOR": ".sampling",
    "DATASET_STREAMING_BUFFER_SIZE": ".loading",
    "FILE_FORMATS": ".files",
    "read_table_file": ".files",
    "Dataset": ".dataset",
    "ColumnSuggestion": ".suggest",
    "suggest_columns": ".suggest",
    "HubDatasetInfo": ".inspect",
    "inspect_hub_dataset": ".inspect",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
