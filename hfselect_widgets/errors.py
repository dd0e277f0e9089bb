"""Typed exceptions for everything a user can cause.

Every message says what went wrong *and* what to do about it, in the words of the front end the
user is in. An error carries the request input it is about (:attr:`HfselectWidgetsError.field`)
and machine-readable fixes (:class:`Fix`: set this input to that value); its advice is a
template that each front end fills with its own :class:`Vocabulary`: ``str(error)`` speaks
Python keywords (``pass is_regression=True``), the CLI its options (``--regression``), the magic
its options, the widgets their controls (``choose "Regression" as the task type``). Render with
:meth:`HfselectWidgetsError.render`.

All exceptions derive from :class:`HfselectWidgetsError`; catch that to handle any of them.
Where an error is also a natural ``ValueError``/``LookupError``/``FileNotFoundError``, it derives
from that too, so generic handlers keep working.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ANY_VALUE: Any = type("AnyValue", (), {"__repr__": lambda self: "..."})()
"""The value of a :class:`Fix` that says "set this input" without prescribing a value."""


@dataclass(frozen=True)
class Fix:
    """A machine-readable fix: give the request input ``field`` the value ``value``.

    ``field`` names an input of the request layer (:mod:`hfselect_widgets.engine.requests`),
    e.g. ``"is_regression"``, ``"num_examples"``, ``"overwrite"``, ``"esm_dir"``.
    """

    field: str
    value: Any = ANY_VALUE


Phrase = Callable[[Any], str]


class Vocabulary:
    """How one front end names the fix for each request input.

    ``phrases`` maps a field to a string (used whatever the value) or to a function of the
    value; fields it lacks fall back to ``fallback`` (default: the Python keywords). A key
    ``"about:field"`` phrases the fix of ``field`` for errors about the input ``about`` only
    (one front end may have two controls for one keyword, e.g. the widgets' two "overwrite"
    checkboxes for the output folder and the Hub repo).
    """

    def __init__(
        self,
        name: str,
        phrases: Mapping[str, str | Phrase],
        fallback: Vocabulary | None = None,
    ):
        self.name = name
        self.phrases = dict(phrases)
        self.fallback = fallback

    def phrase(self, fix: Fix, about: str | None = None) -> str:
        """The words for ``fix`` in this front end (``about``: the input the error concerns)."""
        entry = self.phrases.get(f"{about}:{fix.field}") if about else None
        if entry is None:
            entry = self.phrases.get(fix.field)
        if entry is None:
            if self.fallback is not None:
                return self.fallback.phrase(fix, about)
            return PYTHON.phrase(fix, about) if self is not PYTHON else _python_phrase(fix)
        return entry if isinstance(entry, str) else entry(fix.value)


def _python_phrase(fix: Fix) -> str:
    if fix.value is ANY_VALUE:
        return f"pass {fix.field}=..."
    return f"pass {fix.field}={fix.value!r}"


PYTHON = Vocabulary(
    "python",
    {
        "token": "set the HF_TOKEN environment variable, or pass token=...",
        # no API takes a "dataset=" for this: name the constructors that read local data
        "dataset": "Dataset.from_file(path, ...) or Dataset.from_pandas(frame, ...)",
        "demo": "esm_dir=demo_esm_dir() (from hfselect_widgets.demo)",
    },
)
"""The Python API's words: ``pass field=value``."""


def _listing(names: Iterable[object], limit: int = 20) -> str:
    """Format available choices for a message: ``'a', 'b', 'c'`` (shortened after ``limit``)."""
    names = [str(n) for n in names]
    if not names:
        return "(none)"
    shown = ", ".join(repr(n) for n in names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names) - limit} more)"
    return shown


class HfselectWidgetsError(Exception):
    """Base class of all errors raised on purpose by hfselect_widgets.

    Args:
        message: what went wrong (and any advice that needs no front-end words).
        advice: a sentence with ``{0}``, ``{1}``, ... where the phrases of ``fixes`` go.
        field: the request input the error is about (e.g. ``"label_col"``), if one.
        fixes: what would fix it, machine-readable.
    """

    def __init__(
        self,
        message: str = "",
        *,
        advice: str | None = None,
        field: str | None = None,
        fixes: Iterable[Fix] = (),
    ):
        self.problem = message
        self.advice = advice
        self.field = field or getattr(self, "field", None)
        self.fixes = tuple(fixes)
        super().__init__(self.render(PYTHON))

    def render(self, vocabulary: Vocabulary | None = None) -> str:
        """The message with its advice in ``vocabulary``'s words (default: Python's)."""
        vocabulary = vocabulary or PYTHON
        if not self.advice:
            return self.problem
        phrases = [vocabulary.phrase(fix, self.field) for fix in self.fixes]
        advice = self.advice.format(*phrases)
        if self.advice.startswith("{"):  # a phrase that opens the sentence
            advice = advice[:1].upper() + advice[1:]
        return f"{self.problem} {advice}" if self.problem else advice


# --- target data -----------------------------------------------------------------------------


class DatasetError(HfselectWidgetsError, ValueError):
    """The target dataset cannot be used as asked."""


class DatasetNotFoundError(DatasetError, LookupError):
    """A Hub dataset id or a local file does not exist (or is not reachable offline)."""

    def __init__(self, name: str, detail: str | None = None):
        self.name = name
        msg = f"Dataset {name!r} was not found."
        if detail:
            msg += f" {detail}"
        else:
            msg += (
                " Check the spelling of the Hub id (e.g. 'stanfordnlp/imdb') or the file path; "
                "offline, only datasets already in the Hugging Face cache can be loaded."
            )
        super().__init__(msg)


class VariableNotFoundError(DatasetError, NameError):
    """A bare name given as the target is no variable of the notebook (but close to one)."""

    def __init__(self, name: str, close: Iterable[str] = (), detail: str | None = None):
        self.name = name
        self.close = list(close)
        msg = detail or f"no variable {name!r} in the notebook"
        if self.close:
            msg += "; did you mean " + " or ".join(repr(c) for c in self.close) + "?"
        else:
            msg += "."
        super().__init__(
            msg,
            advice="For a Hub dataset, give its full id (e.g. 'stanfordnlp/imdb'); for a file, "
            "its path.",
            field="dataset",
        )


class SubsetNotFoundError(DatasetError, LookupError):
    """The dataset has no such subset (configuration)."""

    def __init__(self, dataset: str, subset: str | None, available: Iterable[str]):
        self.dataset, self.subset, self.available = dataset, subset, list(available)
        if subset is None:
            super().__init__(
                f"Dataset {dataset!r} has several subsets ({_listing(self.available)}).",
                advice="Choose one: {0}.",
                field="subset",
                fixes=[Fix("subset")],
            )
        else:
            super().__init__(
                f"Dataset {dataset!r} has no subset {subset!r}. "
                f"Available subsets: {_listing(self.available)}.",
                field="subset",
            )


class SplitNotFoundError(DatasetError, LookupError):
    """The dataset has no such split."""

    def __init__(self, dataset: str, split: str, available: Iterable[str]):
        self.dataset, self.split, self.available = dataset, split, list(available)
        super().__init__(
            f"Dataset {dataset!r} has no split {split!r}. "
            f"Available splits: {_listing(self.available)}.",
            field="split",
        )


class ColumnNotFoundError(DatasetError, LookupError):
    """A text or label column does not exist."""

    def __init__(self, column: str, available: Iterable[str], role: str = "column"):
        self.column, self.available, self.role = column, list(available), role
        super().__init__(
            f"The {role} {column!r} does not exist. Available columns: {_listing(self.available)}.",
            field="label_col" if "label" in role else "text_col",
        )


class EmptyDatasetError(DatasetError):
    """No rows are left (possibly after dropping ``-1`` labels or missing texts)."""

    def __init__(self, message: str | None = None):
        super().__init__(
            message
            or "The dataset is empty (after dropping rows with label -1 or missing text). "
            "Check the split, the label column and any filters."
        )


class SingleClassError(DatasetError):
    """A classification target has only one class: LogME cannot tell features apart."""

    def __init__(self, label: object, label_col: str):
        self.label = label
        super().__init__(
            f"The label column {label_col!r} holds a single class ({label!r}) in the sample.",
            advice="Ranking needs at least two classes: use a larger sample ({0}), another "
            "split, or {1} if the labels are real-valued scores.",
            field="label_col",
            fixes=[Fix("num_examples"), Fix("is_regression", True)],
        )


class LabelTypeError(DatasetError, TypeError):
    """Labels cannot be interpreted as asked (e.g. text labels for a regression)."""


class MissingTextError(DatasetError):
    """Some rows have no text (None/NaN) in a text column."""

    def __init__(self, column: str, count: int, total: int):
        self.column, self.count, self.total = column, count, total
        super().__init__(
            f"{count} of {total} rows have no text in column {column!r}.",
            advice="Drop or fill them first (e.g. df.dropna(subset=[...])), or {0}.",
            field="text_col",
            fixes=[Fix("drop_missing", True)],
        )


# --- models and embeddings -------------------------------------------------------------------


class ModelLoadError(HfselectWidgetsError, OSError):
    """The base model or tokenizer cannot be loaded."""

    def __init__(self, model_name: str, detail: str):
        self.model_name = model_name
        super().__init__(
            f"Could not load the base model {model_name!r}: {detail} "
            "Give a Hub model id (online, or cached for offline use) or a local folder "
            "with config.json and tokenizer files."
        )


class PoolingError(HfselectWidgetsError, ValueError):
    """An unknown pooling method was requested or none can be inferred."""


# --- ESMs ------------------------------------------------------------------------------------


class ESMError(HfselectWidgetsError):
    """Base class of errors about one ESM."""


class InvalidESMConfigError(ESMError, ValueError):
    """An ESM config lacks ``base_model_name``/``task_id`` or has values of the wrong type."""

    def __init__(self, message: str | None = None):
        super().__init__(
            message
            or "The config is not a valid ESM config: 'base_model_name' and 'task_id' must be "
            "non-empty strings."
        )


class ESMNotInitializedError(ESMError, RuntimeError):
    """An ESM without a map (no architecture or embedding dimension) was used or saved.

    hf-dataset-selector's error of the same name: ``ESM()`` without ``embedding_dim`` or a
    config that states ``esm_embedding_dim`` has no weights yet.
    """

    default_message = (
        "The ESM was not initialized: it has no map yet. Create it with "
        "ESM(architecture='linear', embedding_dim=D) or load one with ESM.from_pretrained(...)."
    )

    def __init__(self, details_message: str | None = None):
        super().__init__(self.default_message + (f" {details_message}" if details_message else ""))


class ESMLoadError(ESMError, OSError):
    """An ESM's files are missing, corrupt, non-finite or of the wrong shape."""

    def __init__(self, source: str, reason: str):
        self.source, self.reason = source, reason
        super().__init__(f"Cannot load the ESM {source!r}: {reason}")


class ESMDimensionError(ESMError, ValueError):
    """The ESM's dimension does not fit the embeddings of the base model in use."""

    def __init__(self, source: str, esm_dim: int, model_dim: int):
        self.source, self.esm_dim, self.model_dim = source, esm_dim, model_dim
        super().__init__(
            f"The ESM {source!r} maps {esm_dim}-dimensional embeddings but the base model "
            f"produces {model_dim}-dimensional ones: it was trained for another base model."
        )


class ESMBaseModelMismatchError(ESMError, ValueError):
    """The ESM was trained for another (known) base model."""

    def __init__(self, source: str, esm_model: str, model: str):
        self.source, self.esm_model, self.model = source, esm_model, model
        super().__init__(
            f"The ESM {source!r} was trained for {esm_model!r}, not for {model!r}. "
            f"Rank with model_name={esm_model!r} to use it."
        )


class ESMFolderNotFoundError(ESMError, FileNotFoundError):
    """A local ESM folder (``esm_dir``) does not exist or is not a folder."""

    def __init__(self, path: str, detail: str | None = None):
        self.path = path
        super().__init__(
            f"The ESM folder {path!r} {detail or 'does not exist'}. Give the folder that holds "
            "your ESM folders (each with config.json and model.safetensors), e.g. the "
            "save_directory you passed to ESM.save_pretrained.",
            field="esm_dir",
        )


class NoESMsFoundError(HfselectWidgetsError, LookupError):
    """No ESM matches the request."""

    def __init__(self, model_name: str | None = None, coverage: dict[str, int] | None = None):
        self.model_name, self.coverage = model_name, coverage
        msg = "No ESMs matching the search criteria could be found"
        msg += f" for the base model {model_name!r}." if model_name else "."
        if coverage:
            top = sorted(coverage.items(), key=lambda kv: -kv[1])[:8]
            msg += " Base models with ESMs: " + ", ".join(f"{m} ({n})" for m, n in top) + "."
            super().__init__(msg, field="model")
            return
        super().__init__(
            msg,
            advice="Choose a base model that has ESMs (get_esm_coverage() lists them), or rank "
            "against a local folder of ESMs: {0}.",
            field="model",
            fixes=[Fix("esm_dir")],
        )


class DownloadLimitError(HfselectWidgetsError):
    """The ESMs to download exceed the cap the caller set."""

    def __init__(self, count: int, total_bytes: int, max_bytes: int):
        self.count, self.total_bytes, self.max_bytes = count, total_bytes, max_bytes
        super().__init__(
            f"Downloading {count} ESMs needs {total_bytes / 1e6:.1f} MB, above the cap of "
            f"{max_bytes / 1e6:.1f} MB.",
            advice="Narrow the ESM pool ({0}) or raise the cap ({1}).",
            field="max_bytes",
            fixes=[Fix("filters"), Fix("max_bytes", int(total_bytes) + 1)],
        )


# --- Hub and network -------------------------------------------------------------------------


class HubUnavailableError(HfselectWidgetsError, ConnectionError):
    """The Hub cannot be reached and nothing usable is cached."""

    def __init__(
        self,
        what: str,
        detail: str | None = None,
        *,
        field: str | None = None,
        offline: bool = False,
        offline_mode: bool = False,
        demo_pool: bool = False,
    ):
        self.what = what
        self.detail = detail
        self.offline_mode = offline_mode
        self.offline = offline or offline_mode
        msg = f"Cannot reach the Hugging Face Hub for {what} and nothing usable is cached."
        if detail:
            msg += f" ({detail})"
        field = field or _hub_field(what)
        # Advice for the thing that could not be reached: a dataset, a base model or ESMs.
        alternative = {
            "dataset": ("use a local file or DataFrame instead: {0}", "dataset"),
            "model": ("use a model folder on disk: {0}", "model"),
        }.get(field, ("rank against a local ESM folder: {0}", "esm_dir"))
        if offline_mode:
            # The user chose offline mode (HF_HUB_OFFLINE=1): only the cache is looked at.
            advice = (
                "Work offline: " + alternative[0] + ", or unset HF_HUB_OFFLINE and connect "
                "once to download it (it is cached for offline use)."
            )
        elif offline:
            # No network: what is cached works; HF_HUB_OFFLINE=1 skips the reachability check.
            advice = (
                "Work offline: " + alternative[0] + ", or use what is in the Hugging Face "
                "cache (set HF_HUB_OFFLINE=1 to skip the check), or connect and retry."
            )
        else:
            advice = (
                "Connect to the internet once (results are cached for offline use), or "
                + alternative[0]
                + "."
            )
        fixes = [Fix(alternative[1])]
        if demo_pool and self.offline:
            # The pool was the Hub's ESMs: whatever else is fixed, they need the Hub too.
            advice += " To try the tool offline, rank against the bundled demo ESMs: {1}."
            fixes.append(Fix("demo"))
        super().__init__(msg, advice=advice, field=field, fixes=fixes)

    def with_demo_pool(self) -> HubUnavailableError:
        """The same error, advising the bundled demo ESMs too (for a ranking against the
        Hub's ESMs, which cannot work offline whatever the model)."""
        return HubUnavailableError(
            self.what,
            self.detail,
            field=self.field,
            offline=self.offline,
            offline_mode=self.offline_mode,
            demo_pool=True,
        )


def _hub_field(what: str) -> str:
    """The request input a Hub failure concerns, from the thing it was fetching."""
    lowered = what.lower()
    if "dataset" in lowered and "esm" not in lowered:
        return "dataset"
    if "model" in lowered and "esm" not in lowered:
        return "model"
    return "esm_pool"


# --- ranking ---------------------------------------------------------------------------------


class InvalidTaskRankingError(HfselectWidgetsError, ValueError):
    """A task ranking would be empty or inconsistent."""

    def __init__(self, message: str | None = None):
        super().__init__(message or "The task ranking is invalid.")


class RankingCancelled(HfselectWidgetsError):
    """Long work was stopped because its cancel event was set."""

    def __init__(self, stage: str | None = None):
        self.stage = stage
        super().__init__(
            f"Cancelled during {stage!r}." if stage else "Cancelled by the user.",
        )


__all__ = [
    "ANY_VALUE",
    "Fix",
    "PYTHON",
    "Vocabulary",
    "HfselectWidgetsError",
    "DatasetError",
    "DatasetNotFoundError",
    "SubsetNotFoundError",
    "SplitNotFoundError",
    "ColumnNotFoundError",
    "EmptyDatasetError",
    "SingleClassError",
    "LabelTypeError",
    "MissingTextError",
    "ModelLoadError",
    "PoolingError",
    "ESMError",
    "InvalidESMConfigError",
    "ESMNotInitializedError",
    "ESMLoadError",
    "ESMDimensionError",
    "ESMBaseModelMismatchError",
    "ESMFolderNotFoundError",
    "NoESMsFoundError",
    "DownloadLimitError",
    "HubUnavailableError",
    "InvalidTaskRankingError",
    "RankingCancelled",
]


# --- publishing ESMs to the Hub ----------------------------------------------------------------

LOGIN_HINT = (
    "Log in once with `hf auth login` (or `huggingface-cli login`) in a terminal or "
    "`huggingface_hub.notebook_login()` in a notebook, set the HF_TOKEN environment variable, "
    "or pass token=... (create a token with write access at "
    "https://huggingface.co/settings/tokens)."
)
"""The whole login advice in Python's words (:class:`MissingTokenError` phrases its last
option per front end)."""

_LOGIN_ADVICE = (
    "Log in once with `hf auth login` (or `huggingface-cli login`) in a terminal or "
    "`huggingface_hub.notebook_login()` in a notebook, or {0} (create a token with write "
    "access at https://huggingface.co/settings/tokens)."
)


class PublishError(HfselectWidgetsError):
    """Publishing an ESM to the Hugging Face Hub was refused or failed."""


class MissingTokenError(PublishError, PermissionError):
    """No Hugging Face token is available, and publishing needs one with write access."""

    def __init__(self, detail: str | None = None):
        msg = "No Hugging Face token found: publishing an ESM needs a token with write access."
        if detail:
            msg += f" ({detail})"
        super().__init__(msg, advice=_LOGIN_ADVICE, field="token", fixes=[Fix("token")])


class RepoExistsError(PublishError, FileExistsError):
    """The target Hub repo exists and publishing would replace what it holds."""

    def __init__(self, repo_id: str, message: str, *, advice=None, fixes=()):
        self.repo_id = repo_id
        super().__init__(message, advice=advice, field="repo_id", fixes=fixes)


class UploadError(PublishError, OSError):
    """A Hub call made while publishing (check, create or upload) failed; ``cause`` says why."""

    def __init__(self, repo_id: str, action: str, cause: str, hint: str | None = None):
        self.repo_id, self.action, self.cause = repo_id, action, cause
        msg = f"Publishing to {repo_id!r} failed while {action}: {cause}"
        if hint:
            msg += f" {hint}"
        super().__init__(msg)


__all__ += ["PublishError", "MissingTokenError", "RepoExistsError", "UploadError"]


# --- training ESMs ---------------------------------------------------------------------------


class TrainingError(HfselectWidgetsError):
    """Fine-tuning the base model or fitting an ESM failed (e.g. the loss became NaN)."""


class TrainingConfigError(TrainingError, ValueError):
    """A training hyper-parameter or option has an invalid value."""


class EmbeddingDatasetError(TrainingError, ValueError):
    """Embedding pairs are inconsistent, or an embedding dataset file cannot be read."""


class PickledMetadataError(EmbeddingDatasetError):
    """An embedding dataset file stores its metadata as a pickle and pickles were not allowed."""

    def __init__(self, path: str):
        self.path = path
        super().__init__(
            f"The embedding dataset {path!r} stores its metadata as a Python pickle (as "
            "hf-dataset-selector writes it). Loading a pickle can run arbitrary code, so it is "
            "refused by default:",
            advice="{0} only if you trust the file.",
            field="allow_pickle",
            fixes=[Fix("allow_pickle", True)],
        )


class OutputExistsError(HfselectWidgetsError, FileExistsError):
    """The output folder already exists and holds files; nothing was overwritten."""

    def __init__(self, path: str):
        self.path = path
        super().__init__(
            f"{path!r} already exists and is not an empty folder.",
            advice="Choose another output folder, delete it, or {0} to replace it.",
            field="output_dir",
            fixes=[Fix("overwrite", True)],
        )


class OutputPathError(HfselectWidgetsError, OSError):
    """An output file cannot be written where asked (checked before any work starts)."""

    def __init__(self, path: str, reason: str):
        self.path = path
        super().__init__(
            f"The output {path!r} {reason}.", advice="Choose another path.", field="output"
        )


__all__ += [
    "OutputPathError",
    "TrainingError",
    "TrainingConfigError",
    "EmbeddingDatasetError",
    "PickledMetadataError",
    "OutputExistsError",
]


# --- target data files -------------------------------------------------------------------------


class DataFileError(DatasetError):
    """A target data file cannot be read as a table (see :func:`read_table_file`)."""

    field = "dataset"

    def __init__(self, message: str, *, advice=None, fixes=(), path: str | None = None):
        self.path = path
        super().__init__(message, advice=advice, field="dataset", fixes=fixes or [Fix("dataset")])


class EmptyFileError(DataFileError):
    """The data file is empty (0 bytes, or only blank lines)."""


class NoRowsError(DataFileError):
    """The data file has a header (or an empty array) but 0 rows."""


class FileEncodingError(DataFileError, UnicodeError):
    """A text data file is not UTF-8; :attr:`encoding` is the best guess of what it is."""

    def __init__(self, message: str, *, encoding: str | None = None, **kwargs):
        self.encoding = encoding
        super().__init__(message, **kwargs)


class DelimiterError(DataFileError):
    """A CSV/TSV file seems to use another delimiter than its suffix says."""


class NoHeaderError(DataFileError):
    """The first row of a CSV/TSV file looks like data, not column names."""


class UnreadableFileError(DataFileError):
    """The data file is binary (NUL bytes), corrupt, or not valid CSV/JSON/Parquet."""


class UnsupportedFileFormatError(DataFileError):
    """The data file's suffix (or the format asked for) is not one that can be read."""


class DataFileWarning(UserWarning):
    """A data file was read, but not quite as its suffix says (e.g. a ';'-separated .csv)."""


# --- target quality ------------------------------------------------------------------------------


class TargetCheckError(DatasetError):
    """The target is unfit for ranking (e.g. the text column is the label column)."""


class TextIsLabelError(TargetCheckError):
    """The text column is the label column: the model would read the answer."""


class LabelsLookLikeTextError(TargetCheckError):
    """Classification labels are nearly all distinct: the label column is probably text."""


class UninformativeTextError(TargetCheckError):
    """The texts are all empty, or (nearly) all the same."""


class TargetQualityWarning(UserWarning):
    """The target can be ranked, but the ranking may mean little (e.g. extreme imbalance)."""


__all__ += [
    "DataFileError",
    "EmptyFileError",
    "NoRowsError",
    "FileEncodingError",
    "DelimiterError",
    "NoHeaderError",
    "UnreadableFileError",
    "UnsupportedFileFormatError",
    "DataFileWarning",
    "TargetCheckError",
    "TextIsLabelError",
    "LabelsLookLikeTextError",
    "UninformativeTextError",
    "TargetQualityWarning",
]
