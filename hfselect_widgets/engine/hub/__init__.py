"""The Hugging Face Hub: finding ESMs (discovery), downloading them (download), what a failed Hub call means (network), model cards (card) and publishing (publish)."""

from hfselect_widgets.engine._lazy import lazy_exports

_EXPORTS = {
    "ESM_TAG": ".discovery",
    "base_model_of": ".discovery",
    "find_esm_model_infos": ".discovery",
    "find_esm_repo_ids": ".discovery",
    "get_esm_coverage": ".discovery",
    "no_esms_found_error": ".discovery",
    "DEFAULT_EMBEDDING_DIM": ".download",
    "DownloadPlan": ".download",
    "FetchReport": ".download",
    "download_esm_folders": ".download",
    "fetch_esm_configs": ".download",
    "fetch_esms": ".download",
    "plan_download": ".download",
    "run_each": ".download",
    "describe_failure": ".network",
    "is_connectivity_error": ".network",
    "build_model_card": ".card",
    "card_metadata": ".card",
    "card_metadata_from_readme": ".card",
    "PublishResult": ".publish",
    "publish_esm": ".publish",
    "resolve_token": ".publish",
    "stage_upload_folder": ".publish",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
