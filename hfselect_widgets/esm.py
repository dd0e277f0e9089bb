"""hfselect's ``hfselect.esm`` module, re-exported from the engine."""

from hfselect_widgets.engine.esm.format import ESM, ESMConfig
from hfselect_widgets.errors import ESMNotInitializedError, InvalidESMConfigError

__all__ = ["ESM", "ESMConfig", "ESMNotInitializedError", "InvalidESMConfigError"]
