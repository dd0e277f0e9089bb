"""Tabular data files: which suffixes we read, and reading CSV, TSV, JSON and Parquet.

:func:`read_table_file` is the one reader of target files for every front end (the Python API's
``Dataset.from_file``, the CLI, the ``%esm_rank`` magic and the widgets' upload). The usual
mistakes raise typed errors (:class:`~hfselect_widgets.errors.DataFileError` subclasses, all
with ``field="dataset"``) whose one-line message says what to do: an empty file, a header
without rows, a file that is not UTF-8, a wrong delimiter, a missing header row, a binary file
and an unknown suffix. A ``;``-separated ``.csv`` (or a ``.tsv`` with commas) is read with the
delimiter its header uses, with a :class:`~hfselect_widgets.errors.DataFileWarning`.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa

from hfselect_widgets.errors import (
    DataFileWarning,
    DelimiterError,
    EmptyFileError,
    FileEncodingError,
    Fix,
    NoHeaderError,
    NoRowsError,
    UnreadableFileError,
    UnsupportedFileFormatError,
)

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
_DELIMITERS = {",": "','", "\t": "a tab", ";": "';'", "|": "'|'"}
_RECORD_KEYS = ("data", "rows", "records", "examples", "items", "train")
_MAGIC_BYTES = {
    b"PAR1": "a Parquet file: give it a .parquet suffix",
    b"PK\x03\x04": "a ZIP archive (an Excel workbook?): export the sheet as CSV (UTF-8)",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office document: export the sheet as CSV (UTF-8)",
    b"%PDF": "a PDF document: export the table as CSV (UTF-8)",
    b"SQLite format 3": "an SQLite database: export the table as CSV (UTF-8)",
    b"\x1f\x8b": "a gzip-compressed file: give it a .gz suffix (e.g. data.csv.gz) or decompress it",
    b"\x89PNG": "a PNG image: give the table itself, as CSV (UTF-8)",
    b"\xff\xd8\xff": "a JPEG image: give the table itself, as CSV (UTF-8)",
}
# Bytes that text (in any 8-bit encoding) does not hold: C0 controls but tab, LF, CR; DEL.
_CONTROL_BYTES = frozenset([*range(0, 9), 11, 12, *range(14, 32), 127])
_BINARY_SHARE = 0.05
"""A file whose first 8 KiB are more than this share of control bytes is binary, not text."""


def read_table_file(
    path: str | os.PathLike,
    file_format: str | None = None,
    *,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a CSV, TSV, JSON (lines, array, ``{"data": [...]}``) or Parquet file.

    The format comes from the suffix (see :data:`FILE_FORMATS`; CSV/TSV/JSON may be
    compressed) unless ``file_format`` (``"csv"``, ``"tsv"``, ``"json"``, ``"parquet"``) says
    otherwise. CSV and TSV are read with pandas, as ``datasets``' CSV loader does.

    ``columns`` (the text and label columns the caller will use) lets a CSV/TSV whose first row
    looks like data rather than names raise :class:`NoHeaderError` instead of a missing column.
    Raises the :class:`~hfselect_widgets.errors.DataFileError` subclasses described above.
    """
    path = Path(path)
    fmt = (file_format or _format_from_suffix(path)).lower().lstrip(".")
    if fmt not in ("csv", "tsv", "json", "jsonl", "parquet"):
        raise UnsupportedFileFormatError(
            f"Unknown file format {fmt!r}: use 'csv', 'tsv', 'json' (JSON lines or an array "
            "of objects) or 'parquet'.",
            fixes=[Fix("file_format", "csv")],
            path=str(path),
        )
    compressed = _is_compressed(path)
    if not compressed and path.stat().st_size == 0:
        raise EmptyFileError(
            f"{path.name!r} is empty (0 bytes): save your table into it (a header row with "
            "the column names, then one row per example) and try again.",
            path=str(path),
        )
    if fmt == "parquet":
        frame = _read_parquet(path)
    elif fmt in ("json", "jsonl"):
        frame = _read_json(path, compressed).to_pandas()
    else:
        frame = _read_delimited(path, fmt, compressed, columns)
    if len(frame) == 0:
        header = (
            f" has the columns {', '.join(map(str, frame.columns))} but"
            if len(frame.columns)
            else ""
        )
        raise NoRowsError(
            f"{path.name!r}{header} holds 0 rows: add one row per example (text and label) "
            "and try again.",
            path=str(path),
        )
    return frame


def looks_like_data_file(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in FILE_FORMATS


def _is_compressed(path: Path) -> bool:
    return path.suffix.lower() in _COMPRESSION_SUFFIXES


def _format_from_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in FILE_FORMATS:
        return FILE_FORMATS[suffixes[-1]]
    suffix = f"suffix {suffixes[-1]!r}" if suffixes else "no suffix"
    raise UnsupportedFileFormatError(
        f"Cannot tell the format of {path.name!r} from its suffix ({suffix}): use a .csv, .tsv, "
        ".json, .jsonl or .parquet file.",
        advice="Or name the format: {0}.",
        fixes=[Fix("file_format", "csv")],
        path=str(path),
    )


# --- text files: bytes, encoding ---------------------------------------------------------------


def _read_text(path: Path) -> str:
    """The file's text, after checking it is text at all and UTF-8."""
    data = path.read_bytes()
    head = data[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileEncodingError(
            f"{path.name!r} is UTF-16, not UTF-8: re-save it as UTF-8 (e.g. Excel: Save As > "
            "'CSV UTF-8'; or `iconv -f utf-16 -t utf-8 FILE > NEW`).",
            encoding="utf-16",
            path=str(path),
        )
    for magic, what in _MAGIC_BYTES.items():
        if head.startswith(magic):
            raise UnreadableFileError(
                f"{path.name!r} is not a text table but {what}.", path=str(path)
            )
    if b"\x00" in head or _control_share(head) > _BINARY_SHARE:
        raise UnreadableFileError(
            f"{path.name!r} is a binary file (it holds NUL or control bytes), not CSV/TSV/JSON "
            "text: export your table as CSV (UTF-8), JSON lines or Parquet.",
            path=str(path),
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        encoding = _guess_encoding(data)
        raise FileEncodingError(
            f"{path.name!r} is not UTF-8 (byte {data[error.start : error.start + 1]!r} at "
            f"position {error.start}; it looks like {encoding}): re-save it as UTF-8 (e.g. "
            f"Excel: Save As > 'CSV UTF-8'; or `iconv -f {encoding} -t utf-8 FILE > NEW`).",
            encoding=encoding,
            path=str(path),
        ) from None


def _control_share(head: bytes) -> float:
    return sum(b in _CONTROL_BYTES for b in head) / len(head) if head else 0.0


def _guess_encoding(data: bytes) -> str:
    """cp1252 (Windows-1252) when it decodes, else latin-1 (ISO-8859-1; decodes anything)."""
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def _compressed_error(path: Path, error: Exception) -> Exception:
    if isinstance(error, UnicodeDecodeError):
        return FileEncodingError(
            f"{path.name!r} does not hold UTF-8 text: decompress it, re-save it as UTF-8 and "
            "try again.",
            path=str(path),
        )
    return UnreadableFileError(
        f"Cannot read the compressed file {path.name!r} ({error}): check that it is a "
        "compressed CSV, TSV or JSON lines file, or decompress it first.",
        path=str(path),
    )


# --- CSV and TSV -------------------------------------------------------------------------------


def _read_delimited(
    path: Path, fmt: str, compressed: bool, columns: Sequence[str] | None
) -> pd.DataFrame:
    sep = "\t" if fmt == "tsv" else ","
    if compressed:
        try:
            frame = pd.read_csv(path, sep=sep)
        except pd.errors.EmptyDataError:
            raise EmptyFileError(f"{path.name!r} holds no data.", path=str(path)) from None
        except (UnicodeDecodeError, OSError, EOFError, pd.errors.ParserError) as error:
            raise _compressed_error(path, error) from None
        _check_header(path, frame, columns)
        return frame
    text = _read_text(path)
    if not text.strip():
        raise EmptyFileError(
            f"{path.name!r} holds only blank lines: save your table into it (a header row with "
            "the column names, then one row per example).",
            path=str(path),
        )
    header = next(line for line in text.splitlines() if line.strip())
    used = _sniff_delimiter(header, sep)
    if used != sep:
        suffix_hint = " or use a .tsv suffix" if used == "\t" else ""
        try:
            frame = pd.read_csv(io.StringIO(text), sep=used)
        except pd.errors.ParserError:
            raise DelimiterError(
                f"{path.name!r} seems to use {_DELIMITERS[used]} as its delimiter, not "
                f"{_DELIMITERS[sep]}, and cannot be read either way: re-save it with "
                f"{'tabs' if sep == chr(9) else 'commas'}{suffix_hint}.",
                path=str(path),
            ) from None
        warnings.warn(
            f"{path.name!r} uses {_DELIMITERS[used]} as its delimiter, not {_DELIMITERS[sep]}: "
            f"read it with {_DELIMITERS[used]}. Re-save it with "
            f"{'tabs' if sep == chr(9) else 'commas'}{suffix_hint} to silence this.",
            DataFileWarning,
            stacklevel=3,
        )
    else:
        try:
            frame = pd.read_csv(io.StringIO(text), sep=sep)
        except pd.errors.ParserError as error:
            raise UnreadableFileError(
                f"Cannot parse {path.name!r} as {fmt.upper()}: {_parser_detail(error)}; quote "
                'texts that contain the delimiter ("...") or re-save the file with a '
                "spreadsheet program.",
                path=str(path),
            ) from None
    _check_header(path, frame, columns)
    return frame


def _sniff_delimiter(header: str, expected: str) -> str:
    """``expected`` if the header row uses it, else the delimiter it does use (if one)."""
    if expected in header:
        return expected
    counts = {d: header.count(d) for d in _DELIMITERS if d != expected}
    best = max(counts, key=counts.get)
    return best if counts[best] else expected


def _parser_detail(error: Exception) -> str:
    return " ".join(str(error).split()).removeprefix("Error tokenizing data. C error: ")


def _looks_like_value(name: object) -> bool:
    text = str(name).strip()
    if not text:
        return False
    try:
        float(text)
        return True
    except ValueError:
        pass
    return len(text) > 40 or len(text.split()) >= 5


def _check_header(path: Path, frame: pd.DataFrame, columns: Sequence[str] | None) -> None:
    """Refuse a file whose first row is data (numbers or sentences as column names)."""
    names = [str(c) for c in frame.columns]
    missing = [c for c in columns or () if c not in names]
    if columns is not None and not missing:
        return
    all_numbers = bool(names) and all(_is_number(n) for n in names)
    looks_like_data = all_numbers or (bool(missing) and any(_looks_like_value(n) for n in names))
    if not looks_like_data:
        return
    wanted = f" (no column {', '.join(map(repr, missing))})" if missing else ""
    raise NoHeaderError(
        f"{path.name!r} has no header row?{wanted} Its first row looks like data: "
        f"{', '.join(repr(n[:30]) for n in names[:4])}. Add a first line with the column "
        "names (e.g. text,label).",
        path=str(path),
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- JSON --------------------------------------------------------------------------------------


def _read_json(path: Path, compressed: bool = False) -> pa.Table:
    """JSON lines, one JSON array of objects, ``{"data": [...]}`` or ``{"col": [...], ...}``."""
    import pyarrow.json as pa_json

    if compressed:
        try:
            return pa.Table.from_pandas(pd.read_json(path, lines=True), preserve_index=False)
        except (ValueError, OSError, EOFError) as error:
            raise _compressed_error(path, error) from None
    text = _read_text(path)
    if not text.strip():
        raise EmptyFileError(
            f"{path.name!r} holds only whitespace: save your records into it (one JSON object "
            "per line, or an array of objects).",
            path=str(path),
        )
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        if not error.msg.startswith("Extra data"):
            raise UnreadableFileError(
                f"{path.name!r} is not valid JSON ({error.msg} at line {error.lineno}, column "
                f"{error.colno}): fix it, or write one JSON object per line (JSON lines).",
                path=str(path),
            ) from None
        try:
            return pa_json.read_json(io.BytesIO(text.encode("utf-8")))
        except pa.ArrowInvalid as arrow_error:
            raise UnreadableFileError(
                f"{path.name!r} is not valid JSON lines ({arrow_error}): write one JSON object "
                "per line.",
                path=str(path),
            ) from None
    return _table_from_document(path, document)


def _table_from_document(path: Path, document: object) -> pa.Table:
    problem = (
        f"{path.name!r} is neither JSON lines nor a JSON array of objects: write one object "
        'per row, e.g. [{"text": "...", "label": 0}, ...] or {"data": [...]}.'
    )
    if isinstance(document, list):
        if not all(isinstance(r, dict) for r in document):
            raise UnreadableFileError(problem, path=str(path))
        return pa.Table.from_pylist(document)
    if not isinstance(document, dict):
        raise UnreadableFileError(problem, path=str(path))
    lists = {k: v for k, v in document.items() if isinstance(v, list)}
    records = [k for k, v in lists.items() if v and all(isinstance(r, dict) for r in v)]
    if records:
        key = next((k for k in _RECORD_KEYS if k in records), records[0])
        return pa.Table.from_pylist(document[key])
    if "data" in lists and not lists["data"]:
        return pa.Table.from_pylist([])
    if document and len(lists) == len(document) and len({len(v) for v in lists.values()}) == 1:
        return pa.Table.from_pydict(lists)  # column-oriented: {"text": [...], "label": [...]}
    if not lists:
        return pa.Table.from_pylist([document])  # JSON lines with a single row
    raise UnreadableFileError(problem, path=str(path))


# --- Parquet -----------------------------------------------------------------------------------


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pandas()
    except (pa.ArrowInvalid, OSError) as error:
        raise UnreadableFileError(
            f"{path.name!r} is not a valid Parquet file ({error}): write it again with "
            "df.to_parquet(...), or save the table as CSV (UTF-8).",
            path=str(path),
        ) from None


__all__ = ["FILE_FORMATS", "read_table_file"]
