"""Reading target data files: every mistake is a typed, one-line error in every front end.

``read_table_file`` is the one reader behind ``Dataset.from_file``, the CLI, the ``%esm_rank``
magic and the widgets' upload preview.
"""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

from hfselect_widgets.engine.data import Dataset
from hfselect_widgets.engine.data.files import read_table_file
from hfselect_widgets.errors import (
    DataFileError,
    DataFileWarning,
    DelimiterError,
    EmptyFileError,
    FileEncodingError,
    NoHeaderError,
    NoRowsError,
    UnreadableFileError,
    UnsupportedFileFormatError,
)

ROWS = "text,label\n" + "".join(f"review number {i},{i % 2}\n" for i in range(8))


def _write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# name, content, error type, phrase of the message
MISTAKES = [
    ("empty.csv", b"", EmptyFileError, "empty (0 bytes)"),
    ("blank.csv", "\n\n  \n", EmptyFileError, "blank"),
    ("header.csv", "text,label\n", NoRowsError, "0 rows"),
    ("empty.json", "[]", NoRowsError, "0 rows"),
    ("empty.jsonl", b"", EmptyFileError, "empty"),
    (
        "latin.csv",
        "text,label\ncaf\xe9 cr\xe8me,1\nna\xefve,0\n".encode("cp1252"),
        FileEncodingError,
        "cp1252",
    ),
    ("utf16.csv", "text,label\nhi,1\n".encode("utf-16"), FileEncodingError, "UTF-16"),
    ("binary.csv", b"text,label\n\x00\x01\x02\x00garbage", UnreadableFileError, "NUL"),
    ("excel.csv", b"PK\x03\x04\x14\x00\x06\x00rest", UnreadableFileError, "ZIP"),
    # Binary without a NUL byte in it: control bytes give it away (not "looks like latin-1").
    ("noise.csv", bytes(range(1, 256)) * 12, UnreadableFileError, "binary file"),
    ("gzipped.csv", b"\x1f\x8b\x08\x00\x01\x02\x03", UnreadableFileError, ".gz suffix"),
    ("picture.csv", b"\x89PNG\r\n\x1a\n\x01\x02", UnreadableFileError, "PNG image"),
    ("broken.parquet", b"not parquet at all", UnreadableFileError, "Parquet"),
    ("broken.json", '{"text": "a", "label": ', UnreadableFileError, "not valid JSON"),
    ("scalar.json", "[1, 2, 3]", UnreadableFileError, "array of objects"),
    ("data.xlsx", b"whatever", UnsupportedFileFormatError, "suffix"),
    (
        "noheader.csv",
        "great movie really loved it,1\nterrible film,0\nok,1\n",
        NoHeaderError,
        "no header row?",
    ),
    ("numbers.csv", "1,0\n2,1\n3,0\n", NoHeaderError, "no header row?"),
    ("badsemi.csv", 'text;label\n"a;b;1\n', DelimiterError, "';'"),
]


@pytest.mark.parametrize(("name", "content", "error", "phrase"), MISTAKES)
def test_each_mistake_is_a_typed_one_line_error(tmp_path, name, content, error, phrase):
    """Each file mistake raises its DataFileError subclass (field "dataset"), one line."""
    path = _write(tmp_path, name, content)
    with pytest.raises(error, match=None) as info:
        Dataset.from_file(path, "text", "label")
    message = str(info.value)
    assert phrase in message
    assert "\n" not in message
    assert isinstance(info.value, DataFileError)
    assert info.value.field == "dataset"
    assert info.value.fixes


def test_encoding_error_guesses_the_encoding(tmp_path):
    path = _write(tmp_path, "latin.csv", "text,label\nna\xefve,0\n".encode("cp1252"))
    with pytest.raises(FileEncodingError) as info:
        read_table_file(path)
    assert info.value.encoding == "cp1252"
    assert "re-save it as UTF-8" in str(info.value)


def test_header_without_rows_no_longer_says_task_type(tmp_path):
    path = _write(tmp_path, "header.csv", "text,label\n")
    with pytest.raises(NoRowsError) as info:
        Dataset.from_file(path, "text", "label")
    assert "task type" not in str(info.value)
    assert "text, label" in str(info.value)


def test_semicolon_csv_is_sniffed_and_read_with_a_note(tmp_path):
    path = _write(tmp_path, "semi.csv", ROWS.replace(",", ";").replace("number 3", "number, 3"))
    with pytest.warns(DataFileWarning, match="uses ';' as its delimiter"):
        dataset = Dataset.from_file(path, "text", "label")
    assert len(dataset) == 8
    assert "review number, 3" in dataset.texts


def test_tab_separated_csv_is_read_and_suggests_tsv(tmp_path):
    path = _write(tmp_path, "tabs.csv", ROWS.replace(",", "\t"))
    with pytest.warns(DataFileWarning, match="use a .tsv suffix"):
        frame = read_table_file(path)
    assert list(frame.columns) == ["text", "label"]


def test_comma_tsv_is_read_with_commas(tmp_path):
    path = _write(tmp_path, "commas.tsv", ROWS)
    with pytest.warns(DataFileWarning, match="uses ','"):
        frame = read_table_file(path)
    assert len(frame) == 8


def test_good_csv_reads_without_warnings(tmp_path):
    path = _write(tmp_path, "good.csv", ROWS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = read_table_file(path, columns=["text", "label"])
    pd.testing.assert_frame_equal(frame, pd.read_csv(path))


def test_missing_column_with_a_real_header_stays_column_not_found(tmp_path):
    from hfselect_widgets.errors import ColumnNotFoundError

    path = _write(tmp_path, "good.csv", ROWS.replace("label", "sentiment", 1))
    with pytest.raises(ColumnNotFoundError):
        Dataset.from_file(path, "text", "label")


@pytest.mark.parametrize(
    "document",
    [
        {"data": [{"text": f"t{i}", "label": i % 2} for i in range(6)]},
        {"version": "1", "data": [{"text": f"t{i}", "label": i % 2} for i in range(6)]},
        {"text": [f"t{i}" for i in range(6)], "label": [i % 2 for i in range(6)]},
        [{"text": f"t{i}", "label": i % 2} for i in range(6)],
    ],
    ids=["data-key", "data-with-metadata", "columns", "array"],
)
def test_json_documents(tmp_path, document):
    """{"data": [...]} (on one line too), column dicts and arrays all read as rows."""
    path = _write(tmp_path, "target.json", json.dumps(document))
    dataset = Dataset.from_file(path, "text", "label")
    assert len(dataset) == 6
    assert dataset.texts[:2] == ["t0", "t1"]


def test_json_lines_still_read(tmp_path):
    lines = "\n".join(json.dumps({"text": f"t{i}", "label": i % 2}) for i in range(5))
    path = _write(tmp_path, "target.jsonl", lines + "\n")
    assert len(read_table_file(path)) == 5
    one = _write(tmp_path, "one.jsonl", json.dumps({"text": "t", "label": 1}) + "\n")
    assert len(read_table_file(one)) == 1


def test_widget_preview_uses_the_same_reader(tmp_path):
    from hfselect_widgets.widgets.dataset_picker import _read_preview_frame

    path = _write(tmp_path, "header.csv", "text,label\n")
    with pytest.raises(NoRowsError):
        _read_preview_frame(path)
    good = _write(tmp_path, "doc.json", json.dumps({"data": [{"text": "a", "label": 1}]}))
    assert list(_read_preview_frame(good).columns) == ["text", "label"]


# --- the front ends ------------------------------------------------------------------------------

FRONT_END_CASES = [
    m
    for m in MISTAKES
    if m[0]
    in (
        "empty.csv",
        "header.csv",
        "latin.csv",
        "binary.csv",
        "noise.csv",
        "badsemi.csv",
        "data.xlsx",
        "noheader.csv",
    )
]


@pytest.mark.parametrize(("name", "content", "error", "phrase"), FRONT_END_CASES)
def test_cli_reports_file_mistakes_in_one_line(tmp_path, capsys, name, content, error, phrase):
    from hfselect_widgets.cli import main

    path = _write(tmp_path, name, content)
    status = main(
        ["rank", str(path), "--text-col", "text", "--label-col", "label"]
        + ["--esm-dir", str(tmp_path), "--no-progress"]
    )
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert phrase in lines[0]
    assert "Traceback" not in captured.err


@pytest.fixture(scope="module")
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "hfselect_widgets")
    return ip


@pytest.mark.parametrize(("name", "content", "error", "phrase"), FRONT_END_CASES)
def test_magic_reports_file_mistakes_in_one_line(tmp_path, shell, name, content, error, phrase):
    path = _write(tmp_path, name, content)
    line = f"{path} --text-col text --label-col label --esm-dir {tmp_path}"
    with pytest.raises(error) as info:
        shell.run_line_magic("esm_rank", line)
    shown = info.value._render_traceback_()
    assert len(shown) == 1
    assert "\n" not in shown[0]
    assert shown[0].startswith(f"{error.__name__}: ")
    assert phrase in shown[0]
