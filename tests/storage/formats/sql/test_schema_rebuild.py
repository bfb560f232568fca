"""SQLite's 12-step rebuild: data, rowids, AUTOINCREMENT, indexes, triggers and views survive;
a failing rebuild leaves the database unchanged; what would be lost is refused before running."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage.core.errors import KnownError, UnsupportedError
from storage.formats.sql import schema_plans as plans
from storage.formats.sql.ddl import ColumnSpec
from storage.formats.sql.schema_run import apply_sqlite, sqlite_context

SCHEMA = '''
CREATE TABLE "my ""t""" (id INTEGER PRIMARY KEY AUTOINCREMENT, "a b" TEXT CHECK (length("a b") < 100),
                       c BLOB, d, e REAL DEFAULT 1.5, UNIQUE(c, d));
CREATE INDEX ix_ab ON "my ""t"""("a b");
CREATE INDEX ix_d ON "my ""t"""(d) WHERE d IS NOT NULL;
CREATE VIEW v AS SELECT id, "a b" FROM "my ""t""";
CREATE VIEW v2 AS SELECT * FROM v;
CREATE TABLE log(x);
CREATE TRIGGER tr AFTER INSERT ON "my ""t""" BEGIN INSERT INTO log VALUES (new.id); END;
CREATE TABLE kw(a, b);
CREATE TRIGGER tw AFTER INSERT ON kw BEGIN INSERT INTO log SELECT count(*) FROM "my ""t"""; END;
'''
T = 'my "t"'
ROWS = [(5, "x", b"\x00\xff\x10", 2**62, 0.1), (9, None, None, -(2**63), None),
        (12, "ü ✓", b"", "text in d", 3), (13, "7", 7, 7.0, "not real")]


def make_db(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(SCHEMA)
    conn.executemany('INSERT INTO "my ""t""" VALUES (?,?,?,?,?)', ROWS)
    conn.execute('DELETE FROM "my ""t""" WHERE id = 13')
    conn.execute('INSERT INTO "my ""t""" VALUES (13, \'7\', 7, 7.0, \'not real\')')
    conn.execute("INSERT INTO sqlite_sequence VALUES ('x', 1)")  # unrelated row survives
    conn.execute("UPDATE sqlite_sequence SET seq = 40 WHERE name = ?", (T,))
    conn.close()
    return path


def snapshot(path: Path, table: str = T) -> dict:
    conn = sqlite3.connect(path)
    quoted = '"' + table.replace('"', '""') + '"'
    try:
        return {
            "rows": [tuple((type(v).__name__, v) for v in row)  # 7 and 7.0 differ here
                     for row in conn.execute(f"SELECT rowid, * FROM {quoted} ORDER BY rowid")],
            "master": conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
            .fetchall(),
            "seq": conn.execute("SELECT name, seq FROM sqlite_master LEFT JOIN sqlite_sequence USING (name) "
                                "WHERE name = 'sqlite_sequence' OR type = 'table' ORDER BY name").fetchall()
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone()
            else [],
        }
    finally:
        conn.close()


def plan_for(path: Path, build):
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        return build(sqlite_context(conn, str(path)))
    finally:
        conn.close()


def test_rebuild_add_unique_column_keeps_everything(tmp_path: Path) -> None:
    path = make_db(tmp_path)
    before = snapshot(path)
    plan = plan_for(path, lambda c: plans.add_column(c, T, ColumnSpec("new col", "INTEGER", unique=True)))
    assert "PRAGMA foreign_keys = OFF" in plan.preview() and "CREATE TABLE" in plan.preview()
    apply_sqlite(str(path), plan)
    after = snapshot(path)
    assert [r[:6] for r in after["rows"]] == [r[:6] for r in before["rows"]]  # rowids and values
    assert all(r[6:] == (("NoneType", None),) for r in after["rows"])
    assert after["seq"] == before["seq"]  # AUTOINCREMENT counter kept (40, not 13)
    names = {(t, n) for t, n, _s in after["master"]}
    assert {("index", "ix_ab"), ("index", "ix_d"), ("view", "v"), ("view", "v2"),
            ("trigger", "tr"), ("trigger", "tw")} <= names
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute('INSERT INTO "my ""t""" ("a b") VALUES (\'z\')')  # trigger still fires
    assert conn.execute("SELECT x FROM log ORDER BY rowid DESC LIMIT 1").fetchall() == [(41,)]
    assert conn.execute("SELECT count(*) FROM v2").fetchone() == (5,)
    with pytest.raises(sqlite3.IntegrityError):  # the CHECK constraint survived
        conn.execute('INSERT INTO "my ""t""" ("a b") VALUES (?)', ("x" * 200,))
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


def test_undo_of_rebuilt_add_restores_the_old_definition(tmp_path: Path) -> None:
    path = make_db(tmp_path)
    before = snapshot(path)
    plan = apply_sqlite(str(path), plan_for(path, lambda c: plans.add_column(
        c, T, ColumnSpec("k", "TEXT", not_null=True, default="CURRENT_TIMESTAMP"))))
    assert "ALTER TABLE" not in plan.statements[4:5]
    assert plan.undo is not None
    apply_sqlite(str(path), plan.undo)
    after = snapshot(path)
    assert after["rows"] == before["rows"]
    assert after["seq"] == before["seq"]
    assert {n for _t, n, _s in after["master"]} == {n for _t, n, _s in before["master"]}


def test_drop_column_in_index_and_constraint_rebuilds_with_warnings(tmp_path: Path) -> None:
    path = make_db(tmp_path)
    before = snapshot(path)
    plan = plan_for(path, lambda c: plans.drop_column(c, T, "d"))
    assert any("ix_d" in w for w in plan.warnings) and any("UNIQUE(c, d)" in w for w in plan.warnings)
    assert "holds data" in plan.irreversible and plan.undo is None
    apply_sqlite(str(path), plan)
    after = snapshot(path, T)
    assert [r[:4] + r[5:6] for r in before["rows"]] == [r[:5] for r in after["rows"]]
    names = {n for _t, n, _s in after["master"]}
    assert "ix_d" not in names and {"ix_ab", "v", "v2", "tr", "tw"} <= names


def test_drop_column_used_by_a_view_is_refused(tmp_path: Path) -> None:
    path = make_db(tmp_path)
    before = snapshot(path)
    with pytest.raises(UnsupportedError, match="view 'v' uses column 'a b'"):
        plan_for(path, lambda c: plans.drop_column(c, T, "a b"))
    assert snapshot(path) == before


def test_native_drop_of_a_plain_empty_column_is_undone_in_place(tmp_path: Path) -> None:
    path = make_db(tmp_path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE p (a INTEGER, gone TEXT, z BLOB)")
    conn.executemany("INSERT INTO p (a, z) VALUES (?, ?)", [(1, b"\x01"), (2, None)])
    conn.close()
    before = snapshot(path, "p")
    plan = plan_for(path, lambda c: plans.drop_column(c, "p", "gone"))
    assert plan.statements == ["BEGIN IMMEDIATE", 'ALTER TABLE p DROP COLUMN gone', "COMMIT"]
    apply_sqlite(str(path), plan)
    undo = apply_sqlite(str(path), plan.undo)
    assert "CREATE TABLE" in undo.preview()
    assert snapshot(path, "p")["rows"] == before["rows"]
    conn = sqlite3.connect(path)
    assert [r[1] for r in conn.execute("PRAGMA table_info(p)")] == ["a", "gone", "z"]
    conn.close()


def test_failing_rebuild_leaves_the_database_unchanged(tmp_path: Path) -> None:
    path = make_db(tmp_path)
    before = snapshot(path)
    raw = path.read_bytes()
    plan = plan_for(path, lambda c: plans.add_column(c, T, ColumnSpec("must", "TEXT", not_null=True,
                                                                      default="(NULL)")))
    with pytest.raises(KnownError, match="NOT NULL"):
        apply_sqlite(str(path), plan)
    assert snapshot(path) == before and path.read_bytes() == raw


def test_rebuild_that_breaks_a_foreign_key_is_rolled_back_naming_rows(tmp_path: Path) -> None:
    path = tmp_path / "fk.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("""CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE child (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES parent(id));
        INSERT INTO parent VALUES (1, 'a'); INSERT INTO child VALUES (7, 1);""")
    conn.close()
    before = snapshot(path, "child")
    # A rebuilt column whose default names no parent row: the check after the rebuild catches it.
    plan = plan_for(path, lambda c: plans.add_column(c, "child", ColumnSpec(
        "owner", "INTEGER", unique=True, default="99", references=("parent", "id"))))
    assert plan.statements.count("PRAGMA foreign_key_check") == 2
    with pytest.raises(KnownError, match=r"rolled back.*row 7 of 'child' references a missing row"):
        apply_sqlite(str(path), plan)
    assert snapshot(path, "child") == before


def test_without_rowid_table_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "wr.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("""CREATE TABLE w (k TEXT, n INTEGER, v, PRIMARY KEY (k, n)) WITHOUT ROWID;
        INSERT INTO w VALUES ('a', 1, x'00'), ('b', 2, NULL);""")
    conn.close()
    plan = plan_for(path, lambda c: plans.add_column(c, "w", ColumnSpec("u", "TEXT", unique=True)))
    assert not any("rowid" in s for s in plan.statements if s.startswith("INSERT"))
    apply_sqlite(str(path), plan)
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT * FROM w ORDER BY k").fetchall()
    assert rows == [("a", 1, b"\x00", None), ("b", 2, None, None)]
    assert "WITHOUT ROWID" in conn.execute("SELECT sql FROM sqlite_master WHERE name='w'").fetchone()[0]
    conn.close()


def test_stale_plan_is_refused(tmp_path: Path) -> None:
    path = make_db(tmp_path)
    plan = plan_for(path, lambda c: plans.add_column(c, T, ColumnSpec("u", "TEXT", unique=True)))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute('ALTER TABLE "my ""t""" ADD COLUMN meanwhile')
    conn.close()
    before = snapshot(path)
    with pytest.raises(KnownError, match="changed by another program"):
        apply_sqlite(str(path), plan)
    assert snapshot(path) == before


def test_generated_columns_strict_tables_and_odd_quoting_survive(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("""CREATE TABLE [odd name] (a INTEGER, b TEXT COLLATE NOCASE,
            twice INTEGER GENERATED ALWAYS AS (a * 2) STORED, "x
            y" REAL, CHECK (a <> 13)) STRICT;
        INSERT INTO [odd name] (a, b, "x
            y") VALUES (1, 'B', 0.5), (NULL, NULL, NULL);
        CREATE TRIGGER `odd trigger` AFTER DELETE ON `odd name` BEGIN SELECT 1; END;""")
    conn.close()
    plan = plan_for(path, lambda c: plans.add_column(c, "odd name", ColumnSpec("u", "INTEGER", unique=True)))
    apply_sqlite(str(path), plan)
    conn = sqlite3.connect(path)
    rows = conn.execute('SELECT a, b, twice, "x\n            y", u FROM [odd name] ORDER BY rowid').fetchall()
    assert rows == [(1, "B", 2, 0.5, None), (None, None, None, None, None)]
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'odd name'").fetchone()[0]
    assert "STRICT" in sql and "COLLATE NOCASE" in sql and "CHECK (a <> 13)" in sql
    assert conn.execute("SELECT b FROM [odd name] WHERE b = 'b'").fetchall() == [("B",)]  # collation kept
    triggers = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    assert triggers == [("odd trigger",)]
    conn.close()
    with pytest.raises(UnsupportedError, match="column 'twice' uses 'a'"):
        plan_for(path, lambda c: plans.drop_column(c, "odd name", "a"))
    odd = "x\n            y"
    dropped = apply_sqlite(str(path), plan_for(path, lambda c: plans.drop_column(c, "odd name", odd)))
    assert dropped.statements[1].startswith('ALTER TABLE "odd name" DROP COLUMN "x')
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT * FROM [odd name] ORDER BY rowid").fetchall()
    assert rows == [(1, "B", 2, None), (None,) * 4]
    conn.close()


def test_drop_table_names_the_views_and_triggers_it_breaks(tmp_path: Path) -> None:
    path = make_db(tmp_path)
    plan = plan_for(path, lambda c: plans.drop_table(c, T))
    notes = plan.preview()
    assert "-- View 'v' depends on this table" in notes and "-- View 'v2' depends on this table" in notes
    assert "-- Trigger 'tw' depends on this table" in notes and "'tr'" not in notes  # tr goes with the table
