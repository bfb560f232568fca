"""Schema-change plans on SQLite and PostgreSQL: the previewed SQL is what runs, constraints hold,
names that need quoting work, and each change's undo brings the schema back."""

from __future__ import annotations

import pytest

from storage.core.errors import KnownError
from storage.formats.sql import schema_plans as plans
from storage.formats.sql.ddl import ColumnSpec, IndexSpec, TableSpec
from tests.support.schema_backends import make_backend

BACKENDS = ["sqlite", "postgresql"]
PARENT = 'the "parent"'
CHILD = "child table"


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    backend = make_backend(request.param, tmp_path, request)
    yield backend
    backend.close()


def parent_spec(db) -> TableSpec:
    text = "TEXT" if db.kind == "sqlite" else "text"
    return TableSpec(PARENT, [
        ColumnSpec("region", text, primary_key=True),
        ColumnSpec("no.", "INTEGER", primary_key=True),
        ColumnSpec("name", text, not_null=True, unique=True, default="'?'"),
        ColumnSpec("qty", "INTEGER", default="0", check='"qty" >= 0'),
    ], checks=["length(region) = 2"])


def child_spec(db) -> TableSpec:
    return TableSpec(CHILD, [
        ColumnSpec("id", "INTEGER", primary_key=True),
        ColumnSpec("parent name", "TEXT", not_null=True, references=(PARENT, "name"), on_delete="CASCADE"),
    ])


def test_create_tables_with_constraints(db) -> None:
    plan = db.plan(lambda c: plans.create_table(c, parent_spec(db)))
    preview = plan.preview()
    assert '"the ""parent""" (' in preview and 'PRIMARY KEY (region, "no.")' in preview
    assert 'CHECK ("qty" >= 0)' in preview and "UNIQUE (name)" in preview and "DEFAULT '?'" in preview
    db.apply(plan)
    db.apply(db.plan(lambda c: plans.create_table(c, child_spec(db))))
    assert db.tables() == sorted([PARENT, CHILD])
    db.sql('INSERT INTO "the ""parent""" (region, "no.", name) VALUES (?, ?, ?)', ("de", 1, "Anna"))
    assert db.sql('SELECT qty FROM "the ""parent"""') == [(0,)]
    for bad in [("deu", 2, "B"), ("fr", 1, "Anna")]:  # table CHECK, UNIQUE
        with pytest.raises(Exception):  # noqa: B017 - sqlite3 and psycopg raise their own classes
            db.sql('INSERT INTO "the ""parent""" (region, "no.", name) VALUES (?, ?, ?)', bad)
    with pytest.raises(Exception):  # noqa: B017 - the column CHECK
        db.sql('INSERT INTO "the ""parent""" (region, "no.", name, qty) VALUES (?, ?, ?, ?)',
               ("it", 3, "C", -1))
    if db.kind == "sqlite":
        ddl = db.sql("SELECT sql FROM sqlite_master WHERE name = ?", (CHILD,))[0][0]
        assert 'REFERENCES "the ""parent""" (name) ON DELETE CASCADE' in ddl
    else:
        db.sql('INSERT INTO "child table" (id, "parent name") VALUES (1, ?)', ("Anna",))
        db.sql('DELETE FROM "the ""parent"""')
        assert db.sql('SELECT count(*) FROM "child table"') == [(0,)]  # ON DELETE CASCADE


def test_undo_create_table_refuses_once_it_holds_rows(db) -> None:
    plan = db.apply(db.plan(lambda c: plans.create_table(c, parent_spec(db))))
    db.sql('INSERT INTO "the ""parent""" (region, "no.", name) VALUES (?, ?, ?)', ("de", 1, "Anna"))
    with pytest.raises(KnownError, match="holds rows"):
        db.apply(plan.undo)
    db.sql('DELETE FROM "the ""parent"""')
    db.apply(plan.undo)
    assert db.tables() == []


def test_column_changes_and_their_undo(db) -> None:
    db.script('CREATE TABLE "t x" (id INTEGER PRIMARY KEY, "old name" TEXT); '
              "INSERT INTO \"t x\" (id, \"old name\") VALUES (1, 'a')")
    added = db.apply(db.plan(lambda c: plans.add_column(c, "t x", ColumnSpec("n n", "INTEGER", default="5"))))
    assert db.columns("t x") == ["id", "old name", "n n"]
    assert db.sql('SELECT "n n" FROM "t x"') == [(5,)]
    renamed = db.apply(db.plan(lambda c: plans.rename_column(c, "t x", "old name", 'new "name"')))
    assert db.columns("t x") == ["id", 'new "name"', "n n"]
    db.apply(renamed.undo)
    assert db.columns("t x") == ["id", "old name", "n n"]
    db.apply(added.undo)  # only defaults in it: nothing is lost
    assert db.columns("t x") == ["id", "old name"]
    dropped = db.apply(db.plan(lambda c: plans.drop_column(c, "t x", "old name")))
    assert "holds data" in dropped.irreversible and dropped.undo is None
    assert db.columns("t x") == ["id"]


def test_added_column_with_edited_values_is_not_dropped_by_undo(db) -> None:
    db.script('CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t (id) VALUES (1)')
    added = db.apply(db.plan(lambda c: plans.add_column(c, "t", ColumnSpec("v", "INTEGER"))))
    db.sql("UPDATE t SET v = 3")
    with pytest.raises(KnownError, match="now holds data"):
        db.apply(added.undo)
    assert db.columns("t") == ["id", "v"]


def test_empty_column_drop_is_undone(db) -> None:
    db.script("CREATE TABLE t (id INTEGER PRIMARY KEY, e INTEGER NOT NULL DEFAULT 4, z TEXT); "
              "INSERT INTO t (id) VALUES (1)")
    db.sql("UPDATE t SET z = NULL")
    dropped = db.apply(db.plan(lambda c: plans.drop_column(c, "t", "z")))
    assert dropped.undo is not None and not dropped.irreversible
    db.apply(dropped.undo)
    assert db.columns("t") == ["id", "e", "z"]


def test_create_and_drop_index(db) -> None:
    db.script('CREATE TABLE "a b" (x INTEGER, "y z" TEXT)')
    spec = IndexSpec("ix one", "a b", ["x", "y z"], unique=True)
    created = db.apply(db.plan(lambda c: plans.create_index(c, spec)))
    assert 'CREATE UNIQUE INDEX "ix one" ON' in created.preview()
    assert db.indexes("a b") == ["ix one"]
    dropped = db.apply(db.plan(lambda c: plans.drop_index(c, "ix one")))
    assert db.indexes("a b") == []
    db.apply(dropped.undo)  # recreated from its saved SQL
    assert db.indexes("a b") == ["ix one"]
    db.sql('INSERT INTO "a b" VALUES (1, ?)', ("q",))
    with pytest.raises(Exception):  # noqa: B017 - the recreated index is still UNIQUE
        db.sql('INSERT INTO "a b" VALUES (1, ?)', ("q",))


def test_drop_table_with_rows_cannot_be_undone(db) -> None:
    db.script("CREATE TABLE full_t (x INTEGER); INSERT INTO full_t VALUES (1); "
              "CREATE TABLE empty_t (x INTEGER)")
    plan = db.plan(lambda c: plans.drop_table(c, "full_t"))
    assert "Cannot be undone" in plan.preview() and plan.undo is None
    db.apply(plan)
    empty = db.apply(db.plan(lambda c: plans.drop_table(c, "empty_t")))
    assert db.tables() == []
    db.apply(empty.undo)  # an empty table comes back with its definition (PostgreSQL: from the catalog)
    assert db.tables() == ["empty_t"]


def test_a_failing_change_leaves_the_schema_unchanged(db) -> None:
    db.script("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)")
    spec = IndexSpec("ux", "t", ["x"], unique=True)
    with pytest.raises(Exception):  # noqa: B017 - duplicate values: the UNIQUE index cannot be built
        db.apply(db.plan(lambda c: plans.create_index(c, spec)))
    assert db.indexes("t") == [] and db.sql("SELECT count(*) FROM t") == [(2,)]


def test_sqlite_autoincrement_and_without_rowid(tmp_path) -> None:
    from tests.support.schema_backends import SqliteBackend

    db = SqliteBackend(tmp_path)
    auto = TableSpec("a", [ColumnSpec("id", "INTEGER", primary_key=True), ColumnSpec("v", "TEXT")],
                     autoincrement=True)
    db.apply(db.plan(lambda c: plans.create_table(c, auto)))
    db.sql("INSERT INTO a (v) VALUES ('x')")
    assert db.sql("SELECT name, seq FROM sqlite_sequence") == [("a", 1)]
    wr = TableSpec("w", [ColumnSpec("k", "TEXT", primary_key=True), ColumnSpec("v", "")], without_rowid=True)
    plan = db.apply(db.plan(lambda c: plans.create_table(c, wr)))
    assert plan.statements[1].endswith("WITHOUT ROWID")
    bad = TableSpec("b", [ColumnSpec("k", "TEXT", primary_key=True)], autoincrement=True)
    with pytest.raises(KnownError, match="AUTOINCREMENT needs a single INTEGER primary key"):
        db.plan(lambda c: plans.create_table(c, bad))
    with pytest.raises(KnownError, match="WITHOUT ROWID table needs a primary key"):
        db.plan(lambda c: plans.create_table(c, TableSpec("n", [ColumnSpec("x")], without_rowid=True)))
