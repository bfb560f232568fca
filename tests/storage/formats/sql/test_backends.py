"""The SQL layer on both backends: an SQLite file and a real PostgreSQL server (storage only).

Each test runs once per backend through :class:`storage.formats.sql.db.Database`: keyset paging in every
direction with sorts on columns holding NULLs, filters and search, edits, Execute SQL and CSV
import/export, all on identifiers that need quoting (spaces, quotes, mixed case, reserved words).
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.core.errors import KnownError
from storage.formats.sql.db import Database, ServerDatabase, SqliteDatabase
from storage.formats.sql.edit import delete_row, insert_row, read_row, update_cell
from storage.formats.sql.execute import SqlSession, Statement
from storage.formats.sql.filters import Filter
from storage.formats.sql.pager import Pager
from storage.formats.sql.query import QuerySpec, SortKey
from storage.formats.sql.transfer import export_rows, import_csv
from storage.formats.sql.url import open_database_url

TABLE = 'We ird "T" select'
COLUMNS = ("id", "Mixed Case", 'qu"ote', "order")


@pytest.fixture(params=["sqlite", "postgresql", "mariadb", "generic"])
def db(request, tmp_path: Path):
    """A Database per backend, holding TABLE with 600 rows (NULLs in every non-key column).

    "generic" is the path of dialects other than PostgreSQL (SQLAlchemy's connection, ``text()``
    parameters, ``sqlalchemy.inspect``), run here on SQLAlchemy's own SQLite dialect.
    """
    if request.param in ("sqlite", "generic"):
        path = tmp_path / "t.db"
        path.touch()
        database: Database = SqliteDatabase(str(path))
        if request.param == "generic":
            database = ServerDatabase(sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool),
                                      "generic")
            database.kind = "generic"
        types = ("INTEGER PRIMARY KEY", "INTEGER", "TEXT", "REAL")
    elif request.param == "mariadb":
        database = open_database_url(request.getfixturevalue("mariadb_url"))
        types = ("integer PRIMARY KEY", "integer", "text", "double precision")
    else:
        database = open_database_url(request.getfixturevalue("pg_url"))
        types = ("integer PRIMARY KEY", "integer", "text", "double precision")
    q = database.dialect.identifier_preparer.quote
    defs = ", ".join(f"{q(c)} {t}" for c, t in zip(COLUMNS, types, strict=True))
    rng = random.Random(3)
    rows = [(i, rng.choice([None, 1, 2, 3, 3]), rng.choice([None, "x", "y", "Z", "ü"]),
             rng.choice([None, 0.5, 1.5])) for i in range(1, 601)]
    marks = ", ".join("%s" if request.param in ("postgresql", "mariadb") else "?" for _ in COLUMNS)

    def create(conn) -> None:
        conn.execute(f"CREATE TABLE {q(TABLE)} ({defs})")
        for row in rows:
            conn.execute(f"INSERT INTO {q(TABLE)} VALUES ({marks})", row)

    database.write(create)
    database.rows = rows  # type: ignore[attr-defined]
    yield database
    database.close()


def spec(db: Database, sort=(), filters=(), search="") -> QuerySpec:
    return QuerySpec(TABLE, COLUMNS, ("id",), tuple(sort), tuple(filters), search,
                     not_null=("id",), types=("integer", "integer", "text", "real"))


def native_order(db: Database, sort) -> list[int]:
    """The ids in the order the database itself sorts them (its own NULL placement)."""
    q = db.dialect.identifier_preparer.quote
    order = ", ".join([f"{q(s.column)} {'DESC' if s.descending else 'ASC'}" for s in sort] + ["id"])
    reader = db.reader()
    try:
        return [r[0] for r in reader.run(lambda c: c.execute(f"SELECT id FROM {q(TABLE)} ORDER BY {order}")
                                         .fetchall())]
    finally:
        reader.close()


@pytest.mark.parametrize("sort", [(), (SortKey("Mixed Case"),), (SortKey("Mixed Case", True),),
                                  (SortKey('qu"ote'), SortKey("order", True)),
                                  (SortKey("order", True), SortKey('qu"ote'))])
@pytest.mark.parametrize("walk", ["forward", "backward", "scattered"])
def test_keyset_pages_match_the_database_sort(db: Database, sort, walk) -> None:
    pager = Pager(spec(db, sort), page_size=37, dialect=db.dialect)
    reader = db.reader()
    try:
        pager.total = reader.run(lambda c: pager.count(c))
        pages = (pager.total + 36) // 37
        order = {"forward": list(range(pages)), "backward": list(reversed(range(pages))),
                 "scattered": random.Random(1).sample(range(pages), pages)}[walk]
        got = {n: reader.run(lambda c, n=n: pager.fetch(c, n)).values for n in order}
    finally:
        reader.close()
    ids = [row[0] for n in sorted(got) for row in got[n]]
    assert ids == native_order(db, sort)


@pytest.mark.parametrize("sort", [(), (SortKey("Mixed Case", True), SortKey('qu"ote'))])
@pytest.mark.parametrize("text", ["z", "1"])
def test_find_steps_follow_the_database_sort(db: Database, sort, text) -> None:
    """Edit ▸ Find's SQL (storage.formats.sql.find) visits the cells holding ``text`` in the
    grid's order, forward and back, on each backend's own NULL order and LIKE."""
    from storage.formats.sql.find import FindStart, find_cell

    pager = Pager(spec(db, sort), page_size=600, dialect=db.dialect)
    reader = db.reader()
    try:
        page = reader.run(lambda c: pager.fetch(c, 0))
        expected = [(r, c) for r, row in enumerate(page.values) for c, v in enumerate(row)
                    if v is not None and text in str(v).lower()]

        def walk(backward: bool) -> list[tuple[int, int]]:
            cells: list[tuple[int, int]] = []
            start = None
            while found := reader.run(lambda c, s=start: find_cell(c, pager.query, text, s, backward)):
                cells.append((found.row, found.column))
                start = FindStart(found.row, found.column, tuple(page.keys[found.row]))
                assert len(cells) <= len(expected)
            return cells

        assert expected and walk(False) == expected
        assert walk(True) == expected[::-1]
    finally:
        reader.close()


@pytest.mark.parametrize(("filters", "search", "expected"), [
    ((Filter("Mixed Case", "=", "3"),), "", lambda r: r[1] == 3),
    ((Filter("Mixed Case", ">", "1"), Filter('qu"ote', "not null")), "", lambda r: (r[1] or 0) > 1 and r[2]),
    ((Filter('qu"ote', "contains", "z"),), "", lambda r: r[2] == "Z"),  # case-insensitive
    ((Filter("order", "between", "0.4", "1"),), "", lambda r: r[3] == 0.5),
    ((Filter("Mixed Case", "is null"),), "", lambda r: r[1] is None),
    ((), "ü", lambda r: r[2] == "ü"),
    ((), "%", lambda r: False),  # a literal %, not a wildcard
])
def test_filters_and_search(db: Database, filters, search, expected) -> None:
    pager = Pager(spec(db, filters=filters, search=search), dialect=db.dialect)
    reader = db.reader()
    try:
        assert reader.run(lambda c: pager.count(c)) == sum(1 for r in db.rows if expected(r))
    finally:
        reader.close()


def test_edits_on_quoted_identifiers(db: Database) -> None:
    update_cell(db, TABLE, {"id": 5}, 'qu"ote', "new 'value'")
    assert read_row(db, TABLE, {"id": 5}, ['qu"ote', "order"])[0] == "new 'value'"
    key = insert_row(db, TABLE, {"id": 1000, "Mixed Case": 9}, ["id"])
    assert key == {"id": 1000}
    assert read_row(db, TABLE, key, ["Mixed Case"]) == (9,)
    delete_row(db, TABLE, key)
    assert read_row(db, TABLE, key, ["Mixed Case"]) is None
    with pytest.raises(KnownError, match="no longer exists"):
        update_cell(db, TABLE, {"id": 99999}, "order", 1.0)
    with pytest.raises(KnownError):  # a duplicate key: refused, nothing written
        insert_row(db, TABLE, {"id": 5}, ["id"])
    assert read_row(db, TABLE, {"id": 5}, ['qu"ote'])[0] == "new 'value'"


def test_execute_query_update_and_error(db: Database) -> None:
    q = db.dialect.identifier_preparer.quote
    quoted = q('qu"ote')
    session = SqlSession(db)
    try:
        [outcome] = session.run([Statement(0, 0, f"SELECT id, {quoted} FROM {q(TABLE)} WHERE id <= 300 "
                                                  "ORDER BY id")])
        assert outcome.columns == ["id", 'qu"ote']
        assert [r[0] for r in outcome.result.rows] == list(range(1, 301))
        [changed] = session.run([Statement(0, 0, f"UPDATE {q(TABLE)} SET {q('order')} = 2 WHERE id <= 10")])
        assert changed.rows_affected == 10
        [error] = session.run([Statement(10, 21, "\nSELEC oops")])
        assert isinstance(error.error, KnownError)
    finally:
        session.close()
    db.read_only = True
    session = SqlSession(db)
    try:
        [refused] = session.run([Statement(0, 0, f"DELETE FROM {q(TABLE)}")])
        assert refused.error is not None and "Read-only" in refused.error.message
    finally:
        session.close()
        db.read_only = False
    if db.kind != "generic":  # the server (or SQLite) says where; a generic driver may not
        assert error.error.location.offset == 11  # where SELEC starts in the whole script


def test_export_and_import_round_trip(db: Database, tmp_path: Path) -> None:
    pager = Pager(spec(db, (SortKey("Mixed Case", True),)), dialect=db.dialect)
    sql, params = pager.query.rows_statement()
    reader = db.reader()
    try:
        written = reader.run(lambda c: export_rows(c, sql, params, COLUMNS, str(tmp_path / "out.csv"), "csv"))
        reader.run(lambda c: export_rows(c, sql, params, COLUMNS, str(tmp_path / "out.json"), "json"))
    finally:
        reader.close()
    assert written == 600
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert [r["id"] for r in data] == native_order(db, (SortKey("Mixed Case", True),))
    assert import_csv(db, str(tmp_path / "out.csv"), "Copy Of", True) == 600
    assert import_csv(db, str(tmp_path / "out.csv"), "Copy Of", False) == 600
    reader = db.reader()
    try:
        q = db.dialect.identifier_preparer.quote
        sql = f"SELECT count(*), count({q('qu' + chr(34) + 'ote')}) FROM {q('Copy Of')}"
        count = reader.run(lambda c: c.execute(sql).fetchone())
    finally:
        reader.close()
    assert tuple(count) == (1200, 2 * sum(1 for r in db.rows if r[2] is not None))
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == list(COLUMNS)


def test_server_scripts_split_outside_quotes_comments_and_dollar_quotes() -> None:
    from storage.formats.sql.execute import split_statements, statement_at

    script = ("SELECT ';' AS semi; -- a comment; still a comment\n"
              'SELECT "a;b" /* ; */ FROM t;\n'
              "DO $body$ BEGIN PERFORM 1; PERFORM 2; END $body$;\n"
              "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n"
              "SELECT 'it''s; fine'")
    parts = [s.sql.strip() for s in split_statements(script, "postgresql")]
    assert parts == ["SELECT ';' AS semi;",
                     '-- a comment; still a comment\nSELECT "a;b" /* ; */ FROM t;',
                     "DO $body$ BEGIN PERFORM 1; PERFORM 2; END $body$;",
                     "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;",
                     "SELECT 'it''s; fine'"]
    inside = script.index("PERFORM 2")
    assert statement_at(script, inside, "postgresql").sql.strip().startswith("DO $body$")
