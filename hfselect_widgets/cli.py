"""Command line: ``hfselect-widgets rank ...`` (also ``python -m hfselect_widgets``).

A thin layer over the engine: parse arguments, draw tqdm bars from the engine's progress
callback, print the top list, write CSV/JSON. Errors the user can fix are printed as one line
(the engine's message) with exit status 2; Ctrl-C cancels cleanly with status 130.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from ._version import __version__

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("target dataset")
    group.add_argument(
        "dataset",
        help="a Hub dataset id (e.g. stanfordnlp/imdb) or a local CSV / JSON lines / Parquet file",
    )
    group.add_argument(
        "--text-col",
        nargs="+",
        required=True,
        metavar="COL",
        help="text column(s); several columns are joined with ' [SEP] '",
    )
    group.add_argument("--label-col", required=True, metavar="COL", help="label column")
    group.add_argument("--subset", default=None, help="Hub dataset subset (configuration)")
    group.add_argument("--split", default="train", help="split to sample from (default: train)")
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
        default=1000,
        metavar="N",
        help="sample size (default: 1000; 0 uses every row)",
    )
    group.add_argument("--seed", type=int, default=42, help="sampling seed (default: 42)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hfselect-widgets",
        description="Rank intermediate datasets for your target dataset with ESM-LogME.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    rank = commands.add_parser(
        "rank",
        help="rank intermediate datasets for a target dataset",
        description=(
            "Rank intermediate datasets for a target dataset. ESMs come from the Hub (default: "
            "every ESM for --model), from --esm-dir, or from --esm-repo-id."
        ),
    )
    _add_dataset_arguments(rank)
    pool = rank.add_argument_group("base model and ESMs")
    pool.add_argument(
        "--model",
        default=None,
        help="base model Hub id or local folder (default: bert-base-multilingual-uncased; "
        "with --esm-dir, the base model named by the ESMs)",
    )
    pool.add_argument("--pooling", choices=["pooler", "mean", "cls"], default=None)
    source = pool.add_mutually_exclusive_group()
    source.add_argument("--esm-dir", default=None, help="a folder of ESM folders")
    source.add_argument(
        "--esm-repo-id", nargs="+", default=None, metavar="ID", help="ESM repo ids or folders"
    )
    pool.add_argument(
        "--max-mb",
        type=float,
        default=None,
        help="refuse to download more than this many MB of ESMs",
    )
    run = rank.add_argument_group("run and output")
    run.add_argument("--top", type=int, default=10, help="rows of the printed top list")
    run.add_argument("--batch-size", type=int, default=128)
    run.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    run.add_argument("--output-csv", "-o", default=None, help="write the ranking as CSV")
    run.add_argument("--output-json", default=None, help="write the ranking and metadata as JSON")
    run.add_argument("--no-cache", action="store_true", help="do not cache the target's embeddings")
    run.add_argument("--no-progress", action="store_true", help="draw no progress bars")
    commands.add_parser(
        "demo",
        help="rank the demo target against the bundled demo ESMs (offline)",
        description="The offline main job. The bundled demo ESM collection arrives with the "
        "training issue (#3); until then this command says so and fails.",
    )
    return parser


def _load_dataset(args: argparse.Namespace):
    from .engine.data import Dataset

    text_col = args.text_col[0] if len(args.text_col) == 1 else list(args.text_col)
    num_examples = args.num_examples or None
    common = dict(
        text_col=text_col,
        label_col=args.label_col,
        is_regression=args.is_regression,
        num_examples=num_examples,
        seed=args.seed,
    )
    if Path(args.dataset).expanduser().is_file():
        return Dataset.from_file(Path(args.dataset).expanduser(), **common)
    return Dataset.from_hugging_face(args.dataset, split=args.split, subset=args.subset, **common)


def _model_for_esm_dir(esm_dir: str) -> str | None:
    """The base model the ESMs in a folder were trained for, if they agree."""
    from .engine.esm import ESMConfig
    from .engine.esm_folder import find_esm_folders

    names = set()
    for folder in find_esm_folders(esm_dir)[:50]:
        try:
            names.add(ESMConfig.from_pretrained(folder).base_model_name)
        except Exception:
            continue
    return names.pop() if len(names) == 1 else None


def run_rank(args: argparse.Namespace) -> int:
    from .engine.progress import TqdmProgress
    from .engine.ranking import compute_task_ranking

    dataset = _load_dataset(args)
    model = args.model
    if model is None and args.esm_dir:
        model = _model_for_esm_dir(args.esm_dir)
    cancel = threading.Event()
    with TqdmProgress(disable=args.no_progress, file=sys.stderr) as progress:
        try:
            ranking = compute_task_ranking(
                dataset,
                model_name=model,
                esm_repo_ids=args.esm_repo_id,
                esm_dir=args.esm_dir,
                batch_size=args.batch_size,
                device_name=args.device,
                progress=progress,
                cancel=cancel,
                pooling=args.pooling,
                embedding_cache=None if args.no_cache else True,
                max_bytes=int(args.max_mb * 1e6) if args.max_mb is not None else None,
            )
        except KeyboardInterrupt:
            cancel.set()
            raise
    print(f"Top {min(args.top, len(ranking))} of {len(ranking)} intermediate datasets:")
    print("\n".join(ranking[: args.top]._format_lines(score_rounding=6)))
    if ranking.failures:
        print(f"\n{len(ranking.failures)} ESMs were skipped:", file=sys.stderr)
        for source, reason in list(ranking.failures.items())[:10]:
            print(f"  {source}: {reason}", file=sys.stderr)
        if len(ranking.failures) > 10:
            print(f"  ... and {len(ranking.failures) - 10} more", file=sys.stderr)
    for path, writer in ((args.output_csv, ranking.to_csv), (args.output_json, ranking.to_json)):
        if path:
            writer(path)
            print(f"Wrote {os.path.abspath(path)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``hfselect-widgets``; returns the exit status."""
    from .engine.errors import HfselectWidgetsError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "rank":
            return run_rank(args)
        if args.command == "demo":
            print(
                "error: the bundled demo ESM collection is not built yet (training issue #3). "
                "Rank your own data with: hfselect-widgets rank DATASET --text-col ... "
                "--label-col ... [--esm-dir DIR]",
                file=sys.stderr,
            )
            return EXIT_USAGE
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except HfselectWidgetsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    parser.error(f"unknown command {args.command!r}")
    return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
