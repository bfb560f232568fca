"""SQL over open files: one DuckDB connection with a view per open table, joined freely.

A :class:`Workspace` names every table it is given once (:func:`sql_names`: the file's stem,
``orders.csv`` → ``orders``, clashes numbered ``orders_2``) and makes it queryable in its own
in-memory DuckDB connection: a CSV or Parquet file as a view over DuckDB's reader (the same
reader, dialect and fallbacks as its :class:`~storage.formats.table.source.TableSource`), an
Arrow file as its memory-mapped table, an SQLite table as a stream of Arrow batches read through
a read-only ``mode=ro`` connection of the stdlib ``sqlite3`` (DuckDB's sqlite extension is not
available offline). The SQLite stream is made afresh for every scan, so a table can be read
twice in one query (a self-join) and by every statement; the file itself is never written.

:meth:`Workspace.run` runs one read-only statement (SELECT, WITH, VALUES, FROM-first, EXPLAIN)
and returns a :class:`QueryResult` as soon as its first page is there; further rows are fetched
in pages. A :class:`~storage.formats.table.source.Call` cancels it from another thread. Errors
are :class:`~storage.core.errors.KnownError` with DuckDB's message and the position in the text.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from storage.core.errors import KnownError, Location, UnreadableError
from storage.formats.table.source import (
    Call,
    CancelledError,
    Column,
    TableInfo,
    TableSource,
    View,
    cell_text,
    quote_name,
)

PAGE_ROWS = 1000
MAX_CACHED_CELLS = 20_000_000  # what a result keeps for the grid; export reads the whole result again
SQLITE_BATCH = 4096
TYPE_SAMPLE = 10_000  # rows of an SQLite table whose storage classes choose its column types
ALLOWED = ("SELECT", "EXPLAIN")


class QueryError(KnownError):
    """DuckDB refused or failed the statement; :attr:`location` points into the SQL text."""


# -- the tables a workspace offers ---------------------------------------------------------------

@dataclass(frozen=True)
class TableRef:
    """One table to offer under ``name``: a file's :class:`TableSource`, or an SQLite table."""

    origin: str  # what the user sees: "orders.csv", "shop.db ▸ customers"
    stem: str  # the wished-for SQL name, before clashes are numbered
    source: TableSource | None = None
    sqlite_path: str | None = None
    sqlite_table: str | None = None


@dataclass(frozen=True)
class NamedTable:
    name: str
    ref: TableRef


def file_ref(source: TableSource) -> TableRef:
    base = os.path.basename(source.path)
    return TableRef(base, base.split(".")[0] or base, source=source)


def sqlite_refs(path: str) -> list[TableRef]:
    """The tables and views of an SQLite file, read through a read-only connection."""
    base = os.path.basename(path)
    with _closing(_sqlite_reader(path)) as conn:
        try:
            names = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name")]
        except sqlite3.Error as exc:
            raise UnreadableError(f"Cannot read the tables of {base}: {exc}") from None
    return [TableRef(f"{base} ▸ {name}", name, sqlite_path=path, sqlite_table=name) for name in names]


def _identifier(text: str) -> str:
    name = re.sub(r"\W+", "_", text, flags=re.UNICODE).strip("_").lower() or "table"
    return f"t_{name}" if name[0].isdigit() else name


def sql_names(refs: Sequence[TableRef]) -> list[NamedTable]:
    """A readable, unique SQL name for each table: ``orders.csv`` → ``orders``, then
    ``orders_2`` for the next ``orders`` (DuckDB names are case-insensitive)."""
    taken: set[str] = set()
    named: list[NamedTable] = []
    for ref in refs:
        base = _identifier(ref.stem)
        name, number = base, 1
        while name in taken:
            number += 1
            name = f"{base}_{number}"
        taken.add(name)
        named.append(NamedTable(name, ref))
    return named


# -- SQLite tables as Arrow streams --------------------------------------------------------------

def _sqlite_uri(path: str) -> str:
    """Read-only; ``immutable`` as well for a WAL database (a ``mode=ro`` reader would create its
    ``-shm`` file) or any with a ``-wal`` beside it, so the reader never writes anything."""
    with open(path, "rb") as handle:
        head = handle.read(100)
    wal = os.path.lexists(path + "-wal") or (len(head) >= 20 and head[18:20] != b"\x01\x01")
    return f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro" + ("&immutable=1" if wal else "")


def _sqlite_reader(path: str) -> sqlite3.Connection:
    base = os.path.basename(path)
    try:
        conn = sqlite3.connect(_sqlite_uri(path), uri=True, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA query_only = 1")
    except FileNotFoundError:
        raise UnreadableError(f"{base} no longer exists") from None
    except (OSError, sqlite3.Error) as exc:
        raise UnreadableError(f"Cannot open {base} read-only: {exc}") from None
    conn.text_factory = lambda data: data.decode("utf-8", "replace")
    return conn


class _closing:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *_exc: object) -> None:
        self.conn.close()


class SqliteStream:
    """An SQLite table as an Arrow C stream, made afresh for every scan DuckDB starts.

    Column types come from the storage classes of the first rows (SQLite's types belong to
    values, not columns); a later value that does not fit is read as NULL and counted in
    :attr:`notes`.
    """

    def __init__(self, path: str, table: str, call: Call | None = None) -> None:
        import pyarrow as pa

        self.path, self.table, self.call = path, table, call
        self.notes: list[str] = []
        self._misfits = 0
        quoted = quote_name(table)
        with _closing(_sqlite_reader(path)) as conn:
            try:
                names = [d[1] for d in conn.execute(f"PRAGMA table_info({quoted})")]
                if not names:
                    names = [d[0] for d in conn.execute(f"SELECT * FROM {quoted} LIMIT 0").description]
                kinds: list[set[str]] = [set() for _ in names]
                probe = ", ".join(f"typeof({quote_name(n)})" for n in names)
                for row in conn.execute(f"SELECT {probe} FROM {quoted} LIMIT {TYPE_SAMPLE}"):
                    for i, kind in enumerate(row):
                        kinds[i].add(kind)
            except sqlite3.Error as exc:
                raise UnreadableError(f"Cannot read {table} in {os.path.basename(path)}: {exc}") from None
        self.names = names
        self.schema = pa.schema([(n, _arrow_type(k)) for n, k in zip(names, kinds, strict=True)])

    def _batches(self) -> Iterator[Any]:
        import pyarrow as pa

        select = ", ".join(quote_name(n) for n in self.names)
        with _closing(_sqlite_reader(self.path)) as conn:
            cursor = conn.execute(f"SELECT {select} FROM {quote_name(self.table)}")
            while True:
                if self.call is not None and self.call.cancelled:
                    conn.interrupt()
                    return
                rows = cursor.fetchmany(SQLITE_BATCH)
                if not rows:
                    return
                columns = list(zip(*rows, strict=True))
                yield pa.record_batch([self._array(values, f.type) for values, f in zip(columns, self.schema,
                                                                                         strict=True)],
                                      schema=self.schema)

    def _array(self, values: Sequence[Any], kind: Any) -> Any:
        import pyarrow as pa

        try:
            return pa.array(values, kind)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            fitted = [_fit(v, kind) for v in values]
            misfits = sum(1 for v, f in zip(values, fitted, strict=True) if v is not None and f is None)
            self._misfits += misfits
            if misfits:
                self.notes[:] = [f"{self._misfits:,} value(s) of {self.table} did not fit their "
                                 "column's type (chosen from the first rows) and read as NULL."]
            return pa.array(fitted, kind)

    def __arrow_c_schema__(self) -> Any:
        return self.schema.__arrow_c_schema__()

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        import pyarrow as pa

        reader = pa.RecordBatchReader.from_batches(self.schema, self._batches())
        return reader.__arrow_c_stream__(requested_schema)


def _arrow_type(kinds: set[str]) -> Any:
    import pyarrow as pa

    kinds = kinds - {"null"}
    if kinds == {"integer"}:
        return pa.int64()
    if kinds <= {"integer", "real"} and kinds:
        return pa.float64()
    if kinds == {"blob"}:
        return pa.binary()
    return pa.string()


def _fit(value: Any, kind: Any) -> Any:
    import pyarrow as pa

    if value is None:
        return None
    if pa.types.is_string(kind):
        return value.hex() if isinstance(value, bytes) else str(value)
    if pa.types.is_floating(kind):
        return float(value) if isinstance(value, int | float) else None
    if pa.types.is_integer(kind):
        return value if isinstance(value, int) else None
    if pa.types.is_binary(kind):
        return value if isinstance(value, bytes) else str(value).encode()
    return None


# -- the workspace ----------------------------------------------------------------------------

class Workspace:
    """An in-memory DuckDB connection where each given table has its SQL name."""

    def __init__(self, refs: Sequence[TableRef], call: Call | None = None) -> None:
        import duckdb

        self.tables = sql_names(refs)
        self.connection = duckdb.connect(":memory:")
        self.connection.execute("SET threads TO 2")
        self.connection.execute("SET enable_progress_bar_print = false")  # Call.progress reads it
        self._registered: dict[str, Any] = {}
        self.streams: list[SqliteStream] = []
        self.notes: list[str] = []
        self.statement_count = 0
        for table in self.tables:
            self._define(table, call)

    def _define(self, table: NamedTable, call: Call | None) -> None:
        ref = table.ref
        try:
            if ref.source is not None:
                relation, arrow = ref.source.relation()
                if arrow is not None:
                    self._register(table.name, arrow)
                else:
                    name = quote_name(table.name)
                    self.connection.execute(f"CREATE VIEW {name} AS SELECT * FROM {relation}")
            elif ref.sqlite_path is not None and ref.sqlite_table is not None:
                stream = SqliteStream(ref.sqlite_path, ref.sqlite_table, call)
                self.streams.append(stream)
                self._register(table.name, stream)
        except KnownError as exc:
            self.notes.append(f"{ref.origin} is left out: {exc}")
        except Exception as exc:
            self.notes.append(f"{ref.origin} is left out: {str(exc).splitlines()[0] if str(exc) else exc}")

    def _register(self, name: str, value: Any) -> None:
        self._registered[name] = value
        self.connection.register(name, value)

    def cursor(self) -> Any:
        cursor = self.connection.cursor()
        for name, value in self._registered.items():  # a registered object is per connection
            cursor.register(name, value)
        return cursor

    def statement(self, sql: str) -> tuple[str, int]:
        """The statement to run (the last of ``sql``) and its offset in ``sql``; raises
        QueryError for a syntax error or a statement that would write."""
        import duckdb

        try:
            statements = self.connection.extract_statements(sql)
        except duckdb.Error as exc:
            raise _query_error(exc, sql, 0) from None
        if not statements:
            raise QueryError("There is no statement to run.")
        offset = 0
        for statement in statements:
            kind = str(statement.type).rsplit(".", 1)[-1]
            if kind not in ALLOWED:
                start = sql.find(statement.query.strip(), offset)
                raise QueryError(f"SQL over files is read-only: {kind} statements are not run here "
                                 "(SELECT, WITH, VALUES and EXPLAIN are).",
                                 _location(sql, max(start, 0)))
            offset += len(statement.query)
        last = statements[-1].query
        self.statement_count = len(statements)
        return last, max(0, offset - len(last))

    def run(self, sql: str, call: Call | None = None, first: int = PAGE_ROWS) -> QueryResult:
        """Run ``sql`` (its last statement) and return its result with the first ``first`` rows."""
        call = call or Call()
        for stream in self.streams:
            stream.call = call
        statement, offset = self.statement(sql)
        result = QueryResult(self, statement, sql, offset)
        result.start(call, first)
        return result

    def close(self) -> None:
        try:
            self.connection.interrupt()
        except Exception:
            pass
        try:
            self.connection.close()
        except Exception:
            pass
        self._registered.clear()


def _location(sql: str, offset: int) -> Location:
    line = sql.count("\n", 0, offset) + 1
    column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return Location(line=line, column=column, offset=offset)


def _query_error(exc: BaseException, sql: str, start: int, statement: str | None = None) -> KnownError:
    """DuckDB's message, with the place it points at as a :class:`Location` in the whole text."""
    import duckdb

    if isinstance(exc, KnownError):
        return exc
    if isinstance(exc, duckdb.InterruptException):
        return CancelledError("Stopped.")
    text = str(exc).strip()
    message = text.split("\n\nLINE ")[0].strip()[:2000]
    location = None
    match = re.search(r"LINE (\d+): ([^\n]*)\n( *)\^", text)
    if match:
        number, shown, spaces = int(match.group(1)), match.group(2), len(match.group(3))
        column = spaces - len(f"LINE {number}: ")
        body = statement if statement is not None else sql[start:]
        lines = body.split("\n")
        if 1 <= number <= len(lines):
            line_text = lines[number - 1]
            if shown.startswith("...") or len(shown) != len(line_text):  # DuckDB cut a long line
                token = re.split(r"\W", shown[column:], maxsplit=1)[0] if 0 <= column < len(shown) else ""
                found = line_text.find(token) if token else -1
                column = found if found >= 0 else min(max(column, 0), len(line_text))
            within = sum(len(x) + 1 for x in lines[:number - 1]) + max(column, 0)
            location = _location(sql, start + within)
    if isinstance(exc, OSError) or "No files found" in text or "IO Error" in text:
        return KnownError(message, location)
    return QueryError(message, location)


@dataclass
class QueryResult:
    """The rows of one statement: the first pages fetched, more on :meth:`fetch_more`.

    Quacks like a :class:`TableSource` for the grid (``info``, ``text_page``): the grid only ever
    shows rows already fetched. :meth:`record_batches` reads the whole result again, for export.
    """

    workspace: Workspace
    statement: str
    sql: str
    offset: int
    info: TableInfo = field(default_factory=lambda: TableInfo([], 0, False))
    rows: list[tuple] = field(default_factory=list)
    complete: bool = False
    capped: bool = False
    path: str = "query result"
    format: str = "query"

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._cursor: Any = None

    def start(self, call: Call, first: int) -> None:
        cursor = self.workspace.cursor()
        self._cursor = cursor
        call.attach(cursor)
        try:
            try:
                cursor.execute(self.statement)
            except Exception as exc:
                if call.cancelled:
                    raise CancelledError("Stopped.") from None
                raise _query_error(exc, self.sql, self.offset, self.statement) from None
            description = cursor.description or []
            self.info.columns = _columns(description)
        finally:
            call.detach()
        self.fetch_more(first, call)

    @property
    def row_cap(self) -> int:
        """How many rows the grid may keep (fewer for wide results)."""
        return max(PAGE_ROWS, MAX_CACHED_CELLS // max(1, len(self.info.columns)))

    def fetch_more(self, count: int = PAGE_ROWS, call: Call | None = None) -> int:
        """Fetch up to ``count`` more rows (on a worker); returns how many arrived."""
        if self.complete or self._cursor is None:
            return 0
        call = call or Call()
        call.attach(self._cursor)
        try:
            room = self.row_cap - len(self.rows)
            batch = self._cursor.fetchmany(min(count, room)) if room > 0 else []
        except Exception as exc:
            if call.cancelled:
                raise CancelledError("Stopped.") from None
            raise _query_error(exc, self.sql, self.offset, self.statement) from None
        finally:
            call.detach()
        with self._lock:
            self.rows.extend(batch)
            if len(batch) < count:
                self.complete = room > len(batch)
                self.capped = not self.complete
            self.info.rows = len(self.rows)
            self.info.rows_exact = self.complete
            self.info.notes = [n for s in self.workspace.streams for n in s.notes] + self.workspace.notes
            if self.workspace.statement_count > 1:
                self.info.notes.append(f"The text holds {self.workspace.statement_count} statements: the "
                                       "last one ran (select another to run it).")
        if self.complete:
            self._finish()
        return len(batch)

    def _finish(self) -> None:
        cursor, self._cursor = self._cursor, None
        if cursor is not None:
            try:
                cursor.close()
            except Exception:
                pass

    def text_page(self, offset: int, limit: int, view: View | None = None,
                  columns: Sequence[int] | None = None, call: Call | None = None) -> list[list[str]]:
        with self._lock:
            rows = self.rows[offset:offset + limit]
        picks = list(columns) if columns is not None else range(len(self.info.columns))
        return [[cell_text(row[i]) for i in picks] for row in rows]

    def record_batches(self, batch_rows: int = 65536, call: Call | None = None) -> Any:
        """The whole result again, as a ``pyarrow.RecordBatchReader`` (for export)."""
        cursor = self.workspace.cursor()
        if call is not None:
            call.attach(cursor)
        try:
            return cursor.sql(self.statement).to_arrow_reader(batch_rows)
        except Exception as exc:
            raise _query_error(exc, self.sql, self.offset, self.statement) from None
        finally:
            if call is not None:
                call.detach()

    def interrupt(self) -> None:
        """Stop a fetch under way (any thread)."""
        cursor = self._cursor
        if cursor is not None:
            try:
                cursor.interrupt()
            except Exception:
                pass

    def close(self) -> None:
        if self._cursor is not None:
            try:
                self._cursor.interrupt()
            except Exception:
                pass
        self._finish()
        self.workspace.close()


def _columns(description: Sequence[Any]) -> list[Column]:
    columns: list[Column] = []
    seen: set[str] = set()
    for i, item in enumerate(description):
        name = str(item[0]) if item[0] is not None else f"column{i}"
        while name in seen:
            name += "_"
        seen.add(name)
        columns.append(Column(name, str(item[1]).upper()))
    return columns


def run_query(refs: Sequence[TableRef], sql: str, call: Call | None = None,
              first: int = PAGE_ROWS) -> QueryResult:
    """Worker body: a workspace over ``refs``, ``sql`` run in it, and its first rows."""
    call = call or Call()
    workspace = Workspace(refs, call)
    try:
        return workspace.run(sql, call, first)
    except BaseException:
        workspace.close()
        raise


def describe_tables(refs: Sequence[TableRef]) -> list[tuple[str, str, list[Column]]]:
    """Worker body for the name list: (SQL name, origin, columns) of each table."""
    workspace = Workspace(refs)
    try:
        out = []
        for table in workspace.tables:
            try:
                rows = workspace.connection.execute(f"DESCRIBE {quote_name(table.name)}").fetchall()
                columns = [Column(str(r[0]), str(r[1])) for r in rows]
            except Exception:
                continue
            out.append((table.name, table.ref.origin, columns))
        return out
    finally:
        workspace.close()

