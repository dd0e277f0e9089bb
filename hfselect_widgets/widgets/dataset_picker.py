"""Pick the target (or training) dataset: a Hub id, an uploaded file, a DataFrame or the demo.

:class:`DatasetPicker` is a form over :mod:`hfselect_widgets.engine.data`: it reads a Hub
dataset's subsets, splits and columns from its metadata (``inspect_hub_dataset``, no data
download), suggests the text column(s), the label column and the task type
(``suggest_columns``), lets the user override them, and builds the engine's ``Dataset`` with
:meth:`DatasetPicker.build_dataset`. Invalid choices are explained in the form and keep
:attr:`DatasetPicker.valid` ``False``, which the run panel uses to block its Rank button.
"""

from __future__ import annotations

import html
import shutil
import tempfile
import weakref
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd
import traitlets

from hfselect_widgets.engine import defaults
from hfselect_widgets.engine.data import (
    FILE_FORMATS,
    ColumnSuggestion,
    Dataset,
    HubDatasetInfo,
    inspect_hub_dataset,
    read_table_file,
    suggest_columns,
)
from hfselect_widgets.errors import DatasetError
from hfselect_widgets.widgets._compat import set_titles, uploaded_files
from hfselect_widgets.widgets.worker import error_text, message_html

SOURCE_HUB = "hub"
SOURCE_UPLOAD = "upload"
SOURCE_DATAFRAME = "dataframe"
SOURCE_DEMO = "demo"
SOURCES = (SOURCE_HUB, SOURCE_UPLOAD, SOURCE_DATAFRAME, SOURCE_DEMO)

TASK_AUTO = "auto"
TASK_CLASSIFICATION = "classification"
TASK_REGRESSION = "regression"

UPLOAD_ACCEPT = ",".join(sorted(FILE_FORMATS))
"""File suffixes the upload button offers (those ``Dataset.from_file`` reads)."""

FORCE_LABEL = "Rank anyway (skip the target checks)"

_PREVIEW_CELL_CHARS = 80
_LABEL_WIDTH = "130px"


def _default_namespace() -> MutableMapping[str, Any]:
    """The notebook's variables (IPython's ``user_ns``), or an empty dict outside IPython."""
    from IPython import get_ipython

    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def _described(widget: widgets.Widget, label: str) -> widgets.HBox:
    """``widget`` with a fixed-width label before it (ipywidgets' descriptions get truncated)."""
    return widgets.HBox([widgets.Label(label, layout=widgets.Layout(width=_LABEL_WIDTH)), widget])


def _read_preview_frame(path: Path) -> pd.DataFrame:
    """An uploaded file as a DataFrame, for the column lists and the preview.

    Read by the same reader as ``Dataset.from_file`` (``read_table_file``), so the preview and
    ``build_dataset`` agree, and the same typed errors explain a file that cannot be read.
    """
    return read_table_file(path)


def _cell(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _PREVIEW_CELL_CHARS else text[: _PREVIEW_CELL_CHARS - 1] + "…"


def frame_preview_html(frame: pd.DataFrame, rows: int = 5) -> str:
    """The first ``rows`` rows of ``frame`` as an HTML table (long cells shortened)."""
    head = frame.head(rows).apply(lambda column: column.map(_cell))
    table = head.to_html(index=False, escape=True, border=0)
    return f"<div style='overflow-x:auto;font-size:90%'>{table}</div><i>{len(frame)} rows</i>"


def features_preview_html(info: HubDatasetInfo) -> str:
    """A Hub dataset's columns with their types and the rows per split (no data downloaded)."""
    features = info.features or {}
    cells = "".join(
        f"<tr><td>{html.escape(str(name))}</td><td><code>{html.escape(_cell(feature))}</code></td>"
        "</tr>"
        for name, feature in features.items()
    )
    rows = ", ".join(f"{html.escape(s)}: {n:,}" for s, n in info.num_rows.items())
    footer = f"<i>Rows per split: {rows}</i>" if rows else ""
    return (
        "<div style='font-size:90%'><table><thead><tr><th>Column</th><th>Type</th></tr></thead>"
        f"<tbody>{cells}</tbody></table>{footer}</div>"
    )


class DatasetPicker(widgets.VBox):
    """A form that chooses a labelled dataset and builds it with the engine.

    Args:
        namespace: where to look for pandas DataFrames (default: the notebook's variables).
        hf_api: an ``HfApi``-like object for reading Hub dataset cards (tests pass a fake; by
            default ``datasets`` reads the metadata, offline from its cache).
        source: the source shown first: ``"hub"``, ``"upload"``, ``"dataframe"`` or ``"demo"``.
        num_examples: the default sample size (0 means all rows).
        seed: the default sampling seed.
        preview_rows: rows shown in the preview.

    Attributes:
        valid: whether :meth:`build_dataset` can be called (a traitlet: observe it).
        problems: why the choice is not valid yet (shown in the form).
    """

    valid = traitlets.Bool(False, help="Whether the choices are complete and consistent.")

    def __init__(
        self,
        namespace: Mapping[str, Any] | None = None,
        *,
        hf_api: Any = None,
        source: str = SOURCE_HUB,
        num_examples: int = defaults.NUM_EXAMPLES,
        seed: int = defaults.SEED,
        preview_rows: int = 5,
        **kwargs: Any,
    ):
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}.")
        self.namespace = _default_namespace() if namespace is None else namespace
        self.hf_api = hf_api
        self.preview_rows = preview_rows
        self.problems: list[str] = []
        self.hub_info: HubDatasetInfo | None = None
        self.suggestion: ColumnSuggestion | None = None
        self._frame: pd.DataFrame | None = None
        self._load_error: str | None = None
        self._upload_dir = Path(tempfile.mkdtemp(prefix="hfselect-widgets-upload-"))
        self._upload_path: Path | None = None
        # The temp folder goes when the picker does (or at exit).
        weakref.finalize(self, shutil.rmtree, str(self._upload_dir), True)

        self.source = widgets.ToggleButtons(
            options=[
                ("Hub id", SOURCE_HUB),
                ("Upload file", SOURCE_UPLOAD),
                ("DataFrame", SOURCE_DATAFRAME),
                ("Demo target", SOURCE_DEMO),
            ],
            value=source,
            style={"button_width": "110px"},
        )
        # Hub
        self.hub_id = widgets.Text(
            placeholder="e.g. stanfordnlp/imdb, or a local dataset folder",
            continuous_update=False,  # inspect on Enter / leaving the field, not per keystroke
            layout=widgets.Layout(width="360px"),
        )
        self.inspect_button = widgets.Button(
            description="Inspect", icon="search", tooltip="Read subsets, splits and columns"
        )
        self.subset = widgets.Dropdown(options=[], layout=widgets.Layout(width="240px"))
        self.split = widgets.Dropdown(options=[], layout=widgets.Layout(width="240px"))
        self.hub_box = widgets.VBox(
            [
                _described(widgets.HBox([self.hub_id, self.inspect_button]), "Dataset"),
                _described(self.subset, "Subset"),
                _described(self.split, "Split"),
            ]
        )
        # Upload
        self.upload = widgets.FileUpload(accept=UPLOAD_ACCEPT, multiple=False)
        self.upload_box = _described(self.upload, "File")
        # DataFrame
        self.dataframe = widgets.Dropdown(options=[], layout=widgets.Layout(width="240px"))
        self.refresh_dataframes = widgets.Button(
            icon="refresh", tooltip="Look for DataFrames again", layout=widgets.Layout(width="40px")
        )
        self.dataframe_box = _described(
            widgets.HBox([self.dataframe, self.refresh_dataframes]), "DataFrame"
        )
        self.demo_box = widgets.HTML(
            "The bundled demo target: held-out rows of a movie-review sentiment dataset "
            "(columns <code>text</code> and <code>label</code>)."
        )
        # Columns and sampling
        self.text_cols = widgets.SelectMultiple(options=[], rows=4)
        self.label_col = widgets.Dropdown(options=[])
        self.task_type = widgets.ToggleButtons(
            options=[
                ("Auto", TASK_AUTO),
                ("Classification", TASK_CLASSIFICATION),
                ("Regression", TASK_REGRESSION),
            ],
            value=TASK_AUTO,
            style={"button_width": "130px"},  # "Classification" whole
        )
        self.num_examples = widgets.BoundedIntText(
            value=num_examples, min=0, max=10**9, layout=widgets.Layout(width="120px")
        )
        self.seed = widgets.IntText(value=seed, layout=widgets.Layout(width="120px"))
        self.drop_missing = widgets.Checkbox(
            value=False, description="Drop rows without text or label", indent=False
        )
        # TargetRequest.force: rank although a target check doubts the data (labels that look
        # like free text, nearly constant texts); the checks' errors name this box.
        self.force = widgets.Checkbox(
            value=False,
            description=FORCE_LABEL,
            indent=False,
            layout=widgets.Layout(width="auto"),
        )
        self.suggestion_note = widgets.HTML()
        self.message = widgets.HTML()
        self.preview = widgets.HTML()
        self.source_box = widgets.VBox()
        preview_box = widgets.Accordion(children=[self.preview], selected_index=0)
        set_titles(preview_box, ["Preview"])
        super().__init__(
            [
                _described(self.source, "Source"),
                self.source_box,
                _described(self.text_cols, "Text column(s)"),
                _described(self.label_col, "Label column"),
                _described(self.task_type, "Task"),
                _described(
                    widgets.HBox(
                        [self.num_examples, widgets.Label("rows (0 = all), seed"), self.seed]
                    ),
                    "Sample",
                ),
                _described(self.drop_missing, "Missing values"),
                _described(self.force, "Checks"),
                self.suggestion_note,
                self.message,
                preview_box,
            ],
            **kwargs,
        )

        self.source.observe(self._on_source, "value")
        self.hub_id.observe(lambda _: self.inspect(), "value")
        self.inspect_button.on_click(lambda _: self.inspect())
        self.subset.observe(self._on_subset, "value")
        self.upload.observe(self._on_upload, "value")
        self.dataframe.observe(self._on_dataframe, "value")
        self.refresh_dataframes.on_click(lambda _: self.refresh_dataframe_list())
        for widget in (self.split, self.text_cols, self.label_col, self.num_examples):
            widget.observe(lambda _: self.validate(), "value")
        self._on_source()

    # -- sources --------------------------------------------------------------------------------

    def _on_source(self, change: Any = None) -> None:
        source = self.source.value
        self.source_box.children = [
            {
                SOURCE_HUB: self.hub_box,
                SOURCE_UPLOAD: self.upload_box,
                SOURCE_DATAFRAME: self.dataframe_box,
                SOURCE_DEMO: self.demo_box,
            }[source]
        ]
        self._load_error = None
        self._frame = None
        if source == SOURCE_HUB:
            self._show_hub_info()
        elif source == SOURCE_UPLOAD:
            self._load_upload()
        elif source == SOURCE_DATAFRAME:
            self.refresh_dataframe_list()
            self._on_dataframe()
        else:
            from hfselect_widgets.demo import demo_target_path

            self._use_frame(read_table_file(demo_target_path()))

    def inspect(self) -> HubDatasetInfo | None:
        """Read the Hub dataset's subsets, splits and columns (metadata only) into the form."""
        return self._inspect(self.subset.value if self.hub_info else None)

    def _inspect(self, subset: str | None) -> HubDatasetInfo | None:
        name = self.hub_id.value.strip()
        if self.hub_info is not None and self.hub_info.name != name:
            subset = None  # another dataset: its own default subset
        self.hub_info = None
        self._load_error = None
        if not name:
            self._show_hub_info()
            return None
        self.message.value = message_html(f"Reading the metadata of {name!r}…")
        try:
            self.hub_info = inspect_hub_dataset(name, subset=subset, hf_api=self._hub_api())
        except Exception as exc:  # shown in the form; the user fixes the id and retries
            self._load_error = error_text(exc)
        self._show_hub_info()
        return self.hub_info

    def _hub_api(self) -> Any:
        if self.hf_api is not None:
            return self.hf_api
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            return None  # datasets then answers from its cache
        from hfselect_widgets.engine.hub.network import hub_api

        # hub_api probes the Hub first: offline, the inspect fails at once instead of retrying.
        return hub_api()

    def _show_hub_info(self) -> None:
        info = self.hub_info
        subsets = info.subsets if info else []
        # Filling the drop-down must not look like the user choosing another subset.
        self.subset.unobserve(self._on_subset, "value")
        try:
            self.subset.options = subsets
            self.subset.value = info.subset if info and info.subset in subsets else None
        finally:
            self.subset.observe(self._on_subset, "value")
        self.subset.disabled = len(subsets) <= 1
        splits = info.splits if info else []
        self.split.options = splits
        preferred = [s for s in ("train", *splits) if s in splits]
        self.split.value = preferred[0] if preferred else None
        if info is None:
            self._set_columns([], None)
            self.preview.value = ""
        else:
            self._set_columns([str(c) for c in (info.features or {})], info.suggestion)
            self.preview.value = features_preview_html(info)

    def _on_subset(self, change: Any) -> None:
        if self.hub_info is not None and change["new"] not in (None, self.hub_info.subset):
            self._inspect(change["new"])

    def _on_upload(self, change: Any = None) -> None:
        for old in self._upload_dir.iterdir():
            old.unlink()
        self._upload_path = None
        files = uploaded_files(self.upload)
        if files:
            name, content = files[-1]  # the latest file (multiple=False keeps one)
            # Keep the name (its suffix tells the format) but never a path from the browser.
            path = self._upload_dir / Path(name).name
            path.write_bytes(content)
            self._upload_path = path
        if self.source.value == SOURCE_UPLOAD:
            self._load_upload()

    def _load_upload(self) -> None:
        self._load_error = None
        if self._upload_path is None:
            self._use_frame(None)
            return
        try:
            frame = _read_preview_frame(self._upload_path)
        except Exception as exc:  # a file we cannot parse: say so in the form
            self._load_error = f"Cannot read {self._upload_path.name!r}: {error_text(exc)}"
            frame = None
        self._use_frame(frame)

    def dataframe_names(self) -> list[str]:
        """The names of the pandas DataFrames in the namespace (private names skipped)."""
        return sorted(
            name
            for name, value in list(self.namespace.items())
            if isinstance(value, pd.DataFrame) and not name.startswith("_")
        )

    def refresh_dataframe_list(self) -> None:
        """Look for DataFrames in the namespace again."""
        names = self.dataframe_names()
        current = self.dataframe.value
        self.dataframe.options = names
        if current in names:
            self.dataframe.value = current
        elif names and self.dataframe.value is None:
            self.dataframe.value = names[0]

    def _on_dataframe(self, change: Any = None) -> None:
        if self.source.value != SOURCE_DATAFRAME:
            return
        name = self.dataframe.value
        frame = self.namespace.get(name) if name else None
        self._load_error = None
        self._use_frame(frame if isinstance(frame, pd.DataFrame) else None)

    # -- columns --------------------------------------------------------------------------------

    def _use_frame(self, frame: pd.DataFrame | None) -> None:
        self._frame = frame
        if frame is None:
            self._set_columns([], None)
            self.preview.value = ""
            return
        self._set_columns([str(c) for c in frame.columns], suggest_columns(frame))
        self.preview.value = frame_preview_html(frame, self.preview_rows)

    def _set_columns(self, columns: Sequence[str], suggestion: ColumnSuggestion | None) -> None:
        """Offer ``columns`` and preselect what ``suggestion`` proposes."""
        self.suggestion = suggestion
        columns = list(columns)
        # Unselect first: the browser redraws the list when the new options arrive, while it
        # still holds the old selection; an old index past the new list's end made it fail with
        # "Cannot set properties of undefined (setting 'selected')".
        self.text_cols.value = ()
        self.text_cols.options = columns
        self.label_col.options = columns
        if suggestion is None:
            self.text_cols.value = ()
            self.label_col.value = None
            self.task_type.value = TASK_AUTO
            self.suggestion_note.value = ""
        else:
            self.text_cols.value = tuple(c for c in suggestion.text_cols if c in columns)
            self.label_col.value = suggestion.label_col if suggestion.label_col in columns else None
            self.task_type.value = {True: TASK_REGRESSION, False: TASK_CLASSIFICATION}.get(
                suggestion.is_regression, TASK_AUTO
            )
            reasons = " ".join(suggestion.reasons)
            self.suggestion_note.value = (
                f"<i>Suggested: {html.escape(reasons)}</i>" if reasons else ""
            )
        self.validate()

    # -- validation and building ----------------------------------------------------------------

    def validate(self) -> bool:
        """Check the choices, show what is missing, and update :attr:`valid`."""
        problems: list[str] = []
        source = self.source.value
        if self._load_error:
            problems.append(self._load_error)
        elif source == SOURCE_HUB:
            name = self.hub_id.value.strip()
            if not name:
                problems.append("Enter a Hub dataset id (or a local dataset folder).")
            elif self.hub_info is None or self.hub_info.name != name:
                problems.append("Click Inspect to read the dataset's splits and columns.")
            elif not self.split.value:
                problems.append("Choose a split.")
        elif source == SOURCE_UPLOAD and self._frame is None:
            problems.append("Upload a CSV, TSV, JSON lines or Parquet file.")
        elif source == SOURCE_DATAFRAME and self._frame is None:
            problems.append(
                "Choose a DataFrame."
                if self.dataframe.options
                else "No pandas DataFrame found in the notebook: create one, then click ↻."
            )
        if not problems and self.text_cols.options:
            if not self.text_cols.value:
                problems.append("Choose at least one text column.")
            if not self.label_col.value:
                problems.append("Choose the label column.")
            elif self.label_col.value in self.text_cols.value:
                problems.append(
                    f"The label column {self.label_col.value!r} is also chosen as a text column."
                )
        elif not problems:
            problems.append("The dataset has no columns.")
        self.problems = problems
        self.message.value = message_html("\n".join(problems), "error") if problems else ""
        self.valid = not problems
        return self.valid

    @property
    def text_col(self) -> str | list[str]:
        """The chosen text column, or the list of them for pair tasks."""
        chosen = list(self.text_cols.value)
        return chosen[0] if len(chosen) == 1 else chosen

    @property
    def is_regression(self) -> bool | None:
        """The chosen task type (``None``: let the engine infer it from the labels)."""
        return {TASK_CLASSIFICATION: False, TASK_REGRESSION: True}.get(self.task_type.value)

    @property
    def dataset_name(self) -> str | None:
        """The name recorded as the dataset's ``task_id``."""
        source = self.source.value
        if source == SOURCE_HUB:
            return self.hub_id.value.strip() or None
        if source == SOURCE_UPLOAD:
            return self._upload_path.name if self._upload_path else None
        if source == SOURCE_DATAFRAME:
            return self.dataframe.value
        from hfselect_widgets.demo import DEMO_TARGET_NAME

        return DEMO_TARGET_NAME

    def target_request(self):
        """The choice as the engine's :class:`~hfselect_widgets.engine.requests.TargetRequest`.

        Raises :class:`~hfselect_widgets.errors.DatasetError` (with the form's message) while
        the choice is incomplete.
        """
        from hfselect_widgets.engine.requests import TargetRequest

        if not self.validate():
            raise DatasetError("The dataset choice is incomplete: " + " ".join(self.problems))
        source = self.source.value
        if source == SOURCE_HUB:
            origin: Any = self.hub_id.value.strip()
        elif source == SOURCE_UPLOAD:
            assert self._upload_path is not None
            origin = self._upload_path
        elif source == SOURCE_DATAFRAME:
            # The variable as it is now: the user may have changed it since picking it.
            origin = self.namespace.get(self.dataframe.value)
            if not isinstance(origin, pd.DataFrame):
                raise DatasetError(
                    f"The variable {self.dataframe.value!r} is no longer a pandas DataFrame: "
                    "choose another one."
                )
        else:
            origin = None  # the bundled demo target
        return TargetRequest(
            source=origin,
            text_col=self.text_col,
            label_col=self.label_col.value,
            split=self.split.value if source == SOURCE_HUB else "train",
            subset=self.subset.value if source == SOURCE_HUB else None,
            is_regression=self.is_regression,
            num_examples=self.num_examples.value or None,
            seed=self.seed.value,
            name=self.dataset_name if source in (SOURCE_UPLOAD, SOURCE_DATAFRAME) else None,
            drop_missing=self.drop_missing.value,
            force=self.force.value,
        )

    def build_dataset(self) -> Dataset:
        """Load the chosen data with the engine (sampled and cleaned by hfselect's rules).

        Raises :class:`~hfselect_widgets.errors.DatasetError` (with the form's message)
        while the choice is incomplete, and the engine's typed errors while loading.
        """
        return self.target_request().load()

    def choices(self) -> dict[str, Any]:
        """The current choices as plain values (for logs and reproducible code)."""
        return {
            "source": self.source.value,
            "name": self.dataset_name,
            "subset": self.subset.value if self.source.value == SOURCE_HUB else None,
            "split": self.split.value if self.source.value == SOURCE_HUB else None,
            "text_col": self.text_col,
            "label_col": self.label_col.value,
            "is_regression": self.is_regression,
            "num_examples": self.num_examples.value or None,
            "seed": self.seed.value,
            "drop_missing": self.drop_missing.value,
            "force": self.force.value,
        }


__all__ = ["DatasetPicker", "features_preview_html", "frame_preview_html"]
