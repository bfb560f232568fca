"""Editing CSV files: record spans, byte-identical round trips, single-row edits, insert and delete."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.core.errors import KnownError
from storage.formats.table import csv_edit
from storage.formats.table.csv_edit import (
    CsvEdits,
    editable_reason,
    edits_body,
    edits_from_body,
    format_row,
    read_record,
    scan_rows,
    write_edited,
)
from storage.formats.table.dialect import CsvDialect
from storage.formats.table.source import View, open_table

CHARS = "ab zé€,;\t|\"\r\n1"
cells = st.text(alphabet=CHARS, max_size=6)


def render(rows: list[list[str]], delimiter: str, newline: str, all_quoted: bool, encoding: str,
           bom: bool, last_newline: bool = True) -> bytes:
    lines = []
    for row in rows:  # CRLF makes the writer quote any CR or LF in a value
        out = io.StringIO(newline="")
        csv.writer(out, delimiter=delimiter, quotechar='"', lineterminator="\r\n",
                   quoting=csv.QUOTE_ALL if all_quoted else csv.QUOTE_MINIMAL).writerow(row)
        lines.append(out.getvalue()[:-2] + newline)
    text = "".join(lines)
    if not last_newline and text.endswith(newline):
        text = text[:-len(newline)]
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


def parse(data: bytes, delimiter: str, encoding: str) -> list[list[str]]:
    text = data.decode(encoding)
    text = text.removeprefix("\ufeff")
    return [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if row]


@st.composite
def csv_files(draw):
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    encoding, bom = draw(st.sampled_from([("utf-8", False), ("utf-8", True), ("cp1252", False)]))
    all_quoted = draw(st.booleans())
    width = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(cells, min_size=width, max_size=width), min_size=1, max_size=12))
    rows = [row if row != [""] else ['x'] for row in rows]
    last_newline = draw(st.booleans())
    header = draw(st.booleans())
    return rows, delimiter, newline, encoding, bom, all_quoted, last_newline, header


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(csv_files(), st.data())
def test_round_trips_and_single_row_edits(tmp_path: Path, case, data) -> None:
    rows, delimiter, newline, encoding, bom, all_quoted, last_newline, header = case
    raw = render(rows, delimiter, newline, all_quoted, encoding, bom, last_newline)
    path = tmp_path / "t.csv"
    path.write_bytes(raw)
    dialect = CsvDialect(delimiter, '"', header, encoding, bom)
    chunk = data.draw(st.sampled_from([1, 2, 3, 7, csv_edit.CHUNK]))  # chunk ends anywhere, CRLF split
    saved, csv_edit.CHUNK = csv_edit.CHUNK, chunk
    try:
        spans = scan_rows(str(path), dialect)
    finally:
        csv_edit.CHUNK = saved
    assert spans.records == len(rows)
    assert spans.rows == len(rows) - header
    if len(rows) > 1 and newline in raw.decode(encoding):
        assert spans.newline == newline.encode()
    if all_quoted:
        assert spans.all_quoted
    elif any(c and not any(ch in c for ch in delimiter + '"\r\n') for r in rows for c in r):
        assert not spans.all_quoted  # a bare field: minimal quoting
    for record, row in enumerate(rows):
        assert read_record(str(path), spans, record, dialect) == row

    out = tmp_path / "out.csv"
    write_edited(str(path), str(out), spans, CsvEdits(spans.rows), dialect)
    assert out.read_bytes() == raw  # saved without edits: byte-identical

    if spans.rows == 0:
        return
    row = data.draw(st.integers(0, spans.rows - 1))
    column = data.draw(st.integers(0, len(rows[0]) - 1))
    value = data.draw(cells)
    edits = CsvEdits(spans.rows)
    new = list(rows[row + header])
    new[column] = value
    edits.set_values(row, new)
    write_edited(str(path), str(out), spans, edits, dialect)
    written = out.read_bytes()
    start, end = spans.row_span(row)
    assert written[:start] == raw[:start]  # the rows before: byte for byte
    tail = raw[end:]
    assert written.endswith(tail)  # and the rows after
    middle = written[start:len(written) - len(tail)]
    assert middle == format_row(new, dialect, spans)
    assert middle.endswith(spans.newline)  # the file's own line ending (LF when it has none)
    expected = [list(r) for r in rows]
    expected[row + header] = new
    assert parse(written, delimiter, encoding) == expected
    if spans.all_quoted:
        assert middle.startswith(b'"')


def test_insert_and_delete_rows(tmp_path: Path) -> None:
    raw = b'id;name\r\n1;"a\r\nb"\r\n\r\n2;c\r\n3;d'
    path = tmp_path / "t.csv"
    path.write_bytes(raw)
    dialect = CsvDialect(";", '"', True, "utf-8")
    spans = scan_rows(str(path), dialect)
    assert spans.rows == 3 and spans.newline == b"\r\n"
    edits = CsvEdits(spans.rows)
    ident, values = edits.remove(1)  # the row "2;c" (and the blank line after it)
    assert (ident, values) == (1, None)
    edits.insert(0, ["0", "new;x"])
    edits.insert(edits.rows, ["4", "e"])
    out = tmp_path / "out.csv"
    write_edited(str(path), str(out), spans, edits, dialect)
    assert out.read_bytes() == b'id;name\r\n0;"new;x"\r\n1;"a\r\nb"\r\n\r\n3;d\r\n4;e\r\n'
    # undoing the delete puts the same bytes back
    edits.reinsert(2, ident, values)  # where it was, after the row inserted above it
    edits.remove(0)
    edits.remove(edits.rows - 1)
    write_edited(str(path), str(out), spans, edits, dialect)
    assert out.read_bytes() == raw


@pytest.mark.parametrize("raw", [
    b"a,b\n1,2\n\n3,4\n\n",
    b'a,b\r\n"x\r\ny",2\r\n3,4',
    b"\xef\xbb\xbfa|b\r1|2\r3|4\r",
    b'"a","b"\n"1","2"\n',
])
def test_row_numbers_match_duckdb(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(raw)
    source = open_table(str(path), "csv")
    try:
        spans = scan_rows(str(path), source.dialect)
        assert spans.rows == source.count(View())
        for row in range(spans.rows):
            fields = [text for _name, _kind, text in source.record(row)]
            assert read_record(str(path), spans, row + 1, source.dialect) == fields
    finally:
        source.close()


def test_limits_and_encodings(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n1,2\n")
    assert editable_reason(str(path), CsvDialect()) is None
    assert "over 0 MB" in (editable_reason(str(path), CsvDialect(), size_limit=4) or "")
    assert "read-only" in (editable_reason(str(path), CsvDialect(encoding="utf-16")) or "")
    assert "Only CSV" in (editable_reason(str(path), None) or "")


def test_unwritable_value_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    raw = "a,b\né,2\n".encode("cp1252")
    path.write_bytes(raw)
    dialect = CsvDialect(encoding="cp1252")
    spans = scan_rows(str(path), dialect)
    edits = CsvEdits(spans.rows)
    edits.set_values(0, ["日本", "2"])
    with pytest.raises(KnownError, match="cp1252"):
        write_edited(str(path), str(path), spans, edits, dialect)
    assert path.read_bytes() == raw  # the file is left as it was


def test_file_changed_on_disk_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n1,2\n")
    spans = scan_rows(str(path), CsvDialect())
    path.write_bytes(b"a,b\n1,2\n3,4\n")
    with pytest.raises(KnownError, match="changed on disk"):
        write_edited(str(path), str(path), spans, CsvEdits(spans.rows), CsvDialect())
    spans = scan_rows(str(path), CsvDialect())
    path.write_bytes(b"a,b\n5,6\n7,8\n")  # the same size, other bytes
    os.utime(path, ns=(spans.mtime_ns + 10**9, spans.mtime_ns + 10**9))
    with pytest.raises(KnownError, match="changed on disk"):
        write_edited(str(path), str(tmp_path / "o.csv"), spans, CsvEdits(spans.rows), CsvDialect())


def test_journal_body_round_trip() -> None:
    edits = CsvEdits(10)
    edits.set_values(3, ["a", "b"])
    edits.remove(5)
    edits.insert(0, ["n", "é"])
    back = edits_from_body(edits_body(edits), 10)
    assert (back.order, back.values, back.next_id) == (edits.order, edits.values, edits.next_id)
    with pytest.raises(KnownError, match="11 rows"):
        edits_from_body(edits_body(edits), 11)
    with pytest.raises(KnownError, match="cannot be read"):
        edits_from_body(b"{", 10)
