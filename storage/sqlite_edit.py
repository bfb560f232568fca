"""Edits to a table, each in its own short transaction (no lock held between edits).

Rows are identified by their key (rowid, the primary key of a WITHOUT ROWID table, or a server
table's primary or unique NOT NULL key). Every function runs one transaction through
:meth:`storage.sql_db.Database.write`: on SQLite a fresh writable connection with ``BEGIN
IMMEDIATE`` … ``COMMIT``, so between two edits the file is neither locked nor held open for
writing. Failures become :class:`~storage.errors.KnownError` with a message for the user; nothing
is retried silently. ``target`` is a :class:`~storage.sql_db.Database` or an SQLite file's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, column, delete, insert, select, table, update
from sqlalchemy.types import NullType

from .errors import KnownError
from .sql_db import Database, SqliteDatabase, as_database, is_driver_error
from .sql_query import compiled, quote, quote_table
from .sql_values import plain_row
from .sqlite_db import connect_writer

_ROWIDS = (["rowid"], ["_rowid_"], ["oid"])


def _bind(db: Database, name: str, value: Any) -> Any:
    # Untyped on a server: the value is read as the column's type (a date typed as text works).
    return bindparam(name, value) if db.is_sqlite else bindparam(name, value, type_=NullType())


def _table(name: str, columns: Any, schema: str | None) -> Any:
    return table(name, *(column(n) for n in dict.fromkeys(columns)), schema=schema)


def _where(db: Database, tbl: Any, key: dict[str, Any]) -> Any:
    # Explicit parameter names: a column's own name (quotes, spaces) would break the SQL.
    return and_(*(tbl.c[name] == _bind(db, f"k{i}", value) for i, (name, value) in enumerate(key.items())))


def update_cell(target: Database | str, table_name: str, key: dict[str, Any], column_name: str, value: Any,
                *, schema: str | None = None) -> None:
    """Set one value; fails when no row has ``key`` any more (deleted by someone else).

    Foreign keys are enforced for this write (SQLite leaves them off by default), so a value
    that names no parent row is refused. Deletes and inserts keep them off on SQLite: an ON
    DELETE CASCADE would remove rows that undo could not bring back.
    """
    db = as_database(target)
    tbl = _table(table_name, [*key, column_name], schema)
    stmt = update(tbl).where(_where(db, tbl, key)).values({column_name: _bind(db, "new_value", value)})
    sql, params = compiled(stmt, db.dialect)

    def work(conn: Any) -> None:
        if conn.execute(sql, params).rowcount != 1:
            raise KnownError(f"The row of {table_name!r} being edited no longer exists; "
                             "the edit was not written.")

    db.write(work, table_name, foreign_keys=True)


def read_row(target: Database | str, table_name: str, key: dict[str, Any], columns: Sequence[str],
             conn: Any = None, *, schema: str | None = None) -> tuple | None:
    """Whole values of one row (for the record view, copies and undoing a delete)."""
    db = as_database(target)
    tbl = _table(table_name, [*key, *columns], schema)
    stmt = select(*(tbl.c[n] for n in columns)).where(_where(db, tbl, key))
    sql, params = compiled(stmt, db.dialect)
    if conn is None and not isinstance(db, SqliteDatabase):
        found = db.write(lambda c: _fetch_one(c, sql, params), table_name)
        return None if found is None else plain_row(found)
    own = conn is None
    if own:  # a plain read on a writable connection: no transaction, no lock kept
        conn = connect_writer(db.path)  # type: ignore[attr-defined]
    try:
        found = _fetch_one(conn, sql, params)
        return found if found is None or db.is_sqlite else plain_row(found)
    except Exception as exc:
        if not is_driver_error(exc):
            raise
        raise db.explain(exc, table_name) from None
    finally:
        if own:
            conn.close()


def _fetch_one(conn: Any, sql: str, params: dict) -> tuple | None:
    row = conn.execute(sql, params).fetchone()
    return None if row is None else tuple(row)


def insert_row(target: Database | str, table_name: str, values: dict[str, Any], key_columns: Sequence[str],
               *, schema: str | None = None) -> dict:
    """Insert a row (``values`` may be empty: defaults) and return its key."""
    db = as_database(target)
    tbl = _table(table_name, [*values, *key_columns], schema)
    returning = not db.is_sqlite and bool(key_columns)
    if values:
        stmt = insert(tbl).values({n: _bind(db, f"v{i}", v) for i, (n, v) in enumerate(values.items())})
        if returning:
            stmt = stmt.returning(*(tbl.c[k] for k in key_columns))
        sql, params = compiled(stmt, db.dialect)
    else:
        sql, params = f"INSERT INTO {quote_table(table_name, schema, db.dialect)} DEFAULT VALUES", {}
        if returning:
            sql += " RETURNING " + ", ".join(quote(k, db.dialect) for k in key_columns)

    def work(conn: Any) -> dict:
        cursor = conn.execute(sql, params)
        if returning:
            return dict(zip(key_columns, cursor.fetchone(), strict=True))
        if list(key_columns) in _ROWIDS:
            return {key_columns[0]: cursor.lastrowid}
        return {k: values.get(k) for k in key_columns}

    return db.write(work, table_name)


def delete_row(target: Database | str, table_name: str, key: dict[str, Any], *,
               schema: str | None = None) -> None:
    db = as_database(target)
    tbl = _table(table_name, key, schema)
    stmt = delete(tbl).where(_where(db, tbl, key))
    sql, params = compiled(stmt, db.dialect)
    db.write(lambda conn: conn.execute(sql, params), table_name)
