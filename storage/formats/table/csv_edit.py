"""Editing a CSV file: each record's byte span, an overlay of edits, and the writer.

:func:`scan_rows` walks the file's bytes once (quote-aware, in chunks, on a worker) and keeps
where each record starts: blank lines belong to the record before them (DuckDB skips them, so
record *i* here is DuckDB's row *i*), and the bytes before the first record (a BOM, blank lines)
are the file's prefix. :class:`CsvEdits` is what the user changed: cell values of edited rows,
inserted rows, deleted rows, by row id (ids ``0..n-1`` are the file's data rows, new rows get
ids from ``n`` on). :func:`write_edited` writes the file through the one atomic writer: the
prefix and every unedited row are copied byte for byte (runs of them in one go), an edited or new
row is written with the :mod:`csv` module in the file's dialect, quoting style and line ending.
A file saved without edits is byte-identical.

Only encodings in which the delimiter, the quote and line breaks are the single ASCII bytes can
be scanned this way (UTF-8, Windows and ISO code pages); other files stay read-only.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

from storage.core.atomic import atomic_write_with
from storage.core.errors import KnownError, UnsupportedError
from storage.formats.table.dialect import CsvDialect

EDIT_LIMIT = 512 * 1024 * 1024
CHUNK = 8 * 1024 * 1024
_SAMPLE_RECORDS = 200


class NotEditable(UnsupportedError):
    """The file can be shown but not edited (its size, its encoding, an unsure row mapping)."""


def editable_reason(path: str, dialect: CsvDialect | None, size_limit: int | None = None) -> str | None:
    """Why ``path`` cannot be edited as CSV, or None when it can (``size_limit``: EDIT_LIMIT)."""
    size_limit = EDIT_LIMIT if size_limit is None else size_limit
    if dialect is None:
        return "Only CSV files can be edited here."
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        return f"Cannot read the file: {exc.strerror or exc}"
    if size > size_limit:
        return (f"The file is {size / 2**20:,.0f} MB: CSV files over {size_limit // 2**20:,} MB are shown "
                "read-only (edit a smaller copy).")
    if not _ascii_safe(dialect.encoding):
        return (f"CSV files in {dialect.encoding} are shown read-only (only 8-bit and UTF-8 files "
                "can be edited).")
    return None


def _ascii_safe(encoding: str) -> bool:
    name = codecs.lookup(encoding).name
    if name.startswith(("utf-16", "utf-32", "shift_jis", "gb", "big5", "euc", "cp932", "iso2022")):
        return False
    try:
        return "\r\n\t,;|\"'".encode(encoding) == b"\r\n\t,;|\"'"
    except (UnicodeEncodeError, LookupError):
        return False


@dataclass
class RowSpans:
    """Where each record of the file starts (header first when the dialect has one)."""

    starts: array  # of 'q': record starts; starts[-1] is the file size
    newline: bytes  # the first line ending found, b"\n" when none
    all_quoted: bool  # every field of the sampled records was quoted
    size: int
    header: bool
    mtime_ns: int = 0  # the file's modification time when scanned: a save refuses a changed file

    @property
    def records(self) -> int:
        return len(self.starts) - 1

    @property
    def rows(self) -> int:
        """Data rows (records less the header)."""
        return max(0, self.records - (1 if self.header else 0))

    def record_span(self, record: int) -> tuple[int, int]:
        return self.starts[record], self.starts[record + 1]

    def row_span(self, row: int) -> tuple[int, int]:
        return self.record_span(row + (1 if self.header else 0))


def scan_rows(path: str, dialect: CsvDialect, cancel: Callable[[], bool] | None = None) -> RowSpans:
    """Scan ``path`` for record starts, quote-aware, in chunks (a worker calls this)."""
    if not _ascii_safe(dialect.encoding):
        raise NotEditable(f"CSV files in {dialect.encoding} are shown read-only.")
    import numpy as np

    quote = ord(dialect.quote) if dialect.quote else -1
    parts = []
    newline = b""
    newline_pending = False  # the first line break was a CR at a chunk's end: LF may follow
    odd = 0  # quotes seen so far, mod 2: inside a quoted field when 1
    at_start = True  # the next chunk's first byte starts a record (or a blank line)
    offset = 0
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        size, mtime_ns = stat.st_size, stat.st_mtime_ns
        if handle.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8:
            offset = len(codecs.BOM_UTF8)  # the BOM is the file's prefix, never a record's
        else:
            handle.seek(0)
        while True:
            if cancel is not None and cancel():
                raise KnownError("Stopped.")
            chunk = handle.read(CHUNK)
            if not chunk:
                break
            data = np.frombuffer(chunk, np.uint8)
            if newline_pending:
                newline, newline_pending = (b"\r\n" if data[0] == 10 else b"\r"), False
            line_break = (data == 10) | (data == 13)
            if quote >= 0:
                # quotes up to each byte, mod 2 (uint8 wraps at 256: the parity stays right); a
                # line break is outside quotes when an even number of quotes came before it
                inside = (np.cumsum(data == quote, dtype=np.uint8) + odd) & 1
                odd = int(inside[-1])
                line_break &= inside == 0
            breaks = np.flatnonzero(line_break)
            if not newline and not newline_pending and len(breaks):
                first = int(breaks[0])
                if data[first] == 10:
                    newline = b"\n"
                elif first + 1 < len(data):
                    newline = b"\r\n" if data[first + 1] == 10 else b"\r"
                else:
                    newline_pending = True
            candidates = breaks + 1
            if at_start:
                candidates = np.concatenate((np.zeros(1, candidates.dtype), candidates))
            at_start = bool(len(breaks)) and int(breaks[-1]) == len(data) - 1
            candidates = candidates[candidates < len(data)]
            # a record starts after a line break outside quotes, unless another break follows at
            # once (a blank line, or the LF of a CRLF): DuckDB skips blank lines too
            head = data[candidates]
            parts.append(candidates[(head != 10) & (head != 13)].astype(np.int64) + offset)
            offset += len(chunk)
    if newline_pending:
        newline = b"\r"
    starts = array("q")
    if parts:
        starts.frombytes(np.concatenate(parts).astype(np.int64).tobytes())
    starts.append(size)
    spans = RowSpans(starts, newline or b"\n", False, size, dialect.header, mtime_ns)
    spans.all_quoted = _all_quoted(path, spans, dialect)
    return spans


def _all_quoted(path: str, spans: RowSpans, dialect: CsvDialect) -> bool:
    """True when every field of the first records starts with the quote character."""
    if not dialect.quote or not spans.records:
        return False
    count = min(spans.records, _SAMPLE_RECORDS)
    start, end = spans.starts[0], spans.starts[count]
    with open(path, "rb") as handle:
        handle.seek(start)
        text = handle.read(min(end - start, 4 * 1024 * 1024)).decode(dialect.encoding, errors="replace")
    quote, delimiter = dialect.quote, dialect.delimiter
    in_quote = False
    field_start = True
    for char in text:
        if field_start:
            if char in "\r\n":
                continue
            if char != quote:
                return False
            field_start = False
            in_quote = True
            continue
        if char == quote:
            in_quote = not in_quote
        elif not in_quote and (char == delimiter or char in "\r\n"):
            field_start = True
    return True


def read_record(path: str, spans: RowSpans, record: int, dialect: CsvDialect) -> list[str]:
    """The fields of one record, parsed from its bytes with the csv module."""
    start, end = spans.record_span(record)
    with open(path, "rb") as handle:
        handle.seek(start)
        raw = handle.read(end - start)
    text = raw.decode(dialect.encoding, errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), **_reader_args(dialect))
    for fields in reader:
        if fields:
            return fields
    return []


def _reader_args(dialect: CsvDialect) -> dict:
    if dialect.quote:
        return {"delimiter": dialect.delimiter, "quotechar": dialect.quote, "doublequote": True,
                "strict": False}
    return {"delimiter": dialect.delimiter, "quoting": csv.QUOTE_NONE}


def format_row(values: list[str], dialect: CsvDialect, spans: RowSpans) -> bytes:
    """One row in the file's dialect, quoting style and line ending, encoded."""
    out = io.StringIO(newline="")
    try:
        if dialect.quote:
            writer = csv.writer(out, delimiter=dialect.delimiter, quotechar=dialect.quote, doublequote=True,
                                quoting=csv.QUOTE_ALL if spans.all_quoted else csv.QUOTE_MINIMAL,
                                lineterminator="\r\n")
        else:
            writer = csv.writer(out, delimiter=dialect.delimiter, quoting=csv.QUOTE_NONE, escapechar=None,
                                lineterminator="\r\n")
        writer.writerow(values)
    except csv.Error as exc:
        raise KnownError(f"A value cannot be written in this file's dialect (it has no quoting): "
                         f"{exc}") from None
    # written with CRLF so that a CR or LF in any value is quoted, then given the file's ending
    text = out.getvalue()[:-2] + spans.newline.decode("ascii")
    try:
        return text.encode(dialect.encoding)
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start:exc.end]
        raise KnownError(f"{bad!r} cannot be written in {dialect.encoding}, the file's encoding.") from None


@dataclass
class CsvEdits:
    """What the user changed, by row id, over ``base_rows`` data rows of the file."""

    base_rows: int
    values: dict[int, list[str]] = field(default_factory=dict)  # edited or new rows, whole
    order: list[int] | None = None  # row ids in file order, once a row was inserted or deleted
    next_id: int = -1

    def __post_init__(self) -> None:
        if self.next_id < 0:
            self.next_id = self.base_rows

    @property
    def rows(self) -> int:
        return self.base_rows if self.order is None else len(self.order)

    @property
    def changed(self) -> bool:
        return bool(self.values) or self.order is not None

    def row_id(self, row: int) -> int:
        return row if self.order is None else self.order[row]

    def ids(self, r0: int, r1: int) -> list[int]:
        return list(range(r0, r1)) if self.order is None else self.order[r0:r1]

    def _ordered(self) -> list[int]:
        if self.order is None:
            self.order = list(range(self.base_rows))
        return self.order

    def insert(self, row: int, values: list[str]) -> int:
        """A new row at position ``row``; returns its id."""
        new = self.next_id
        self.next_id += 1
        self.values[new] = list(values)
        self._ordered().insert(row, new)
        return new

    def reinsert(self, row: int, ident: int, values: list[str] | None) -> None:
        if values is not None:
            self.values[ident] = list(values)
        self._ordered().insert(row, ident)

    def remove(self, row: int) -> tuple[int, list[str] | None]:
        """Take row ``row`` out; returns (its id, its edited values or None) for an undo."""
        ident = self._ordered().pop(row)
        return ident, self.values.pop(ident, None) if ident >= self.base_rows else self.values.get(ident)

    def set_values(self, ident: int, values: list[str] | None) -> None:
        if values is None:
            self.values.pop(ident, None)
        else:
            self.values[ident] = list(values)


def write_edited(source_path: str, dest_path: str, spans: RowSpans, edits: CsvEdits, dialect: CsvDialect,
                 *, backup: bool = False, cancel: Callable[[], bool] | None = None) -> None:
    """Write the file with ``edits`` to ``dest_path`` (atomically; may be ``source_path``)."""
    header = 1 if spans.header else 0
    ids = edits.order if edits.order is not None else range(edits.base_rows)
    total = len(ids)

    def write(out) -> None:
        with open(source_path, "rb") as src:
            stat = os.fstat(src.fileno())
            if stat.st_size != spans.size or (spans.mtime_ns and stat.st_mtime_ns != spans.mtime_ns):
                raise KnownError(f"{os.path.basename(source_path)} changed on disk since it was read: "
                                 "the edits are kept by row over the file as it was, so they cannot "
                                 "be saved over it (Reload reads it again, without the edits).")

            def copy(start: int, end: int, more: bool) -> None:
                src.seek(start)
                left = end - start
                last = b""
                while left:
                    block = src.read(min(CHUNK, left))
                    if not block:
                        raise KnownError(f"{os.path.basename(source_path)} became shorter while saving.")
                    out.write(block)
                    last = block[-1:]
                    left -= len(block)
                if more and end - start and last not in (b"\n", b"\r"):
                    out.write(spans.newline)  # the file's last row had no line ending

            copy(0, spans.starts[0], False)
            if header:
                copy(spans.starts[0], spans.starts[1], total > 0)
            run_start = run_end = -1
            for position, ident in enumerate(ids):
                if cancel is not None and position % 65536 == 0 and cancel():
                    raise KnownError("Stopped.")
                if ident < edits.base_rows and ident not in edits.values:
                    start, end = spans.row_span(ident)
                    if start == run_end:
                        run_end = end
                        continue
                    if run_start >= 0:
                        copy(run_start, run_end, True)
                    run_start, run_end = start, end
                    continue
                if run_start >= 0:
                    copy(run_start, run_end, True)
                    run_start = run_end = -1
                out.write(format_row(edits.values[ident], dialect, spans))
            if run_start >= 0:
                copy(run_start, run_end, False)

    atomic_write_with(dest_path, write, backup=backup)


# -- the crash journal's payload (kind "csv-edits") ---------------------------------------------------

def edits_body(edits: CsvEdits) -> bytes:
    """The edits as JSON: the row order as runs ``[first id, count]``, the edited rows' values."""
    runs: list[list[int]] = []
    if edits.order is not None:
        for ident in edits.order:
            if runs and runs[-1][0] + runs[-1][1] == ident:
                runs[-1][1] += 1
            else:
                runs.append([ident, 1])
    state = {"base_rows": edits.base_rows, "next_id": edits.next_id,
             "order": runs if edits.order is not None else None,
             "values": {str(k): v for k, v in edits.values.items()}}
    return json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def edits_from_body(body: bytes, base_rows: int) -> CsvEdits:
    """:func:`edits_body` read back over a file of ``base_rows`` rows (KnownError when it does not fit)."""
    try:
        state = json.loads(body.decode("utf-8"))
        if state["base_rows"] != base_rows:
            raise KnownError(f"the edits were made over {state['base_rows']:,} rows and the file has "
                             f"{base_rows:,} rows now")
        order = None
        if state["order"] is not None:
            order = [first + i for first, count in state["order"] for i in range(int(count))]
        values = {int(k): [str(v) for v in row] for k, row in state["values"].items()}
        next_id = int(state["next_id"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise KnownError(f"The saved CSV edits cannot be read: {exc}") from None
    if any(not 0 <= i < next_id for i in (order or [])) or any(not 0 <= i < next_id for i in values):
        raise KnownError("The saved CSV edits name rows the file does not have.")
    return CsvEdits(base_rows, values, order, next_id)
