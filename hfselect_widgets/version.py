"""hfselect's ``hfselect.version`` module: the package version."""

from hfselect_widgets._version import __version__

__all__ = ["__version__"]
