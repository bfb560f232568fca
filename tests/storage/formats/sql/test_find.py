"""storage.formats.sql.find: stepping from cell to cell in SQL gives the same cells, in the same
order, as reading the whole query row by row, with NULLs in the sort key, descending sorts,
filters, tables without a row key, and backwards."""

from __future__ import annotations

import itertools
import sqlite3

import pytest

from storage.formats.sql.filters import Filter
from storage.formats.sql.find import FindStart, find_cell
from storage.formats.sql.query import Query, QuerySpec, SortKey

COLUMNS = ("id", "name", "city", "n")


@pytest.fixture
def conn():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, city TEXT, n INTEGER)")
    cities = ["Paris", None, "Oslo", "paris", "Lima", None]
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?)",
                     [(i, f"name {i}" if i % 4 else "Paris Hilton", cities[i % 6], i % 3 or None)
                      for i in range(1, 61)])
    yield conn
    conn.close()


def _expected(conn, spec: QuerySpec, query: Query, text: str) -> list[tuple[int, int]]:
    sql, params = query.rows_statement()
    rows = conn.execute(sql, params).fetchall()
    return [(r, c) for r, row in enumerate(rows) for c, v in enumerate(row)
            if v is not None and text in str(v).lower()]


def _walk(conn, query: Query, text: str, backward: bool) -> list[tuple[int, int]]:
    spec = query.spec
    order_only = Query(QuerySpec(spec.table, tuple(n for n, _d in query.order), spec.keys, spec.sort,
                                 spec.filters))  # the same rows, showing just their order key
    keys = [tuple(row) for row in conn.execute(*order_only.rows_statement()).fetchall()] if spec.keys else []
    cells: list[tuple[int, int]] = []
    start = None
    while True:
        found = find_cell(conn, query, text, start, backward)
        if found is None:
            return cells
        cells.append((found.row, found.column))
        assert len(cells) < 500
        key = keys[found.row] if query.spec.keys else None
        start = FindStart(found.row, found.column, key)


@pytest.mark.parametrize("sort", [(), (SortKey("city"),), (SortKey("city", True), SortKey("n"))])
@pytest.mark.parametrize("keys", [("id",), ()])
def test_steps_match_a_full_read(conn, sort, keys) -> None:
    spec = QuerySpec("t", COLUMNS, keys, sort, (Filter("id", ">", "3"),))
    query = Query(spec)
    expected = _expected(conn, spec, query, "paris")
    assert len(expected) > 20 and any(a[0] == b[0] for a, b in itertools.pairwise(expected))
    assert _walk(conn, query, "paris", backward=False) == expected
    assert _walk(conn, query, "paris", backward=True) == expected[::-1]


def test_no_match_and_cancel(conn, monkeypatch) -> None:
    from storage.formats.sql import find

    monkeypatch.setattr(find, "_CHECK_EVERY", 10)  # the table is small: look at cancel often
    query = Query(QuerySpec("t", COLUMNS, ("id",)))
    assert find_cell(conn, query, "berlin", None) is None
    assert find_cell(conn, query, "", None) is None
    with pytest.raises(sqlite3.OperationalError, match="interrupt"):
        find_cell(conn, query, "lima", None, cancel=lambda: True)
    assert find_cell(conn, query, "lima", None) is not None  # the connection still works
