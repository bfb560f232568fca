"""The SQL tab on a real MariaDB server: what differs from PostgreSQL (issue 19, items 8, 9, 15).

Filter and search build their LIKE patterns with the dialect's concatenation (``||`` is OR on
MariaDB, so they used to match nothing); Cancel is a ``KILL QUERY`` from a second connection and
really stops the statement; the statement timeout is ``max_statement_time``; the server is named
MariaDB, and the connection dialog has MySQL/MariaDB fields (port 3306, SSL).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import keyring
import pytest
from PySide6.QtCore import Qt
from sqlalchemy.engine import make_url

from gui.sql.document import SqlDocument
from storage.core.errors import KnownError
from storage.formats.sql.errors import StatementTimeout, UnknownDatabase, WrongPassword
from storage.formats.sql.filters import Filter
from storage.formats.sql.pager import Pager
from storage.formats.sql.query import QuerySpec
from storage.formats.sql.sqlite_db import Interrupted
from storage.formats.sql.url import open_database_url, test_connection
from storage.settings.connections import from_url
from tests.support.connect_helpers import open_dialog, type_url, wait_status
from tests.support.gui_helpers import launch


@pytest.fixture(autouse=True)
def _no_system_keyring():
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def run(url: str, *statements: str) -> None:
    db = open_database_url(url)
    try:
        for sql in statements:
            db.write(lambda conn, sql=sql: conn.execute(sql))
    finally:
        db.close()


def running_queries(url: str, marker: str) -> list[str]:
    """Statements of other sessions still running on the server whose text holds ``marker``."""
    db = open_database_url(url)
    reader = db.reader()
    try:
        rows = reader.run(lambda c: c.execute(
            "SELECT info FROM information_schema.processlist WHERE command = 'Query' "
            "AND id <> CONNECTION_ID()").fetchall())
        return [r[0] for r in rows if r[0] and marker in r[0]]
    finally:
        reader.close()
        db.close()


def test_the_server_is_named_mariadb_and_errors_say_what_to_do(mariadb_url: str) -> None:
    assert test_connection(mariadb_url).startswith("MariaDB 10.")
    with pytest.raises(WrongPassword, match="Type the password again"):
        test_connection(mariadb_url, password="wrong")
    with pytest.raises(UnknownDatabase):
        test_connection(mariadb_url.rsplit("/", 1)[0] + "/no_such_db")


def test_filter_and_search_find_rows_on_mariadb(mariadb_url: str) -> None:
    """'%' || value || '%' is `'%' OR value OR '%'` on MariaDB: every search found 0 rows."""
    run(mariadb_url, "CREATE TABLE t (id int PRIMARY KEY, name text, n int)",
        "INSERT INTO t VALUES (1, 'apple', 10), (2, 'Pineapple', 20), (3, 'pear', 30), (4, NULL, 40)")
    db = open_database_url(mariadb_url)
    reader = db.reader()
    try:
        def ids(**kw) -> list[int]:
            spec = QuerySpec("t", ("id", "name", "n"), ("id",), not_null=("id",),
                             types=("int", "text", "int"), **kw)
            pager = Pager(spec, page_size=50, dialect=db.dialect)
            pager.total = reader.run(pager.count)
            return [row[0] for row in reader.run(lambda c: pager.fetch(c, 0)).values]

        assert ids(search="APPLE") == [1, 2]  # case-insensitive, like the grid's search elsewhere
        assert ids(filters=(Filter("name", "contains", "pea"),)) == [3]
        assert ids(filters=(Filter("name", "contains", "50%"),)) == []  # % is literal
        assert ids(filters=(Filter("n", ">", "15"),)) == [2, 3, 4]
        assert ids(filters=(Filter("name", "is null"),)) == [4]
    finally:
        reader.close()
        db.close()


def test_statement_timeout_stops_the_statement_on_the_server(mariadb_url: str) -> None:
    db = open_database_url(mariadb_url)
    db.statement_timeout = 0.3
    reader = db.reader()
    try:
        with pytest.raises(StatementTimeout, match=r"0\.3 s statement timeout"):
            reader.run(lambda c: c.execute("SELECT SLEEP(20) AS timeout_probe").fetchall())
        assert running_queries(mariadb_url, "timeout_probe") == []
        assert reader.run(lambda c: c.execute("SELECT 1").fetchone())[0] == 1  # still usable
        db.statement_timeout = 0.3
        with pytest.raises(StatementTimeout):  # writes too: the writer's session has the limit
            db.write(lambda c: c.execute("SELECT SLEEP(20) AS write_probe").fetchall())
    finally:
        reader.close()
        db.close()


def test_cancel_kills_the_query_on_the_server(mariadb_url: str) -> None:
    """Cancel used to say "stopped" while the query went on: now KILL QUERY ends it."""
    db = open_database_url(mariadb_url)
    reader = db.reader()
    outcome: dict[str, object] = {}

    def long_query() -> None:
        try:
            outcome["rows"] = reader.run(lambda c: c.execute("SELECT SLEEP(60) AS cancel_probe").fetchall())
        except KnownError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=long_query)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while not running_queries(mariadb_url, "cancel_probe") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running_queries(mariadb_url, "cancel_probe"), "the query never started"
        reader.interrupt()
        worker.join(20)
        assert not worker.is_alive()
        assert isinstance(outcome.get("error"), Interrupted), outcome
        assert running_queries(mariadb_url, "cancel_probe") == []
        assert reader.run(lambda c: c.execute("SELECT 2").fetchone())[0] == 2
    finally:
        reader.interrupt()
        worker.join(20)
        reader.close()
        db.close()


def test_a_write_is_one_transaction(mariadb_url: str) -> None:
    run(mariadb_url, "CREATE TABLE t (id int PRIMARY KEY, v text) ENGINE=InnoDB",
        "INSERT INTO t VALUES (1, 'a')")
    db = open_database_url(mariadb_url)
    try:
        def half_done(conn) -> None:
            conn.execute("INSERT INTO t VALUES (2, 'b')")
            conn.execute("INSERT INTO t VALUES (1, 'duplicate key')")

        with pytest.raises(KnownError, match="Duplicate"):
            db.write(half_done)
        assert db.write(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 1
    finally:
        db.close()


def test_read_only_mode_refuses_writes_on_mariadb(mariadb_url: str) -> None:
    run(mariadb_url, "CREATE TABLE t (id int PRIMARY KEY, v text) ENGINE=InnoDB",
        "INSERT INTO t VALUES (1, 'a')")
    db = open_database_url(mariadb_url)
    db.read_only = True
    reader = db.reader()
    try:
        with pytest.raises(KnownError):
            reader.run(lambda c: c.execute("UPDATE t SET v = 'changed'"))
    finally:
        reader.close()
        db.close()
    db = open_database_url(mariadb_url)
    try:
        assert db.write(lambda c: c.execute("SELECT v FROM t").fetchone()[0]) == "a"
    finally:
        db.close()


def test_document_on_mariadb_cancel_timeout_and_title(qtbot, mariadb_url: str) -> None:
    run(mariadb_url, "CREATE TABLE items (id int AUTO_INCREMENT PRIMARY KEY, name varchar(40), n int)",
        "INSERT INTO items (name, n) VALUES ('one', 1), ('two', 2), ('three', 3)")
    document = SqlDocument(None, "sqlite", url=mariadb_url)
    qtbot.addWidget(document)
    document.resize(1100, 650)
    document.show()
    qtbot.waitUntil(lambda: document.is_loaded, timeout=20_000)
    try:
        assert document.kind_label == "MARIADB"
        assert document.table is not None and document.table.name == "items"
        document.browse.search.setText("tw")
        qtbot.waitUntil(lambda: document.model.pager is not None and document.model.pager.total == 1,
                        timeout=20_000)
        document.views.setCurrentIndex(2)
        document.editor.setPlainText("SELECT SLEEP(60) AS gui_cancel_probe")
        document.execute("all")
        qtbot.waitUntil(lambda: running_queries(mariadb_url, "gui_cancel_probe") != [], timeout=20_000)
        document.sql_panel.cancel_button.click()
        qtbot.waitUntil(lambda: "Cancelled" in document.sql_message.text(), timeout=10_000)
        assert running_queries(mariadb_url, "gui_cancel_probe") == []
        document.timeout.spin.setValue(1)
        document.editor.setPlainText("SELECT SLEEP(30) AS gui_timeout_probe")
        document.execute("all")
        qtbot.waitUntil(lambda: "timeout" in document.sql_message.text(), timeout=10_000)
        document.grab().save(str(Path("/tmp") / "mariadb-document.png"))
    finally:
        document.close_document()


def test_connect_dialog_has_mysql_fields(qtbot, tmp_path: Path, mariadb_url: str) -> None:
    window = launch(qtbot, tmp_path / "settings")
    dialog = open_dialog(qtbot, window)
    form = dialog.form
    form.kind.setCurrentIndex(form.kind.findData("mysql"))
    assert form.port.text() == "3306" and form.driver.currentText() == "mysql+pymysql"
    for field, text in ((form.host, "db.example"), (form.database, "shop"), (form.user, "ann")):
        field.selectAll()
        qtbot.keyClicks(field, text)
    assert form.url.text() == "mysql+pymysql://ann@db.example:3306/shop"
    form.ssl.setChecked(True)
    assert form.url.text() == "mysql+pymysql://ann@db.example:3306/shop?ssl_check_hostname=false"
    form.ssl.setChecked(False)
    assert form.url.text() == "mysql+pymysql://ann@db.example:3306/shop"
    # Back to PostgreSQL: its driver and port; SSL there is sslmode=require.
    form.kind.setCurrentIndex(form.kind.findData("postgresql"))
    assert form.port.text() == "5432" and form.driver.currentText() == "postgresql+psycopg"
    form.ssl.setChecked(True)
    assert form.url.text().endswith("?sslmode=require")
    # A MariaDB URL typed in picks the kind and fills the fields, then Test says MariaDB.
    type_url(qtbot, dialog, mariadb_url)
    parsed = make_url(mariadb_url)
    assert form.kind.currentData() == "mysql"
    assert (form.host.text(), form.port.text(), form.user.text()) == (
        parsed.host, str(parsed.port), parsed.username)
    assert not form.ssl.isChecked()
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert "MariaDB 10." in wait_status(qtbot, dialog, "Connected: MariaDB")
    dialog.grab().save("/tmp/connect-mysql.png")


def test_mysql_and_mariadb_urls_become_server_connections() -> None:
    for url in ("mysql+pymysql://ann@h:3307/shop", "mariadb+pymysql://ann@h/shop?ssl_ca=/ca.pem"):
        connection, password = from_url(url)
        assert connection.kind == "mysql" and password is None
        assert make_url(connection.to_url()) == make_url(url)


def test_a_percent_sign_in_sql_without_parameters_is_sent_as_typed(mariadb_url: str) -> None:
    """PyMySQL formats the statement with its parameters when any are passed (even none)."""
    db = open_database_url(mariadb_url)
    reader = db.reader()
    try:
        assert reader.run(lambda c: c.execute("SELECT '100%' LIKE '%0%'").fetchone())[0] == 1
        assert reader.run(lambda c: c.execute("SELECT CONCAT('50', '%')").fetchone())[0] == "50%"
    finally:
        reader.close()
        db.close()
