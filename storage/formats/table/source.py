"""A table in a file, read lazily through DuckDB: columns, row count, pages, stats, histogram.

:func:`open_table` makes a :class:`TableSource` over a CSV, Parquet or Arrow file. Each source
owns one in-memory DuckDB connection with a view ``t`` over the file (``read_csv`` with an
explicit :class:`~storage.formats.table.dialect.CsvDialect`, ``read_parquet``, or a memory-mapped
Arrow table), so SQL over several files can later join them in that one connection. Nothing is
counted or sorted before the first page: a CSV's row count is estimated from the sample
(``rows_exact`` False) until :meth:`TableSource.count` is asked for.

Every query runs on its own cursor; a :class:`Call` passed along can stop it from another thread
(DuckDB's ``interrupt()``). Bad files end in a :class:`KnownError` with a message for the user.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from storage.core.errors import KnownError, ParseError, UnsupportedError
from storage.formats.table.dialect import SAMPLE_BYTES, CsvDialect, detect_dialect, read_sample

FIRST_ROWS = 64
MAX_LINE_BYTES = 2 * 1024 * 1024  # DuckDB's max_line_size: a longer record is refused with a message
# (raising it makes DuckDB's CSV buffers that large: every query then reads far more of the file)
HISTOGRAM_BINS = 20
CELL_CHARS = 2000
SPOOL_BYTES = 64 * 1024 * 1024  # an Arrow file's unpacked (compressed) batches kept in RAM at most
FORMAT_LABELS = {"csv": "CSV", "parquet": "Parquet", "arrow": "Arrow / Feather"}


class CancelledError(KnownError):
    """The user stopped the query."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class View:
    """Which rows, in which order: ``order`` (column, descending) pairs, ``filters`` (column,
    text) pairs (see :func:`filter_sql`), and ``search`` text matched in any column."""

    order: tuple[tuple[int, bool], ...] = ()
    filters: tuple[tuple[int, str], ...] = ()
    search: str = ""

    @property
    def narrowed(self) -> bool:
        return bool(self.filters or self.search.strip())


class Call:
    """One cancellable query: :meth:`cancel` (any thread) interrupts the cursor it runs on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cursor: Any = None
        self.cancelled = False

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._cursor is not None:
                self._cursor.interrupt()

    def progress(self) -> float | None:
        """How far the running query is (0..1), or None when DuckDB cannot tell."""
        with self._lock:
            cursor = self._cursor
        if cursor is None:
            return None
        try:
            value = float(cursor.query_progress())
        except Exception:  # finished or closed meanwhile
            return None
        return value / 100 if value >= 0 else None

    def attach(self, cursor: Any) -> None:
        with self._lock:
            if self.cancelled:
                raise CancelledError("Stopped.")
            self._cursor = cursor

    def detach(self) -> None:
        with self._lock:
            self._cursor = None


@dataclass
class TableInfo:
    columns: list[Column]
    rows: int
    rows_exact: bool
    notes: list[str] = field(default_factory=list)


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_OPERATOR = re.compile(r"^\s*(<=|>=|!=|<>|=|<|>)\s*(.*?)\s*$", re.S)


def filter_sql(column: str, text: str) -> tuple[str, list[Any]]:
    """A WHERE term for a filter cell: ``>10``, ``<= 2024-01-01``, ``=abc``, ``null``, ``not null``,
    else the text anywhere in the value (case-insensitive)."""
    lowered = text.strip().lower()
    if lowered in ("null", "is null"):
        return f"{column} IS NULL", []
    if lowered in ("not null", "is not null"):
        return f"{column} IS NOT NULL", []
    match = _OPERATOR.match(text)
    if match:
        op, value = match.groups()
        op = "!=" if op == "<>" else op
        number = _number(value)
        if number is not None:
            return (f"TRY_CAST({column} AS DOUBLE) {op} ?", [number])
        return f"CAST({column} AS VARCHAR) {op} ?", [value]
    return f"CAST({column} AS VARCHAR) ILIKE ? ESCAPE '\\'", [f"%{_like(text)}%"]


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_NUMERIC_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                            "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "REAL", "DOUBLE", "DECIMAL"})


def is_numeric_type(kind: str) -> bool:
    """Whether a DuckDB column type is a plain number: not a list, array or struct of numbers
    (``STRUCT(x BIGINT)``, ``INTEGER[]``) and not an ``INTERVAL``."""
    return "[" not in kind and kind.split("(", 1)[0].strip().upper() in _NUMERIC_TYPES


def cell_text(value: Any) -> str:
    """A value as the grid shows it: nested values as JSON, long text cut, newlines as ⏎."""
    if value is None:
        return ""
    if isinstance(value, dict | list | tuple):
        text = json.dumps(value, default=str, ensure_ascii=False)
    elif isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value[:CELL_CHARS]).hex(" ")
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = str(value)
    text = text.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎")
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + "…"


def _known(exc: BaseException, path: str) -> KnownError:
    """A DuckDB or Arrow error as a message for the user."""
    import duckdb

    if isinstance(exc, KnownError):
        return exc
    if isinstance(exc, duckdb.InterruptException):
        return CancelledError("Stopped.")
    lines = [line for line in str(exc).strip().splitlines() if not line.startswith("Original Line:")]
    text = "\n".join(lines)[:4000]  # the offending line itself may be megabytes long
    first = lines[0][:300] if lines else type(exc).__name__
    name = os.path.basename(path)
    head = text.split("Possible")[0].lower()
    if "maximum line size" in head:
        return ParseError(f"{name} has a record longer than {MAX_LINE_BYTES // 2**20} MB: it is not a "
                          "table Datashelf can show as a grid (open it as text instead).")
    if "invalid unicode" in head or "byte sequence mismatch" in head:
        line = re.search(r"Line: (\d+)", text)
        where = f" at line {line.group(1)}" if line else ""
        return ParseError(f"{name} is not valid in the chosen encoding{where}: pick another encoding "
                          "in the dialect bar.")
    if "No magic bytes" in text or "too small to be a Parquet" in text or "footer" in text.lower():
        return ParseError(f"{name} is not a complete Parquet file (its footer is missing or damaged: "
                          "probably a truncated copy).")
    if isinstance(exc, OSError):
        return KnownError(f"Cannot read {name}: {exc.strerror or exc}")
    return ParseError(f"{name} cannot be read as a table: {first}")


class TableSource:
    """One open table file. Safe to call from worker threads (each call has its own cursor)."""

    def __init__(self, path: str, fmt: str, dialect: CsvDialect | None = None) -> None:
        import duckdb

        self.path = path
        self.format = fmt
        self.dialect = dialect
        self.connection = duckdb.connect(":memory:")
        self.connection.execute("SET threads TO 2")
        # Progress is read by Call.progress; DuckDB must never print its bar (inspect --json is stdout).
        self.connection.execute("SET enable_progress_bar_print = false")
        self._cursors: set[Any] = set()
        self.closed = False
        self._lock = threading.Lock()
        self._fallback = 0  # CSV: 1 pads short rows, 2 also reads text, 3 splits as the csv module does
        self._transcoded: str | None = None
        self._spooled: str | None = None  # a compressed Arrow file's batches, unpacked (see _collect)
        self._arrow: Any = None
        self.arrow_kind = ""  # an Arrow file's layout: "file" (Feather v2), "feather-v1" or "stream"
        self.complete = True  # False: an Arrow file damaged inside a batch: the batches before are read
        self.info = TableInfo([], 0, True)

    @property
    def label(self) -> str:
        """The format as the mode line and messages name it ("Arrow IPC stream", "Parquet")."""
        if self.arrow_kind == "stream":
            return "Arrow IPC stream"
        return FORMAT_LABELS.get(self.format, self.format)

    # -- opening -----------------------------------------------------------------------------
    def open(self, cancel: Callable[[], bool] | None = None) -> TableInfo:
        try:
            if self.format == "parquet":
                self._open_parquet()
            elif self.format == "arrow":
                self._open_arrow(cancel)
            else:
                self._open_csv(cancel)
        except KnownError:
            raise
        except Exception as exc:
            raise _known(exc, self.path) from None
        return self.info

    def _describe(self) -> list[Column]:
        rows = self.connection.execute("DESCRIBE SELECT * FROM t").fetchall()
        return [Column(str(r[0]), str(r[1])) for r in rows]

    def _open_parquet(self) -> None:
        import pyarrow.parquet as pq

        try:
            meta = pq.read_metadata(self.path)
        except Exception as exc:
            raise ParseError(f"{os.path.basename(self.path)} is not a complete Parquet file: {exc}") from None
        self.connection.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet({quote_text(self.path)})")
        self.info = TableInfo(self._describe(), meta.num_rows, True)
        self._note_nested()

    def _note_nested(self) -> None:
        nested = [c.name for c in self.info.columns if c.type.startswith(("STRUCT", "MAP")) or "[]" in c.type]
        if nested:
            self.info.notes.append(f"{len(nested)} nested column(s) shown as JSON text: "
                                   + ", ".join(nested[:5]) + ("…" if len(nested) > 5 else ""))

    def _open_arrow(self, cancel: Callable[[], bool] | None = None) -> None:
        import pyarrow as pa
        import pyarrow.feather as feather
        import pyarrow.ipc as ipc

        name = os.path.basename(self.path)
        with open(self.path, "rb") as handle:
            magic = handle.read(6)
        if not magic:
            raise ParseError(f"{name} is empty: an Arrow or Feather file holds at least its schema (the "
                             "columns), and this one has nothing.")
        notes: list[str] = []
        try:
            if magic.startswith(b"ARROW1"):
                self.arrow_kind = "file"
                reader = ipc.open_file(pa.memory_map(self.path, "r"))
                batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
                table = self._collect(reader.schema, batches, notes, cancel)
            elif magic.startswith(b"FEA1"):
                self.arrow_kind = "feather-v1"
                table = feather.read_table(self.path, memory_map=True)
            else:
                self.arrow_kind = "stream"
                try:
                    reader = ipc.open_stream(pa.memory_map(self.path, "r"))
                except (pa.ArrowException, OSError) as exc:
                    raise ParseError(f"{name} is not a readable Arrow IPC stream: its schema cannot be read "
                                     f"(the file may be cut short). {_first_line(exc)}") from None
                table = self._collect(reader.schema, _stream_batches(reader), notes, cancel)
        except KnownError:
            raise
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
            raise ParseError(f"{name} is not a readable Arrow / Feather file: {exc}") from None
        self._arrow = table
        self.connection.register("arrow_table", table)
        self.connection.execute("CREATE VIEW t AS SELECT * FROM arrow_table")
        self.info = TableInfo(self._describe(), table.num_rows, True, notes)
        self._note_nested()

    def _collect(self, schema: Any, batches: Iterator[Any], notes: list[str],
                 cancel: Callable[[], bool] | None) -> Any:
        """The record batches of an Arrow file or stream read over a memory map, as one table.

        Uncompressed batches are slices of the mapped file, not copies. Compressed ones (pandas'
        ``to_feather`` writes LZ4) are unpacked into Arrow's memory: once reading has taken
        :data:`SPOOL_BYTES` of it (other threads' allocations count too: at worst a needless
        spool), every batch goes to a private temporary stream file instead, uncompressed, which
        is then memory-mapped in turn, so a big compressed file never sits in RAM. A file damaged
        inside a batch keeps the batches before the damage, and says so in ``notes``.
        """
        import pyarrow as pa
        import pyarrow.ipc as ipc

        kept: list[Any] = []
        count = rows = 0
        base = pa.total_allocated_bytes()
        writer: Any = None
        try:
            while True:
                if cancel is not None and cancel():
                    raise CancelledError("Stopped.")
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                except (pa.ArrowException, OSError) as exc:
                    self.complete = False
                    notes.append(f"{os.path.basename(self.path)} is cut short or damaged after {count:,} "
                                 f"record batch(es) ({_first_line(exc).rstrip('.')}): the {rows:,} rows "
                                 "before that point are shown.")
                    break
                count, rows = count + 1, rows + batch.num_rows
                kept.append(batch)
                if writer is None and pa.total_allocated_bytes() - base <= SPOOL_BYTES:
                    continue
                try:
                    if writer is None:
                        handle, self._spooled = tempfile.mkstemp(prefix="datashelf-arrow-", suffix=".arrows")
                        os.close(handle)
                        writer = ipc.new_stream(self._spooled, schema)  # a stream may replace dictionaries
                    for done in kept:
                        writer.write_batch(done)
                except (pa.ArrowException, OSError) as exc:
                    raise KnownError(f"Cannot unpack the compressed batches of {os.path.basename(self.path)} "
                                     f"into a temporary file: {_first_line(exc)}") from None
                kept = []
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            return pa.Table.from_batches(kept, schema=schema)
        notes.append("The file's record batches are compressed: they were unpacked once into a private "
                     "temporary file (the file itself is not written).")
        return ipc.open_stream(pa.memory_map(self._spooled, "r")).read_all()

    def _open_csv(self, cancel: Callable[[], bool] | None) -> None:
        if os.path.getsize(self.path) == 0:  # DuckDB's sniffer refuses an empty file: no columns, no rows
            self.connection.execute("CREATE OR REPLACE VIEW t AS SELECT 1 AS empty WHERE false")
            self.dialect = self.dialect or CsvDialect()
            self.info = TableInfo([], 0, True, ["The file is empty."])
            return
        if self.dialect is None:
            self.dialect = detect_dialect(self.path)
        path = self.path
        if self.dialect.native_encoding is None:
            path = self._transcode(cancel)
        last: BaseException | None = None
        for level in (0, 1, 2, 3):
            self._fallback = level
            try:
                self.connection.execute("CREATE OR REPLACE VIEW t AS SELECT * " + self._csv_from(path))
                columns = self._describe()
                self.connection.execute(f"SELECT * FROM t LIMIT {FIRST_ROWS}").fetchall()
            except Exception as exc:
                last = exc
                if not _retryable(exc):
                    raise _known(exc, self.path) from None
                continue
            rows, exact = self._estimate_rows()
            self.info = TableInfo(columns, rows, exact)
            if level == 1:
                self.info.notes.append("Some rows have more or fewer fields than the header: missing "
                                       "fields are shown empty.")
            elif level == 2:
                self.info.notes.append("The columns do not keep one type all the way down: every "
                                       "column is shown as text.")
            elif level == 3:
                self.info.notes.append("The file does not read cleanly with this dialect: it is split "
                                       "as the first lines suggest, every column as text. Check the "
                                       "delimiter and quote above.")
            return
        raise _known(last or ParseError("unreadable"), self.path)

    def _csv_from(self, path: str) -> str:
        """The view's FROM clause. Strictly: what DuckDB's sniffer settles on with our dialect, its
        column types and date formats pinned (``auto_detect=false``), so no query sniffs again;
        leniently (ragged rows, text columns): ``read_csv`` with the fallback's options."""
        if self._fallback:
            return "FROM " + self._read_csv_sql(path)
        sniffed = self.connection.execute(
            "SELECT Prompt FROM " + self._read_csv_sql(path).replace("read_csv(", "sniff_csv(", 1)).fetchone()
        prompt = str(sniffed[0]).strip().rstrip(";") if sniffed else ""
        if not prompt.startswith("FROM read_csv("):
            return "FROM " + self._read_csv_sql(path)
        return prompt

    def _read_csv_sql(self, path: str) -> str:
        d = self.dialect or CsvDialect()
        options = [f"delim={quote_text(d.delimiter)}", f"header={'true' if d.header else 'false'}",
                   f"quote={quote_text(d.quote)}", f"escape={quote_text(d.quote)}",
                   "sample_size=20480"]
        encoding = d.native_encoding if self._transcoded is None else "utf-8"
        if encoding and encoding != "utf-8":
            options.append(f"encoding={quote_text(encoding)}")
        if self._fallback >= 1:
            options.append("null_padding=true")
        if self._fallback == 2:
            options.append("all_varchar=true")
        if self._fallback >= 3:  # DuckDB's sniffer gave up: the columns as the csv module splits the head
            columns = ", ".join(f"{quote_text(name)}: 'VARCHAR'" for name in self._sample_names())
            options += ["auto_detect=false", f"columns={{{columns}}}", "strict_mode=false"]
        return f"read_csv({quote_text(path)}, {', '.join(options)})"

    def _transcode(self, cancel: Callable[[], bool] | None) -> str:
        """Write the file as UTF-8 to a private temporary file (DuckDB reads only UTF-8, UTF-16 and
        Latin-1), in blocks, stopping when ``cancel()``; the original is never touched."""
        import codecs

        assert self.dialect is not None
        try:
            decoder = codecs.getincrementaldecoder(self.dialect.encoding)(errors="replace")
        except LookupError:
            raise UnsupportedError(f"Unknown encoding {self.dialect.encoding!r}.") from None
        handle, name = tempfile.mkstemp(prefix="datashelf-table-", suffix=".csv")
        with os.fdopen(handle, "wb") as out, open(self.path, "rb") as source:
            while block := source.read(4 * 1024 * 1024):
                if cancel is not None and cancel():
                    raise CancelledError("Stopped.")
                out.write(decoder.decode(block).encode("utf-8"))
            out.write(decoder.decode(b"", final=True).encode("utf-8"))
        self._transcoded = name
        return name

    def _estimate_rows(self) -> tuple[int, bool]:
        """Rows of a CSV: exact when the sample is the whole file, else from its mean record size."""
        head, complete = read_sample(self.path, SAMPLE_BYTES)
        if complete:
            found = self.connection.execute("SELECT count(*) FROM t").fetchone()
            return (int(found[0]) if found else 0), True
        size = os.path.getsize(self.path)
        per_record = len(head) / max(1, self._sample_records(head))
        estimate = int(size / per_record) - (1 if self.dialect and self.dialect.header else 0)
        return max(estimate, 0), False

    def _sample_names(self) -> list[str]:
        """Column names for a file DuckDB cannot sniff: the header's fields (or column0, …) up to
        the widest record of the sample."""
        rows = self._sample_rows(read_sample(self.path, 64 * 1024)[0])[:200]
        width = max((len(r) for r in rows), default=1)
        header = rows[0] if rows and self.dialect and self.dialect.header else []
        names: list[str] = []
        for i in range(width):
            name = header[i] if i < len(header) and header[i] else f"column{i}"
            names.append(name if name not in names else f"{name}_{i}")
        return names

    def _sample_rows(self, head: bytes) -> list[list[str]]:
        import csv
        import io

        d = self.dialect or CsvDialect()
        try:
            text = head.decode(d.encoding, errors="replace")
        except LookupError:
            text = head.decode("latin-1")
        cut = max(text.rfind("\n"), text.rfind("\r"))
        reader = csv.reader(io.StringIO(text[:cut + 1], newline=""), delimiter=d.delimiter,
                            quotechar=d.quote or '"',
                            quoting=csv.QUOTE_MINIMAL if d.quote else csv.QUOTE_NONE)
        try:
            return list(reader)
        except csv.Error:
            return [line.split(d.delimiter) for line in text[:cut + 1].splitlines()]

    def _sample_records(self, head: bytes) -> int:
        """Records (not lines: quoted newlines are inside one) in the sample's complete part."""
        return len(self._sample_rows(head))

    def relation(self) -> tuple[str, Any]:
        """What view ``t`` reads, for another connection (SQL over several files): a DuckDB
        table expression (``read_csv(...)`` with this file's dialect and fallbacks), or the
        memory-mapped Arrow table to register."""
        if self._arrow is not None:
            return "", self._arrow
        if self.format == "parquet":
            return f"read_parquet({quote_text(self.path)})", None
        return self._read_csv_sql(self._transcoded or self.path), None

    # -- queries -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def cursor(self, call: Call | None = None, arrow: Any = None) -> Iterator[Any]:
        """A cursor of its own on the file's connection: ``call`` (and closing the file) can
        interrupt what runs on it, and DuckDB's errors come out as :class:`KnownError`
        (:class:`CancelledError` once interrupted). ``arrow`` (a slice of an Arrow file's table)
        stands in for the whole table as ``t``."""
        call = call or Call()
        with self._lock:
            if self.closed:
                raise CancelledError("The file was closed.")
            cursor = self.connection.cursor()
            self._cursors.add(cursor)  # closing the file interrupts it
            if self._arrow is not None:  # a registered table is the registering connection's own
                cursor.register("arrow_table", self._arrow if arrow is None else arrow)
        try:
            call.attach(cursor)
            try:
                yield cursor
            except Exception as exc:
                if call.cancelled:
                    raise CancelledError("Stopped.") from None
                raise _known(exc, self.path) from None
        finally:
            call.detach()
            with self._lock:
                self._cursors.discard(cursor)
                with contextlib.suppress(Exception):  # the file's connection may be closed already
                    cursor.close()

    def _run(self, sql: str, params: Sequence[Any] = (), call: Call | None = None,
             arrow: Any = None) -> list[tuple]:
        """Rows of ``sql`` on a cursor of its own (see :meth:`cursor`)."""
        call = call or Call()
        with self.cursor(call, arrow) as cursor:
            try:
                return cursor.execute(sql, list(params)).fetchall()
            except Exception as exc:
                if call.cancelled or not (self.format == "csv" and self._fallback < 2 and _retryable(exc)):
                    raise
                self._degrade()
                return cursor.execute(sql, list(params)).fetchall()

    def _degrade(self) -> None:
        """A row far down broke the sampled types or width: read more leniently from now on."""
        with self._lock:
            self._fallback = 2
            path = self._transcoded or self.path
            self.connection.execute(f"CREATE OR REPLACE VIEW t AS SELECT * FROM {self._read_csv_sql(path)}")
            self.info.columns = self._describe()
            self.info.notes.append("A row far down did not fit the sampled column types: every column "
                                   "is now shown as text.")

    def rows_sql(self, view: View) -> tuple[str, list[Any]]:
        """The statement (and its parameters) reading every column of ``view``'s rows in its order."""
        where, params = self._where(view)
        select = ", ".join(quote_name(c.name) for c in self.info.columns) or "1"
        return f"SELECT {select} FROM t{where}{self._order(view)}", params

    def _where(self, view: View) -> tuple[str, list[Any]]:
        terms: list[str] = []
        params: list[Any] = []
        for column, text in view.filters:
            if not text.strip() or not 0 <= column < len(self.info.columns):
                continue
            term, values = filter_sql(quote_name(self.info.columns[column].name), text)
            terms.append(term)
            params.extend(values)
        if view.search.strip():
            like = f"%{_like(view.search.strip())}%"
            ors = [f"CAST({quote_name(c.name)} AS VARCHAR) ILIKE ? ESCAPE '\\'" for c in self.info.columns]
            terms.append("(" + " OR ".join(ors) + ")" if ors else "FALSE")
            params.extend([like] * len(ors))
        return (" WHERE " + " AND ".join(terms) if terms else ""), params

    def _order(self, view: View) -> str:
        parts = [f"{quote_name(self.info.columns[c].name)} {'DESC' if desc else 'ASC'} NULLS LAST"
                 for c, desc in view.order if 0 <= c < len(self.info.columns)]
        return " ORDER BY " + ", ".join(parts) if parts else ""

    def page(self, offset: int, limit: int, view: View = View(), columns: Sequence[int] | None = None,
             call: Call | None = None) -> list[tuple]:
        """Rows ``offset`` .. ``offset + limit`` of ``view`` (the ``columns`` given, else all)."""
        names = self.info.columns if columns is None else [self.info.columns[i] for i in columns]
        select = ", ".join(quote_name(c.name) for c in names) or "1"
        if self._arrow is not None and not view.narrowed and not view.order:
            # An Arrow table in file order: slice it (zero-copy) rather than have DuckDB scan up
            # to OFFSET (half a second deep into a 1 GB file); DuckDB still converts the values.
            rows = self._arrow.slice(max(int(offset), 0), max(int(limit), 0))
            return self._run(f"SELECT {select} FROM t", (), call, arrow=rows)
        where, params = self._where(view)
        sql = f"SELECT {select} FROM t{where}{self._order(view)} LIMIT {int(limit)} OFFSET {int(offset)}"
        return self._run(sql, params, call)

    def text_page(self, offset: int, limit: int, view: View = View(), columns: Sequence[int] | None = None,
                  call: Call | None = None) -> list[list[str]]:
        return [[cell_text(v) for v in row] for row in self.page(offset, limit, view, columns, call)]

    def count(self, view: View = View(), call: Call | None = None) -> int:
        """The exact number of rows of ``view`` (a whole-file scan for a CSV)."""
        where, params = self._where(view)
        rows = self._run(f"SELECT count(*) FROM t{where}", params, call)
        total = int(rows[0][0]) if rows else 0
        if not view.narrowed:
            self.info.rows, self.info.rows_exact = total, True
        return total

    def stats(self, column: int, view: View = View(), call: Call | None = None) -> dict[str, Any]:
        """Type, rows, nulls, min, max and distinct count of ``column`` (approximate distinct)."""
        col = self.info.columns[column]
        name = quote_name(col.name)
        where, params = self._where(view)
        orderable = not (col.type.startswith(("STRUCT", "MAP", "UNION")) or "[]" in col.type)
        low_high = f"min({name}), max({name})" if orderable else "NULL, NULL"
        rows = self._run(f"SELECT count(*), count(*) - count({name}), {low_high}, "
                         f"approx_count_distinct({name}) FROM t{where}", params, call)
        total, nulls, low, high, distinct = rows[0]
        return {"name": col.name, "type": col.type, "rows": int(total), "nulls": int(nulls),
                "min": cell_text(low) if low is not None else None,
                "max": cell_text(high) if high is not None else None, "distinct": int(distinct or 0),
                "distinct_exact": False}

    def histogram(self, column: int, bins: int = HISTOGRAM_BINS, view: View = View(),
                  call: Call | None = None) -> list[tuple[str, int]]:
        """(label, count) bars: equal-width bins for numbers, else the most common values."""
        col = self.info.columns[column]
        name = quote_name(col.name)
        where, params = self._where(view)
        if is_numeric_type(col.type):
            bounds = self._run(f"SELECT min({name})::DOUBLE, max({name})::DOUBLE FROM t{where}", params, call)
            low, high = bounds[0]
            if low is None:
                return []
            if high == low:
                rows = self._run(f"SELECT count({name}) FROM t{where}", params, call)
                return [(_short(low), int(rows[0][0]))]
            width = (high - low) / bins
            rows = self._run(
                f"SELECT least(floor(({name}::DOUBLE - ?) / ?)::BIGINT, {bins - 1}) AS bin__, count(*) "
                f"FROM t{where}{' AND' if where else ' WHERE'} {name} IS NOT NULL "
                "GROUP BY bin__ ORDER BY bin__",
                [low, width, *params], call)
            counts = dict(rows)
            return [(_short(low + i * width), int(counts.get(i, 0))) for i in range(bins)]
        rows = self._run(f"SELECT CAST({name} AS VARCHAR) AS v, count(*) AS n FROM t{where} "
                         f"GROUP BY v ORDER BY n DESC, v LIMIT {int(bins)}", params, call)
        return [(cell_text(v) if v is not None else "(null)", int(n)) for v, n in rows]

    def record(self, row: int, view: View = View(), call: Call | None = None) -> list[tuple[str, str, str]]:
        """(name, type, full text) of every column of one row: the record view's form."""
        values = self.page(row, 1, view, None, call)
        if not values:
            return []
        return [(c.name, c.type, "NULL" if v is None else (json.dumps(v, default=str, ensure_ascii=False)
                                                           if isinstance(v, dict | list) else str(v)))
                for c, v in zip(self.info.columns, values[0], strict=False)]

    def interrupt(self) -> None:
        """Stop every running query of this source."""
        with self._lock:
            for cursor in self._cursors:
                cursor.interrupt()

    def close(self) -> None:
        """Stop what runs and close the connection (calls after this raise CancelledError)."""
        with self._lock:
            self.closed = True
            for cursor in self._cursors:
                cursor.interrupt()
        try:
            with self._lock, contextlib.suppress(Exception):
                self.connection.close()  # a query still winding down may say "busy": it ends with it
        finally:
            self._arrow = None
            for temporary in (self._transcoded, self._spooled):
                if temporary:
                    with contextlib.suppress(OSError):
                        os.unlink(temporary)
            self._transcoded = self._spooled = None


def _stream_batches(reader: Any) -> Iterator[Any]:
    """The record batches of an IPC stream reader, one at a time (its errors raised as they come)."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        yield batch


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def _short(value: float) -> str:
    return f"{value:.4g}"


def _retryable(exc: BaseException) -> bool:
    text = str(exc)
    return any(part in text for part in ("Expected Number of Columns", "Could not convert",
                                         "not possible to automatically detect",
                                         "Conversion Error", "too many columns", "Error when converting"))


def open_table(path: str, fmt: str, dialect: CsvDialect | None = None,
               cancel: Callable[[], bool] | None = None) -> TableSource:
    """Open ``path`` (``fmt``: csv, parquet or arrow) and read what the first page needs."""
    source = TableSource(path, fmt, dialect)
    try:
        source.open(cancel)
    except BaseException:
        source.close()
        raise
    return source
