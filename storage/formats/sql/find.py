"""Find the next cell of a grid's query holding a text, in SQL over the whole table (no Qt).

The grid shows a query (:func:`storage.formats.sql.pager.query_for`) in pages; only some rows are
loaded, so Find asks the database. With a row key the search is three short statements: the flags of
the current row (a later cell of the same row), else the first matching row after it in the
grid's order (``WHERE (order key) > (current key) AND (a LIKE … OR b LIKE …) ORDER BY … LIMIT
1``), and the count of rows before that one, which is its row in the grid. A table without a row
key (a view) is read row by row as 0/1 flags. Runs in a worker: ``cancel`` stops an SQLite
statement through its progress handler.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.formats.sql.query import Query
    from storage.formats.sql.sqlite_query import SqliteQuery

_CHECK_EVERY = 20_000  # SQLite virtual machine steps between two looks at ``cancel``


@dataclass(frozen=True)
class FindStart:
    """Where a search starts: the current cell and its row's order key (None: not loaded)."""

    row: int
    column: int
    key: tuple | None


@dataclass(frozen=True)
class FoundCell:
    row: int
    column: int


def _pick(flags: Sequence[Any], backward: bool, after: int | None = None) -> int | None:
    """The first matching column (the last going back), or the nearest past ``after``."""
    columns = [i for i, flag in enumerate(flags) if flag]
    if after is not None:
        columns = [c for c in columns if (c < after if backward else c > after)]
    if not columns:
        return None
    return columns[-1] if backward else columns[0]


def find_cell(conn: Any, query: SqliteQuery | Query, text: str, start: FindStart | None,
              backward: bool = False,
              cancel: Callable[[], bool] | None = None) -> FoundCell | None:
    """The next cell (``backward``: the previous one) after ``start`` holding ``text``, or None
    when there is no more. Without ``start`` the search begins at the first (last) row."""
    if not text:
        return None
    watch = isinstance(conn, sqlite3.Connection) and cancel is not None
    if watch:
        stop = cancel
        conn.set_progress_handler(lambda: 1 if stop is not None and stop() else 0, _CHECK_EVERY)
    try:
        if query.spec.keys:
            return _find_keyed(conn, query, text, start, backward)
        return _find_scanning(conn, query, text, start, backward, cancel)
    finally:
        if watch:
            conn.set_progress_handler(None, 0)


def _find_keyed(conn: Any, query: SqliteQuery | Query, text: str, start: FindStart | None,
                backward: bool) -> FoundCell | None:
    anchor = start.key if start is not None else None
    if start is not None and anchor is not None:
        sql, params = query.row_find_statement(text, anchor)
        row = conn.execute(sql, params).fetchone()
        column = _pick(row, backward, start.column) if row is not None else None
        if column is not None:
            return FoundCell(start.row, column)
    elif start is not None:  # the current row is not loaded: search from where the grid is
        return _find_scanning(conn, query, text, start, backward, None)
    sql, params = query.find_statement(text, anchor, backward)
    row = conn.execute(sql, params).fetchone()
    if row is None:
        return None
    width = len(query.order)
    key, flags = tuple(row[:width]), row[width:]
    sql, params = query.rows_before_statement(key)
    before = int(conn.execute(sql, params).fetchone()[0])
    return FoundCell(before, _pick(flags, backward) or 0)


def _find_scanning(conn: Any, query: SqliteQuery | Query, text: str, start: FindStart | None, backward: bool,
                   cancel: Callable[[], bool] | None) -> FoundCell | None:
    sql, params = query.scan_find_statement(text)
    cursor = conn.execute(sql, params)
    last: FoundCell | None = None
    for number, flags in enumerate(cursor):
        if cancel is not None and number % 1000 == 0 and cancel():
            return None
        if start is not None and number == start.row:
            column = _pick(flags, backward, start.column)
            if backward:
                return FoundCell(number, column) if column is not None else last
            if column is not None:
                return FoundCell(number, column)
            continue
        if start is not None and number < start.row and not backward:
            continue
        column = _pick(flags, backward)
        if column is None:
            continue
        if not backward:
            return FoundCell(number, column)
        last = FoundCell(number, column)
    return last if backward else None
