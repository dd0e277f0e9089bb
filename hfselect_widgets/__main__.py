"""``python -m hfselect_widgets`` runs the command line."""

import sys

from hfselect_widgets.cli import main

sys.exit(main())
