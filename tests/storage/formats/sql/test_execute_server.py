"""Execute SQL against real databases (storage only): each statement runs once, in the
transaction the script asks for; results are read from one cursor, never re-run with OFFSET;
a cap says so; RETURNING rows come back; every statement has its own outcome.

Each test runs on an SQLite file, real PostgreSQL and MariaDB servers and the "generic"
SQLAlchemy path (SQLAlchemy's own SQLite dialect, the path of other dialects). Every check of
what the database holds is made from a second connection.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

import storage.formats.sql.execute
from storage.core.errors import KnownError
from storage.formats.sql.db import Database, ServerDatabase, SqliteDatabase
from storage.formats.sql.errors import ConnectionLost
from storage.formats.sql.execute import (
    FAILED,
    IDLE,
    MAX_HELD,
    OPEN,
    READ_ONLY_MESSAGE,
    Outcome,
    SqlSession,
    split_statements,
)
from storage.formats.sql.transfer import Cancelled
from storage.formats.sql.url import open_database_url


@pytest.fixture(params=["sqlite", "postgresql", "mariadb", "generic"])
def db(request, tmp_path: Path):
    """A database per backend with ``t (id, val)``: 20,000 rows whose ``val`` repeats (0, 1, 2)."""
    if request.param in ("sqlite", "generic"):
        path = tmp_path / "t.db"
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, val INTEGER)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, i % 3) for i in range(1, 20_001)])
        conn.commit()
        conn.close()
        database: Database = SqliteDatabase(str(path))
        if request.param == "generic":
            database = ServerDatabase(sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool),
                                      "generic")
            database.kind = "generic"
    else:
        database = open_database_url(request.getfixturevalue("pg_url" if request.param == "postgresql"
                                                             else "mariadb_url"))
        database.write(lambda c: c.execute("CREATE TABLE t (id integer PRIMARY KEY, val integer)"))
        fill = f"INSERT INTO t SELECT g, MOD(g, 3) FROM ({series(database, 20_000)}) s"
        database.write(lambda c: c.execute(fill))
    yield database
    database.close()


@pytest.fixture
def session(db: Database):
    session = SqlSession(db)
    yield session
    session.close()


def peek(db: Database, sql: str):
    """The first value of ``sql`` read on a connection of its own (what others see)."""
    reader = db.reader()
    try:
        return reader.run(lambda c: c.execute(sql).fetchone()[0])
    finally:
        reader.close()


def run(session: SqlSession, script: str) -> list[Outcome]:
    kind = "sqlite" if session.db.is_sqlite else session.db.kind
    return session.run(split_statements(script, kind))


def ok(session: SqlSession, script: str) -> list[Outcome]:
    outcomes = run(session, script)
    errors = [o.error for o in outcomes if o.error is not None]
    assert not errors, errors
    return outcomes


def read_all(session: SqlSession, outcome: Outcome) -> list[tuple]:
    result = outcome.result
    assert result is not None
    while session.fetch(result, 7_000):
        pass
    return result.rows


def kind(db: Database) -> str:
    """postgresql, mysql (MySQL and MariaDB), sqlite or generic."""
    return "mysql" if db.kind in ("mysql", "mariadb") else db.kind


def series(db: Database, rows: int) -> str:
    if db.kind == "postgresql":
        return f"SELECT g FROM generate_series(1, {rows}) g"
    if kind(db) == "mysql":
        return f"SELECT seq AS g FROM seq_1_to_{rows}"  # MariaDB's sequence engine
    return (f"WITH RECURSIVE c(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM c WHERE g < {rows}) "
            "SELECT g FROM c")


def counter(session: SqlSession, db: Database) -> list[int]:
    """A ``tick()`` SQL function that counts its calls (a side effect a second run would show)."""
    calls: list[int] = []
    if db.kind == "postgresql":
        ok(session, "CREATE TABLE calls (n serial); CREATE FUNCTION tick() RETURNS int LANGUAGE sql "
                    "VOLATILE AS $$ INSERT INTO calls DEFAULT VALUES RETURNING 1 $$")
        return calls
    if kind(db) == "mysql":  # BEGIN … END holds semicolons: created outside the editor
        db.write(lambda c: c.execute("CREATE TABLE calls (n integer AUTO_INCREMENT PRIMARY KEY)"))
        db.write(lambda c: c.execute("CREATE FUNCTION tick() RETURNS integer MODIFIES SQL DATA "
                                     "BEGIN INSERT INTO calls VALUES (); RETURN 1; END"))
        return calls
    ok(session, "SELECT 1")  # the session's connection exists now
    conn = session.conn if db.is_sqlite else session.conn.sa.connection.dbapi_connection
    conn.create_function("tick", 0, lambda: calls.append(1) or 1)
    return calls


def calls_made(db: Database, calls: list[int]) -> int:
    return len(calls) if db.kind in ("sqlite", "generic") else int(peek(db, "SELECT count(*) FROM calls"))


def test_every_statement_runs_exactly_once(db: Database, session: SqlSession) -> None:
    calls = counter(session, db)
    sleep = {"postgresql": ", pg_sleep(0.3)", "mysql": ", sleep(0.3)"}.get(kind(db), "")
    [outcome] = ok(session, f"SELECT tick() AS ticked{sleep} -- once")
    assert read_all(session, outcome)[0][0] == 1
    assert calls_made(db, calls) == 1  # the old code ran it 2-3 times (LIMIT 0, count, page)
    # a script: each statement once, each its own outcome, the earlier results kept
    outcomes = ok(session, "SELECT tick() AS a; SELECT tick() AS b UNION ALL SELECT tick(); SELECT 42 AS c")
    assert [o.columns for o in outcomes] == [["a"], ["b"], ["c"]]
    assert [len(o.result.rows) for o in outcomes] == [1, 2, 1]
    assert calls_made(db, calls) == 4
    if db.kind == "postgresql":
        [outcome] = ok(session, "CREATE SEQUENCE s; SELECT nextval('s') AS n")[1:]
        assert read_all(session, outcome) == [(1,)]
        assert peek(db, "SELECT last_value FROM s") == 1  # nextval was called once


def test_rollback_in_a_script_rolls_back(db: Database, session: SqlSession) -> None:
    outcomes = ok(session, "BEGIN; UPDATE t SET val = -1 WHERE id <= 10; ROLLBACK;")
    assert outcomes[1].rows_affected == 10
    assert session.state == IDLE
    assert peek(db, "SELECT count(*) FROM t WHERE val = -1") == 0
    ok(session, "BEGIN; UPDATE t SET val = 5 WHERE id = 1; COMMIT")
    assert peek(db, "SELECT val FROM t WHERE id = 1") == 5


def test_an_explicit_transaction_stays_open_until_commit_or_rollback(db: Database,
                                                                    session: SqlSession) -> None:
    ok(session, "BEGIN; UPDATE t SET val = -1 WHERE id <= 3")
    assert session.state == OPEN
    assert peek(db, "SELECT count(*) FROM t WHERE val = -1") == 0  # others do not see it yet
    [outcome] = ok(session, "SELECT count(*) FROM t WHERE val = -1")  # the next run is inside it
    assert read_all(session, outcome) == [(3,)]
    assert session.state == OPEN
    assert session.end_transaction(commit=False) == "Rolled back."
    assert session.state == IDLE
    assert peek(db, "SELECT count(*) FROM t WHERE val = -1") == 0
    ok(session, "BEGIN; DELETE FROM t WHERE id > 19990")
    assert session.end_transaction(commit=True) == "Committed."
    assert session.state == IDLE
    assert peek(db, "SELECT count(*) FROM t") == 19_990
    ok(session, "DELETE FROM t WHERE id > 19980")  # no BEGIN: committed at once
    assert session.state == IDLE
    assert peek(db, "SELECT count(*) FROM t") == 19_980


def test_a_failed_transaction_is_said_and_rolled_back(pg_url: str) -> None:
    db = open_database_url(pg_url)
    db.write(lambda c: c.execute("CREATE TABLE t (id integer PRIMARY KEY)"))
    session = SqlSession(db)
    try:
        outcomes = run(session, "BEGIN; INSERT INTO t VALUES (1); INSERT INTO t VALUES (1); SELECT 1")
        assert len(outcomes) == 3 and "duplicate" in outcomes[2].error.message  # stops at the error
        assert session.state == FAILED
        assert "current transaction is aborted" in run(session, "SELECT 1")[0].error.message
        assert "nothing was committed" in session.end_transaction(commit=True)
        assert session.state == IDLE
        assert peek(db, "SELECT count(*) FROM t") == 0
        # the connection is lost with a transaction open: said, and nothing of it was committed
        ok(session, "BEGIN; INSERT INTO t VALUES (2)")
        pid = session.conn.info.backend_pid
        db.write(lambda c: c.execute(f"SELECT pg_terminate_backend({pid})"))
        [outcome] = run(session, "INSERT INTO t VALUES (3)")
        assert isinstance(outcome.error, ConnectionLost)
        assert "rolled it back" in outcome.error.message
        assert session.state == IDLE
        ok(session, "INSERT INTO t VALUES (4)")  # a new connection, autocommit again
        assert peek(db, "SELECT string_agg(id::text, ',') FROM t") == "4"
    finally:
        session.close()
        db.close()


def test_rows_of_a_sort_on_duplicates_neither_repeat_nor_go_missing(db: Database,
                                                                    session: SqlSession) -> None:
    [outcome] = ok(session, "SELECT * FROM t ORDER BY val")
    result = outcome.result
    while len(result.rows) < 3000:
        assert session.fetch(result, 256)
    ids = [row[0] for row in result.rows[:3000]]
    assert len(set(ids)) == 3000  # 2,907 with the old OFFSET paging
    rows = read_all(session, outcome)
    assert sorted(r[0] for r in rows) == list(range(1, 20_001))


def test_a_capped_result_says_so_and_reads_on_from_the_same_cursor(db: Database, session: SqlSession,
                                                                  tmp_path: Path) -> None:
    [outcome] = ok(session, series(db, 200_000) + " -- every row")
    result = outcome.result
    assert read_all(session, outcome) and len(result.rows) == MAX_HELD
    assert result.capped and f"first {MAX_HELD:,} rows; more remain" in result.describe()
    assert "more remain" in outcome.summary()
    [change] = ok(session, "UPDATE t SET val = 4 WHERE id = 1")  # not inside the result's own transaction
    assert change.rows_affected == 1 and session.state == IDLE
    assert peek(db, "SELECT val FROM t WHERE id = 1") == 4
    assert result.describe() == f"Showing the first {MAX_HELD:,} rows. The result was closed by the next run."
    [outcome] = ok(session, series(db, 200_000) + " -- every row")
    result = outcome.result
    read_all(session, outcome)
    # export it all: the rows held, then the rest streamed from the same cursor
    path = tmp_path / "all.csv"
    assert session.export(result, str(path), "csv") == 200_000
    lines = path.read_text().split()
    assert lines[0] == "g" and [int(v) for v in lines[1:]] == list(range(1, 200_001))
    assert f"first {MAX_HELD:,} of 200,000 rows" in result.describe() and "exported" in result.describe()
    assert not result.more
    # or fetch the rest: more pages from the same cursor
    [outcome] = ok(session, series(db, 150_000))
    result = outcome.result
    read_all(session, outcome)
    assert result.capped
    result.raise_limit()
    rows = read_all(session, outcome)
    assert [r[0] for r in rows] == list(range(1, 150_001)) and not result.more
    assert result.describe().startswith("150,000 row(s)")


def test_a_cancelled_export_writes_nothing_and_the_grid_reads_on(db: Database, session: SqlSession,
                                                                 tmp_path: Path) -> None:
    [outcome] = ok(session, series(db, 30_000))
    result = outcome.result
    path = tmp_path / "part.json"
    checks: list[int] = []
    with pytest.raises(Cancelled):  # cancelled after a few batches were read from the cursor
        session.export(result, str(path), "json", cancel=lambda: checks.append(1) or len(checks) > 3)
    assert not path.exists()
    # a forward-only cursor cannot go back: it says so instead of showing wrong rows
    assert not result.more and "gone from the cursor" in result.describe()
    [outcome] = ok(session, series(db, 10))
    assert session.export(outcome.result, str(path), "json") == 10
    assert [r["g"] for r in json.loads(path.read_text())] == list(range(1, 11))


def test_returning_rows_are_shown(db: Database, session: SqlSession) -> None:
    outcomes = ok(session, "INSERT INTO t (id, val) VALUES (30001, 7), (30002, 8) "
                           "RETURNING id, val * 10 AS ten;\n"
                           "DELETE FROM t WHERE id = 30002 RETURNING id")  # MariaDB: no UPDATE … RETURNING
    assert outcomes[0].columns == ["id", "ten"]
    assert read_all(session, outcomes[0]) == [(30001, 70), (30002, 80)]
    assert outcomes[0].summary().startswith("2 row(s) affected · 2 row(s)")
    assert read_all(session, outcomes[1]) == [(30002,)]
    assert peek(db, "SELECT count(*) FROM t WHERE id > 30000") == 1


def test_every_statement_has_its_outcome_and_an_error_its_place(db: Database, session: SqlSession) -> None:
    script = "SELECT 1 AS one;\nUPDATE t SET val = 0 WHERE id = 1;\n\n  SELEC oops;\nSELECT 2"
    outcomes = run(session, script)
    assert len(outcomes) == 3  # the script stops at the error
    assert outcomes[0].result.rows == [(1,)]
    assert outcomes[1].rows_affected == 1 and outcomes[1].result is None
    error = outcomes[2].error
    assert isinstance(error, KnownError)
    if db.kind != "generic":
        assert error.location.offset == script.index("SELEC oops")
    # a syntax error inside a query a cursor would hold points into the user's text, not DECLARE's
    outcomes = run(session, "SELECT 1;\nSELECT * FRM t")
    if db.kind == "postgresql":
        assert outcomes[1].error.location.offset == len("SELECT 1;\nSELECT * ")


def test_read_only_refuses_changes_but_runs_queries(db: Database) -> None:
    db.read_only = True
    session = SqlSession(db)
    try:
        [outcome] = run(session, "UPDATE t SET val = 0")
        assert outcome.error is not None and outcome.error.message == READ_ONLY_MESSAGE
        assert read_all(session, ok(session, "SELECT count(*) FROM t")[0]) == [(20_000,)]
    finally:
        session.close()
        db.read_only = False
    assert peek(db, "SELECT count(*) FROM t WHERE val = 0") == 6666


def test_cancel_and_the_timeout_stop_a_long_statement_on_the_server(server_url: str) -> None:
    import threading

    db = open_database_url(server_url)
    session = SqlSession(db)
    sleep = "SELECT pg_sleep(30)" if db.kind == "postgresql" else "SELECT sleep(30)"
    try:
        timer = threading.Timer(0.5, session.interrupt)
        timer.start()
        [outcome] = run(session, sleep)
        timer.join()
        assert outcome.error is not None and "Cancel" in outcome.error.message, outcome.error
        assert ok(session, "SELECT 1 AS back")[0].result.rows == [(1,)]
        db.statement_timeout = 1
        [outcome] = run(session, sleep)
        assert "timeout" in outcome.error.message.lower()
    finally:
        session.close()
        db.close()


def test_a_query_failing_on_its_first_rows_leaves_no_transaction_behind(db: Database,
                                                                         session: SqlSession) -> None:
    failing = {"postgresql": "SELECT 1 / (val - val) FROM t", "mysql": "SELECT (SELECT id FROM t) FROM t"
               }.get(kind(db), "SELECT json_extract('not json', '$') FROM t")
    [outcome] = run(session, failing)
    assert outcome.error is not None and outcome.result is None
    assert session.state == IDLE
    ok(session, "UPDATE t SET val = 8 WHERE id = 2")
    assert peek(db, "SELECT val FROM t WHERE id = 2") == 8  # committed: no transaction was left open


def test_settings_changed_inside_a_transaction_never_block_it(server_url: str) -> None:
    db = open_database_url(server_url)
    db.write(lambda c: c.execute("CREATE TABLE t (id integer PRIMARY KEY)"))
    session = SqlSession(db)
    try:
        ok(session, "BEGIN; INSERT INTO t VALUES (1)")
        db.read_only = True  # the Read-only box, ticked while the transaction is open
        db.statement_timeout = 5
        outcomes = ok(session, "INSERT INTO t VALUES (2); ROLLBACK")
        assert len(outcomes) == 2 and session.state == IDLE
        assert peek(db, "SELECT count(*) FROM t") == 0
        [refused] = run(session, "INSERT INTO t VALUES (3)")  # now the session is read-only
        assert refused.error is not None and refused.error.message == READ_ONLY_MESSAGE
    finally:
        session.close()
        db.read_only = False
        db.close()


def test_statements_that_refuse_a_transaction_block_run_as_typed(pg_url: str) -> None:
    """Each statement is sent as typed in autocommit: VACUUM and CREATE INDEX CONCURRENTLY work
    (the old code wrapped every write in a transaction of its own, where PostgreSQL refuses them)."""
    db = open_database_url(pg_url)
    db.write(lambda c: c.execute("CREATE TABLE t (id integer PRIMARY KEY, val integer)"))
    session = SqlSession(db)
    try:
        ok(session, "CREATE INDEX CONCURRENTLY t_val ON t (val); VACUUM t")
        assert peek(db, "SELECT count(*) FROM pg_indexes WHERE indexname = 't_val'") == 1
        [refused] = run(session, "BEGIN; VACUUM t")[1:]  # inside the user's transaction: the server says no
        assert "transaction block" in refused.error.message and session.state == FAILED
        assert session.end_transaction(commit=False) == "Rolled back."
    finally:
        session.close()
        db.close()


def test_mysql_backtick_names_hold_semicolons() -> None:
    script = "SELECT `a;b` FROM `t;1`; SELECT 2"
    parts = [s.sql.strip() for s in split_statements(script, "mysql")]
    assert parts == ["SELECT `a;b` FROM `t;1`;", "SELECT 2"]


def test_a_result_of_big_values_stops_at_the_byte_budget(db: Database, session: SqlSession, monkeypatch,
                                                         tmp_path: Path) -> None:
    monkeypatch.setattr(storage.formats.sql.execute, "MAX_BYTES", 1024 * 1024)
    big = "repeat('x', 50000)" if kind(db) in ("postgresql", "mysql") else "printf('%.50000c', 'x')"
    [outcome] = ok(session, f"SELECT id, {big} AS text FROM t WHERE id <= 100 ORDER BY id")
    result = outcome.result
    assert result.capped and len(result.rows) < 30  # not 1,000 rows of 50 kB
    assert result.held_bytes < 1024 * 1024 + 100_000
    assert "MB of values); more remain" in result.describe()
    result.raise_limit()
    rows = read_all(session, outcome)
    assert len(rows) < 60 and result.capped
    assert session.export(result, str(tmp_path / "big.csv"), "csv") == 100
