"""Command-line options that the CLI and the ``%esm_rank`` magic share.

Both front ends parse with argparse; the options that shape how a pool is scored are defined
here once, so that a new ranker option reaches both (the request layer takes them as they are).
Only argparse and :mod:`hfselect_widgets.engine.defaults` are imported: the magic loads this
when IPython loads the extension, before anything heavy.
"""

from __future__ import annotations

import argparse

from hfselect_widgets.engine import defaults

POOLINGS = ("pooler", "mean", "cls")


def add_scoring_options(group: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    """``--pooling``, ``--ranker``, ``--uncertainty``, ``--resamples``, ``--filter``, ``--max-mb``."""
    group.add_argument(
        "--pooling",
        choices=POOLINGS,
        default=None,
        help="override the base model's pooling (default: detected as the ESMs expect)",
    )
    group.add_argument(
        "--ranker",
        choices=list(defaults.RANKER_NAMES),
        default=defaults.RANKER,
        help="the score that orders the ESMs (default: esm-logme, hf-dataset-selector's)",
    )
    group.add_argument(
        "--uncertainty",
        type=int,
        default=0,
        metavar="K",
        help="bootstrap the target rows for rank intervals of the top K ESMs (e.g. 20)",
    )
    group.add_argument(
        "--resamples",
        type=int,
        default=defaults.RESAMPLES,
        metavar="N",
        help=f"bootstrap resamples for --uncertainty (default {defaults.RESAMPLES}; fewer is faster)",
    )
    group.add_argument(
        "--filter",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help=f"keep ESMs matching KEY=VALUE, repeatable; keys: {', '.join(defaults.FILTER_KEYS)}",
    )
    group.add_argument(
        "--max-mb",
        type=float,
        default=None,
        metavar="MB",
        help="refuse to download more than this many MB of ESMs",
    )


__all__ = ["POOLINGS", "add_scoring_options"]
