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
import warnings
from collections.abc import Sequence
from pathlib import Path

from hfselect_widgets._options import add_scoring_options, add_target_options
from hfselect_widgets._version import __version__
from hfselect_widgets.engine import defaults
from hfselect_widgets.engine.scoring.explain import HOW_TO_READ_SCORE
from hfselect_widgets.errors import ANY_VALUE, Vocabulary

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _num_examples_phrase(value) -> str:
    if value is None:
        return "--num-examples 0 (every row)"
    return "--num-examples N" if value is ANY_VALUE else f"--num-examples {value}"


def _max_mb_phrase(value) -> str:
    if value is ANY_VALUE:
        return "--max-mb MB"
    return f"--max-mb {int(-(-value // 1_000_000))}"


CLI_WORDS = Vocabulary(
    "cli",
    {
        "is_regression": lambda v: "--classification" if v is False else "--regression",
        "num_examples": _num_examples_phrase,
        "drop_missing": "--drop-missing",
        "force": "--force",
        "file_format": "rename the file to end in .csv, .tsv, .jsonl or .parquet",
        "overwrite": "pass --overwrite",
        "exist_ok": "pass --exist-ok",
        "esm_dir": "--esm-dir DIR",
        "demo": "--demo",
        "subset": "--subset NAME",
        "split": "--split NAME",
        "filters": "--filter KEY=VALUE",
        "max_bytes": _max_mb_phrase,
        "dataset": "a local CSV, TSV, JSON lines or Parquet file as DATASET",
        "model": "--model PATH",
        "token": "set the HF_TOKEN environment variable",
        "text_col": "--text-col COL",
        "label_col": "--label-col COL",
        "uncertainty": lambda v: "--uncertainty K" if v is ANY_VALUE else f"--uncertainty {v}",
        "resamples": lambda v: "--resamples N" if v is ANY_VALUE else f"--resamples {v}",
    },
)
"""How the command line names each fix (its options), for :meth:`HfselectWidgetsError.render`."""


def _add_dataset_arguments(
    parser: argparse.ArgumentParser, title: str = "target dataset", optional: bool = False
) -> None:
    group = parser.add_argument_group(title)
    group.add_argument(
        "dataset",
        nargs="?" if optional else None,
        default=None,
        help="a Hub dataset id (e.g. stanfordnlp/imdb) or a local CSV / TSV / JSON lines / JSON / "
        "Parquet file" + (" (default: the bundled demo target)" if optional else ""),
    )
    add_target_options(group, required=not optional)


def _add_ranking_arguments(parser: argparse.ArgumentParser, demo: bool = False) -> None:
    pool = parser.add_argument_group("base model and ESMs")
    pool.add_argument(
        "--model",
        default=None,
        help="base model Hub id or local folder (default: "
        + (
            "sentence-transformers/all-MiniLM-L6-v2, pip-packaged, offline)"
            if demo
            else "bert-base-multilingual-uncased; with --esm-dir, the model named by the ESMs)"
        ),
    )
    add_scoring_options(pool)
    source = pool.add_mutually_exclusive_group()
    source.add_argument(
        "--esm-dir",
        default=None,
        help="a folder of ESM folders"
        + (" (default: the bundled demo collection)" if demo else ""),
    )
    source.add_argument(
        "--esm-repo-id", nargs="+", default=None, metavar="ID", help="ESM repo ids or folders"
    )
    if demo:
        source.add_argument(
            "--hub", action="store_true", help="rank against every Hub ESM for --model (online)"
        )
    else:
        source.add_argument(
            "--demo",
            action="store_true",
            help="rank against the bundled demo ESMs (for the pip-packaged MiniLM, offline)",
        )
    run = parser.add_argument_group("run and output")
    run.add_argument(
        "--top", type=_at_least_one, default=defaults.TOP, help="rows of the printed top list"
    )
    run.add_argument("--batch-size", type=int, default=defaults.BATCH_SIZE)
    run.add_argument("--device", default=defaults.DEVICE, help="cpu, cuda or auto (default)")
    if demo:
        run.add_argument(
            "--out-dir",
            default="out",
            help="folder for the outputs, named after the target: demo_ranking.csv/.json/.html "
            "for the demo target, <name>_ranking.* for DATASET (default: ./out)",
        )
    else:
        run.add_argument("--output-csv", "-o", default=None, help="write the ranking as CSV")
        run.add_argument("--output-json", default=None, help="write ranking and metadata as JSON")
        run.add_argument("--output-html", default=None, help="write a chart and table as HTML")
    run.add_argument("--no-cache", action="store_true", help="do not cache target embeddings")
    run.add_argument("--no-progress", action="store_true", help="draw no progress bars")


def _at_least_one(text: str) -> int:
    """An argparse type: an integer of at least 1 (``--top 0`` would print "Top 0 of 7")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_train_arguments(parser: argparse.ArgumentParser) -> None:
    _add_dataset_arguments(parser, title="intermediate dataset to train an ESM for")
    parser.add_argument("--output-dir", "-o", required=True, help="folder to write the ESM to")
    parser.add_argument(
        "--model",
        default=None,
        help="base model (default: sentence-transformers/all-MiniLM-L6-v2, pip-packaged)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing ESM folder")
    lm = parser.add_argument_group("fine-tuning the base model (the paper's recipe by default)")
    lm.add_argument("--epochs", type=int, default=defaults.FINETUNE_EPOCHS)
    lm.add_argument(
        "--min-steps",
        type=int,
        default=defaults.FINETUNE_MIN_STEPS,
        help=f"add epochs (up to {defaults.FINETUNE_MAX_EPOCHS}) until fine-tuning takes at "
        "least this many optimizer steps, so small datasets learn (0: exactly --epochs)",
    )
    lm.add_argument("--learning-rate", type=float, default=defaults.FINETUNE_LEARNING_RATE)
    lm.add_argument("--train-batch-size", type=int, default=defaults.FINETUNE_BATCH_SIZE)
    lm.add_argument("--weight-decay", type=float, default=defaults.FINETUNE_WEIGHT_DECAY)
    fit = parser.add_argument_group("fitting the ESM")
    fit.add_argument(
        "--fit",
        choices=["hfselect", "least_squares"],
        default="hfselect",
        help="hfselect's SGD recipe (default; ranked better in our benchmark) or closed-form "
        "least squares",
    )
    fit.add_argument("--ridge", type=float, default=0.0, help="ridge penalty for least squares")
    fit.add_argument("--esm-epochs", type=int, default=defaults.ESM_FIT_EPOCHS)
    fit.add_argument("--esm-learning-rate", type=float, default=defaults.ESM_FIT_LEARNING_RATE)
    fit.add_argument("--esm-batch-size", type=int, default=defaults.ESM_FIT_BATCH_SIZE)
    meta = parser.add_argument_group("metadata recorded in the ESM config")
    meta.add_argument(
        "--task-id",
        "--name",
        dest="task_id",
        default=None,
        metavar="NAME",
        help="the intermediate dataset's name in rankings (its task_id; default: the output "
        "folder's name for a data file, the id for a Hub dataset)",
    )
    meta.add_argument("--language", default=None, help="language of the dataset, e.g. en")
    meta.add_argument("--developers", default=None, help="who trained the ESM")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    parser.add_argument("--no-progress", action="store_true", help="draw no progress bars")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``hfselect-widgets`` (rank, demo, train, publish, evaluate, verify)."""
    parser = argparse.ArgumentParser(
        prog="hfselect-widgets",
        description="Rank intermediate datasets for your target dataset with ESM-LogME's "
        "label-permutation control (--ranker logme-permutation, the default) or another ranker; "
        "--ranker esm-logme gives hf-dataset-selector's score.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    rank = commands.add_parser(
        "rank",
        help="rank intermediate datasets for a target dataset",
        description="Rank intermediate datasets for a target dataset. ESMs come from the Hub "
        "(default: every ESM for --model), from --esm-dir, or from --esm-repo-id.",
        epilog="How to read the scores: " + HOW_TO_READ_SCORE,
    )
    _add_dataset_arguments(rank)
    _add_ranking_arguments(rank)
    demo = commands.add_parser(
        "demo",
        help="the offline main job: rank the demo target against the bundled demo ESMs",
        description="Rank the bundled demo target (or DATASET) against the bundled demo ESM "
        "collection (or --esm-dir / --esm-repo-id / --hub) with the pip-packaged MiniLM, "
        "print the top list and write CSV, JSON and an HTML chart to --out-dir.",
        epilog="How to read the scores: " + HOW_TO_READ_SCORE,
    )
    _add_dataset_arguments(demo, optional=True)
    _add_ranking_arguments(demo, demo=True)
    train = commands.add_parser(
        "train",
        help="fine-tune the base model on a dataset and fit an ESM for it",
        description="Dataset in, ESM folder out: fine-tune the base model, embed the dataset "
        "with the base and the fine-tuned model, fit the map, save in hfselect's format.",
    )
    _add_train_arguments(train)
    publish = commands.add_parser(
        "publish",
        help="upload an ESM folder to the Hugging Face Hub",
        description="Create REPO_ID and upload config, weights and a model card that makes the "
        "ESM discoverable. Uses the token of `hf auth login` or HF_TOKEN.",
    )
    publish.add_argument("esm_dir", help="the ESM folder to publish")
    publish.add_argument("repo_id", help="the Hub repo to create, e.g. your-name/esm-my-dataset")
    publish.add_argument("--private", action="store_true", help="create a private repo")
    publish.add_argument(
        "--overwrite", action="store_true", help="replace the ESM in an existing repo"
    )
    publish.add_argument("--exist-ok", action="store_true", help="accept an existing empty repo")
    publish.add_argument("--license", default="apache-2.0", help="licence in the model card")
    evaluate = commands.add_parser(
        "evaluate",
        help="how good are the rankings? regret, NDCG and Spearman against real transfer",
        description="Evaluate rankers against real transfer: read RESULTS (a folder with "
        "transfer.jsonl, the measured fine-tuning results, and scores.json, each ranker's "
        "scores; benchmarks/ranking_quality.py writes both) and print regret@k, NDCG@k, "
        "Spearman, Kendall and top-k hits with bootstrap intervals, beside the random and "
        "static baselines.",
    )
    evaluate.add_argument("results", help="folder with transfer.jsonl and scores.json")
    evaluate.add_argument(
        "-o",
        "--output",
        action="append",
        default=[],
        help="also write the report (.json, .csv or .md, by suffix); repeatable",
    )
    evaluate.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)"
    )
    evaluate.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    verify = commands.add_parser(
        "verify",
        help="check a ranking: fine-tune on its top picks, then on your target, vs. the target alone",
        description="Verify RANKING (a ranking saved by rank/demo as .json or .csv) on the target "
        "DATASET: fine-tune the base model on each of the top --k intermediate datasets, then on "
        "the target's training rows, and compare the test metric with fine-tuning on the target "
        "alone, over --seeds seeds. The intermediate datasets come from the ESM configs (Hub "
        "dataset id, subset, columns) unless --source TASK_ID=FILE names a local file.",
    )
    verify.add_argument("ranking", help="a saved ranking (.json or .csv)")
    _add_dataset_arguments(verify)
    verify.add_argument("--k", type=int, default=3, help="top picks to verify (default 3)")
    verify.add_argument("--seeds", type=int, default=3, help="seeds per pick (default 3)")
    verify.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="TASK_ID=FILE",
        help="a local file for an intermediate dataset (its columns as in the ESM config)",
    )
    verify.add_argument(
        "--source-rows", type=int, default=1000, help="rows of each intermediate dataset"
    )
    verify.add_argument("--model", default=None, help="base model (default: the ranking's)")
    verify.add_argument("--results", default=None, help="JSON-lines results file (resumable)")
    verify.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    verify.add_argument("-o", "--output", default=None, help="write the table as CSV")
    verify.add_argument("--no-progress", action="store_true", help="draw no progress bars")
    _add_collection_parsers(commands, rank)
    return parser


def run_verify(args: argparse.Namespace) -> int:
    from hfselect_widgets.engine.evaluation import verify_transfer
    from hfselect_widgets.engine.scoring.result import TaskRanking

    sources = {}
    for item in args.source:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            print(f"error: --source {item}: write TASK_ID=FILE", file=sys.stderr)
            return EXIT_USAGE
        sources[name] = path
    if args.k < 1 or args.seeds < 1:
        print("error: --k and --seeds must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    _check_output_paths(args.output)  # not after hours of fine-tuning
    ranking = TaskRanking.load(args.ranking)
    target = _load_dataset(args)
    from hfselect_widgets.engine.progress import TqdmProgress

    # Fine-tuning k picks and the target over several seeds takes minutes to hours: show it.
    with TqdmProgress(disable=args.no_progress, file=sys.stderr) as progress:
        result = verify_transfer(
            ranking,
            target,
            k=args.k,
            seeds=args.seeds,
            sources=sources,
            source_rows=args.source_rows or None,
            base_model=args.model,
            store=args.results,
            device=args.device,
            progress=progress,
        )
    frame = result.to_pandas()
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.output:
        frame.to_csv(args.output, index=False)
        print(f"Wrote {args.output}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from hfselect_widgets.engine.evaluation import report_from_results

    for output in args.output:
        if Path(output).suffix.lower() not in (".json", ".csv", ".md"):
            print(f"error: --output {output}: use a .json, .csv or .md file", file=sys.stderr)
            return EXIT_USAGE
        if Path(output).is_dir():
            print(f"error: --output {output} is a folder; name a file", file=sys.stderr)
            return EXIT_USAGE
    try:
        report = report_from_results(args.results, num_bootstrap=args.bootstrap, seed=args.seed)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(report.to_markdown(), end="")
    for output in args.output:
        print(f"Wrote {report.save(output)}")
    return 0


def _target_request(args: argparse.Namespace, dataset: str | None = None):
    from hfselect_widgets.engine.requests import TargetRequest

    text_col = args.text_col[0] if len(args.text_col) == 1 else list(args.text_col)
    return TargetRequest(
        source=dataset if dataset is not None else args.dataset,
        text_col=text_col,
        label_col=args.label_col,
        split=args.split,
        subset=args.subset,
        is_regression=args.is_regression,
        num_examples=args.num_examples or None,
        seed=args.seed,
        drop_missing=getattr(args, "drop_missing", False),
        force=getattr(args, "force", False),
    )


def _load_dataset(args: argparse.Namespace, dataset: str | None = None):
    return _target_request(args, dataset).load()


def _ranking_request(args: argparse.Namespace, target, *, default_pool: str):
    from hfselect_widgets.engine.requests import PoolRequest, RankingRequest, parse_filters

    if args.esm_dir:
        pool = PoolRequest(kind="folder", esm_dir=args.esm_dir)
    elif args.esm_repo_id:
        pool = PoolRequest(kind="list", esms=list(args.esm_repo_id))
    elif getattr(args, "demo", False):
        pool = PoolRequest(kind="demo")
    elif getattr(args, "hub", False):
        pool = PoolRequest(kind="hub")
    else:
        pool = PoolRequest(kind=default_pool)
    pool.filters = parse_filters(args.filter)
    pool.max_bytes = int(args.max_mb * 1e6) if args.max_mb is not None else None
    return RankingRequest(
        target=target,
        pool=pool,
        model=args.model,
        pooling=args.pooling,
        ranker=args.ranker,
        uncertainty=args.uncertainty,
        resamples=args.resamples,
        batch_size=args.batch_size,
        device=args.device,
        embedding_cache=not args.no_cache,
    )


def _rank(request, args: argparse.Namespace, dataset=None):
    """Run the request under tqdm bars; the warnings it issues are printed after the bars
    are closed, each on a line of its own (never inside a bar, never with a source line)."""
    from hfselect_widgets.engine.progress import TqdmProgress
    from hfselect_widgets.engine.scoring.explain import ranking_warnings

    cancel = threading.Event()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with TqdmProgress(disable=args.no_progress, file=sys.stderr) as progress:
            try:
                ranking = request.run(progress, cancel, dataset=dataset)
            except KeyboardInterrupt:
                cancel.set()
                raise
            except BaseException:
                _print_warnings([str(w.message) for w in caught])
                raise
    _print_warnings(ranking_warnings(ranking) + [str(w.message) for w in caught])
    return ranking


def _print_warnings(messages: Sequence[str]) -> None:
    """Each warning once, on a line of its own, on stderr."""
    for message in dict.fromkeys(" ".join(str(m).split()) for m in messages if str(m).strip()):
        print(f"Warning: {message}", file=sys.stderr)


def _print_ranking(ranking, top: int) -> None:
    from hfselect_widgets.engine.scoring.explain import explain_scores, score_decimals

    print(
        f"Top {min(top, len(ranking))} of {len(ranking)} intermediate datasets, "
        f"by {ranking.ranker}:"
    )
    print("\n".join(ranking[:top]._format_lines(decimals=score_decimals(ranking.scores))))
    print()
    print("How to read the scores:")
    for sentence in explain_scores(ranking, front_end="cli"):
        print(f"  {sentence}")
    if ranking.failures:
        print(f"\n{len(ranking.failures)} ESMs were skipped:", file=sys.stderr)
        for source, reason in list(ranking.failures.items())[:10]:
            print(f"  {source}: {reason}", file=sys.stderr)
        if len(ranking.failures) > 10:
            print(f"  ... and {len(ranking.failures) - 10} more", file=sys.stderr)


def _write_outputs(ranking, csv_path=None, json_path=None, html_path=None, top: int = 15) -> None:
    from hfselect_widgets.static_chart import write_ranking_html

    for path, write in (
        (csv_path, ranking.to_csv),
        (json_path, ranking.to_json),
        (html_path, lambda p: write_ranking_html(ranking, p, top=top)),
    ):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            write(path)
            print(f"Wrote {os.path.abspath(path)}")


def _check_output_paths(*paths) -> None:
    """Refuse unusable output paths before any work starts (not after a long ranking)."""
    from hfselect_widgets.errors import OutputPathError

    for path in paths:
        if not path:
            continue
        target = Path(path).expanduser()
        if target.is_dir():
            raise OutputPathError(str(path), "is a folder, not a file name")
        parent = target.parent if str(target.parent) else Path(".")
        existing = parent
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if existing.exists() and not existing.is_dir():
            raise OutputPathError(str(path), f"cannot be created: {existing} is a file")
        if existing.exists() and not os.access(existing, os.W_OK):
            raise OutputPathError(str(path), f"cannot be written: {existing} is not writable")


def run_rank(args: argparse.Namespace) -> int:
    _check_output_paths(args.output_csv, args.output_json, args.output_html)
    request = _ranking_request(args, _target_request(args), default_pool="hub")
    with _ray_scoring_from_args(args):
        ranking = _rank(request, args)
    _print_ranking(ranking, args.top)
    _write_outputs(ranking, args.output_csv, args.output_json, args.output_html)
    return 0


def _output_stem(dataset: str | None) -> str:
    """``demo_ranking`` for the demo target, else ``<input name>_ranking``: a user's data
    never overwrites the demo's files (or another input's)."""
    if not dataset:
        return "demo_ranking"
    import re

    name = Path(str(dataset).rstrip("/")).name
    stem = Path(name).stem if Path(str(dataset)).expanduser().is_file() else name
    return (re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "dataset") + "_ranking"


def run_demo(args: argparse.Namespace) -> int:
    from hfselect_widgets.engine.model_ids import DEMO_MODEL

    out = Path(args.out_dir)
    stem = _output_stem(args.dataset)
    paths = [out / f"{stem}{suffix}" for suffix in (".csv", ".json", ".html")]
    _check_output_paths(*paths)
    request = _ranking_request(args, _target_request(args), default_pool="demo")
    request.model = args.model or DEMO_MODEL
    dataset = request.target.load()
    where = {
        "demo": "the bundled demo ESMs",
        "folder": args.esm_dir,
        "list": f"{len(args.esm_repo_id or [])} ESMs",
        "hub": "the Hub",
    }[request.pool.kind]
    print(
        f"Ranking {request.target.describe()} ({len(dataset)} examples) against {where} "
        f"with {request.model}"
    )
    ranking = _rank(request, args, dataset)
    _print_ranking(ranking, args.top)
    _write_outputs(ranking, *paths)
    return 0


def _train_task_id(args: argparse.Namespace) -> str | None:
    """``--task-id``, else for a data file the output folder's name (``my-reviews`` for
    ``-o esms/my-reviews``: data files are often called ``train.csv``); ``None`` for a Hub
    dataset or folder (its id is the task id)."""
    if args.task_id:
        return args.task_id
    path = Path(str(args.dataset)).expanduser()
    if not path.is_file():
        return None
    return Path(args.output_dir).expanduser().resolve().name or path.stem


def check_train_args(args: argparse.Namespace) -> None:
    """The cheap checks of ``train``, before torch or transformers are imported: the output
    folder may be written (:class:`OutputExistsError` otherwise), the columns differ."""
    from hfselect_widgets.engine.data.checks import check_target_columns
    from hfselect_widgets.engine.training.output import check_output_dir

    check_output_dir(args.output_dir, args.overwrite)
    text_col = args.text_col[0] if len(args.text_col) == 1 else list(args.text_col)
    check_target_columns(text_col, args.label_col)


def run_train(args: argparse.Namespace) -> int:
    check_train_args(args)
    from hfselect_widgets.engine.hub.network import ensure_model_available
    from hfselect_widgets.engine.model_ids import DEMO_MODEL

    # The data file's mistakes and an unreachable base model are answered before the
    # training modules (torch, transformers) are imported.
    request = _target_request(args)
    request.name = _train_task_id(args)
    dataset = request.load()
    ensure_model_available(args.model or DEMO_MODEL)
    from hfselect_widgets.engine.progress import TqdmProgress
    from hfselect_widgets.engine.training import TrainingQualityWarning, train_esm
    from hfselect_widgets.engine.training.finetune import FineTuneConfig

    finetune = FineTuneConfig(
        num_epochs=args.epochs,
        max_epochs=max(args.epochs, defaults.FINETUNE_MAX_EPOCHS),
        min_steps=args.min_steps,
        learning_rate=args.learning_rate,
        batch_size=args.train_batch_size,
        weight_decay=args.weight_decay,
        seed=args.seed,
    )
    sgd = {
        "num_epochs": args.esm_epochs,
        "learning_rate": args.esm_learning_rate,
        "batch_size": args.esm_batch_size,
    }
    cancel = threading.Event()
    # The quality warnings are printed below, each on a line of its own.
    with (
        TqdmProgress(disable=args.no_progress, file=sys.stderr) as progress,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", TrainingQualityWarning)
        try:
            trained = train_esm(
                dataset,
                args.model or DEMO_MODEL,
                args.output_dir,
                fit=args.fit,
                ridge=args.ridge,
                finetune=finetune,
                esm_sgd_kwargs=sgd if args.fit == "hfselect" else None,
                overwrite=args.overwrite,
                developers=args.developers,
                language=args.language,
                device=args.device,
                progress=progress,
                cancel=cancel,
            )
        except KeyboardInterrupt:
            cancel.set()
            raise
    quality = trained.fit.holdout_quality
    print(f"Wrote the ESM to {os.path.abspath(trained.output_dir)}")
    validation = trained.validation
    if validation is not None:
        print(
            f"Fine-tuning: {trained.config.get('lm_num_steps')} steps; validation "
            f"{validation.metric} {validation.value:.3f} vs {validation.baseline:.3f} for the "
            f"{'majority class' if validation.metric == 'accuracy' else 'mean label'} "
            f"({validation.num_rows} held-out rows)"
        )
    if quality is not None:
        print(
            f"ESM fit ({trained.fit.method}) on {quality.num_rows} held-out rows: "
            f"MSE {quality.mse:.6g}, R² {quality.r2:.4f}"
        )
    for message in trained.quality_warnings:
        print(f"Warning: {message}", file=sys.stderr)
    return 0


def run_publish(args: argparse.Namespace) -> int:
    from hfselect_widgets.engine.hub.preflight import check_publish_inputs

    # A missing folder, a malformed repo id or no login answers at once, before torch loads.
    check_publish_inputs(args.esm_dir, args.repo_id, token=True)
    from hfselect_widgets.engine.hub.publish import publish_esm

    result = publish_esm(
        args.esm_dir,
        args.repo_id,
        private=args.private,
        exist_ok=args.exist_ok,
        overwrite=args.overwrite,
        license=args.license,
    )
    print(f"Published {', '.join(result.files)} to {result.url}")
    return 0


# --- ESM collections on Ray (build-collection, rank --ray) -----------------------------------


def _add_collection_parsers(commands, rank: argparse.ArgumentParser) -> None:
    """``build-collection`` and the ``--ray`` options of ``rank``."""
    ray_group = rank.add_argument_group("Ray (pip install 'hfselect-widgets[ray]')")
    ray_group.add_argument(
        "--ray", action="store_true", help="shard scoring over Ray workers (local Ray by default)"
    )
    ray_group.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="a Ray cluster, e.g. ray://head:10001",
    )
    build = commands.add_parser(
        "build-collection",
        help="train an ESM for every dataset of a manifest, on Ray",
        description="Train an ESM for every dataset of a YAML or CSV manifest, one Ray task per "
        "dataset (local Ray by default, a cluster with --address). Resumable: finished ESMs "
        "in --out are skipped. Writes collection_summary.json into --out.",
    )
    build.add_argument("manifest", help="the manifest (.yaml, .yml or .csv)")
    build.add_argument("--base-model", required=True, help="the base model's Hub id or folder")
    build.add_argument("--out", required=True, help="folder for the ESM folders and the summary")
    build.add_argument("--address", default=None, help="a Ray cluster, e.g. ray://head:10001")
    build.add_argument("--num-cpus", type=int, default=None, help="CPUs of a local Ray")
    build.add_argument("--cpus-per-task", type=float, default=1, help="CPUs each task declares")
    build.add_argument("--gpus-per-task", type=float, default=0, help="GPUs each task declares")
    build.add_argument("--retries", type=int, default=1, help="further attempts of a failed task")
    build.add_argument("--rows", type=int, default=None, help="rows per dataset (overrides)")
    build.add_argument("--publish", default=None, metavar="ORG", help="publish as ORG/esm-NAME")
    build.add_argument("--private", action="store_true", help="publish as private repos")
    build.add_argument("--epochs", type=int, default=defaults.FINETUNE_EPOCHS)
    build.add_argument("--min-steps", type=int, default=defaults.FINETUNE_MIN_STEPS)
    build.add_argument("--learning-rate", type=float, default=defaults.FINETUNE_LEARNING_RATE)
    build.add_argument("--train-batch-size", type=int, default=defaults.FINETUNE_BATCH_SIZE)
    build.add_argument("--fit", choices=["hfselect", "least_squares"], default="hfselect")
    build.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    build.add_argument("--developers", default=None, help="who trained the ESMs")
    build.add_argument("--language", default=None, help="language recorded in every ESM")


def _ray_scoring_from_args(args: argparse.Namespace):
    import contextlib

    if not (getattr(args, "ray", False) or getattr(args, "ray_address", None)):
        return contextlib.nullcontext()
    from hfselect_widgets.engine.distributed.sharded import ray_scoring

    return ray_scoring(args.ray_address)


def run_build_collection(args: argparse.Namespace) -> int:
    import time

    from hfselect_widgets.engine.distributed.build import BuildOptions, build_collection
    from hfselect_widgets.engine.distributed.manifest import load_manifest

    manifest = load_manifest(args.manifest)
    options = BuildOptions(
        rows=args.rows,
        epochs=args.epochs,
        min_steps=args.min_steps,
        learning_rate=args.learning_rate,
        train_batch_size=args.train_batch_size,
        fit=args.fit,
        device=args.device,
        developers=args.developers,
        language=args.language,
    )

    def on_event(kind: str, record) -> None:
        detail = record.get("reason") if kind in ("failed", "retry") else None
        quality = record.get("quality") or {}
        if kind in ("built", "skipped") and quality.get("lm_val_metric"):
            detail = (
                f"{quality['lm_val_metric']} {quality.get('lm_val_value')} vs "
                f"{quality.get('lm_val_baseline')} baseline, learned={quality.get('lm_learned')}"
            )
        if kind == "published":
            detail = record.get("published") or record.get("publish_error")
        stamp = time.strftime("%H:%M:%S")
        line = f"{stamp} [{kind}] {record['name']}" + (f": {detail}" if detail else "")
        print(line, flush=True)

    print(f"{len(manifest)} datasets in {args.manifest}; ESMs go to {os.path.abspath(args.out)}")
    summary = build_collection(
        manifest,
        args.base_model,
        args.out,
        options=options,
        address=args.address,
        num_cpus=args.num_cpus,
        cpus_per_task=args.cpus_per_task,
        gpus_per_task=args.gpus_per_task,
        retries=args.retries,
        publish=args.publish,
        publish_private=args.private,
        on_event=on_event,
    )
    print(
        f"Built {len(summary.built)}, skipped {len(summary.skipped)} (already finished), "
        f"failed {len(summary.failed)}; summary: {summary.out_dir / 'collection_summary.json'}"
    )
    return 1 if summary.failed else 0


COMMANDS = {
    "rank": run_rank,
    "demo": run_demo,
    "train": run_train,
    "publish": run_publish,
    "evaluate": run_evaluate,
    "verify": run_verify,
    "build-collection": run_build_collection,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``hfselect-widgets``; returns the exit status."""
    from hfselect_widgets.errors import HfselectWidgetsError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except HfselectWidgetsError as exc:
        print(f"error: {exc.render(CLI_WORDS)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
