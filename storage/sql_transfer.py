"""Export a table, a filtered view or a query result to CSV or JSON; import CSV into a table.

Both run in a worker: rows stream through in batches, ``progress`` is called with a fraction
and ``cancel`` is checked between batches. Exports are written through the atomic writer, so a
cancelled or failed export leaves no half-written file. Imports run in one transaction, so a
cancelled or failed import leaves the database as it was.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import bindparam, column, insert, table

from .atomic import atomic_writer
from .errors import KnownError, ParseError
from .sql_query import compiled, quote
from .sqlite_db import connect_writer, explain

BATCH = 5000


class Cancelled(KnownError):
    """The user stopped the transfer; nothing was written."""


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$base64": base64.b64encode(value).decode("ascii")}
    return value


def export_rows(conn: sqlite3.Connection, sql: str, params: dict | Sequence, columns: Sequence[str],
                path: str, fmt: str, total: int | None = None,
                cancel: Callable[[], bool] = lambda: False,
                progress: Callable[[float], None] = lambda _f: None) -> int:
    """Write the rows of ``sql`` to ``path`` as ``fmt`` ("csv" or "json"); return the row count."""
    written = 0
    try:
        cursor = conn.execute(sql, params)
    except sqlite3.Error as exc:
        raise explain(exc) from None
    with atomic_writer(path, "w", encoding="utf-8", newline="") as handle:
        if fmt == "csv":
            writer = csv.writer(handle)
            writer.writerow(columns)
        else:
            handle.write("[")
        while True:
            if cancel():
                raise Cancelled("Export cancelled; no file was written.")
            try:
                rows = cursor.fetchmany(BATCH)
            except sqlite3.Error as exc:
                raise explain(exc) from None
            if not rows:
                break
            for row in rows:
                if fmt == "csv":
                    writer.writerow(["" if v is None else v.hex() if isinstance(v, bytes) else v
                                     for v in row])
                else:
                    record = {name: _json_value(v) for name, v in zip(columns, row, strict=False)}
                    handle.write(("\n" if written == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
                written += 1
            if total:
                progress(min(1.0, written / total))
        if fmt != "csv":
            handle.write("\n]\n")
    return written


def _guess(values: list[str]) -> str:
    filled = [v for v in values if v != ""]
    if filled and all(re.fullmatch(r"[+-]?\d+", v) for v in filled):
        return "INTEGER"
    if filled and all(re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", v) for v in filled):
        return "REAL"
    return "TEXT"


def sniff_csv(text: str) -> tuple[csv.Dialect | type[csv.Dialect], bool]:
    sample = text[:64 * 1024]
    try:
        dialect: csv.Dialect | type[csv.Dialect] = csv.Sniffer().sniff(sample)
    except csv.Error:
        dialect = csv.excel
    try:
        header = csv.Sniffer().has_header(sample)
    except csv.Error:
        header = True
    return dialect, header


def read_csv(path: str) -> tuple[list[str], Iterator[list[str]], list[str]]:
    """Header (detected, or c1..cn), the rows, and a guessed type per column."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except UnicodeDecodeError as exc:
        raise ParseError(f"{path} is not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise KnownError(f"Cannot read {path}: {exc.strerror or exc}") from None
    dialect, has_header = sniff_csv(text)
    rows = list(csv.reader(io.StringIO(text, newline=""), dialect))
    if not rows:
        raise ParseError(f"{path} holds no rows")
    width = max(len(r) for r in rows)
    if has_header:
        header = [h.strip() or f"c{i + 1}" for i, h in enumerate(rows[0])]
        header += [f"c{i + 1}" for i in range(len(header), width)]
        rows = rows[1:]
    else:
        header = [f"c{i + 1}" for i in range(width)]
    seen: dict[str, int] = {}
    for i, name in enumerate(header):  # duplicate names get a suffix
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            header[i] = f"{name}_{seen[name]}"
    types = [_guess([r[i] if i < len(r) else "" for r in rows[:1000]]) for i in range(width)]
    return header, iter(rows), types


def _typed(value: str, kind: str) -> Any:
    if value == "":
        return None
    try:
        return int(value) if kind == "INTEGER" else float(value) if kind == "REAL" else value
    except ValueError:
        return value


def import_csv(db_path: str, csv_path: str, table_name: str, create: bool,
               cancel: Callable[[], bool] = lambda: False,
               progress: Callable[[float], None] = lambda _f: None) -> int:
    """Insert the CSV's rows into ``table_name`` (created with guessed types when ``create``)."""
    header, rows, types = read_csv(csv_path)
    data = list(rows)
    tbl = table(table_name, *(column(n) for n in header))
    stmt = insert(tbl).values({n: bindparam(f"v{i}") for i, n in enumerate(header)})
    sql, _params = compiled(stmt)
    conn = connect_writer(db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        if create:
            columns = ", ".join(f"{quote(n)} {t}" for n, t in zip(header, types, strict=True))
            conn.execute(f"CREATE TABLE {quote(table_name)} ({columns})")
        for start in range(0, len(data), BATCH):
            if cancel():
                raise Cancelled("Import cancelled; the database is unchanged.")
            batch = data[start:start + BATCH]
            conn.executemany(sql, ({f"v{i}": _typed(row[i] if i < len(row) else "", types[i])
                                    for i in range(len(header))} for row in batch))
            progress(min(1.0, (start + len(batch)) / max(1, len(data))))
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise explain(exc, db_path, table_name) from None
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return len(data)
