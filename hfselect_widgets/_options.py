"""Command-line options that the CLI and the ``%esm_rank`` magic share.

Both front ends parse with argparse; the options of the target (its columns and sample) and
those that shape how a pool is scored are defined here once, so that a new option reaches both
(the request layer takes them as they are).
Only argparse and :mod:`hfselect_widgets.engine.defaults` are imported: the magic loads this
when IPython loads the extension, before anything heavy.
"""

from __future__ import annotations

import argparse

from hfselect_widgets.engine import defaults

POOLINGS = ("pooler", "mean", "cls")


def add_target_options(
    group: argparse._ArgumentGroup | argparse.ArgumentParser,
    *,
    required: bool = True,
    fill_defaults: bool = True,
) -> None:
    """The target's columns and sample: ``--text-col``, ``--label-col``, ``--subset``,
    ``--split``, ``--regression`` / ``--classification``, ``--num-examples``, ``--seed``,
    ``--drop-missing``, ``--force`` (the fields of the engine's ``TargetRequest``).

    ``fill_defaults``: the engine's defaults (the CLI); without it every option defaults to
    ``None``, so that the caller fills in what was not given (the magic: its cell body, then
    its ``%config`` options). ``required``: ``--text-col`` and ``--label-col`` must be given.
    """

    def default(value):
        return value if fill_defaults else None

    required = required and fill_defaults
    group.add_argument(
        "--text-col",
        nargs="+",
        required=required,
        default=default([defaults.TEXT_COL]),
        metavar="COL",
        help="text column(s); several columns are joined with ' [SEP] '"
        + ("" if fill_defaults else " (required)"),
    )
    group.add_argument(
        "--label-col",
        required=required,
        default=default(defaults.LABEL_COL),
        metavar="COL",
        help="label column" + ("" if fill_defaults else " (required)"),
    )
    group.add_argument("--subset", default=None, help="Hub dataset subset (configuration)")
    group.add_argument(
        "--split",
        default=default(defaults.SPLIT),
        help=f"split to sample from (default: {defaults.SPLIT})",
    )
    task = group.add_mutually_exclusive_group()
    task.add_argument(
        "--regression",
        dest="is_regression",
        action="store_true",
        default=None,
        help="real-valued labels (default: inferred from the label type)",
    )
    task.add_argument(
        "--classification", dest="is_regression", action="store_false", help="class labels"
    )
    group.add_argument(
        "--num-examples",
        type=int,
        default=default(defaults.NUM_EXAMPLES),
        metavar="N",
        help=f"sample size (default: {defaults.NUM_EXAMPLES}; 0 uses every row)",
    )
    group.add_argument(
        "--seed",
        type=int,
        default=default(defaults.SEED),
        help=f"sampling seed (default: {defaults.SEED})",
    )
    group.add_argument(
        "--drop-missing",
        action="store_true",
        default=default(False),
        help="drop rows without text or label instead of refusing the dataset",
    )
    group.add_argument(
        "--force",
        action="store_true",
        default=default(False),
        help="go on even when the target looks wrong (e.g. labels that are nearly all distinct)",
    )


def add_scoring_options(
    group: argparse._ArgumentGroup | argparse.ArgumentParser, *, configured_ranker: bool = False
) -> None:
    """``--pooling``, ``--ranker``, ``--uncertainty``, ``--resamples``, ``--filter``, ``--max-mb``.

    ``configured_ranker``: ``--ranker`` defaults to ``None`` so that a front end with its own
    configured default (the magic's ``EsmRankMagics.ranker``) can fill it in."""
    group.add_argument(
        "--pooling",
        choices=POOLINGS,
        default=None,
        help="override the base model's pooling (default: detected as the ESMs expect)",
    )
    group.add_argument(
        "--ranker",
        choices=list(defaults.RANKER_NAMES),
        default=None if configured_ranker else defaults.RANKER,
        help=f"the score that orders the ESMs (default: {defaults.RANKER}, ESM-LogME minus its "
        "value with shuffled labels, the best ranker on our transfer benchmark; esm-logme: "
        "hf-dataset-selector's score, always kept as a column)",
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


__all__ = ["POOLINGS", "add_scoring_options", "add_target_options"]
