"""Edits to a table, each in its own short transaction (no lock held between edits).

Rows are identified by their key (rowid, the primary key of a WITHOUT ROWID table, or a server
table's primary or unique NOT NULL key). Every function runs one transaction through
:meth:`storage.formats.sql.db.Database.write`: on SQLite a fresh writable connection with ``BEGIN
IMMEDIATE`` … ``COMMIT``, so between two edits the file is neither locked nor held open for
writing. Failures become :class:`~storage.core.errors.KnownError` with a message for the user; nothing
is retried silently. ``target`` is a :class:`~storage.formats.sql.db.Database` or an SQLite file's path.

Edits, deletes and the undo of a delete are optimistic: each writes only where the row still
holds what the user saw (``IS NOT DISTINCT FROM`` the value read, the dialect's own null-safe
comparison; rows read ``FOR UPDATE`` on a server) and raises :class:`Conflict` with what the
database holds now otherwise, so nobody's change is overwritten unasked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage.core.errors import KnownError
from storage.formats.sql.db import Database, SqliteDatabase, as_database, is_driver_error
from storage.formats.sql.spec import PREVIEW_CHARS
from storage.formats.sql.sqlite_db import connect_writer
from storage.formats.sql.values import plain_row, plain_rows

if TYPE_CHECKING:
    from sqlalchemy import Insert, Update

# The statements are built with SQLAlchemy, imported by the functions that write or read a row:
# opening a file and showing its first page never needs it (issue 16).

_ROWIDS = (["rowid"], ["_rowid_"], ["oid"])


def _bind(db: Database, name: str, value: Any) -> Any:
    from sqlalchemy import bindparam
    from sqlalchemy.types import NullType

    # Untyped on a server: the value is read as the column's type (a date typed as text works).
    return bindparam(name, value) if db.is_sqlite else bindparam(name, value, type_=NullType())


def _table(name: str, columns: Any, schema: str | None) -> Any:
    from sqlalchemy import column, table

    return table(name, *(column(n) for n in dict.fromkeys(columns)), schema=schema)


def _where(db: Database, tbl: Any, key: dict[str, Any]) -> Any:
    from sqlalchemy import and_

    # Explicit parameter names: a column's own name (quotes, spaces) would break the SQL.
    return and_(*(tbl.c[name] == _bind(db, f"k{i}", value) for i, (name, value) in enumerate(key.items())))


class RowMissing(KnownError):
    """The row being written has no row with its key any more (deleted by someone else)."""


class Conflict(KnownError):
    """Rows no longer hold what we last read: someone else changed them since.

    ``items`` are (position, what the database holds now): for a cell, one item (0, value); for
    rows, each changed row's position in the request and its values now (a tuple of the
    requested columns). Nothing was written.
    """

    def __init__(self, message: str, items: list[tuple[int, Any]]) -> None:
        super().__init__(message)
        self.items = items

    @property
    def current(self) -> Any:
        return self.items[0][1] if self.items else None


ANY = object()  # update_cell's ``expected`` default: write whatever the row holds (no check)
UNKNOWN = object()  # a value of ``seen`` that was not read whole (cut for the grid): not compared

# PostgreSQL types without an equality operator: IS NOT DISTINCT FROM fails on them, so their
# values are compared in Python after a locking read.
_NO_EQUALITY = re.compile(r"^(json|xml|point|line|lseg|box|path|polygon|circle|txid_snapshot|"
                          r"pg_snapshot|tsvector|tsquery)\b", re.IGNORECASE)


def comparable(decl_type: str) -> bool:
    """Whether the database can compare a column of this declared type with ``=``."""
    return not _NO_EQUALITY.match((decl_type or "").strip())


def _plain(db: Database, row: tuple | None, types: Sequence[str] = ()) -> tuple | None:
    """A row read back as the grid reads it (a server's arrays as array literals, dates as text)."""
    return row if row is None or db.is_sqlite else plain_rows([row], len(row), tuple(types))[0]


def _same(ours: Any, theirs: Any) -> bool:
    """Whether two values read the same way are equal (1 and 1.0 are, as in SQL)."""
    if ours is UNKNOWN:
        return True
    if isinstance(ours, bytes | str) or isinstance(theirs, bytes | str):
        return type(ours) is type(theirs) and ours == theirs
    return ours == theirs


def _same_seen(ours: Any, theirs: Any) -> bool:
    """Whether a value the grid showed is still the stored one: a grid value cut to the preview
    length (when the grid did not say it was cut) matches a stored value that starts with it."""
    if isinstance(ours, str | bytes) and len(ours) == PREVIEW_CHARS and type(theirs) is type(ours):
        return theirs[:PREVIEW_CHARS] == ours
    return _same(ours, theirs)


def _locked_read(db: Database, tbl: Any, key: dict[str, Any], columns: Sequence[str]) -> tuple[str, dict]:
    """SELECT of ``columns`` of the row of ``key``, locking it until the transaction ends (FOR
    UPDATE on a server; SQLite's BEGIN IMMEDIATE holds the whole file already)."""
    from sqlalchemy import select

    from storage.formats.sql.query import compiled

    stmt = select(*(tbl.c[n] for n in columns)).where(_where(db, tbl, key))
    if not db.is_sqlite:
        stmt = stmt.with_for_update()
    return compiled(stmt, db.dialect)


def update_cell(target: Database | str, table_name: str, key: dict[str, Any], column_name: str, value: Any,
                *, schema: str | None = None, expected: Any = ANY, check_in_sql: bool = True,
                decl_type: str = "") -> None:
    """Set one value; fails when no row has ``key`` any more (deleted by someone else).

    With ``expected`` the write is conditional on the cell still holding that value (the one
    we last read): ``UPDATE … WHERE key AND col IS NOT DISTINCT FROM :expected`` (SQLite
    ``IS``, MySQL ``<=>``). When no row matches, the row is read again (locked) to tell a row
    that is gone (:class:`RowMissing`) from one whose value someone else changed
    (:class:`Conflict`, with the value now stored), or from a value that only reads back in
    another form (a time zone written differently), which is then written. A cell that holds
    ``value`` already is left as it is. ``check_in_sql`` off (a type without equality, such as
    PostgreSQL's json) compares in Python only.

    Foreign keys are enforced for this write (SQLite leaves them off by default), so a value
    that names no parent row is refused. Deletes and inserts keep them off on SQLite: an ON
    DELETE CASCADE would remove rows that undo could not bring back.
    """
    db = as_database(target)
    work = _cell_work(db, table_name, CellWrite(key, column_name, value, expected, check_in_sql, decl_type),
                      schema)
    db.write(work, table_name, foreign_keys=True)


@dataclass(frozen=True)
class CellWrite:
    """One cell of :func:`update_cells`: the arguments of :func:`update_cell` for it."""

    key: dict[str, Any]
    column: str
    value: Any
    expected: Any = ANY
    check_in_sql: bool = True
    decl_type: str = ""


def update_cells(target: Database | str, table_name: str, cells: Sequence[CellWrite], *,
                 schema: str | None = None) -> None:
    """Set many cells (a paste) in ONE transaction, each as :func:`update_cell` would: all are
    written or none. A cell someone else changed raises :class:`Conflict` whose item is the
    cell's position in ``cells`` and the value stored now."""
    db = as_database(target)
    works = [_cell_work(db, table_name, cell, schema) for cell in cells]

    def work(conn: Any) -> None:
        for position, write in enumerate(works):
            try:
                write(conn)
            except Conflict as exc:
                raise Conflict(str(exc), [(position, exc.current)]) from None

    db.write(work, table_name, foreign_keys=True)


def _cell_work(db: Database, table_name: str, cell: CellWrite, schema: str | None) -> Any:
    """The statements of one cell's conditional write, as ``work(conn)`` for ``db.write``."""
    from sqlalchemy import update

    from storage.formats.sql.query import compiled

    key, column_name, value, expected = cell.key, cell.column, cell.value, cell.expected
    tbl = _table(table_name, [*key, column_name], schema)
    plain = update(tbl).where(_where(db, tbl, key)).values({column_name: _bind(db, "new_value", value)})
    sql, params = compiled(plain, db.dialect)
    checked = None
    if expected is not ANY and cell.check_in_sql:
        cond = plain.where(tbl.c[column_name].is_not_distinct_from(_bind(db, "old_value", expected)))
        checked = compiled(cond, db.dialect)
    read_sql, read_params = _locked_read(db, tbl, key, [column_name])

    def work(conn: Any) -> None:
        if checked is not None and conn.execute(*checked).rowcount == 1:
            return
        if expected is not ANY:
            found = _plain(db, _fetch_one(conn, read_sql, read_params), (cell.decl_type,))
            if found is None:
                raise _missing(table_name)
            if _same(value, found[0]):
                return  # someone wrote the same value: nothing to do, nothing lost
            if not _same(expected, found[0]):
                raise Conflict(f"Someone else changed {column_name!r} of this row of {table_name!r} "
                               "since it was read; nothing was written.", [(0, found[0])])
        if conn.execute(sql, params).rowcount != 1:
            raise _missing(table_name)

    return work


def _missing(table_name: str) -> RowMissing:
    return RowMissing(f"The row of {table_name!r} being edited no longer exists; the edit was not written.")


def read_row(target: Database | str, table_name: str, key: dict[str, Any], columns: Sequence[str],
             conn: Any = None, *, schema: str | None = None) -> tuple | None:
    """Whole values of one row (for the record view, copies and undoing a delete)."""
    from sqlalchemy import select

    from storage.formats.sql.query import compiled

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
    from sqlalchemy import insert

    from storage.formats.sql.query import compiled, quote, quote_table

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
    from sqlalchemy import delete

    from storage.formats.sql.query import compiled

    db = as_database(target)
    tbl = _table(table_name, key, schema)
    stmt = delete(tbl).where(_where(db, tbl, key))
    sql, params = compiled(stmt, db.dialect)
    db.write(lambda conn: conn.execute(sql, params), table_name)


def delete_rows(target: Database | str, table_name: str, keys: Sequence[dict[str, Any]],
                columns: Sequence[str], seen: Sequence[tuple | None] | None = None, *,
                schema: str | None = None, force: bool = False, skip: frozenset[int] = frozenset(),
                types: Sequence[str] = ()) -> list[tuple | None]:
    """Delete the rows of ``keys`` in one transaction; return their whole values (for undo).

    Each row is read locked first. When ``seen`` gives the values the user saw (a tuple per
    row, :data:`UNKNOWN` for values not read whole, None for a row not compared) and a row no
    longer holds them, nothing is deleted: :class:`Conflict` lists each changed row's position
    and its values now, unless ``force``. Rows at the positions in ``skip`` are left alone; a
    row that is gone already gives None.
    """
    from sqlalchemy import delete

    from storage.formats.sql.query import compiled

    db = as_database(target)
    if not keys:
        return []
    tbl = _table(table_name, [*keys[0], *columns], schema)

    def work(conn: Any) -> list[tuple | None]:
        found: list[tuple | None] = []
        changed: list[tuple[int, Any]] = []
        for i, key in enumerate(keys):
            if i in skip:
                found.append(None)
                continue
            row = _plain(db, _fetch_one(conn, *_locked_read(db, tbl, key, columns)), types)
            found.append(row)
            ours = seen[i] if seen is not None and i < len(seen) else None
            if row is not None and ours is not None and not force \
                    and not all(_same_seen(a, b) for a, b in zip(ours, row, strict=False)):
                changed.append((i, row))
        if changed:
            raise Conflict(f"Someone else changed {len(changed)} of the rows of {table_name!r} to "
                           "delete since they were read; nothing was deleted.", changed)
        for i, key in enumerate(keys):
            if found[i] is not None:
                conn.execute(*compiled(delete(tbl).where(_where(db, tbl, key)), db.dialect))
        return found

    return db.write(work, table_name)


def restore_rows(target: Database | str, table_name: str, rows: Sequence[dict[str, Any]],
                 key_columns: Sequence[str], *, schema: str | None = None,
                 replace: frozenset[int] = frozenset(), skip: frozenset[int] = frozenset(),
                 types: Sequence[str] = ()) -> None:
    """Put deleted rows back under their keys (the undo of a delete), in one transaction.

    A key someone else has used since holds their row: :class:`Conflict` lists those rows'
    positions and values now, and nothing is written, unless the position is in ``replace``
    (their row is overwritten with ours) or ``skip`` (theirs stays). A row that is back already
    with the same values is left as it is.
    """
    from sqlalchemy import insert, update

    from storage.formats.sql.query import compiled

    db = as_database(target)
    if not rows:
        return
    names = list(rows[0])
    tbl = _table(table_name, [*names, *key_columns], schema)

    def work(conn: Any) -> None:
        taken: list[tuple[int, Any]] = []
        plans: list[tuple[str, Any]] = []
        for i, values in enumerate(rows):
            key = {k: values[k] for k in key_columns if k in values}
            if i in skip:
                continue
            found = _fetch_one(conn, *_locked_read(db, tbl, key, list(values))) if key else None
            row = _plain(db, found, types)
            if row is None:
                plans.append(("insert", values))
            elif all(_same(a, b) for a, b in zip(values.values(), row, strict=False)):
                continue
            elif i in replace:
                plans.append(("update", values))
            else:
                taken.append((i, row))
        if taken:
            raise Conflict(f"Someone else has used the keys of {len(taken)} deleted row(s) of "
                           f"{table_name!r} since; nothing was put back.", taken)
        for how, values in plans:
            binds = {n: _bind(db, f"v{i}", v) for i, (n, v) in enumerate(values.items())}
            stmt: Insert | Update
            if how == "insert":
                stmt = insert(tbl).values(binds)
            else:
                key = {k: values[k] for k in key_columns}
                stmt = update(tbl).where(_where(db, tbl, key)).values(binds)
            conn.execute(*compiled(stmt, db.dialect))

    db.write(work, table_name)
