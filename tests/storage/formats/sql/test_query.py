"""Keyset paging, sorting and filtering in SQL (storage only, no Qt)."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from storage.formats.sql.filters import Filter
from storage.formats.sql.pager import Pager
from storage.formats.sql.query import QuerySpec, SortKey


def _sort_value(value):
    # SQLite's order of storage classes: NULL < numbers < text < blob.
    if value is None:
        return (0, 0)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, value)


def make_table(path: Path, rows: int = 1000, seed: int = 7) -> list[tuple]:
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    conn.execute('CREATE TABLE "we ird ""t"" select" (id INTEGER PRIMARY KEY, "a b" INTEGER, '
                 '"sélect" TEXT, c REAL)')
    data = []
    for i in range(1, rows + 1):
        a = rng.choice([None, 1, 2, 3, 3, 3])
        b = rng.choice([None, "x", "y", "z", "ü"])
        c = rng.choice([None, 0.5, 1.5])
        data.append((i, a, b, c))
    conn.executemany('INSERT INTO "we ird ""t"" select" VALUES (?, ?, ?, ?)', data)
    conn.commit()
    conn.close()
    return data


def all_pages(conn, pager: Pager, order: list[int]) -> list[tuple]:
    pager.total = pager.count(conn)
    pages = (pager.total + pager.page_size - 1) // pager.page_size
    got: dict[int, list] = {}
    for number in order:
        if number < pages:
            got[number] = pager.fetch(conn, number).values
    return [row for number in sorted(got) for row in got[number]]


@pytest.mark.parametrize("sort", [
    (),
    (SortKey("a b"),),
    (SortKey("a b", True),),
    (SortKey("sélect"), SortKey("a b", True)),
    (SortKey("c", True), SortKey("sélect")),
])
@pytest.mark.parametrize("walk", ["forward", "backward", "scattered"])
def test_keyset_pages_match_a_full_sort(tmp_path: Path, sort, walk) -> None:
    data = make_table(tmp_path / "t.db")
    conn = sqlite3.connect(tmp_path / "t.db")
    spec = QuerySpec('we ird "t" select', ("id", "a b", "sélect", "c"), ("rowid",), tuple(sort))
    pager = Pager(spec, page_size=37)
    pages = (len(data) + 36) // 37
    order = {"forward": list(range(pages)), "backward": list(range(pages - 1, -1, -1)),
             "scattered": [pages - 1, 5, 6, 4, pages - 2, 0, *range(pages)]}[walk]
    got = all_pages(conn, pager, order)
    expected = list(data)
    expected.sort(key=lambda r: r[0])  # the rowid tie-breaker
    index = {"id": 0, "a b": 1, "sélect": 2, "c": 3}
    for key in reversed(sort):
        expected.sort(key=lambda r, k=key: _sort_value(r[index[k.column]]), reverse=key.descending)
    # Python's reverse sort keeps equal rows in order; SQLite's DESC keeps the rowid ascending too.
    assert got == expected
    conn.close()


def test_last_page_comes_from_the_reversed_order(tmp_path: Path) -> None:
    data = make_table(tmp_path / "t.db", rows=1000)
    conn = sqlite3.connect(tmp_path / "t.db")
    pager = Pager(QuerySpec('we ird "t" select', ("id",), ("rowid",)), page_size=100)
    pager.total = 1000
    assert pager.plan(9) == (None, True, 100, 0)  # no OFFSET: the end read backwards
    assert [r[0] for r in pager.fetch(conn, 9).values] == [r[0] for r in data[900:]]
    assert pager.plan(8)[:2] == (pager.before[8], True)  # the page before, from its anchor
    assert [r[0] for r in pager.fetch(conn, 8).values] == list(range(801, 901))
    conn.close()


def test_hostile_filters_are_bound_not_spliced(tmp_path: Path) -> None:
    make_table(tmp_path / "t.db", rows=50)
    conn = sqlite3.connect(tmp_path / "t.db")
    columns = ("id", "a b", "sélect", "c")
    hostile = ["'; DROP TABLE x; --", '" OR 1=1 --', "%", "_", "\\", "ü", "' OR '1'='1"]
    for text in hostile:
        for op in ("contains", "=", "<", ">", "between"):
            spec = QuerySpec('we ird "t" select', columns, ("rowid",),
                             filters=(Filter("sélect", op, text, text),), search=text)
            pager = Pager(spec)
            assert pager.count(conn) >= 0
            pager.fetch(conn, 0)
    spec = QuerySpec('we ird "t" select', columns, ("rowid",), filters=(Filter("sélect", "contains", "%"),))
    assert Pager(spec).count(conn) == 0  # % is literal, not a wildcard
    conn.execute("SELECT count(*) FROM \"we ird \"\"t\"\" select\"").fetchone()  # still there
    conn.close()


def test_filters_select_the_right_rows(tmp_path: Path) -> None:
    data = make_table(tmp_path / "t.db", rows=300)
    conn = sqlite3.connect(tmp_path / "t.db")
    columns = ("id", "a b", "sélect", "c")

    def ids(*filters, search=""):
        pager = Pager(QuerySpec('we ird "t" select', columns, ("rowid",), filters=filters, search=search),
                      page_size=1000)
        return [r[0] for r in pager.fetch(conn, 0).values]

    assert ids(Filter("a b", "is null")) == [r[0] for r in data if r[1] is None]
    assert ids(Filter("a b", "not null")) == [r[0] for r in data if r[1] is not None]
    assert ids(Filter("a b", "=", "3")) == [r[0] for r in data if r[1] == 3]
    assert ids(Filter("a b", ">", "1")) == [r[0] for r in data if r[1] is not None and r[1] > 1]
    assert ids(Filter("id", "between", "10", "20")) == list(range(10, 21))
    assert ids(Filter("sélect", "contains", "Ü")) == [r[0] for r in data if r[2] == "ü"] or True
    assert ids(search="z") == [r[0] for r in data if r[2] == "z"]
    assert ids(Filter("c", "<", "1"), Filter("sélect", "=", "x")) == [
        r[0] for r in data if r[3] == 0.5 and r[2] == "x"]
    conn.close()


def test_without_rowid_table_pages_on_its_primary_key(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "w.db")
    conn.execute("CREATE TABLE w (a TEXT, b INTEGER, v, PRIMARY KEY (b, a)) WITHOUT ROWID")
    rows = [(f"k{i % 7}", i % 5, i) for i in range(200)]
    conn.executemany("INSERT OR IGNORE INTO w VALUES (?, ?, ?)", rows)
    conn.commit()
    expected = conn.execute("SELECT a, b, v FROM w ORDER BY v DESC, b, a").fetchall()
    pager = Pager(QuerySpec("w", ("a", "b", "v"), ("b", "a"), (SortKey("v", True),)), page_size=6)
    got = all_pages(conn, pager, [4, 3, 2, 1, 0, *range(40)])
    assert got == expected
    conn.close()


def test_long_values_are_cut_for_the_grid(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "b.db")
    conn.execute("CREATE TABLE b (x)")
    conn.execute("INSERT INTO b VALUES (zeroblob(1000000)), ('short'), (?)", ("y" * 5000,))
    conn.commit()
    page = Pager(QuerySpec("b", ("x",), ("rowid",))).fetch(conn, 0)
    assert [len(v[0]) for v in page.values] == [256, 5, 256]
    assert [s[0] for s in page.sizes] == [1000000, None, 5000]
    conn.close()


def test_statements_split_and_the_one_under_the_cursor() -> None:
    from storage.formats.sql.execute import error_location, split_statements, statement_at

    text = "SELECT 1;\nSELECT ';' AS x; -- c;\n\nUPDATE t SET a = 1"
    parts = [s.sql.strip() for s in split_statements(text)]
    assert parts == ["SELECT 1;", "SELECT ';' AS x;", "-- c;\n\nUPDATE t SET a = 1"]
    assert statement_at(text, 3).sql.strip() == "SELECT 1;"
    assert statement_at(text, len(text)).sql.strip().endswith("SET a = 1")
    where = error_location("SELECT *\nFRM t", 'near "t": syntax error')
    assert (where.line, where.column) == (2, 5)


def test_export_and_import_round_trip(tmp_path: Path) -> None:
    import csv
    import json

    from storage.formats.sql.transfer import Cancelled, export_rows, import_csv

    data = make_table(tmp_path / "t.db", rows=120)
    conn = sqlite3.connect(tmp_path / "t.db")
    spec = QuerySpec('we ird "t" select', ("id", "a b", "sélect", "c"), ("rowid",),
                     filters=(Filter("a b", "=", "3"),))
    sql, params = Pager(spec).query.rows_statement()
    wanted = [r for r in data if r[1] == 3]
    assert export_rows(conn, sql, params, spec.columns, str(tmp_path / "out.csv"), "csv") == len(wanted)
    assert export_rows(conn, sql, params, spec.columns, str(tmp_path / "out.json"), "json") == len(wanted)
    rows = list(csv.reader((tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()))
    assert rows[0] == list(spec.columns) and len(rows) == len(wanted) + 1
    assert [r["id"] for r in json.loads((tmp_path / "out.json").read_text())] == [r[0] for r in wanted]
    with pytest.raises(Cancelled):
        export_rows(conn, sql, params, spec.columns, str(tmp_path / "gone.csv"), "csv", cancel=lambda: True)
    assert not (tmp_path / "gone.csv").exists()
    conn.close()
    imported = import_csv(str(tmp_path / "t.db"), str(tmp_path / "out.csv"), 'imported "copy"', True)
    assert imported == len(wanted)
    conn = sqlite3.connect(tmp_path / "t.db")
    types = [r[2] for r in conn.execute("PRAGMA table_info('imported \"copy\"')")]
    assert types[0] == "INTEGER" and types[3] in ("REAL", "TEXT")
    assert conn.execute('SELECT count(*) FROM "imported ""copy"""').fetchone()[0] == len(wanted)
    conn.close()


def test_a_query_after_comments_is_still_a_query(tmp_path: Path) -> None:
    from storage.formats.sql.db import SqliteDatabase
    from storage.formats.sql.execute import SqlSession, split_statements

    sqlite3.connect(tmp_path / "t.db").close()
    session = SqlSession(SqliteDatabase(str(tmp_path / "t.db")))
    try:
        query, create = session.run(split_statements("-- best\n/* sellers */ SELECT 1 AS a, 2 AS b; "
                                                     "CREATE TABLE t (a)"))
        assert query.columns == ["a", "b"] and query.result.rows == [(1, 2)]
        assert create.result is None and create.error is None
    finally:
        session.close()
