"""Typed exceptions for everything a user can cause.

Every message says what went wrong *and* what to do about it. Widgets, the magic and the CLI
show ``str(error)`` as it is, so messages are written for people, not for logs.

All exceptions derive from :class:`HfselectWidgetsError`; catch that to handle any of them.
Where an error is also a natural ``ValueError``/``LookupError``/``FileNotFoundError``, it derives
from that too, so generic handlers keep working.
"""

from __future__ import annotations

from collections.abc import Iterable


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
    """Base class of all errors raised on purpose by hfselect_widgets."""


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


class SubsetNotFoundError(DatasetError, LookupError):
    """The dataset has no such subset (configuration)."""

    def __init__(self, dataset: str, subset: str | None, available: Iterable[str]):
        self.dataset, self.subset, self.available = dataset, subset, list(available)
        if subset is None:
            msg = (
                f"Dataset {dataset!r} has several subsets; choose one with subset=...: "
                f"{_listing(self.available)}."
            )
        else:
            msg = (
                f"Dataset {dataset!r} has no subset {subset!r}. "
                f"Available subsets: {_listing(self.available)}."
            )
        super().__init__(msg)


class SplitNotFoundError(DatasetError, LookupError):
    """The dataset has no such split."""

    def __init__(self, dataset: str, split: str, available: Iterable[str]):
        self.dataset, self.split, self.available = dataset, split, list(available)
        super().__init__(
            f"Dataset {dataset!r} has no split {split!r}. "
            f"Available splits: {_listing(self.available)}."
        )


class ColumnNotFoundError(DatasetError, LookupError):
    """A text or label column does not exist."""

    def __init__(self, column: str, available: Iterable[str], role: str = "column"):
        self.column, self.available, self.role = column, list(available), role
        super().__init__(
            f"The {role} {column!r} does not exist. Available columns: {_listing(self.available)}."
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
            f"The label column {label_col!r} holds a single class ({label!r}) in the sample. "
            "Ranking needs at least two classes: use a larger sample (num_examples), another "
            "split, or is_regression=True if the labels are real-valued scores."
        )


class LabelTypeError(DatasetError, TypeError):
    """Labels cannot be interpreted as asked (e.g. text labels for a regression)."""


class MissingTextError(DatasetError):
    """Some rows have no text (None/NaN) in a text column."""

    def __init__(self, column: str, count: int, total: int):
        self.column, self.count, self.total = column, count, total
        super().__init__(
            f"{count} of {total} rows have no text in column {column!r}. "
            "Drop or fill them first (e.g. df.dropna(subset=[...])), or pass drop_missing=True."
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
            "save_directory you passed to ESM.save_pretrained."
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
        else:
            msg += (
                " Call get_esm_coverage() to see which base models have ESMs, or rank against "
                "a local folder of ESMs (esm_dir=...)."
            )
        super().__init__(msg)


class DownloadLimitError(HfselectWidgetsError):
    """The ESMs to download exceed the cap the caller set."""

    def __init__(self, count: int, total_bytes: int, max_bytes: int):
        self.count, self.total_bytes, self.max_bytes = count, total_bytes, max_bytes
        super().__init__(
            f"Downloading {count} ESMs needs {total_bytes / 1e6:.1f} MB, above the cap of "
            f"{max_bytes / 1e6:.1f} MB. Narrow the ESM pool with filters or raise max_bytes."
        )


# --- Hub and network -------------------------------------------------------------------------


class HubUnavailableError(HfselectWidgetsError, ConnectionError):
    """The Hub cannot be reached and nothing usable is cached."""

    def __init__(self, what: str, detail: str | None = None):
        self.what = what
        msg = (
            f"Cannot reach the Hugging Face Hub for {what} and nothing usable is cached. "
            "Connect to the internet once (results are cached for offline use), or rank "
            "against a local ESM folder (esm_dir=...)."
        )
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


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


class PublishError(HfselectWidgetsError):
    """Publishing an ESM to the Hugging Face Hub was refused or failed."""


class MissingTokenError(PublishError, PermissionError):
    """No Hugging Face token is available, and publishing needs one with write access."""

    def __init__(self, detail: str | None = None):
        msg = "No Hugging Face token found: publishing an ESM needs a token with write access. "
        if detail:
            msg += f"({detail}) "
        super().__init__(msg + LOGIN_HINT)


class RepoExistsError(PublishError, FileExistsError):
    """The target Hub repo exists and publishing would replace what it holds."""

    def __init__(self, repo_id: str, message: str):
        self.repo_id = repo_id
        super().__init__(message)


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
            "refused by default: pass allow_pickle=True only if you trust the file."
        )


class OutputExistsError(HfselectWidgetsError, FileExistsError):
    """The output folder already exists and holds files; nothing was overwritten."""

    def __init__(self, path: str):
        self.path = path
        super().__init__(
            f"{path!r} already exists and is not an empty folder. Choose another output "
            "folder, delete it, or pass overwrite=True to replace it."
        )


__all__ += [
    "TrainingError",
    "TrainingConfigError",
    "EmbeddingDatasetError",
    "PickledMetadataError",
    "OutputExistsError",
]
