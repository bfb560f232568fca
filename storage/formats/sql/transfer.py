"""Export a table, a filtered view or a query result to CSV or JSON; import CSV into a table.

Both run in a worker: rows stream through in batches, ``progress`` is called with a fraction
and ``cancel`` is checked between batches. Exports are written through the atomic writer, so a
cancelled or failed export leaves no half-written file. Imports run in one transaction, so a
cancelled or failed import leaves the database as it was.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import itertools
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from storage.core import convert as converting
from storage.core.atomic import atomic_writer
from storage.core.errors import ParseError
from storage.formats.sql.csv_import import CsvOptions, preview_csv, stream_rows
from storage.formats.sql.db import Database, as_database
from storage.formats.sql.sqlite_db import explain

BATCH = 5000


class Cancelled(converting.Cancelled):
    """The user stopped the transfer; nothing was written."""


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$base64": base64.b64encode(value).decode("ascii")}
    return value


def export_rows(conn: sqlite3.Connection, sql: str, params: dict | Sequence, columns: Sequence[str],
                path: str, fmt: str, total: int | None = None,
                cancel: Callable[[], bool] = lambda: False,
                progress: Callable[[float], None] = lambda _f: None, *,
                target: converting.Target | None = None, types: Sequence[str] | None = None) -> int:
    """Write the rows of ``sql`` to ``path`` as ``fmt`` ("csv" or "json"), or to ``target`` (any
    format of :func:`storage.core.convert.convert`); return the row count."""
    with contextlib.ExitStack() as stack:
        return _export(stack, conn, sql, params, columns, path, fmt, total, cancel, progress, target, types)


def _open_cursor(stack: contextlib.ExitStack, conn: Any, sql: str, params: dict | Sequence) -> Any:
    """A cursor over the rows: on psycopg a server-side one, so a big table streams in batches."""
    if isinstance(conn, sqlite3.Connection) or not hasattr(conn, "transaction"):
        return conn.execute(sql, params)
    stack.enter_context(conn.transaction())
    cursor = stack.enter_context(conn.cursor(name="datashelf_export"))
    cursor.execute(sql, params or None)
    return cursor


def _export(stack: contextlib.ExitStack, conn: Any, sql: str, params: dict | Sequence,
            columns: Sequence[str], path: str, fmt: str, total: int | None,
            cancel: Callable[[], bool], progress: Callable[[float], None],
            target: converting.Target | None = None, types: Sequence[str] | None = None) -> int:
    try:
        cursor = _open_cursor(stack, conn, sql, params)
    except sqlite3.Error as exc:
        raise explain(exc) from None

    def batches() -> Iterator[Sequence[Sequence[Any]]]:
        while True:
            try:
                rows = cursor.fetchmany(BATCH)
            except sqlite3.Error as exc:
                raise explain(exc) from None
            if not rows:
                return
            yield rows

    return write_rows(batches(), columns, path, fmt, total, cancel, progress, target=target, types=types)


def convert_rows(batches: Iterable[Sequence[Sequence[Any]]], columns: Sequence[str],
                 target: converting.Target, total: int | None = None,
                 cancel: Callable[[], bool] = lambda: False,
                 progress: Callable[[float], None] = lambda _f: None,
                 types: Sequence[str] | None = None) -> int:
    """Batches of rows to CSV, Parquet, JSON Lines or an SQLite table (:func:`converting.convert`).

    The column kinds come from the first batch's values and the declared ``types`` (an SQLite
    ``DATE`` column of ISO text becomes a Parquet date)."""
    stream = iter(batches)
    first = list(next(stream, []))
    fields = converting.infer_fields(list(columns), first, types)
    source = converting.Rows(fields, itertools.chain([first], stream), total)
    try:
        return converting.convert(source, target, cancel, progress)
    except converting.Cancelled:
        raise Cancelled("Export cancelled; no file was written.") from None


def write_rows(batches: Iterable[Sequence[Sequence[Any]]], columns: Sequence[str], path: str, fmt: str,
               total: int | None = None, cancel: Callable[[], bool] = lambda: False,
               progress: Callable[[float], None] = lambda _f: None, *,
               target: converting.Target | None = None, types: Sequence[str] | None = None) -> int:
    """Write batches of rows to ``path`` as ``fmt`` ("csv" or "json") through the atomic writer;
    ``cancel`` is checked between batches (nothing is written then). Returns the row count.
    With ``target``, the rows go there instead (:func:`convert_rows`)."""
    if target is not None:
        return convert_rows(batches, columns, target, total, cancel, progress, types)
    written = 0
    with atomic_writer(path, "w", encoding="utf-8", newline="") as handle:
        if fmt == "csv":
            writer = csv.writer(handle)
            writer.writerow(columns)
        else:
            handle.write("[")
        for rows in itertools.chain([()], batches):
            if cancel():
                raise Cancelled("Export cancelled; no file was written.")
            for row in rows:
                if fmt == "csv":
                    writer.writerow(["" if v is None else v.hex() if isinstance(v, bytes) else v
                                     for v in row])
                else:
                    record = {name: _json_value(v) for name, v in zip(columns, row, strict=False)}
                    handle.write(("\n" if written == 0 else ",\n")
                                 + json.dumps(record, ensure_ascii=False, default=str))
                written += 1
            if total:
                progress(min(1.0, written / total))
        if fmt != "csv":
            handle.write("\n]\n")
    return written


def _typed(value: str, kind: str) -> Any:
    if value == "":
        return None
    try:
        return int(value) if kind == "INTEGER" else float(value) if kind == "REAL" else value
    except ValueError:
        return value


_SERVER_TYPES = {"INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION", "BLOB": "BYTEA"}


def _executemany(conn: Any, sql: str, rows: Any) -> None:
    if hasattr(conn, "executemany"):
        conn.executemany(sql, rows)
    else:  # psycopg: executemany is the cursor's
        with conn.cursor() as cursor:
            cursor.executemany(sql, list(rows))


def import_csv(target: Database | str, csv_path: str, table_name: str, create: bool,
               cancel: Callable[[], bool] = lambda: False,
               progress: Callable[[float], None] = lambda _f: None,
               options: CsvOptions | None = None, columns: Sequence[str] | None = None,
               types: Sequence[str] | None = None, *, schema: str | None = None) -> int:
    """Insert the CSV's rows into ``table_name`` in one transaction; return the row count.

    ``options`` say how to read the file (detected when None); ``columns`` are the table's
    columns the CSV's columns go to, in order (default: the CSV's header names); ``types`` are
    the new table's column types when ``create`` (default: guessed from the first rows).
    """
    from sqlalchemy import bindparam, column, insert, table  # on first use: keeps the launch quick
    from sqlalchemy.types import NullType

    from storage.formats.sql.query import compiled, quote, quote_table

    db = as_database(target)
    preview = preview_csv(csv_path, options or CsvOptions(), limit=0)
    names = list(columns or preview.header)
    kinds = list(types or preview.types) + ["TEXT"] * max(0, len(names) - len(preview.types))
    width = len(names)
    tbl = table(table_name, *(column(n) for n in names), schema=schema)
    stmt = insert(tbl).values({n: bindparam(f"v{i}", type_=NullType()) for i, n in enumerate(names)})
    sql, _params = compiled(stmt, db.dialect)
    rows, position, size, close_file = stream_rows(csv_path, preview.options)

    def work(conn: Any) -> int:
        count = 0
        if create:
            server = {} if db.is_sqlite else _SERVER_TYPES
            defs = ", ".join(f"{quote(n, db.dialect)} {server.get(t.upper(), t)}"
                             for n, t in zip(names, kinds, strict=False))
            conn.execute(f"CREATE TABLE {quote_table(table_name, schema, db.dialect)} ({defs})")
        while True:
            if cancel():
                raise Cancelled("Import cancelled; the database is unchanged.")
            batch = list(itertools.islice(rows, BATCH))
            if not batch:
                break
            for row in batch:
                count += 1
                if len(row) > width and any(v.strip() for v in row[width:]):
                    raise ParseError(f"Row {count:,} of {csv_path} has {len(row)} fields but "
                                     f"{width} columns are imported; nothing was imported.")
            _executemany(conn, sql, ({f"v{i}": _typed(row[i] if i < len(row) else "", kinds[i])
                                      for i in range(width)} for row in batch))
            progress(min(1.0, position() / max(1, size)))
        return count

    try:
        return db.write(work, table_name)
    finally:
        close_file()
