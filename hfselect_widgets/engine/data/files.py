"""Tabular data files: which suffixes we read, and reading CSV, TSV, JSON and Parquet."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa

from hfselect_widgets.errors import DatasetError, Fix

FILE_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
"""File suffixes :meth:`Dataset.from_file` understands (compressed ``.gz``/``.bz2``/``.xz``/
``.zst``/``.zip`` variants of CSV, TSV and JSON too)."""

_COMPRESSION_SUFFIXES = {".gz", ".bz2", ".xz", ".zst", ".zip"}


def read_table_file(path: str | os.PathLike, file_format: str | None = None) -> pd.DataFrame:
    """Read a CSV, TSV, JSON (lines or array) or Parquet file into a DataFrame.

    The format comes from the suffix (see :data:`FILE_FORMATS`; CSV/TSV/JSON may be
    compressed) unless ``file_format`` (``"csv"``, ``"tsv"``, ``"json"``, ``"parquet"``) says
    otherwise. CSV and TSV are read with pandas, as ``datasets``' CSV loader does.
    """
    path = Path(path)
    fmt = (file_format or _format_from_suffix(path)).lower().lstrip(".")
    if fmt in ("csv", "tsv"):
        return pd.read_csv(path, sep="\t" if fmt == "tsv" else ",")
    if fmt in ("json", "jsonl"):
        return _read_json(path).to_pandas()
    if fmt == "parquet":
        return _read_parquet(path)
    raise DatasetError(
        f"Unknown file format {fmt!r}: use 'csv', 'tsv', 'json' (JSON lines or an array "
        "of objects) or 'parquet'."
    )


def looks_like_data_file(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in FILE_FORMATS


def _format_from_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in FILE_FORMATS:
        return FILE_FORMATS[suffixes[-1]]
    raise DatasetError(
        f"Cannot tell the format of {path.name!r} from its suffix.",
        advice="Name the format: {0}.",
        field="file_format",
        fixes=[Fix("file_format", "csv")],
    )


def _read_json(path: Path) -> pa.Table:
    """JSON lines, or one JSON array of objects (``{"data": [...]}`` too)."""
    import pyarrow.json as pa_json

    if path.suffix.lower() in _COMPRESSION_SUFFIXES:
        return pa.Table.from_pandas(pd.read_json(path, lines=True), preserve_index=False)
    with open(path, encoding="utf-8") as handle:
        head = handle.read(4096).lstrip()
    if head.startswith("["):
        with open(path, encoding="utf-8") as handle:
            return pa.Table.from_pylist(json.load(handle))
    try:
        return pa_json.read_json(path)
    except pa.ArrowInvalid:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        records = next((v for v in document.values() if isinstance(v, list)), None)
        if not isinstance(document, dict) or records is None:
            raise DatasetError(
                f"{path.name!r} is neither JSON lines nor a JSON array of objects."
            ) from None
        return pa.Table.from_pylist(records)


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()


__all__ = ["FILE_FORMATS", "read_table_file"]
