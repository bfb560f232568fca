"""Modify Table plans on SQLite without the GUI: primary-key changes keep the other clauses of the
columns, table constraints follow renames, WITHOUT ROWID and generated columns are handled, and a
failing rebuild leaves the file byte-identical."""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from storage.core.errors import KnownError
from storage.formats.sql.modify_plans import modify_table
from storage.formats.sql.schema_run import apply_sqlite, sqlite_context
from storage.formats.sql.sqlite_db import connect_writer
from storage.formats.sql.table_edit import TableEdit, current_edit


def change(path: Path, script: str, table: str, edit: Callable[[TableEdit], None]):
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.commit()
    conn.close()
    conn = connect_writer(str(path))
    try:
        ctx = sqlite_context(conn, str(path))
        before = current_edit(ctx, table)
        after = copy.deepcopy(before)
        edit(after)
        return modify_table(ctx, before, after)
    finally:
        conn.close()


def table_sql(path: Path, name: str) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
    finally:
        conn.close()


def undo(path: Path, plan) -> None:
    conn = connect_writer(str(path))
    try:
        back = plan.undo(sqlite_context(conn, str(path)))
    finally:
        conn.close()
    apply_sqlite(str(path), back)


BASE = ("CREATE TABLE t (a INTEGER, b TEXT COLLATE NOCASE, c INT, UNIQUE (a, b), CHECK (c > 0));"
        "INSERT INTO t VALUES (1, 'x', 2), (2, 'y', 3);")


def test_composite_key_keeps_collation_and_undo_restores(tmp_path: Path) -> None:
    path = tmp_path / "a.db"

    def edit(after: TableEdit) -> None:
        after.columns[0].spec.primary_key = after.columns[1].spec.primary_key = True

    plan = change(path, BASE, "t", edit)
    original = table_sql(path, "t")
    apply_sqlite(str(path), plan)
    assert "b TEXT COLLATE NOCASE," in table_sql(path, "t") and "PRIMARY KEY (a, b)" in table_sql(path, "t")
    undo(path, plan)
    assert "".join(table_sql(path, "t").replace('"t"', "t").split()) == "".join(original.split())


def test_table_constraints_follow_a_rename(tmp_path: Path) -> None:
    path = tmp_path / "b.db"

    def edit(after: TableEdit) -> None:
        after.columns[1].spec.name = "bee"
        after.columns[2].spec.type = "REAL"

    plan = change(path, BASE, "t", edit)
    apply_sqlite(str(path), plan)
    assert "UNIQUE (a, bee)" in table_sql(path, "t") and "c REAL" in table_sql(path, "t")


def test_without_rowid_needs_its_key_and_generated_columns_survive(tmp_path: Path) -> None:
    def unkey(after: TableEdit) -> None:
        after.columns[0].spec.primary_key = False

    with pytest.raises(KnownError, match="WITHOUT ROWID table needs a primary key"):
        change(tmp_path / "c.db", "CREATE TABLE w (k TEXT PRIMARY KEY, v INT) WITHOUT ROWID", "w", unkey)

    path = tmp_path / "d.db"
    plan = change(path, "CREATE TABLE g (a INT, b INT GENERATED ALWAYS AS (a * 2), c TEXT);"
                        "INSERT INTO g (a) VALUES (1);", "g", lambda after: after.columns.pop())
    apply_sqlite(str(path), plan)
    assert "GENERATED ALWAYS AS (a * 2)" in table_sql(path, "g")
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT * FROM g").fetchall() == [(1, 2)]
    conn.close()


def test_a_failing_rebuild_leaves_the_file_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "e.db"

    def edit(after: TableEdit) -> None:
        after.columns[2].spec.check = "c > 2"  # row (1, 'x', 2) breaks it
        after.columns.insert(0, after.columns.pop(2))

    plan = change(path, BASE, "t", edit)
    before = path.read_bytes()
    with pytest.raises(KnownError, match="CHECK"):
        apply_sqlite(str(path), plan)
    assert path.read_bytes() == before


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    from tests.support.schema_backends import make_backend

    backend = make_backend(request.param, tmp_path, request)
    yield backend
    backend.close()


def test_retype_with_a_default_and_undo_on_both_backends(db) -> None:
    db.script("CREATE TABLE m (id integer PRIMARY KEY, code text DEFAULT '7', note text);"
              "INSERT INTO m (id, code) VALUES (1, '12'); INSERT INTO m (id) VALUES (2)")

    def edit(after: TableEdit) -> None:
        code = after.columns[1].spec
        code.type, code.default, code.name = "integer", "0", "num"

    before = db.plan(lambda c: current_edit(c, "m"))
    after = copy.deepcopy(before)
    edit(after)
    plan = db.plan(lambda c: modify_table(c, before, after))
    if db.kind == "postgresql":
        assert plan.statements == [
            "ALTER TABLE public.m RENAME COLUMN code TO num",
            "ALTER TABLE public.m ALTER COLUMN num DROP DEFAULT",
            "ALTER TABLE public.m ALTER COLUMN num TYPE integer USING num::integer",
            "ALTER TABLE public.m ALTER COLUMN num SET DEFAULT 0"]
    db.apply(plan)
    assert db.columns("m") == ["id", "num", "note"]
    assert db.sql("SELECT id, num FROM m ORDER BY id") == [(1, 12), (2, 7)]
    db.sql("INSERT INTO m (id) VALUES (3)")
    assert db.sql("SELECT num FROM m WHERE id = 3") == [(0,)]
    db.sql("DELETE FROM m WHERE id = 3")
    db.apply(plan.undo)
    assert db.columns("m") == ["id", "code", "note"]
    assert db.sql("SELECT id, code FROM m ORDER BY id") == [(1, "12"), (2, "7")]
