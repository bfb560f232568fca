"""Bad input on a database server: wrong password, server down mid-session, dropped connection
while paging, statement timeout, permission denied, a driver that is not installed.

The server-down cases start and stop a server of their own (tests.support.pg_server), never the shared one.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from storage.core.errors import KnownError
from storage.formats.sql.errors import (
    ConnectionLost,
    DriverMissing,
    MalformedUrl,
    PermissionDenied,
    StatementTimeout,
    UnknownDatabase,
    WrongPassword,
)
from storage.formats.sql.url import open_database_url, redact, test_connection
from tests.conftest import _pg_unavailable
from tests.gui.sql.test_pg import open_pg, run, scalar, wait_cell, wait_total
from tests.support import pg_server


def test_connection_errors_say_what_to_do(pg_url: str) -> None:
    assert test_connection(pg_url).startswith("PostgreSQL ")
    with pytest.raises(WrongPassword, match="Type the password again"):
        test_connection(pg_url, password="wrong")
    with pytest.raises(UnknownDatabase, match="does not exist"):
        test_connection(pg_url.rsplit("/", 1)[0] + "/no_such_db")
    with pytest.raises(DriverMissing, match="pip install 'mysql-connector-python'"):
        open_database_url("mysql+mysqlconnector://me@localhost/db")
    with pytest.raises(DriverMissing, match="psycopg2-binary"):
        open_database_url("postgresql+psycopg2://me@localhost/db")
    with pytest.raises(DriverMissing, match="not supported"):
        open_database_url("nosuchdb://me@localhost/db")
    with pytest.raises(MalformedUrl):
        open_database_url("not a url")
    assert "datashelf-test-pw" not in redact(pg_url) and "***" in redact(pg_url)


def test_an_sqlite_url_opens_the_file_with_its_safety_rules(tmp_path) -> None:
    import sqlite3

    from storage.formats.sql.db import SqliteDatabase

    sqlite3.connect(tmp_path / "a.db").execute("CREATE TABLE t (x)").connection.commit()
    assert test_connection(f"sqlite:///{tmp_path / 'a.db'}").startswith("SQLite ")
    assert isinstance(open_database_url(f"sqlite:///{tmp_path / 'a.db'}"), SqliteDatabase)
    (tmp_path / "not.db").write_text("hello")
    with pytest.raises(KnownError, match="not an SQLite database"):
        open_database_url(f"sqlite:///{tmp_path / 'not.db'}")


def test_unreachable_server_fails_fast(pg_url: str) -> None:
    port = pg_server._free_port()
    with pytest.raises(ConnectionLost, match="Cannot reach the server"):
        test_connection(pg_server.url(port))


def test_statement_timeout_is_explained(pg_url: str) -> None:
    db = open_database_url(pg_url)
    db.statement_timeout = 0.2
    reader = db.reader()
    try:
        with pytest.raises(StatementTimeout, match="timeout"):
            reader.run(lambda c: c.execute("SELECT pg_sleep(5)").fetchall())
        assert reader.run(lambda c: c.execute("SELECT 1").fetchone())[0] == 1  # still usable
    finally:
        reader.close()
        db.close()


def test_wrong_password_asks_again(qtbot, pg_url: str) -> None:
    run(pg_url, "CREATE TABLE t (id int PRIMARY KEY)")
    wrong = pg_url.replace(pg_server.PASSWORD, "wrong")
    document = open_pg(qtbot, wrong)
    assert document.status_page.password_form.isVisible()
    assert "refused the password" in document.status_page.status.text()
    document.status_page.password_edit.setText(pg_server.PASSWORD)
    document.status_page.password_button.click()
    qtbot.waitUntil(lambda: document.stack.currentIndex() == 1, timeout=20_000)
    assert document.table is not None and document.table.name == "t"
    document.close_document()


@contextmanager
def login_role(pg_url: str, setup: str) -> Iterator[str]:
    """A login role of its own, after running ``setup`` (``{role}`` in it is the role's name):
    the URL that connects as that role. The role and its grants are dropped afterwards."""
    role = f"r_{uuid.uuid4().hex[:8]}"
    run(pg_url, f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
    try:
        run(pg_url, setup.format(role=role))
        yield pg_url.replace(f"{pg_server.USER}:{pg_server.PASSWORD}", f"{role}:pw")
    finally:
        run(pg_url, f"DROP OWNED BY {role}")
        run(pg_url, f"DROP ROLE {role}")


def test_permission_denied_names_the_table_and_the_rest_browses(qtbot, pg_url: str) -> None:
    with login_role(pg_url, "CREATE TABLE aaa_secret (id int PRIMARY KEY, s text); "
                            "INSERT INTO aaa_secret VALUES (1, 'x'); "
                            "CREATE TABLE open (id int PRIMARY KEY, v text); "
                            "INSERT INTO open VALUES (1, 'hello'); GRANT SELECT ON open TO {role}") as url:
        document = open_pg(qtbot, url)
        assert document.table is not None and document.table.name == "aaa_secret"
        qtbot.waitUntil(lambda: "aaa_secret" in document.message.text(), timeout=20_000)
        assert "permission" in document.message.text().lower()
        document.tree.setCurrentItem(document.tree.table_item("open"))
        wait_total(qtbot, document, 1)
        assert wait_cell(qtbot, document, 0, 1) == "hello"
        document.close_document()
        db = open_database_url(url)
        with pytest.raises(PermissionDenied, match="aaa_secret"):
            db.write(lambda c: c.execute("SELECT * FROM aaa_secret"), "aaa_secret")
        db.close()


@pytest.fixture
def own_server():
    """A server this test may stop and start again: (url of a database with table t, folder)."""
    if pg_server.find_bin() is None:
        _pg_unavailable("no PostgreSQL server binaries to start a server of our own")
    folder = tempfile.mkdtemp(prefix="datashelf-pgdown-")
    try:
        url = pg_server.start(folder)
        run(url, "CREATE TABLE t (id int PRIMARY KEY, v text); "
                 "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 2000) g")
        yield url, folder
    finally:
        pg_server.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


def test_server_down_keeps_the_failed_edit_pending_then_reconnect_and_retry(qtbot, own_server) -> None:
    url, folder = own_server
    document = open_pg(qtbot, url)
    wait_total(qtbot, document, 2000)
    assert wait_cell(qtbot, document, 0, 1) == "v1"
    pg_server.stop(folder)
    document.edits.edit_cell(0, 1, "typed while down")
    # the cell keeps the typed value, marked; the bar offers Reconnect, Retry and Discard
    assert document.model.index(0, 1).data() == "typed while down"
    assert (0, 1) in document.model.failed_edits
    assert document.server_bar.isVisibleTo(document)
    assert "not written" in document.server_bar.label.text()
    assert document.server_bar.reconnect_button.isVisibleTo(document) \
        and document.server_bar.retry_button.isVisibleTo(document)
    assert document.undo_stack.count() == 0  # the stack never claims an edit that is not written
    # paging while the server is down: a message, no hang
    document.browse.sort_by("v")
    qtbot.waitUntil(lambda: "Cannot read" in document.message.text(), timeout=20_000)
    assert "Connection lost" in document.server_bar.label.text()
    document.grab().save("/tmp/shots/pg_server_down.png")
    pg_server.restart(folder)
    document.server_bar.reconnect_button.click()
    qtbot.waitUntil(lambda: document.stack.currentIndex() == 1 and document.table is not None, timeout=20_000)
    wait_total(qtbot, document, 2000)
    assert wait_cell(qtbot, document, 0, 1) == "typed while down"  # still shown as pending
    assert (0, 1) in document.model.failed_edits
    assert document.server_bar.retry_button.isVisibleTo(document)
    document.server_bar.retry_button.click()
    assert scalar(url, "SELECT v FROM t WHERE id = 1") == "typed while down"
    assert document.undo_stack.count() == 1 and not document.pending.edits
    assert not document.server_bar.isVisibleTo(document)
    assert (0, 1) not in document.model.failed_edits
    document.undo_stack.undo()
    assert scalar(url, "SELECT v FROM t WHERE id = 1") == "v1"
    # a redo that cannot be written while the server is down: pending again, the stack stays true
    pg_server.stop(folder)
    document.undo_stack.redo()
    assert document.undo_stack.count() == 0 and len(document.pending.edits) == 1
    assert document.model.index(0, 1).data() == "typed while down"
    pg_server.restart(folder)
    document.discard_pending_edits()
    assert not document.pending.edits and (0, 1) not in document.model.failed_edits
    assert not document.server_bar.isVisibleTo(document) \
        or "Connection lost" in document.server_bar.label.text()
    assert scalar(url, "SELECT v FROM t WHERE id = 1") == "v1"
    document.close_document()


def test_dropped_connection_while_paging_reconnects(qtbot, pg_url: str) -> None:
    run(pg_url, "CREATE TABLE t (id int PRIMARY KEY, v text); "
                "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 3000) g")
    document = open_pg(qtbot, pg_url)
    wait_total(qtbot, document, 3000)
    wait_cell(qtbot, document, 0, 1)
    database = pg_url.rsplit("/", 1)[1]
    run(pg_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{database}' AND pid <> pg_backend_pid()")
    document.model.index(2900, 1).data()  # a page not fetched yet
    qtbot.waitUntil(lambda: "Cannot read" in document.message.text(), timeout=20_000)
    assert document.server_bar.isVisibleTo(document)
    document.server_bar.reconnect_button.click()
    qtbot.waitUntil(lambda: document.stack.currentIndex() == 1 and document.table is not None, timeout=20_000)
    wait_total(qtbot, document, 3000)
    assert wait_cell(qtbot, document, 2900, 1) == "v2901"
    document.close_document()


def test_errors_are_known_errors() -> None:
    assert issubclass(ConnectionLost, KnownError) and issubclass(WrongPassword, KnownError)


def test_a_table_without_a_key_pages_by_ctid_in_every_direction(pg_url: str) -> None:
    from storage.formats.sql.pager import Pager
    from storage.formats.sql.query import QuerySpec, SortKey

    run(pg_url, "CREATE TABLE bag (v int, w text); INSERT INTO bag SELECT g % 5, 'w' || g "
                "FROM generate_series(1, 100) g; DELETE FROM bag WHERE v = 3; UPDATE bag SET w = w || '!' "
                "WHERE v = 1")  # holes and moved rows
    db = open_database_url(pg_url)
    table = db.load_schema().find("bag")
    assert table.key_columns == [] and table.page_key == ["ctid"] and "ctid" in table.key_note
    reader = db.reader()
    try:
        for sort in ((), (SortKey("v", True),)):
            spec = QuerySpec("bag", ("v", "w"), ("ctid",), sort, schema="public", not_null=("ctid",),
                             types=("integer", "text"))
            pager = Pager(spec, 7, db.dialect)
            pager.total = reader.run(lambda c, p=pager: p.count(c))
            pages = [reader.run(lambda c, n=n, p=pager: p.fetch(c, n)).values
                     for n in reversed(range((pager.total + 6) // 7))]
            got = sorted(w for page in pages for _v, w in page)
            every = reader.run(lambda c: c.execute("SELECT w FROM bag").fetchall())
            assert got == sorted(r[0] for r in every)
            assert len(got) == 80
    finally:
        reader.close()
        db.close()


def test_read_only_mode_is_a_read_only_session_on_the_server(qtbot, pg_url: str) -> None:
    run(pg_url, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'); "
                "CREATE FUNCTION sneaky() RETURNS int AS $$ UPDATE t SET v = 'changed'; SELECT 1 $$ "
                "LANGUAGE sql")
    document = open_pg(qtbot, pg_url)
    document.read_only_box.setChecked(True)
    document.views.setCurrentIndex(2)
    for sql in ("SELECT sneaky()", "EXPLAIN ANALYZE DELETE FROM t",
                "WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone", "UPDATE t SET v = 'x'"):
        document.editor.setPlainText(sql)
        document.execute("all")
        qtbot.waitUntil(lambda: "read-only" in document.sql_message.text().lower()
                        or "Read-only" in document.sql_message.text(), timeout=20_000)
    assert scalar(pg_url, "SELECT v FROM t WHERE id = 1") == "a"
    assert scalar(pg_url, "SELECT count(*) FROM t") == 1
    document.read_only_box.setChecked(False)
    document.editor.setPlainText("UPDATE t SET v = 'x'")
    document.execute("all")
    qtbot.waitUntil(lambda: "1 row(s) affected" in document.sql_message.text(), timeout=20_000)
    assert scalar(pg_url, "SELECT v FROM t WHERE id = 1") == "x"
    document.close_document()
