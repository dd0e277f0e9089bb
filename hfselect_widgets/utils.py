"""hfselect's ``hfselect.utils`` module (Hub discovery), re-exported from the engine."""

from hfselect_widgets.engine.esm.format import ESM, ESMConfig
from hfselect_widgets.engine.hub.discovery import (
    find_esm_model_infos,
    find_esm_repo_ids,
    get_esm_coverage,
)
from hfselect_widgets.engine.hub.download import fetch_esm_configs, fetch_esms
from hfselect_widgets.errors import ESMNotInitializedError, InvalidESMConfigError
from hfselect_widgets.setup_logger import logger

__all__ = [
    "ESM",
    "ESMConfig",
    "ESMNotInitializedError",
    "InvalidESMConfigError",
    "fetch_esm_configs",
    "fetch_esms",
    "find_esm_model_infos",
    "find_esm_repo_ids",
    "get_esm_coverage",
    "logger",
]
