"""The Hugging Face Hub: ESM discovery and downloads (discovery), model cards and publishing (publish)."""

from hfselect_widgets.engine._lazy import lazy_exports

_EXPORTS = {
    "ESM_TAG": ".discovery",
    "DEFAULT_EMBEDDING_DIM": ".discovery",
    "DownloadPlan": ".discovery",
    "FetchReport": ".discovery",
    "base_model_of": ".discovery",
    "describe_failure": ".discovery",
    "download_esm_folders": ".discovery",
    "fetch_esm_configs": ".discovery",
    "fetch_esms": ".discovery",
    "find_esm_model_infos": ".discovery",
    "find_esm_repo_ids": ".discovery",
    "get_esm_coverage": ".discovery",
    "is_connectivity_error": ".discovery",
    "no_esms_found_error": ".discovery",
    "plan_download": ".discovery",
    "run_each": ".discovery",
    "PublishResult": ".publish",
    "build_model_card": ".publish",
    "card_metadata": ".publish",
    "card_metadata_from_readme": ".publish",
    "publish_esm": ".publish",
    "resolve_token": ".publish",
    "stage_upload_folder": ".publish",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
