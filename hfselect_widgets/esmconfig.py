"""hfselect's ``hfselect.esmconfig`` module, re-exported from the engine."""

from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.errors import InvalidESMConfigError

__all__ = ["ESMConfig", "InvalidESMConfigError"]
