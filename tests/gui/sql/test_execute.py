"""Execute SQL in the real document (qtbot): a result tab per statement, the transaction bar with
Commit and Rollback, closing with a transaction open asks, a capped result says so and reads on,
and every result model passes the model tester. On an SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

import storage.formats.sql.execute
from gui.sql.document import SqlDocument
from gui.sql.execute import StatementResult
from storage.formats.sql.url import open_database_url
from tests.support.gui_helpers import edit_while_locked, launch, wait_documents


def make_db(path: Path, rows: int = 5000) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, val INTEGER, name TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", [(i, i % 3, f"name {i}") for i in range(1, rows + 1)])
    conn.commit()
    conn.close()
    return path


def open_file(qtbot, path: Path) -> SqlDocument:
    document = SqlDocument(str(path), "sqlite")
    qtbot.addWidget(document)
    document.resize(1100, 700)
    document.show()
    qtbot.waitUntil(lambda: document.is_loaded, timeout=10_000)
    if document.read_only:
        document.read_only_box.setChecked(False)
        qtbot.waitUntil(lambda: bool(document.is_loaded and document.reader is not None and document.table),
                        timeout=10_000)
    document._settings = lambda: None
    document.views.setCurrentIndex(2)
    return document


def open_server(qtbot, url: str) -> SqlDocument:
    document = SqlDocument(None, "sqlite", url=url)
    qtbot.addWidget(document)
    document.resize(1100, 700)
    document.show()
    qtbot.waitUntil(lambda: document.is_loaded, timeout=20_000)
    document._settings = lambda: None
    document.views.setCurrentIndex(2)
    return document


def run_sql(qtbot, document: SqlDocument, sql: str) -> None:
    panel = document.sql_panel
    document.editor.setPlainText(sql)
    document.execute("all")
    qtbot.waitUntil(lambda: panel._running is None and panel.run_button.isEnabled()
                    and panel.message.text() != "Running…", timeout=20_000)


def tabs(document: SqlDocument) -> list[StatementResult]:
    results = document.sql_panel.results
    return [results.widget(i) for i in range(results.count())]


def answer_box(qtbot, text: str) -> list[str]:
    """Click the button labelled ``text`` in the next message box; the box's text is kept."""
    seen: list[str] = []

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        seen.append(box.text())
        for button in box.findChildren(QPushButton):
            if button.text().replace("&", "") == text:
                button.click()
                return

    QTimer.singleShot(0, click)
    return seen


def scroll_until(qtbot, grid, done) -> None:
    """Scroll the grid to its end (the view asks for more rows there) until ``done()``."""
    def check() -> None:
        grid.scrollToBottom()
        assert done()

    qtbot.waitUntil(check, timeout=20_000)


def value_of(path: Path, sql: str):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def test_each_statement_has_its_result_tab(qtbot, qtmodeltester, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db")
    document = open_file(qtbot, path)
    script = ("SELECT id, name FROM t WHERE val = 1 ORDER BY id;\n"
              "UPDATE t SET name = 'changed' WHERE id <= 4;\n"
              "INSERT INTO t (val, name) VALUES (9, 'new') RETURNING id, name;\n"
              "SELECT count(*) AS n FROM t;\n"
              "  SELEC oops;\n"
              "SELECT 'never runs'")
    run_sql(qtbot, document, script)
    shown = tabs(document)
    assert len(shown) == 5  # the script stopped at the error; nothing after it ran
    titles = [document.sql_panel.results.tabText(i) for i in range(5)]
    assert titles == ["1 SELECT", "2 UPDATE", "3 INSERT", "4 SELECT", "5 SELEC ⚠"]
    assert shown[0].model.rowCount() == 1000  # shown in steps; more as the view scrolls
    assert shown[0].model.index(0, 1).data() == "name 1"
    assert "1,667 row(s)" in shown[0].label.text()
    assert shown[1].model is None and "4 row(s) affected" in shown[1].label.text()
    assert shown[2].model.rowCount() == 1 and shown[2].model.index(0, 1).data() == "new"
    assert "1 row(s) affected" in shown[2].label.text()
    assert shown[3].model.index(0, 0).data() == "5,001" or shown[3].model.index(0, 0).data() == "5001"
    assert "Error at line 5, column 3" in shown[4].label.text()
    assert document.sql_panel.results.currentIndex() == 4  # the error is what you see first
    assert document.editor.textCursor().position() == script.index("SELEC oops")  # and where it is
    document.grab().save("/tmp/sql_exec_tabs.png")
    for tab in shown:
        if tab.model is not None:
            qtmodeltester.check(tab.model, force_py=True)
    # scrolling to the end shows the rest, read from the same cursor
    document.sql_panel.results.setCurrentIndex(0)
    grid = shown[0].grid
    qtbot.waitUntil(lambda: grid.isVisible())
    scroll_until(qtbot, grid, lambda: shown[0].model.rowCount() == 1667)
    qtmodeltester.check(shown[0].model, force_py=True)
    assert value_of(path, "SELECT count(*) FROM t WHERE name = 'changed'") == 4
    document.close_document()


def test_transaction_bar_commit_and_rollback_on_a_file(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db")
    document = open_file(qtbot, path)
    panel = document.sql_panel
    run_sql(qtbot, document, "BEGIN; UPDATE t SET val = -1 WHERE id <= 3; ROLLBACK")
    assert not panel.transaction_bar.isVisible()  # the script ended its own transaction
    assert value_of(path, "SELECT count(*) FROM t WHERE val = -1") == 0
    run_sql(qtbot, document, "BEGIN; UPDATE t SET val = -1 WHERE id <= 3")
    assert panel.transaction_bar.isVisible() and "Transaction open" in panel.transaction_label.text()
    assert "transaction" in document.views.tabText(2)
    assert value_of(path, "SELECT count(*) FROM t WHERE val = -1") == 0  # not committed
    run_sql(qtbot, document, "SELECT count(*) FROM t WHERE val = -1")  # the next run is inside it
    assert tabs(document)[0].model.index(0, 0).data() in ("3", "3.0", "3,000") or \
        tabs(document)[0].model.result.rows == [(3,)]
    assert panel.transaction_bar.isVisible()
    panel.rollback_button.click()
    qtbot.waitUntil(lambda: not panel.transaction_bar.isVisible(), timeout=10_000)
    assert "Rolled back" in panel.message.text()
    assert value_of(path, "SELECT count(*) FROM t WHERE val = -1") == 0
    assert document.views.tabText(2) == "Execute SQL"
    run_sql(qtbot, document, "BEGIN; DELETE FROM t WHERE id > 4990")
    panel.commit_button.click()
    qtbot.waitUntil(lambda: not panel.transaction_bar.isVisible(), timeout=10_000)
    assert "Committed" in panel.message.text()
    assert value_of(path, "SELECT count(*) FROM t") == 4990
    # read-only mode would reopen the file: refused while a transaction is open
    run_sql(qtbot, document, "BEGIN; DELETE FROM t WHERE id = 1")
    document.read_only_box.setChecked(True)
    assert not document.read_only_box.isChecked() and "transaction is open" in document.message.text()
    panel.rollback_button.click()
    qtbot.waitUntil(lambda: not panel.transaction_bar.isVisible(), timeout=10_000)
    document.close_document()


def test_closing_with_a_transaction_open_asks(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db")
    window = launch(qtbot, tmp_path / "settings", path)
    [document] = wait_documents(qtbot, window, 1)
    if document.read_only:
        document.read_only_box.setChecked(False)
        qtbot.waitUntil(lambda: bool(document.is_loaded and document.reader is not None and document.table),
                        timeout=10_000)
    document.views.setCurrentIndex(2)
    run_sql(qtbot, document, "BEGIN; UPDATE t SET name = 'kept' WHERE id = 1")
    assert document.sql_panel.transaction_bar.isVisible()
    window.grab().save("/tmp/sql_exec_transaction_open.png")
    seen = answer_box(qtbot, "Cancel")
    assert not window.close_document(document)  # Cancel: the document stays, the transaction too
    assert "A transaction is open" in seen[0]
    assert window.all_documents() == [document] and document.sql_panel.transaction_open
    answer_box(qtbot, "Commit")
    assert window.close_document(document)
    assert value_of(path, "SELECT name FROM t WHERE id = 1") == "kept"
    # quitting asks too; Roll back leaves the file as it was
    window.open_paths([str(path)]) if hasattr(window, "open_paths") else window.open_path(str(path))
    [document] = wait_documents(qtbot, window, 1)
    if document.read_only:
        document.read_only_box.setChecked(False)
        qtbot.waitUntil(lambda: bool(document.is_loaded and document.reader is not None and document.table),
                        timeout=10_000)
    run_sql(qtbot, document, "BEGIN; UPDATE t SET name = 'gone' WHERE id = 2")
    answer_box(qtbot, "Roll back")
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert value_of(path, "SELECT name FROM t WHERE id = 2") == "name 2"


def test_a_capped_result_says_so_fetches_more_and_exports_all(qtbot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(storage.formats.sql.execute, "MAX_HELD", 3000)
    path = make_db(tmp_path / "t.db", rows=10_000)
    document = open_file(qtbot, path)
    run_sql(qtbot, document, "SELECT * FROM t ORDER BY val -- a trailing comment")
    [tab] = tabs(document)
    model = tab.model
    scroll_until(qtbot, tab.grid, lambda: model.rowCount() == 3000 and not model.canFetchMore())
    # The rows the fetch appended can be shown a moment before its answer updates the line.
    qtbot.waitUntil(lambda: "Showing the first 3,000 rows; more remain" in tab.label.text())
    assert tab.fetch_more.isVisible() and tab.export_all.isVisible()
    assert len({row[0] for row in model.result.rows}) == 3000  # no row twice, none missing
    document.grab().save("/tmp/sql_exec_capped.png")
    tab.fetch_more.click()
    scroll_until(qtbot, tab.grid, lambda: model.rowCount() == 6000)
    out = tmp_path / "all.csv"
    document.sql_panel.export_result(str(out))
    qtbot.waitUntil(lambda: "Exported 10,000 rows" in document.message.text(), timeout=20_000)
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["id", "val", "name"] and len({r[0] for r in rows[1:]}) == 10_000
    assert [int(r[1]) for r in rows[1:]] == sorted(int(r[1]) for r in rows[1:])
    qtbot.waitUntil(lambda: "exported" in tab.label.text(), timeout=5_000)
    assert not tab.fetch_more.isVisible()
    document.close_document()


def test_transactions_and_one_run_per_statement_on_postgres(qtbot, qtmodeltester, pg_url: str) -> None:
    db = open_database_url(pg_url)
    db.write(lambda c: c.execute("CREATE TABLE t (id integer PRIMARY KEY, val integer); "
                                 "INSERT INTO t SELECT g, g % 3 FROM generate_series(1, 3000) g; "
                                 "CREATE SEQUENCE s"))

    def scalar(sql: str):
        return db.write(lambda c: c.execute(sql).fetchone()[0])

    document = open_server(qtbot, pg_url)
    panel = document.sql_panel
    try:
        run_sql(qtbot, document, "SELECT nextval('s') AS n")
        [tab] = tabs(document)
        assert tab.model.index(0, 0).data() == "1"
        assert scalar("SELECT last_value FROM s") == 1  # run once (the old code ran it twice)
        run_sql(qtbot, document, "BEGIN; UPDATE t SET val = -1 WHERE id <= 10; ROLLBACK;")
        assert scalar("SELECT count(*) FROM t WHERE val = -1") == 0  # ROLLBACK is not ignored
        assert not panel.transaction_bar.isVisible()
        run_sql(qtbot, document, "BEGIN; UPDATE t SET val = -1 WHERE id <= 10; SELECT 1 / 0")
        assert panel.transaction_bar.isVisible() and "failed" in panel.transaction_label.text()
        assert not panel.commit_button.isEnabled()
        seen = answer_box(qtbot, "Roll back")
        assert document.ask_to_close(document)
        assert "it failed" in seen[0]
        assert not panel.transaction_bar.isVisible()
        assert scalar("SELECT count(*) FROM t WHERE val = -1") == 0
        run_sql(qtbot, document, "INSERT INTO t VALUES (5000, 1), (5001, 2) RETURNING id, val * 10 AS ten")
        [tab] = tabs(document)
        assert [tab.model.index(r, 0).data() for r in range(2)] == ["5000", "5001"]
        assert "2 row(s) affected" in tab.label.text()
        qtmodeltester.check(tab.model, force_py=True)
    finally:
        document.close_document()
        db.close()


@pytest.mark.parametrize("which", ["current", "all"])
def test_cancel_still_stops_the_statement(qtbot, pg_url: str, which: str) -> None:
    document = open_server(qtbot, pg_url)
    panel = document.sql_panel
    document.editor.setPlainText("SELECT pg_sleep(30)")
    document.execute(which)
    qtbot.waitUntil(lambda: panel.cancel_button.isEnabled())
    qtbot.wait(300)
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: "Cancelled" in panel.message.text(), timeout=10_000)
    run_sql(qtbot, document, "SELECT 2 AS two")
    assert tabs(document)[0].model.index(0, 0).data() == "2"
    document.close_document()


def test_transaction_bar_and_one_run_on_mariadb(qtbot, qtmodeltester, mariadb_url: str) -> None:
    db = open_database_url(mariadb_url)
    db.write(lambda c: c.execute("CREATE TABLE t (id integer PRIMARY KEY, val integer)"))
    db.write(lambda c: c.execute("INSERT INTO t SELECT seq, MOD(seq, 3) FROM seq_1_to_3000"))
    db.write(lambda c: c.execute("CREATE SEQUENCE s"))

    def scalar(sql: str):
        return db.write(lambda c: c.execute(sql).fetchone()[0])

    document = open_server(qtbot, mariadb_url)
    panel = document.sql_panel
    try:
        run_sql(qtbot, document, "SELECT nextval(s) AS n")
        assert tabs(document)[0].model.index(0, 0).data() == "1"
        assert scalar("SELECT nextval(s)") == 2  # the editor's SELECT ran once (three times before)
        run_sql(qtbot, document, "BEGIN; UPDATE t SET val = -1 WHERE id <= 10; ROLLBACK;")
        assert scalar("SELECT count(*) FROM t WHERE val = -1") == 0
        run_sql(qtbot, document, "START TRANSACTION; DELETE FROM t WHERE id > 2990")
        assert panel.transaction_bar.isVisible() and panel.commit_button.isEnabled()
        assert scalar("SELECT count(*) FROM t") == 3000  # others do not see it yet
        panel.commit_button.click()
        qtbot.waitUntil(lambda: not panel.transaction_bar.isVisible(), timeout=10_000)
        assert scalar("SELECT count(*) FROM t") == 2990
        run_sql(qtbot, document, "SELECT * FROM t ORDER BY val")
        [tab] = tabs(document)
        qtmodeltester.check(tab.model, force_py=True)
        rows = tab.model.result.rows
        assert len(rows) >= 1000 and len({row[0] for row in rows}) == len(rows)  # none twice
    finally:
        document.close_document()
        db.close()


def test_the_editor_completes_table_and_column_names(qtbot, qtmodeltester, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt

    path = make_db(tmp_path / "t.db", rows=10)
    conn = sqlite3.connect(path)
    conn.execute('CREATE TABLE "Order Items" (id INTEGER PRIMARY KEY, "Unit Price" REAL, quantity INTEGER)')
    conn.commit()
    conn.close()
    document = open_file(qtbot, path)
    editor = document.editor
    editor.setFocus()
    editor.clear()
    qtbot.keyClicks(editor, "SELECT quan")
    popup = editor.completer.popup()
    qtbot.waitUntil(popup.isVisible)
    assert editor.completer.currentCompletion() == "quantity"
    qtmodeltester.check(editor.names, force_py=True)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert editor.toPlainText() == "SELECT quantity"
    qtbot.keyClicks(editor, ' FROM "Order Items" WHERE ')
    qtbot.keyClicks(editor, "ord")  # a name that needs quotes is inserted quoted
    qtbot.waitUntil(popup.isVisible)
    assert editor.completer.currentCompletion() == "Order Items"
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert editor.toPlainText().endswith('WHERE "Order Items"')
    qtbot.keyClicks(editor, ".")  # after "table." its columns
    qtbot.waitUntil(popup.isVisible)
    shown = [editor.completer.completionModel().index(i, 0).data()
             for i in range(editor.completer.completionCount())]
    assert shown == ["id", "Unit Price", "quantity"]  # the table's own order
    qtbot.keyClicks(popup, "un")  # typing goes on through the popup, which narrows the list
    qtbot.waitUntil(lambda: editor.completer.currentCompletion() == "Unit Price")
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert editor.toPlainText() == 'SELECT quantity FROM "Order Items" WHERE "Order Items"."Unit Price"'
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    qtbot.keyClicks(editor, " > 1")
    document.execute("all")
    qtbot.waitUntil(lambda: document.sql_panel.results.count() == 1, timeout=10_000)
    assert tabs(document)[0].outcome.error is None
    document.close_document()


def test_a_long_script_keeps_the_message_short_and_every_tab(qtbot, tmp_path: Path) -> None:
    document = open_file(qtbot, make_db(tmp_path / "t.db", rows=10))
    run_sql(qtbot, document, "\n".join(f"UPDATE t SET val = {i} WHERE id = 1;" for i in range(30)))
    assert document.sql_panel.results.count() == 30
    text = document.sql_panel.message.text()
    assert text.count("<br>") == 7 and "23 more" in text and text.startswith("1: 1 row(s) affected")
    assert value_of(tmp_path / "t.db", "SELECT val FROM t WHERE id = 1") == 29
    document.close_document()


def test_a_grid_edit_during_an_open_transaction_names_it(qtbot, tmp_path: Path) -> None:
    """The Execute SQL transaction holds the write lock: the grid's edit says so (not "another
    program"), stays marked, and Retry writes it once the transaction is committed."""
    path = make_db(tmp_path / "t.db", rows=20)
    document = open_file(qtbot, path)
    panel = document.sql_panel
    run_sql(qtbot, document, "BEGIN; UPDATE t SET val = -1 WHERE id = 20")
    assert panel.transaction_open
    document.views.setCurrentIndex(0)  # the grid (the run reloaded its rows)
    qtbot.waitUntil(lambda: document.browse.key_of(0) is not None, timeout=10_000)
    document.edits.edit_cell(0, 2, "typed in the grid")
    text = document.message.text()
    assert "Execute SQL" in text and "Commit or Rollback" in text and "another program" not in text
    assert document.model.index(0, 2).data() == "typed in the grid"  # kept, marked
    assert "Execute SQL" in document.model.index(0, 2).data(3)  # the cell's tooltip says why too
    assert value_of(path, "SELECT name FROM t WHERE id = 1") == "name 1"
    panel.commit_button.click()
    qtbot.waitUntil(lambda: not panel.transaction_open, timeout=10_000)
    document.server_bar.retry_button.click()
    assert value_of(path, "SELECT name FROM t WHERE id = 1") == "typed in the grid"
    assert value_of(path, "SELECT val FROM t WHERE id = 20") == -1
    # a lock that is not ours still blames another program (once the live refresh that the
    # commit set off has landed: it would clear the message line)
    qtbot.wait(1500)
    edit_while_locked(document, path, 1, 2, "blocked")
    said = f"{document.message.text()} {document.model.index(1, 2).data(3)}"
    assert "another program" in said
    document.discard_pending_edits()
    document.close_document()
