"""Grid edits on a database server that lose nothing (issue 19: items 1, 3, 4, 12, 13, 14, 16).

* an edit, its undo, a delete and its undo are conditional on the row still holding what we
  read: when someone else changed it, the conflict box shows both values and nothing is
  overwritten unless the user says so;
* closing or quitting with edits not written asks Retry / Discard / Cancel, and the edits survive
  a crash in the recovery journal;
* after a lost connection, what a write really did is read back by key before it is reported;
* Reconnect renews every connection; messages go when they no longer apply.

The server-down cases stop and start a server of their own (``own_server``), never the shared one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QObject, QThreadPool, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from gui.common.document import PendingWrites
from storage.formats.sql.edit import ANY, Conflict, RowMissing, delete_rows, restore_rows, update_cell
from storage.formats.sql.errors import ConnectionLost, WrongPassword
from storage.formats.sql.url import open_database_url, test_connection
from tests.gui.recovery.test_journal import crash_in_process, entries, restore_notice
from tests.gui.sql.test_pg import open_pg, run, scalar, wait_cell, wait_total
from tests.support import pg_server
from tests.support.gui_helpers import close_window, edit_while_locked, launch


class Answers:
    """Answers the next message boxes, in order: (object name, answer button); keeps their texts."""

    def __init__(self, *answers: tuple[str, str]) -> None:
        self.answers = list(answers)
        self.texts: list[str] = []
        QTimer.singleShot(0, self._poll)

    def _poll(self) -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and self.answers:
            name, answer = self.answers.pop(0)
            self.texts.append(f"{box.objectName()}: {box.text()} {box.informativeText()}")
            assert box.objectName() == name, self.texts[-1]
            box.grab().save(f"/tmp/shots/{name}.png")  # looked at by hand
            box.findChild(QPushButton, f"{answer}Button").click()
        if self.answers:
            QTimer.singleShot(10, self._poll)

    @property
    def done(self) -> bool:
        return not self.answers


def run_all(url: str, *statements: str) -> None:
    """Each statement in its own transaction (MariaDB takes one statement at a time)."""
    for sql in statements:
        run(url, sql)


def table_t(url: str, rows: int = 3) -> None:
    """t(id, v, n): rows (i, 'v<i>', i) for i in 1..rows, on either server."""
    values = ", ".join(f"({i}, 'v{i}', {i})" for i in range(1, rows + 1))
    run_all(url, "CREATE TABLE t (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0)",
            f"INSERT INTO t VALUES {values}")


def kill_connections(url: str) -> None:
    """End every other session on the test's database (the server stays up)."""
    database = url.rsplit("/", 1)[1]
    if not url.startswith("mysql"):
        run(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 f"WHERE datname = '{database}' AND pid <> pg_backend_pid()")
        return
    db = open_database_url(url)
    try:
        def kill(conn) -> None:
            ids = conn.execute("SELECT id FROM information_schema.processlist WHERE db = :db "
                               "AND id <> CONNECTION_ID()", {"db": database}).fetchall()
            for (ident,) in ids:
                conn.execute(f"KILL {int(ident)}")

        db.write(kill)
    finally:
        db.close()


# -- the optimistic check, in storage --------------------------------------------------------------

def test_update_is_conditional_on_the_value_read_on_sqlite(tmp_path: Path) -> None:
    path = str(tmp_path / "a.db")
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
        conn.execute("INSERT INTO t VALUES (1, NULL), (2, 'b')")
    update_cell(path, "t", {"rowid": 1}, "v", "x", expected=None)  # NULL IS NULL: written
    with pytest.raises(Conflict) as caught:
        update_cell(path, "t", {"rowid": 2}, "v", "y", expected="not b")
    assert caught.value.current == "b"
    update_cell(path, "t", {"rowid": 2}, "v", "b", expected="not b")  # holds ours already: no conflict
    with pytest.raises(RowMissing):
        update_cell(path, "t", {"rowid": 9}, "v", "y", expected="b")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT v FROM t ORDER BY id").fetchall() == [("x",), ("b",)]


def test_update_delete_and_restore_check_the_row_on_postgres(pg_url: str) -> None:
    table_t(pg_url)
    run(pg_url, "ALTER TABLE t ADD COLUMN j json DEFAULT '{\"a\": 1}', "
                "ADD COLUMN at timestamptz DEFAULT '2024-01-01 10:00:00+00'")
    db = open_database_url(pg_url)
    try:
        update_cell(db, "t", {"id": 1}, "v", "mine", expected="v1")
        run(pg_url, "UPDATE t SET v = 'theirs' WHERE id = 1")
        with pytest.raises(Conflict) as caught:
            update_cell(db, "t", {"id": 1}, "v", "again", expected="mine")
        assert caught.value.current == "theirs"
        assert scalar(pg_url, "SELECT v FROM t WHERE id = 1") == "theirs"
        # json has no equality operator: compared after a locking read instead
        update_cell(db, "t", {"id": 1}, "j", '{"a": 2}', expected='{"a": 1}', check_in_sql=False,
                    decl_type="json")
        with pytest.raises(Conflict):
            update_cell(db, "t", {"id": 1}, "j", '{"a": 3}', expected='{"a": 1}', check_in_sql=False,
                        decl_type="json")
        # a time zone written another way is the same moment: no false conflict
        update_cell(db, "t", {"id": 2}, "at", "2025-01-01 00:00:00+00",
                    expected="2024-01-01 12:00:00+02:00", decl_type="timestamp with time zone")
        # a delete only of rows as they were read; a restore only where the key is free
        columns = ["id", "v", "n"]
        with pytest.raises(Conflict) as rows:
            delete_rows(db, "t", [{"id": 2}, {"id": 3}], columns, [(2, "v2", 2), (3, "old", 3)])
        assert rows.value.items == [(1, (3, "v3", 3))]
        assert scalar(pg_url, "SELECT count(*) FROM t") == 3  # nothing deleted
        found = delete_rows(db, "t", [{"id": 2}, {"id": 3}], columns, [(2, "v2", 2), (3, "old", 3)],
                            skip=frozenset({1}))
        assert found == [(2, "v2", 2), None] and scalar(pg_url, "SELECT count(*) FROM t") == 2
        run(pg_url, "INSERT INTO t (id, v, n) VALUES (2, 'new', 7)")
        with pytest.raises(Conflict):
            restore_rows(db, "t", [{"id": 2, "v": "v2", "n": 2}], ["id"])
        restore_rows(db, "t", [{"id": 2, "v": "v2", "n": 2}], ["id"], replace=frozenset({0}))
        assert scalar(pg_url, "SELECT v || n FROM t WHERE id = 2") == "v22"
        update_cell(db, "t", {"id": 2}, "v", "free", expected=ANY)
    finally:
        db.close()


def test_the_check_is_each_dialects_own_null_safe_equality(server_url: str) -> None:
    table_t(server_url)
    run(server_url, "UPDATE t SET v = NULL WHERE id = 1")
    db = open_database_url(server_url)
    try:
        update_cell(db, "t", {"id": 1}, "v", "from null", expected=None)  # NULL matches NULL
        with pytest.raises(Conflict) as caught:
            update_cell(db, "t", {"id": 1}, "v", "x", expected=None)  # no longer NULL
        assert caught.value.current == "from null"
        run(server_url, "UPDATE t SET n = 2 WHERE id = 1")  # the same value someone else wrote
        update_cell(db, "t", {"id": 1}, "n", 5, expected=1, decl_type="int")  # 2: a conflict
    except Conflict as exc:
        assert exc.current == 2
    else:
        raise AssertionError("a changed number was overwritten")
    finally:
        db.close()
    assert scalar(server_url, "SELECT n FROM t WHERE id = 1") == 2


# -- conflicts in the grid ------------------------------------------------------------------------

def test_an_edit_over_someone_elses_change_shows_both_values_and_overwrites_nothing(
        qtbot, qtmodeltester, server_url: str) -> None:
    table_t(server_url)
    document = open_pg(qtbot, server_url)
    wait_total(qtbot, document, 3)
    assert wait_cell(qtbot, document, 0, 1) == "v1"
    run(server_url, "UPDATE t SET v = 'theirs' WHERE id = 1")  # a second connection
    answers = Answers(("editConflictBox", "theirs"))
    document.edits.edit_cell(0, 1, "mine")
    assert answers.done and "mine" in answers.texts[0] and "theirs" in answers.texts[0]
    assert scalar(server_url, "SELECT v FROM t WHERE id = 1") == "theirs"
    assert document.model.index(0, 1).data() == "theirs" and document.undo_stack.count() == 0
    document.grab().save("/tmp/shots/sql_conflict_kept_theirs.png")

    run(server_url, "UPDATE t SET v = 'again' WHERE id = 1")
    answers = Answers(("editConflictBox", "cancel"))
    document.edits.edit_cell(0, 1, "mine")
    assert answers.done and scalar(server_url, "SELECT v FROM t WHERE id = 1") == "again"
    assert document.undo_stack.count() == 0

    run(server_url, "UPDATE t SET v = 'third' WHERE id = 1")
    answers = Answers(("editConflictBox", "overwrite"))
    document.edits.edit_cell(0, 1, "mine")
    assert answers.done and scalar(server_url, "SELECT v FROM t WHERE id = 1") == "mine"
    assert document.undo_stack.count() == 1

    # undo over a change made after our write: asks too; Cancel keeps the step to undo later
    run(server_url, "UPDATE t SET v = 'later' WHERE id = 1")
    answers = Answers(("editConflictBox", "cancel"))
    document.undo_stack.undo()
    qtbot.waitUntil(lambda: document.undo_stack.index() == 1)
    assert answers.done and scalar(server_url, "SELECT v FROM t WHERE id = 1") == "later"
    assert "undo" in answers.texts[0].lower()
    answers = Answers(("editConflictBox", "theirs"))
    document.undo_stack.undo()
    assert answers.done and scalar(server_url, "SELECT v FROM t WHERE id = 1") == "later"
    assert document.undo_stack.count() == 0

    # no one else wrote: no question, edit and undo go through
    document.edits.edit_cell(1, 2, "5")
    assert scalar(server_url, "SELECT n FROM t WHERE id = 2") == 5
    document.undo_stack.undo()
    assert scalar(server_url, "SELECT n FROM t WHERE id = 2") == 2
    qtmodeltester.check(document.model)
    document.close_document()


def test_delete_and_its_undo_ask_when_the_rows_changed(qtbot, server_url: str) -> None:
    table_t(server_url)
    document = open_pg(qtbot, server_url)
    wait_total(qtbot, document, 3)
    wait_cell(qtbot, document, 0, 1)
    run(server_url, "UPDATE t SET v = 'theirs' WHERE id = 2")
    document.grid.selectRow(1)
    answers = Answers(("editConflictBox", "theirs"))
    document.edits.delete_rows()
    assert answers.done and "theirs" in answers.texts[0] and "v2" in answers.texts[0]
    assert scalar(server_url, "SELECT count(*) FROM t") == 3 and document.undo_stack.count() == 0

    wait_total(qtbot, document, 3)
    wait_cell(qtbot, document, 0, 1)
    document.grid.selectRow(0)
    document.edits.delete_rows()  # unchanged: no question
    assert scalar(server_url, "SELECT count(*) FROM t WHERE id = 1") == 0
    run(server_url, "INSERT INTO t (id, v) VALUES (1, 'someone else')")  # the key is taken since
    answers = Answers(("editConflictBox", "theirs"))
    document.undo_stack.undo()
    assert answers.done and "someone else" in answers.texts[0]
    assert scalar(server_url, "SELECT v FROM t WHERE id = 1") == "someone else"
    document.close_document()


def test_deleting_many_rows_asks_first_and_stays_undoable(qtbot, server_url: str) -> None:
    table_t(server_url, 20)
    document = open_pg(qtbot, server_url)
    wait_total(qtbot, document, 20)
    wait_cell(qtbot, document, 0, 1)
    document.grid.selectAll()
    answers = Answers(("confirmDeleteBox", "cancel"))
    document.edits.delete_rows()
    assert answers.done and "Delete 20 rows" in answers.texts[0]
    assert scalar(server_url, "SELECT count(*) FROM t") == 20
    answers = Answers(("confirmDeleteBox", "delete"))
    document.edits.delete_rows()
    assert answers.done and scalar(server_url, "SELECT count(*) FROM t") == 0
    document.undo_stack.undo()
    assert scalar(server_url, "SELECT count(*) FROM t") == 20
    wait_total(qtbot, document, 20)
    wait_cell(qtbot, document, 0, 1)
    document.grid.clearSelection()
    for row in (0, 1, 2):  # a few rows: no question
        document.grid.selectionModel().select(document.model.index(row, 0),
                                              document.grid.selectionModel().SelectionFlag.Select)
    document.edits.delete_rows()
    assert scalar(server_url, "SELECT count(*) FROM t") == 17
    document.close_document()


# -- edits not written: closing, quitting, crash recovery ---------------------------------------

@pytest.fixture(params=["postgresql", "mariadb"])
def own_server(request):
    """A server of this test's own, which it may stop and start again: (URL of a database with
    t(id, v, n) of 2,000 rows, stop(), restart())."""
    import shutil
    import tempfile

    from tests import conftest
    from tests.support import mariadb_server

    module = pg_server if request.param == "postgresql" else mariadb_server
    unavailable = conftest._pg_unavailable if request.param == "postgresql" else conftest._mariadb_unavailable
    if module.find_bin() is None:
        unavailable("no server binaries to start a server of our own")
    folder = tempfile.mkdtemp(prefix="datashelf-down-")
    try:
        url = module.start(folder)
        table_t(url, 2000)
        yield url, lambda: module.stop(folder), lambda: module.restart(folder)
    finally:
        module.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


def values_of(url: str, *ids: int) -> list:
    return [scalar(url, f"SELECT v FROM t WHERE id = {i}") for i in ids]


def _window_with(qtbot, tmp_path: Path, url: str, settings: str = "settings"):
    window = launch(qtbot, tmp_path / settings)
    document = window.open_database_url(url)
    qtbot.waitUntil(lambda: document.is_loaded and document.table is not None, timeout=20_000)
    wait_total(qtbot, document, 2000)
    wait_cell(qtbot, document, 0, 1)
    return window, document


def test_closing_with_edits_not_written_asks_retry_discard_cancel(qtbot, tmp_path: Path,
                                                                  own_server) -> None:
    url, stop, restart = own_server
    window, document = _window_with(qtbot, tmp_path, url)
    stop()
    document.edits.edit_cell(0, 1, "one")
    document.edits.edit_cell(1, 1, "two")
    assert "2 edits not written" in document.server_bar.label.text() and document.is_modified()

    answers = Answers(("pendingEditsBox", "cancel"))
    assert not window.close_document(document)
    assert answers.done and "2 edit(s)" in answers.texts[0] and document in window.all_documents()

    answers = Answers(("pendingEditsBox", "retry"), ("pendingEditsBox", "cancel"))  # still down
    assert not window.close_document(document)
    assert answers.done and document.pending_count() == 2

    restart()
    answers = Answers(("pendingEditsBox", "retry"))
    assert window.close_document(document)
    assert answers.done and document not in window.all_documents()
    assert values_of(url, 1, 2) == ["one", "two"]

    # Quitting asks the same; Discard forgets the edits and quits.
    window, document = _window_with(qtbot, tmp_path, url, "settings2")
    stop()
    document.edits.edit_cell(2, 1, "lost on purpose")
    answers = Answers(("pendingEditsBox", "discard"))
    close_window(qtbot, window)
    assert answers.done
    restart()
    assert scalar(url, "SELECT v FROM t WHERE id = 3") == "v3"


def test_edits_not_written_survive_a_crash_and_come_back_pending(qtbot, tmp_path: Path,
                                                                 own_server) -> None:
    from sqlalchemy.engine import make_url

    url, stop, restart = own_server
    password = make_url(url).password
    settings_dir = tmp_path / "settings"
    window, document = _window_with(qtbot, tmp_path, url)
    stop()
    document.edits.edit_cell(0, 1, "kept one")
    document.edits.edit_cell(1, 1, b"kept bytes".decode())
    window.journal.flush_now()
    qtbot.waitUntil(lambda: window.journal.is_idle() and len(entries(settings_dir)) == 1, timeout=10_000)
    [entry] = entries(settings_dir)
    assert entry.extra["server_url"] == url.replace(f":{password}@", "@") and password not in entry.to_json()
    crash_in_process(qtbot, window, settings_dir)
    restart()

    window = launch(qtbot, settings_dir)
    notice = restore_notice(window)
    assert notice is not None
    notice.findChild(QPushButton, "restoreButton").click()
    qtbot.waitUntil(lambda: any(isinstance(d, PendingWrites) and d.pending_count()
                                for d in window.all_documents()), timeout=20_000)
    [document] = [d for d in window.all_documents() if isinstance(d, PendingWrites) and d.pending_count()]
    assert document.pending_count() == 2 and "2 edits not written" in document.server_bar.label.text()
    assert "asks for a password" in document.status_page.status.text()  # no password is kept in the journal
    document.status_page.password_edit.setText(password)
    document.status_page.password_button.click()
    qtbot.waitUntil(lambda: document.stack.currentIndex() == 1 and document.table is not None,
                    timeout=20_000)
    wait_total(qtbot, document, 2000)
    assert wait_cell(qtbot, document, 0, 1) == "kept one"  # shown pending, marked
    assert (0, 1) in document.model.failed_edits
    document.grab().save("/tmp/shots/sql_pending_restored.png")
    assert scalar(url, "SELECT v FROM t WHERE id = 1") == "v1"  # nothing written blindly
    document.server_bar.retry_button.click()
    assert values_of(url, 1, 2) == ["kept one", "kept bytes"]
    assert not document.pending.edits and not document.is_modified()
    qtbot.waitUntil(lambda: window.journal.is_idle() and entries(settings_dir) == [], timeout=10_000)
    # The session also restored the saved connection: let its workers answer while the window lives.
    qtbot.waitUntil(lambda: QThreadPool.globalInstance().activeThreadCount() == 0, timeout=30_000)
    close_window(qtbot, window)


# -- lost connections: the true outcome, Reconnect, messages ---------------------------------------

def _lose_answer_once(monkeypatch, database) -> None:
    """The next write commits on the server, then its answer is lost (the network dropped)."""
    real = database.write

    def write(work, table=None, **kw):
        monkeypatch.setattr(database, "write", real)
        real(work, table, **kw)
        raise ConnectionLost(f"The connection to {database.label} was lost (server closed the "
                             "connection unexpectedly). Reconnect when the server is back.")

    monkeypatch.setattr(database, "write", write)


def test_after_a_lost_connection_the_true_outcome_is_reported(qtbot, server_url: str, monkeypatch) -> None:
    table_t(server_url)
    document = open_pg(qtbot, server_url)
    wait_total(qtbot, document, 3)
    wait_cell(qtbot, document, 0, 1)
    document.edits.edit_cell(2, 2, "30")  # the writing connection exists now
    # 1. The connection is killed before the delete: it did not happen, and that is what is said.
    kill_connections(server_url)
    document.grid.selectRow(0)
    document.edits.delete_rows()
    assert "checked when the connection is back" in document.message.text()
    assert document.server_bar.reconnect_button.isVisibleTo(document)
    document.server_bar.reconnect_button.click()
    qtbot.waitUntil(lambda: "Not deleted" in document.message.text(), timeout=20_000)
    assert scalar(server_url, "SELECT count(*) FROM t WHERE id = 1") == 1
    # 2. The delete committed and only its answer was lost: after Reconnect it is reported done,
    #    with its undo step (before: "Not deleted: connection lost", and no undo).
    wait_total(qtbot, document, 3)
    wait_cell(qtbot, document, 0, 1)
    count = document.undo_stack.count()
    _lose_answer_once(monkeypatch, document.database)
    document.grid.selectRow(0)
    document.edits.delete_rows()
    assert scalar(server_url, "SELECT count(*) FROM t WHERE id = 1") == 0
    assert "Not deleted" not in document.message.text()
    # the grid's next read works: the connection is back, so the outcome is read at once
    qtbot.waitUntil(lambda: "confirmed" in document.message.text(), timeout=20_000)
    assert not document.server_bar.isVisible()
    assert document.undo_stack.count() == count + 1
    document.undo_stack.undo()
    assert scalar(server_url, "SELECT v FROM t WHERE id = 1") == "v1"
    # 3. An edit whose commit answer was lost: pending at first, found written after Reconnect.
    wait_total(qtbot, document, 3)
    wait_cell(qtbot, document, 0, 1)
    _lose_answer_once(monkeypatch, document.database)
    document.edits.edit_cell(0, 1, "landed")
    assert document.pending_count() == 1
    document.server_bar.reconnect_button.click()
    qtbot.waitUntil(lambda: "was written before the connection was lost" in document.message.text(),
                    timeout=20_000)
    assert not document.pending.edits and scalar(server_url, "SELECT v FROM t WHERE id = 1") == "landed"
    document.undo_stack.undo()
    assert scalar(server_url, "SELECT v FROM t WHERE id = 1") == "v1"
    document.close_document()


def test_reconnect_renews_every_connection(qtbot, server_url: str) -> None:
    table_t(server_url)
    document = open_pg(qtbot, server_url)
    wait_total(qtbot, document, 3)
    wait_cell(qtbot, document, 0, 1)
    document.edits.edit_cell(0, 1, "before")  # the writer, the readers and the pool all hold connections
    document.views.setCurrentIndex(2)
    document.editor.setPlainText("SELECT count(*) FROM t")
    document.execute("all")
    qtbot.waitUntil(lambda: "1 row" in document.sql_message.text(), timeout=20_000)
    kill_connections(server_url)
    document.reconnect()
    qtbot.waitUntil(lambda: document.stack.currentIndex() == 1 and document.table is not None, timeout=20_000)
    wait_total(qtbot, document, 3)
    wait_cell(qtbot, document, 0, 1)
    document.edits.edit_cell(0, 1, "after")  # the first edit after Reconnect is written
    assert scalar(server_url, "SELECT v FROM t WHERE id = 1") == "after"
    assert "Not written" not in document.message.text() and not document.pending.edits
    document.editor.setPlainText("UPDATE t SET n = 42 WHERE id = 2")
    document.execute("all")  # and so is the first statement
    qtbot.waitUntil(lambda: "1 row(s) affected" in document.sql_message.text(), timeout=20_000)
    assert scalar(server_url, "SELECT n FROM t WHERE id = 2") == 42
    document.close_document()


class BarShown(QObject):
    """The texts a bar had each time it was shown: a bar shown and hidden again between two
    polls of ``waitUntil`` (a lost connection found by a background count, then rows read on a
    new connection) still counts as shown."""

    def __init__(self, bar) -> None:
        super().__init__(bar)
        self.bar = bar
        self.texts: list[str] = []
        bar.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.bar and event.type() == QEvent.Type.Show:
            self.texts.append(self.bar.label.text())
        return False


def test_messages_go_when_they_no_longer_apply(qtbot, server_url: str) -> None:
    table_t(server_url)
    run_all(server_url, "CREATE TABLE u (id int PRIMARY KEY, w text)", "INSERT INTO u VALUES (1, 'w')")
    document = open_pg(qtbot, server_url)
    document.tree.setCurrentItem(document.tree.table_item(document.schema.find("t").qualified))
    wait_total(qtbot, document, 3)
    wait_cell(qtbot, document, 0, 1)
    document.edits.edit_cell(0, 2, None)  # NOT NULL: refused, said
    assert "Not written" in document.message.text() and document.message.isVisible()
    document.tree.setCurrentItem(document.tree.table_item(document.schema.find("u").qualified))
    wait_total(qtbot, document, 1)
    assert not document.message.isVisible()  # it was about t

    shown = BarShown(document.server_bar)  # a busy machine may show and hide it between two polls
    kill_connections(server_url)
    document.browse.sort_by("w")
    qtbot.waitUntil(lambda: bool(shown.texts), timeout=20_000)
    assert "Connection lost" in shown.texts[0]
    document.grab().save("/tmp/shots/sql_connection_lost.png")
    # Each reader finds its connection dead at its next use and opens a new one; once rows
    # arrive again, the bar and the message go.
    for _attempt in range(3):
        document.browse.sort_by("w")
        qtbot.waitUntil(lambda: document.model.pager.total is not None or "lost" in document.message.text(),
                        timeout=20_000)
        if document.model.pager.total == 1 and wait_cell(qtbot, document, 0, 1) == "w":
            break
    qtbot.waitUntil(lambda: not document.server_bar.isVisible(), timeout=20_000)
    assert "connection was lost" not in document.message.text()
    document.close_document()


def test_no_password_given_is_not_called_refused(qtbot, server_url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(server_url)
    bare = parsed._replace(password=None).render_as_string(hide_password=False)
    with pytest.raises(WrongPassword) as caught:
        test_connection(bare)
    assert "asks for a password" in str(caught.value) and "refused" not in str(caught.value)
    with pytest.raises(WrongPassword, match="refused the password"):
        test_connection(server_url, password="wrong")
    document = open_pg(qtbot, bare)
    assert document.status_page.password_form.isVisible()
    assert "asks for a password" in document.status_page.status.text() \
        and "refused" not in document.status_page.status.text()
    document.close_document()


def test_the_conflict_box_shows_long_values_cut() -> None:
    from gui.sql.edit_prompts import shown

    assert shown(None) == "NULL" and shown(b"abc") == "(3 bytes)"
    assert shown("x" * 500).endswith("…") and len(shown("x" * 500)) == 201


# -- the WHERE box (a free-form condition over the grid) -------------------------------------------

def test_the_where_box_filters_in_the_databases_own_sql(qtbot, server_url: str) -> None:
    table_t(server_url, 30)
    run(server_url, "UPDATE t SET v = '50 off: yes' WHERE id = 7")
    document = open_pg(qtbot, server_url)
    wait_total(qtbot, document, 30)
    document.browse.where_box.setText("n > 20 OR v LIKE '50%'")  # its OR stays inside its parentheses
    document.browse.where_box.returnPressed.emit()
    wait_total(qtbot, document, 11)
    document.browse.set_filter("n", "<", "25")  # ANDed with the other filters
    wait_total(qtbot, document, 5)
    assert "WHERE n > 20" in document.browse.filters_label.text()
    document.browse.set_filter("n", "<", "")
    document.browse.where_box.setText("no_such_column = 1")
    document.browse.where_box.returnPressed.emit()
    qtbot.waitUntil(lambda: "no_such_column" in document.message.text(), timeout=20_000)
    document.browse.where_box.clear()  # clearing it shows every row again
    wait_total(qtbot, document, 30)
    document.close_document()


def test_the_where_box_on_an_sqlite_file(tmp_path: Path) -> None:
    from storage.formats.sql.pager import Pager
    from storage.formats.sql.query import QuerySpec

    conn = sqlite3.connect(tmp_path / "w.db")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"a:{i}%") for i in range(1, 50)])
    spec = QuerySpec("t", ("id", "v"), ("rowid",), where="v LIKE 'a:1%' OR id = 40;")
    pager = Pager(spec, 7)
    assert pager.count(conn) == 12  # a:1, a:10..a:19, and 40
    assert [r[0] for r in pager.fetch(conn, 1).values] == [16, 17, 18, 19, 40]
    conn.close()


# -- Show DDL of views, sequences and functions ----------------------------------------------------

def _tree_item(document, text: str):
    from PySide6.QtWidgets import QTreeWidgetItemIterator

    found = QTreeWidgetItemIterator(document.tree)
    while found.value() is not None:
        if found.value().text(0) == text:
            return found.value()
        found += 1
    raise AssertionError(f"{text} is not in the schema tree")


def _show_ddl(document, text: str) -> str:
    menu = document.schema_edit.tree_menu(_tree_item(document, text))
    [action] = [a for a in menu.actions() if a.text() == "Show DDL…"]
    action.trigger()
    dialog = document.schema_edit.ddl_dialog
    assert dialog is not None and dialog.isVisible()
    shown_text = dialog.text.toPlainText()
    dialog.grab().save(f"/tmp/shots/ddl_{text.split('(')[0]}.png")
    dialog.close()
    return shown_text


def test_show_ddl_of_views_sequences_and_functions_on_postgres(qtbot, pg_url: str) -> None:
    table_t(pg_url)
    run(pg_url, "CREATE VIEW big AS SELECT id, v FROM t WHERE n > 1; "
                "CREATE SEQUENCE ticket START 100 INCREMENT 5; "
                "CREATE FUNCTION twice(x int) RETURNS int LANGUAGE sql AS 'SELECT 2 * x'")
    document = open_pg(qtbot, pg_url)
    wait_total(qtbot, document, 3)
    assert _show_ddl(document, "big").startswith("CREATE VIEW public.big AS")
    sequence = _show_ddl(document, "ticket")
    assert "CREATE SEQUENCE public.ticket" in sequence and "INCREMENT BY 5" in sequence \
        and "START WITH 100" in sequence
    function = _show_ddl(document, "twice(x integer)")
    assert "CREATE OR REPLACE FUNCTION public.twice(x integer)" in function and "2 * x" in function
    assert [a for a in document.schema_edit.tree_menu(_tree_item(document, "t")).actions()
            if a.text() == "Show DDL…"]  # rebuilt from the catalog when asked (test_sql_ddl_server.py)
    document.close_document()


def test_show_ddl_of_an_sqlite_view(qtbot, tmp_path: Path) -> None:
    from tests.gui.sql.test_sql import open_document

    path = tmp_path / "v.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.execute("CREATE VIEW vv AS SELECT v FROM t")
    document = open_document(qtbot, path)
    assert _show_ddl(document, "vv") == "CREATE VIEW vv AS SELECT v FROM t"
    assert _show_ddl(document, "t").startswith("CREATE TABLE t")
    document.close_document()


def test_a_locked_sqlite_files_edits_are_journaled_and_kept_out_of_read_only(qtbot, tmp_path: Path) -> None:
    """The same safety on a file: an edit another program's lock kept out is pending, journaled,
    and a restore into a document opened read-only writes nothing until Read-only is off."""
    from tests.gui.sql.test_sql import open_document, wait_rows

    path = tmp_path / "locked.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 2)
    wait_cell(qtbot, document, 0, 1)
    edit_while_locked(document, path, 0, 1, "blocked")
    assert document.pending_count() == 1 and document.is_modified()
    assert document.journal_path() == str(path) and document.journal_extra() == {"conditional": True}
    payload = document.journal_payload()
    document.discard_pending_edits()
    assert not document.is_modified()
    document.close_document()

    again = open_document(qtbot, path, read_only=True)
    again.restore_from_journal(payload)
    assert again.pending_count() == 1
    again.retry_pending_edits()
    assert "Read-only" in again.message.text() and again.pending_count() == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT v FROM t WHERE id = 1").fetchone()[0] == "a"
    again.read_only_box.setChecked(False)
    qtbot.waitUntil(lambda: again.reader is not None and again.table is not None, timeout=10_000)
    again.retry_pending_edits()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT v FROM t WHERE id = 1").fetchone()[0] == "blocked"
    assert not again.pending.edits
    again.close_document()
