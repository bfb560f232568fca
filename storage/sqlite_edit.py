"""Edits to an SQLite table, each in its own short transaction (no lock held between edits).

Rows are identified by their key (rowid, or the primary key of a WITHOUT ROWID table). Every
function opens a writable connection, runs ``BEGIN IMMEDIATE`` … ``COMMIT`` and closes it, so
between two edits the file is neither locked nor held open for writing. Failures become
:class:`~storage.errors.KnownError` with a message for the user; nothing is retried silently.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, column, delete, insert, select, table, update

from .errors import KnownError
from .sql_query import compiled, quote
from .sqlite_db import connect_writer, explain


def _transaction(path: str, work: Callable[[sqlite3.Connection], Any], table_name: str,
                 foreign_keys: bool = False) -> Any:
    conn = connect_writer(path)
    try:
        if foreign_keys:  # only outside a transaction does this pragma take effect
            conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("BEGIN IMMEDIATE")
        result = work(conn)
        conn.execute("COMMIT")
        return result
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise explain(exc, path, table_name) from None
    finally:
        conn.close()


def _where(tbl: Any, key: dict[str, Any]) -> Any:
    # Explicit parameter names: a column's own name (quotes, spaces) would break the SQL.
    return and_(*(tbl.c[name] == bindparam(f"k{i}", value) for i, (name, value) in enumerate(key.items())))


def update_cell(path: str, table_name: str, key: dict[str, Any], column_name: str, value: Any) -> None:
    """Set one value; fails when no row has ``key`` any more (deleted by someone else).

    Foreign keys are enforced for this write (SQLite leaves them off by default), so a value
    that names no parent row is refused. Deletes and inserts keep them off: an ON DELETE
    CASCADE would remove rows that undo could not bring back.
    """
    tbl = table(table_name, *(column(n) for n in {*key, column_name}))
    stmt = update(tbl).where(_where(tbl, key)).values({column_name: bindparam("new_value", value)})
    sql, params = compiled(stmt)

    def work(conn: sqlite3.Connection) -> None:
        if conn.execute(sql, params).rowcount != 1:
            raise KnownError(f"The row of {table_name!r} being edited no longer exists; "
                             "the edit was not written.")

    _transaction(path, work, table_name, foreign_keys=True)


def read_row(path: str, table_name: str, key: dict[str, Any], columns: Sequence[str],
             conn: sqlite3.Connection | None = None) -> tuple | None:
    """Whole values of one row (for the record view, copies and undoing a delete)."""
    tbl = table(table_name, *(column(n) for n in {*key, *columns}))
    stmt = select(*(tbl.c[n] for n in columns)).where(_where(tbl, key))
    sql, params = compiled(stmt)
    own = conn is None
    if conn is None:
        conn = connect_writer(path)
    try:
        return conn.execute(sql, params).fetchone()
    except sqlite3.Error as exc:
        raise explain(exc, path, table_name) from None
    finally:
        if own:
            conn.close()


def insert_row(path: str, table_name: str, values: dict[str, Any], key_columns: Sequence[str]) -> dict:
    """Insert a row (``values`` may be empty: defaults) and return its key."""
    tbl = table(table_name, *(column(n) for n in {*values, *key_columns}))
    if values:
        stmt = insert(tbl).values({n: bindparam(f"v{i}", v) for i, (n, v) in enumerate(values.items())})
        sql, params = compiled(stmt)
    else:
        sql, params = f"INSERT INTO {quote(table_name)} DEFAULT VALUES", {}

    def work(conn: sqlite3.Connection) -> dict:
        cursor = conn.execute(sql, params)
        if list(key_columns) in (["rowid"], ["_rowid_"], ["oid"]):
            return {key_columns[0]: cursor.lastrowid}
        return {k: values.get(k) for k in key_columns}

    return _transaction(path, work, table_name)


def delete_row(path: str, table_name: str, key: dict[str, Any]) -> None:
    tbl = table(table_name, *(column(n) for n in key))
    stmt = delete(tbl).where(_where(tbl, key))
    sql, params = compiled(stmt)
    _transaction(path, lambda conn: conn.execute(sql, params), table_name)
