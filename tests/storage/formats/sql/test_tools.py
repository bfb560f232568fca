"""SQL tools in storage: checks, VACUUM, pragmas, ANALYZE, plans and FK choices, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from storage.core.errors import KnownError
from storage.formats.sql.explain import explain_postgres, explain_sqlite, plan_from_json, strip_explain
from storage.formats.sql.fk import choice_label, choices, foreign_keys, key_exists
from storage.formats.sql.sqlite_db import Interrupted, Reader
from storage.formats.sql.tools import (
    analyze_sqlite,
    analyze_statement,
    check_pragma_value,
    foreign_key_check,
    integrity_check,
    read_pragmas,
    set_pragma,
    vacuum,
)


def make_indexed(path: Path, rows: int = 2000) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"name {i:05d}") for i in range(rows)])
    conn.execute("CREATE INDEX t_name ON t (name)")
    conn.commit()
    conn.close()
    return path


def damage_index(path: Path) -> None:
    """Change key text inside a leaf page of index t_name: rows go missing from the index."""
    conn = sqlite3.connect(path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 't_name'").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    start = root * size  # the page after the root (pages are numbered from 1)
    data[start:start + size] = data[start:start + size].replace(b"name 00", b"name 99")
    path.write_bytes(bytes(data))


def on_reader(path: Path, func):
    reader = Reader(str(path))
    try:
        return reader.run(func)
    finally:
        reader.close()


def test_integrity_check_good_and_damaged(tmp_path: Path) -> None:
    good = make_indexed(tmp_path / "good.db")
    assert on_reader(good, integrity_check) == ["ok"]
    assert on_reader(good, lambda c: integrity_check(c, quick=True)) == ["ok"]
    bad = make_indexed(tmp_path / "bad.db")
    damage_index(bad)
    problems = on_reader(bad, integrity_check)
    assert problems != ["ok"] and any("missing from index t_name" in p for p in problems)
    with pytest.raises(Interrupted):
        on_reader(bad, lambda c: integrity_check(c, cancel=lambda: True))


def test_foreign_key_check_finds_a_planted_violation(tmp_path: Path) -> None:
    path = tmp_path / "fk.db"
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (id INTEGER PRIMARY KEY, "
                       "p_id INTEGER REFERENCES p(id)); INSERT INTO p VALUES (1); "
                       "INSERT INTO c VALUES (10, 1), (11, 42);")
    conn.close()
    found = on_reader(path, foreign_key_check)
    assert [(v.table, v.rowid, v.parent) for v in found] == [("c", 11, "p")]


def test_vacuum_shrinks_a_database_with_free_pages(tmp_path: Path) -> None:
    path = make_indexed(tmp_path / "v.db", rows=20_000)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM t WHERE id > 100")
    conn.commit()
    conn.close()
    assert on_reader(path, read_pragmas)["freelist_count"] > 10
    before, after = vacuum(str(path))
    assert after < before // 4 and os.path.getsize(path) == after
    assert on_reader(path, read_pragmas)["freelist_count"] == 0
    assert on_reader(path, lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 101


def test_pragmas_read_and_set(tmp_path: Path) -> None:
    path = make_indexed(tmp_path / "p.db", rows=10)
    values = on_reader(path, read_pragmas)
    assert values["journal_mode"] == "delete" and values["user_version"] == 0
    assert values["auto_vacuum"] == "none" and values["encoding"] == "UTF-8"
    assert set_pragma(str(path), "user_version", "42") == 42
    assert set_pragma(str(path), "application_id", "0x1234") == 0x1234
    assert set_pragma(str(path), "journal_mode", "wal") == "wal"
    assert set_pragma(str(path), "journal_mode", "DELETE") == "delete"
    values = on_reader(path, read_pragmas)
    assert (values["user_version"], values["application_id"]) == (42, 0x1234)
    for name, bad in (("user_version", "x"), ("user_version", 2 ** 40), ("journal_mode", "memory"),
                      ("page_size", 1024)):
        with pytest.raises(KnownError):
            check_pragma_value(name, bad)


def test_analyze_writes_statistics_and_explain_is_a_tree(tmp_path: Path) -> None:
    path = make_indexed(tmp_path / "a.db")
    analyze_sqlite(str(path), "t")
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT tbl FROM sqlite_stat1").fetchall()
    conn.close()
    analyze_sqlite(str(path))
    assert analyze_statement("sqlite", 'we"ird') == 'ANALYZE "we""ird"'
    plan = on_reader(path, lambda c: explain_sqlite(
        c, "SELECT * FROM t WHERE name IN (SELECT name FROM t WHERE id < 5) ORDER BY id"))
    titles = [n.title for n in plan.root.walk()][1:]
    assert any("USING INDEX t_name" in t or "USING COVERING INDEX t_name" in t for t in titles)
    assert any(n.children for n in plan.root.children) or len(plan.root.children) > 1
    typed = on_reader(path, lambda c: explain_sqlite(c, "explain query plan SELECT * FROM t WHERE id = 3"))
    assert [n.title for n in typed.root.children] == ["SEARCH t USING INTEGER PRIMARY KEY (rowid=?)"]
    assert strip_explain("EXPLAIN (ANALYZE, BUFFERS) SELECT 1") == "SELECT 1"
    assert strip_explain("explain analyze verbose select 1") == "select 1"
    assert strip_explain("EXPLAINED_TABLE") == "EXPLAINED_TABLE"
    with pytest.raises(KnownError):
        on_reader(path, lambda c: explain_sqlite(c, "SELECT * FROM nowhere"))


def test_plan_from_json_reads_costs_rows_and_times() -> None:
    plan = plan_from_json([{"Plan": {"Node Type": "Hash Join", "Join Type": "Inner", "Startup Cost": 1.5,
                                     "Total Cost": 20.25, "Plan Rows": 10, "Actual Rows": 7,
                                     "Actual Total Time": 0.5, "Actual Loops": 1,
                                     "Plans": [{"Node Type": "Seq Scan", "Relation Name": "a", "Alias": "x",
                                                "Schema": "public", "Total Cost": 3.0, "Plan Rows": 100}]},
                            "Planning Time": 0.1, "Execution Time": 0.7}], analyze=True)
    top = plan.root.children[0]
    assert (top.title, top.cost, top.rows, top.time) == ("Inner Hash Join", "1.50..20.25", "7 (est. 10)",
                                                         "0.500 ms")
    assert top.children[0].relation == "public.a x"
    assert "execution 0.700 ms" in plan.summary


# -- PostgreSQL ------------------------------------------------------------------------------------
@pytest.fixture
def pg_db(pg_url: str):
    from storage.formats.sql.url import open_database_url

    db = open_database_url(pg_url)
    db.write(lambda c: c.execute(
        "CREATE TABLE artist (id integer PRIMARY KEY, name text NOT NULL);"
        "CREATE TABLE pair (x int, y int, PRIMARY KEY (x, y));"
        "CREATE TABLE album (id serial PRIMARY KEY, title text, artist_id int REFERENCES artist(id),"
        " px int, py int, FOREIGN KEY (px, py) REFERENCES pair (x, y));"
        "INSERT INTO artist SELECT i, 'Artist ' || i FROM generate_series(1, 500) i;"
        "UPDATE artist SET name = 'Led 50%_Zeppelin' WHERE id = 77;"
        "INSERT INTO album (title, artist_id) VALUES ('IV', 77);"))
    yield db
    db.close()


def test_postgres_foreign_keys_and_choices(pg_db) -> None:
    reader = pg_db.reader()
    try:
        fks = reader.run(lambda c: foreign_keys(c, "postgresql", "album"))
        assert {(fk.columns, fk.ref_table, fk.ref_columns, fk.ref_schema) for fk in fks} == {
            (("artist_id",), "artist", ("id",), "public"), (("px", "py"), "pair", ("x", "y"), "public")}
        first = reader.run(lambda c: choices(c, "postgresql", "artist", "id", "name", limit=3,
                                             dialect=pg_db.dialect))
        assert [choice_label(*ch) for ch in first] == ["1 — Artist 1", "2 — Artist 2", "3 — Artist 3"]
        found = reader.run(lambda c: choices(c, "postgresql", "artist", "id", "name", "50%_zep",
                                             schema="public", dialect=pg_db.dialect))
        assert [ch[0] for ch in found] == [77]
        dialect = pg_db.dialect
        exists = [reader.run(lambda c, k=k: key_exists(c, "postgresql", "artist", "id", k, dialect=dialect))
                  for k in (500, 501)]
        assert exists == [True, False]
    finally:
        reader.close()


def test_postgres_explain_and_analyze(pg_db) -> None:
    sql = analyze_statement("postgresql", "artist", "public", pg_db.dialect)
    pg_db.write(lambda c: c.execute(sql))
    pg_db.write(lambda c: c.execute(analyze_statement("postgresql")))
    reader = pg_db.reader()
    try:
        query = "SELECT a.name, b.title FROM album b JOIN artist a ON a.id = b.artist_id WHERE a.id > 3"
        plan = reader.run(lambda c: explain_postgres(c, query))
        nodes = list(plan.root.walk())[1:]
        assert nodes and all(n.cost for n in nodes) and not plan.analyzed
        assert {"artist a", "album b"} & {n.relation.split(".", 1)[-1] for n in nodes}
        analyzed = reader.run(lambda c: explain_postgres(c, query, analyze=True))
        assert analyzed.analyzed and "execution" in analyzed.summary
        assert all(n.time for n in list(analyzed.root.walk())[1:] if "never executed" not in n.detail)
        deleted = reader.run(lambda c: explain_postgres(c, "DELETE FROM album", analyze=True))
        assert deleted.root.children[0].title == "Delete"
        assert reader.run(lambda c: c.execute("SELECT count(*) FROM album").fetchone()[0]) == 1  # rolled back
        with pytest.raises(KnownError):
            reader.run(lambda c: explain_postgres(c, "SELECT * FROM nowhere"))
    finally:
        reader.close()


def test_choices_of_a_big_table_read_one_page_in_key_order(tmp_path: Path) -> None:
    """The first page comes from the key's order with LIMIT: no sort of the whole table."""
    from storage.formats.sql.fk import choices_statement

    path = tmp_path / "big.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE big (code TEXT PRIMARY KEY, label TEXT) WITHOUT ROWID")
    conn.executemany("INSERT INTO big VALUES (?, ?)", ((f"k{i:07d}", f"label {i}") for i in range(200_000)))
    conn.commit()
    for search in ("", "label 19999"):
        sql, params = choices_statement("sqlite", "big", "code", "label", search)
        plan = " ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        assert "TEMP B-TREE" not in plan, plan
    conn.close()
    reader = Reader(str(path))
    steps = []
    reader.conn.set_progress_handler(lambda: steps.append(1), 1000)
    try:
        found = reader.run(lambda c: choices(c, "sqlite", "big", "code", "label"))
    finally:
        reader.close()
    assert len(found) == 100 and found[0][0] == "k0000000"
    assert len(steps) < 20  # a few thousand VM steps, not one per row of the table
