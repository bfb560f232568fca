"""An SQLite file's grid statements, built without SQLAlchemy, give the rows SQLAlchemy's do.

:class:`storage.formats.sql.sqlite_query.SqliteQuery` writes the page, count, find, sizes and export
statements as text so that opening an SQLite file needs no SQLAlchemy (issue 16). Hypothesis builds
random tables with hostile names (quotes, spaces, keywords, unicode, names like the statements'
own labels), NULLs, mixed types, long values, WITHOUT ROWID tables and composite keys, and random
sorts, filters and searches; each statement is run both ways on the same table and must give the
same rows.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.formats.sql.filters import OPS, Filter
from storage.formats.sql.pager import Pager, query_for
from storage.formats.sql.query import Query
from storage.formats.sql.spec import PREVIEW_CHARS, QuerySpec, SortKey
from storage.formats.sql.sqlite_db import quote_ident
from storage.formats.sql.sqlite_query import SqliteQuery, quote_if_needed
from tests.support.sqlite_files import sqlite_file

ROOT = Path(__file__).resolve().parents[4]

NAMES = ["a", "select", "order", "Group", "c0", "k0", "f0", "p0", "limit", "we \"q\"", "sp ace",
         "ünï", "x'y", "per%cent", "under_score", "back\\slash", "semi;colon", "da--sh", "par)en",
         "col:on", "1st", "NULL", "table", "日本"]
TABLE_NAMES = ["t", "order", 'we ird "t" select', "Ünï code", "x'y", "1t", "c0"]

TEXTS = st.sampled_from(["", "x", "X", "ü", "%", "_", "\\", "'", '"', "a b", "1", "2.5", "-3",
                         "select", "Ünï", "x" * (PREVIEW_CHARS + 5), "y" * PREVIEW_CHARS])
VALUES = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from([0.5, -1.5, 2.0, 1e20]), TEXTS,
                   st.sampled_from([b"", b"\x00\xff", b"z" * (PREVIEW_CHARS + 1)]))


@st.composite
def tables(draw: Any) -> tuple[str, list[str], list[str], bool, list[tuple]]:
    """(table name, column names, key columns, WITHOUT ROWID, rows)."""
    name = draw(st.sampled_from(TABLE_NAMES))
    columns = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5,
                            unique_by=lambda n: n.lower()))  # SQLite's names ignore ASCII case
    without_rowid = draw(st.booleans())
    keys = columns[:draw(st.integers(1, min(2, len(columns))))] if without_rowid else ["rowid"]
    count = draw(st.integers(0, 30))
    rows = []
    seen: set[tuple] = set()
    for i in range(count):
        row = [draw(VALUES) for _ in columns]
        if without_rowid:  # key columns: NOT NULL, unique together (mixed types, on purpose)
            for k in range(len(keys)):
                row[k] = draw(st.one_of(st.integers(-5, 40), st.sampled_from(["k", "K", "é", "z"])))
            if tuple(row[:len(keys)]) in seen:
                row[0] = 1000 + i
            seen.add(tuple(row[:len(keys)]))
        rows.append(tuple(row))
    return name, columns, keys, without_rowid, rows


@st.composite
def specs(draw: Any, table: str, columns: list[str], keys: list[str], not_null: list[str]) -> QuerySpec:
    sort = draw(st.lists(st.sampled_from(columns), max_size=2, unique=True))
    filters = draw(st.lists(st.builds(Filter, st.sampled_from(columns), st.sampled_from(OPS), TEXTS,
                                      TEXTS), max_size=2))
    where = draw(st.sampled_from(["", f"{quote_ident(columns[-1])} IS NOT NULL",
                                  f"length({quote_ident(columns[0])}) < 5 OR 1;"]))
    return QuerySpec(table, tuple(columns), tuple(keys),
                     tuple(SortKey(c, draw(st.booleans())) for c in sort), tuple(filters),
                     draw(st.one_of(st.just(""), TEXTS)), not_null=tuple(not_null), where=where)


def _make(name: str, columns: list[str], keys: list[str], without_rowid: bool,
          rows: list[tuple]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    defs = ", ".join(quote_ident(c) for c in columns)
    if without_rowid:
        defs += f", PRIMARY KEY ({', '.join(quote_ident(k) for k in keys)})"
    conn.execute(f"CREATE TABLE {quote_ident(name)} ({defs}){' WITHOUT ROWID' if without_rowid else ''}")
    conn.executemany(f"INSERT INTO {quote_ident(name)} VALUES ({', '.join('?' * len(columns))})", rows)
    return conn


def _rows(conn: sqlite3.Connection, statement: tuple[str, dict]) -> list | str:
    try:
        return conn.execute(*statement).fetchall()
    except sqlite3.Error as exc:  # the same error both ways (rowid of a WITHOUT ROWID table)
        return f"{type(exc).__name__}: {exc}"


def _same(conn: sqlite3.Connection, ours: tuple[str, dict], theirs: tuple[str, dict]) -> list:
    """Both statements' rows (or errors), which must be equal."""
    got, expected = _rows(conn, ours), _rows(conn, theirs)
    assert got == expected, (ours[0], theirs[0])
    return got if isinstance(got, list) else []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_sqlite_statements_give_the_rows_sqlalchemys_give(data: Any) -> None:
    name, columns, keys, without_rowid, rows = data.draw(tables())
    conn = _make(name, columns, keys, without_rowid, rows)
    spec = data.draw(specs(name, columns, keys, keys if without_rowid else []))
    ours, theirs = SqliteQuery(spec), Query(spec)
    assert ours.order == theirs.order
    for cap in (None, 0, 3):
        _same(conn, ours.count_statement(cap), theirs.count_statement(cap))
    everything = _same(conn, ours.page_statement(None, False, 10_000, 0),
                       theirs.page_statement(None, False, 10_000, 0))
    width = len(columns)
    anchors = [*(tuple(row[width:]) for row in everything[:6]), None]
    text = data.draw(TEXTS)
    for anchor in anchors:
        for reverse in (False, True):
            for limit, offset in ((3, 0), (2, 1)):
                _same(conn, ours.page_statement(anchor, reverse, limit, offset),
                      theirs.page_statement(anchor, reverse, limit, offset))
                _same(conn, ours.large_page_statement(anchor, reverse, limit, offset),
                      theirs.large_page_statement(anchor, reverse, limit, offset))
            _same(conn, ours.find_statement(text, anchor, reverse),
                  theirs.find_statement(text, anchor, reverse))
        if anchor is not None:
            _same(conn, ours.row_find_statement(text, anchor), theirs.row_find_statement(text, anchor))
            _same(conn, ours.rows_before_statement(anchor), theirs.rows_before_statement(anchor))
    _same(conn, ours.scan_find_statement(text), theirs.scan_find_statement(text))
    _same(conn, ours.rows_statement(), theirs.rows_statement())
    if len(keys) == 1 and everything:
        position = [n for n, _d in ours.order].index(keys[0])
        wanted = [row[width + position] for row in everything[:4]]
        _same(conn, ours.sizes_statement(columns, wanted), theirs.sizes_statement(columns, wanted))
    conn.close()


@settings(max_examples=40, deadline=None)
@given(tables())
def test_paging_a_table_both_ways_gives_its_rows(table: tuple) -> None:
    """Pager walks the pages (anchors learnt at page boundaries, backwards from the end too) with
    the SQLite builder exactly as with SQLAlchemy's statements."""
    name, columns, keys, without_rowid, rows = table
    conn = _make(name, columns, keys, without_rowid, rows)
    spec = QuerySpec(name, tuple(columns), tuple(keys), (SortKey(columns[-1], True),))
    ours = Pager(spec, page_size=4)
    theirs = Pager(spec, page_size=4)
    theirs.query = Query(spec)
    assert isinstance(ours.query, SqliteQuery)
    for pager in (ours, theirs):
        pager.total = pager.count(conn)
    pages = (len(rows) + 3) // 4
    for number in [*range(pages), *reversed(range(pages))]:
        a, b = ours.fetch(conn, number), theirs.fetch(conn, number)
        assert (a.values, a.sizes, a.keys) == (b.values, b.sizes, b.keys)
    conn.close()


def test_an_sqlite_spec_gets_the_sqlite_builder_and_a_server_sqlalchemys() -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    spec = QuerySpec("t", ("a",), ("rowid",))
    assert isinstance(query_for(spec), SqliteQuery)
    assert isinstance(query_for(spec, sqlite.dialect()), SqliteQuery)
    assert isinstance(query_for(spec, postgresql.dialect()), Query)


def test_names_are_quoted_as_sqlite_needs() -> None:
    assert quote_ident('we "q"') == '"we ""q"""'
    assert quote_if_needed("plain_name1") == "plain_name1"
    for name in ("select", "Order Items", "1st", "ünï", 'a"b', "Mixed"):
        assert quote_if_needed(name) == quote_ident(name)


def test_paging_an_sqlite_table_imports_no_sqlalchemy(tmp_path: Path) -> None:
    """The storage side of opening an SQLite file (schema, first page, count, find) runs without
    SQLAlchemy: a fresh interpreter pages a table and finds a cell, and sqlalchemy stays unloaded."""
    path = tmp_path / "t.db"
    sqlite_file(path, 'CREATE TABLE "we ""t""" (id INTEGER PRIMARY KEY, "a b" TEXT)',
                'INSERT INTO "we ""t""" ("a b") VALUES (?)', [(f"v{i}",) for i in range(600)])
    script = textwrap.dedent(f"""
        import sys
        from storage.formats.sql.find import find_cell
        from storage.formats.sql.pager import Pager
        from storage.formats.sql.spec import QuerySpec, SortKey
        from storage.formats.sql.sqlite_db import Reader
        reader = Reader({str(path)!r})
        schema = reader.run(lambda conn: __import__("storage.formats.sql.sqlite_db",
                            fromlist=["load_schema"]).load_schema(conn, {str(path)!r}))
        table = schema.tables[0]
        spec = QuerySpec(table.name, tuple(c.name for c in table.columns), ("rowid",),
                         (SortKey("a b", True),))
        pager = Pager(spec, page_size=256)
        page = reader.run(lambda conn: pager.fetch(conn, 0))
        total = reader.run(lambda conn: pager.count(conn))
        found = reader.run(lambda conn: find_cell(conn, pager.query, "v59", None))
        print(len(page.values), total, found, "sqlalchemy" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    assert out[:2] == ["256", "600"]
    assert out[-1] == "False"
