"""hfselect's ``hfselect.setup_logger`` module: the package logger.

hfselect's logger also writes ``hfselect_logs.log`` into the working directory; ours only
propagates to Python's logging (configure handlers as usual).
"""

import logging

logger = logging.getLogger("hfselect_widgets")

__all__ = ["logger"]
