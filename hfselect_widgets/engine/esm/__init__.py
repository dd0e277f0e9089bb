"""Embedding Space Maps: the hfselect-compatible format (format), folders of ESMs (folder), the filterable config index (index), fitting maps to embedding pairs (fit)."""

from hfselect_widgets.engine._lazy import lazy_exports

_EXPORTS = {
    "ESM": ".format",
    "ESMConfig": ".format",
    "ESM_CONFIG_KEYS": ".format",
    "FORMAT_VERSION": ".format",
    "read_esm_weights": ".format",
    "load_esm_parts": ".format",
    "resolve_esm_folder": ".format",
    "esm_file_size": ".format",
    "expected_weights_bytes": ".format",
    "find_esm_folders": ".folder",
    "load_esm_folder": ".folder",
    "read_esm_folder_configs": ".folder",
    "scan_esm_dir": ".folder",
    "common_base_model": ".folder",
    "ESMIndex": ".index",
    "index_path": ".index",
    "index_dir": ".index",
    "FIT_METHODS": ".fit",
    "HFSELECT_SGD_DEFAULTS": ".fit",
    "FitQuality": ".fit",
    "FitResult": ".fit",
    "SGDHistory": ".fit",
    "evaluate_fit": ".fit",
    "fit_least_squares": ".fit",
    "fit_hfselect_sgd": ".fit",
    "fit_esm": ".fit",
    "holdout_split": ".fit",
    "train_linear_sgd": ".fit",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
