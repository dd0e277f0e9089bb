"""Collection manifests: which datasets to build ESMs for, in YAML or CSV.

A manifest lists datasets, one entry each: a Hub dataset id or a local data file, its subset and
split, the text column(s), the label column and the number of rows to train on. YAML::

    defaults:            # optional: applies to every entry that does not set the key
      label_col: label
      rows: 1000
    datasets:
      - name: mr                       # the ESM's folder name (default: from the source)
        source: data/mr/train.csv      # relative paths are relative to the manifest's folder
        text_col: text
      - source: SetFit/sst2            # a Hub dataset id
        split: train
        text_col: text
      - name: mrpc
        source: data/mrpc/train.csv
        text_col: [text1, text2]       # several columns are joined with " [SEP] "

A top-level list (no ``datasets:`` key) works too. A CSV manifest has a header row with the
same keys as columns (``source`` required; ``text_col`` may name several columns separated by
``;``; empty cells mean "not set").

Keys: ``name``, ``source`` (alias ``dataset``), ``subset``, ``split`` (default ``train``),
``text_col`` (default ``text``), ``label_col`` (default ``label``), ``rows`` (default: every
row), ``regression`` (``true``/``false``; default: inferred from the labels), ``task_id`` (what
the ESM records as its dataset; default: the Hub id, or the name for a local file),
``language``, ``seed``. Unknown keys are refused (a typo would otherwise be silently ignored).
Every problem raises :class:`ManifestError`, naming the file and the entry.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hfselect_widgets.errors import HfselectWidgetsError

KEYS = (
    "name",
    "source",
    "subset",
    "split",
    "text_col",
    "label_col",
    "rows",
    "regression",
    "task_id",
    "language",
    "seed",
)
"""The keys of a manifest entry (``dataset`` is accepted as another name for ``source``)."""

_SPLIT_STEMS = {"train", "training", "test", "dev", "validation", "valid", "val", "data"}
_DATA_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".parquet", ".pq", ".gz")


class ManifestError(HfselectWidgetsError, ValueError):
    """A collection manifest cannot be read or one of its entries is invalid.

    ``path`` is the manifest file and ``entry`` the 1-based entry (``None``: the whole file).
    """

    def __init__(self, path: str | os.PathLike | None, message: str, entry: int | None = None):
        self.path = str(path) if path is not None else None
        self.entry = entry
        where = self.path or "the manifest"
        if entry is not None:
            where += f", entry {entry}"
        super().__init__(f"{where}: {message}")


@dataclass
class ManifestEntry:
    """One dataset of a collection manifest (see the module docstring for the keys)."""

    name: str
    source: str
    subset: str | None = None
    split: str = "train"
    text_col: str | list[str] = "text"
    label_col: str = "label"
    rows: int | None = None
    regression: bool | None = None
    task_id: str | None = None
    language: str | None = None
    seed: int = 42

    @property
    def is_local(self) -> bool:
        """Whether ``source`` is a local file or folder (else a Hub dataset id)."""
        return Path(self.source).exists()

    @property
    def recorded_task_id(self) -> str:
        """The ``task_id`` the ESM records: the given one, the Hub id, or the entry's name."""
        if self.task_id:
            return self.task_id
        return self.name if self.is_local else self.source

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def target_request(self, rows: int | None = None):
        """The :class:`~hfselect_widgets.engine.requests.TargetRequest` that loads the rows."""
        from hfselect_widgets.engine.requests import TargetRequest

        return TargetRequest(
            source=self.source,
            text_col=self.text_col,
            label_col=self.label_col,
            split=self.split,
            subset=self.subset,
            is_regression=self.regression,
            num_examples=rows if rows is not None else self.rows,
            seed=self.seed,
            name=self.recorded_task_id,
        )


@dataclass
class Manifest:
    """The entries of a manifest file, in file order, with unique names."""

    entries: list[ManifestEntry]
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def names(self) -> list[str]:
        return [e.name for e in self.entries]


def default_name(source: str) -> str:
    """A folder-safe name for a source: ``mr`` for ``data/mr/train.csv``, ``org__ds`` for
    ``org/ds``."""
    path = Path(source)
    if path.suffix.lower() in _DATA_SUFFIXES or path.exists():
        stem = path.name
        for suffix in reversed(path.suffixes):
            stem = stem[: -len(suffix)] if stem.endswith(suffix) else stem
        if stem.lower() in _SPLIT_STEMS and path.parent.name:
            stem = path.parent.name
        return safe_name(stem)
    return safe_name(source.replace("/", "__"))


def safe_name(name: str) -> str:
    """``name`` with every character outside ``[A-Za-z0-9._-]`` replaced by ``_``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")
    return cleaned or "dataset"


def _as_bool(value: Any, path, index: int) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "regression"):
        return True
    if text in ("false", "no", "0", "classification"):
        return False
    raise ManifestError(path, f"'regression' must be true or false, got {value!r}", index)


def _as_int(value: Any, key: str, path, index: int, minimum: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ManifestError(path, f"'{key}' must be an integer, got {value!r}", index)
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ManifestError(path, f"'{key}' must be an integer, got {value!r}", index) from None
    if number < minimum:
        raise ManifestError(path, f"'{key}' must be at least {minimum}, got {number}", index)
    return number


def _as_text_col(value: Any, path, index: int) -> str | list[str]:
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(";") if p.strip()]
    elif isinstance(value, (list, tuple)):
        parts = [str(p).strip() for p in value if str(p).strip()]
    else:
        raise ManifestError(path, f"'text_col' must be a column or a list, got {value!r}", index)
    if not parts:
        raise ManifestError(path, "'text_col' is empty", index)
    return parts[0] if len(parts) == 1 else parts


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_entry(
    raw: Mapping[str, Any],
    index: int,
    *,
    path: str | os.PathLike | None = None,
    base_dir: Path | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> ManifestEntry:
    """One entry from a mapping (``index`` is 1-based, for messages)."""
    if not isinstance(raw, Mapping):
        raise ManifestError(path, f"expected a mapping of keys, got {type(raw).__name__}", index)
    data = {str(k).strip(): v for k, v in dict(defaults or {}).items()}
    for key, value in raw.items():
        key = str(key).strip()
        if value is None or value == "":
            data.setdefault(key, None)
            continue
        data[key] = value
    if "dataset" in data:
        if data.get("source") not in (None, "") and data["dataset"] not in (None, ""):
            raise ManifestError(path, "give 'source' or 'dataset', not both", index)
        data["source"] = data.pop("dataset") or data.get("source")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ManifestError(path, f"unknown keys {unknown}; the keys are {', '.join(KEYS)}", index)
    source = _as_str(data.get("source"))
    if source is None:
        raise ManifestError(path, "'source' (a Hub dataset id or a data file) is missing", index)
    source = os.path.expanduser(source)
    if base_dir is not None and not os.path.isabs(source):
        local = base_dir / source
        if local.exists() or source.startswith(".") or Path(source).suffix in _DATA_SUFFIXES:
            source = str(local.resolve()) if local.exists() else str(local)
    name = _as_str(data.get("name"))
    entry = ManifestEntry(
        name=safe_name(name) if name else default_name(source),
        source=source,
        subset=_as_str(data.get("subset")),
        split=_as_str(data.get("split")) or "train",
        text_col=_as_text_col(data["text_col"], path, index) if data.get("text_col") else "text",
        label_col=_as_str(data.get("label_col")) or "label",
        rows=_as_int(data.get("rows"), "rows", path, index, 1),
        regression=_as_bool(data.get("regression"), path, index),
        task_id=_as_str(data.get("task_id")),
        language=_as_str(data.get("language")),
        seed=_as_int(data.get("seed"), "seed", path, index, 0) or 42,
    )
    if name and safe_name(name) != name:
        raise ManifestError(
            path, f"'name' {name!r} must use only letters, digits, '.', '_' and '-'", index
        )
    return entry


def parse_entries(
    raws: Iterable[Mapping[str, Any]],
    *,
    path: str | os.PathLike | None = None,
    base_dir: Path | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> Manifest:
    """A :class:`Manifest` from entry mappings; names must be unique."""
    entries = [
        parse_entry(raw, i, path=path, base_dir=base_dir, defaults=defaults)
        for i, raw in enumerate(raws, start=1)
    ]
    if not entries:
        raise ManifestError(path, "the manifest lists no datasets")
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries, start=1):
        if entry.name in seen:
            raise ManifestError(
                path,
                f"the name {entry.name!r} is also entry {seen[entry.name]}'s; names must be "
                "unique (they are the ESM folders): set 'name'",
                i,
            )
        seen[entry.name] = i
    return Manifest(entries, Path(path) if path is not None else None)


def _read_yaml(path: Path):
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ManifestError(path, f"not valid YAML ({exc})") from exc
    defaults: Mapping[str, Any] = {}
    if isinstance(data, Mapping):
        unknown = sorted(set(data) - {"datasets", "defaults"})
        if unknown:
            raise ManifestError(path, f"unknown top-level keys {unknown} (datasets, defaults)")
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, Mapping):
            raise ManifestError(path, "'defaults' must be a mapping of keys")
        if "name" in defaults:
            raise ManifestError(path, "'defaults' cannot set 'name' (names must be unique)")
        data = data.get("datasets")
    if not isinstance(data, list):
        raise ManifestError(path, "expected a list of datasets (or a 'datasets:' list)")
    return data, defaults


def _read_csv(path: Path):
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeError, csv.Error) as exc:
        raise ManifestError(path, f"cannot be read as CSV ({exc})") from exc
    for i, row in enumerate(rows, start=1):
        if None in row:
            raise ManifestError(path, "the row has more cells than the header", i)
    return rows, {}


def load_manifest(path: str | os.PathLike) -> Manifest:
    """Read a YAML (``.yaml``/``.yml``) or CSV (``.csv``) manifest.

    Raises :class:`ManifestError` for a missing or unreadable file and for every invalid entry.
    """
    path = Path(os.path.expanduser(str(path)))
    if not path.is_file():
        raise ManifestError(path, "there is no such file")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        raws, defaults = _read_yaml(path)
    elif suffix == ".csv":
        raws, defaults = _read_csv(path)
    else:
        raise ManifestError(path, "a manifest is a .yaml, .yml or .csv file")
    return parse_entries(raws, path=path, base_dir=path.parent, defaults=defaults)


__all__ = [
    "KEYS",
    "Manifest",
    "ManifestEntry",
    "ManifestError",
    "default_name",
    "load_manifest",
    "parse_entries",
    "parse_entry",
    "safe_name",
]
