"""hfselect's ``hfselect.logme`` module: LogME, re-exported from the engine."""

from hfselect_widgets.engine.scoring.logme import LogME

__all__ = ["LogME"]
