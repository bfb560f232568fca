"""The SQL tab is composed of panels that own their state and talk to the document through its
methods and signals (no mixins): each panel works on its own, over a small stand-in host."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import QWidget

from gui.sql.commands import EditCell, PendingEdits
from gui.sql.document import SqlDocument
from gui.sql.opening import StatusPage
from gui.sql.refresh import LiveRefresh
from gui.sql.server import ServerBar, ServerConnection
from gui.sql.transfer import TransferPanel
from storage.formats.sql.errors import ConnectionLost
from tests.gui.sql.test_sql import close, make_db, open_document, wait_cell, wait_rows

SQL_MODULES = ["gui.sql.document", "gui.sql.browse", "gui.sql.editing", "gui.sql.record",
               "gui.sql.schema_tree", "gui.sql.opening", "gui.sql.refresh", "gui.sql.transfer",
               "gui.sql.commands", "gui.sql.server", "gui.sql.tools", "gui.sql.fk", "gui.sql.schema_edit",
               "gui.sql.execute", "gui.sql.pragmas", "gui.sql.fk_editor", "gui.sql.fk_check",
               "gui.sql.fk_delegate", "gui.sql.schema_commands", "gui.sql.session"]


def test_no_class_only_adds_methods_to_a_host() -> None:
    """The document is one Document subclass; every other class owns its state (a QObject, an
    undo command, a protocol or plain data, or a class with its own __init__)."""
    own_bases = [c for c in SqlDocument.__mro__[1:] if c.__module__.startswith("gui.sql")]
    assert own_bases == []
    for name in SQL_MODULES:
        module = importlib.import_module(name)
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != name:
                continue
            assert (issubclass(cls, QObject | QUndoCommand | Exception) or getattr(cls, "_is_protocol", False)
                    or dataclasses.is_dataclass(cls) or "__init__" in vars(cls)), f"{name}.{cls.__name__}"


def test_live_refresh_emits_on_another_programs_write_only(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (v)")
    conn.commit()
    refresh = LiveRefresh()
    refresh.start(str(path))
    refresh.poll_timer.stop()  # ticked by hand below
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    refresh.note_own_write()  # as if this document wrote it: not a change to reload for
    with qtbot.assertNotEmitted(refresh.changed):
        refresh.tick()
    conn.execute("INSERT INTO t VALUES (2)")
    conn.commit()
    with qtbot.waitSignal(refresh.changed, timeout=1000):
        refresh.tick()
    assert refresh.external_reloads == 1
    conn.close()
    path.unlink()
    with qtbot.waitSignal(refresh.vanished, timeout=1000) as said:
        refresh.tick()
    assert "deleted or moved" in said.args[0]
    refresh.stop()


class _Host:
    """A stand-in document: what the panels ask of it, recorded."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.read_only = False
        self.schema = None
        self.database = None
        self.table = None
        self.undo_stack = QUndoStack()
        self.model = _Marks()
        self.reopened: list[str | None] = []

    def show_message(self, text: str, kind: str = "info") -> None:
        self.messages.append((text, kind))

    def note_error(self, error: BaseException) -> bool:
        return isinstance(error, ConnectionLost)

    def rows_shown(self) -> Any:
        return None

    def reopen(self, table: str | None) -> None:
        self.reopened.append(table)


class _Marks:
    """The grid model's failed-edit marks."""

    def __init__(self) -> None:
        self.marked: dict[tuple, Any] = {}

    def clear_failed(self, row: int, column: int) -> None:
        pass

    def mark_failed_key(self, key: Any, column: int, value: Any, message: str) -> None:
        self.marked[(tuple(sorted(key.items())), column)] = value

    def clear_failed_key(self, key: Any, column: int) -> None:
        self.marked.pop((tuple(sorted(key.items())), column), None)

    def row_of_key(self, key: Any) -> int | None:
        return None


def test_transfer_panel_shows_progress_then_says_what_was_done(qtbot) -> None:
    host = _Host()
    parent = QWidget()
    qtbot.addWidget(parent)
    panel = TransferPanel(host, parent)
    assert panel.export_rows_to("/nowhere.csv") is None  # nothing shown to export
    task = panel.run("Copying…", lambda cancel, progress: (progress(0.5), 42)[1], lambda n: f"Copied {n}")
    assert panel.isVisibleTo(parent) and panel.label.text() == "Copying…"
    qtbot.waitUntil(lambda: not panel.isVisibleTo(parent), timeout=5000)
    assert host.messages[-1] == ("Copied 42", "info")
    assert task.done.is_set()


def test_server_bar_follows_the_connection_and_the_pending_edits(qtbot) -> None:
    host = _Host()
    host.table = SimpleNamespace(name="t", schema=None)  # the grid shows the edited table
    parent = QWidget()
    qtbot.addWidget(parent)
    connection = ServerConnection("postgresql://u@h/db", None, "Team", None, parent)
    pending = PendingEdits(host, parent)
    bar = ServerBar(connection, parent)
    bar.follow(pending)
    assert not bar.isVisibleTo(parent)
    assert connection.title() == "Team" and connection.kind_label == "POSTGRESQL"
    assert connection.note_error(ConnectionLost("the server went away"))
    assert bar.isVisibleTo(parent) and bar.reconnect_button.isVisibleTo(parent)
    assert "Connection lost" in bar.label.text() and not bar.retry_button.isVisibleTo(parent)
    edit = EditCell(host, "t", {"id": 1}, 0, 1, "v", "old", "new")
    edit.error = "the server went away"
    pending.add(edit)
    assert host.model.marked == {((("id", 1),), 1): "new"}
    assert "1 edit not written" in bar.label.text() and bar.retry_button.isVisibleTo(parent)
    payload = pending.journal_payload()
    assert payload is not None
    connection.set_lost(None)
    pending.discard()
    assert not bar.isVisibleTo(parent) and host.model.marked == {} and pending.journal_payload() is None


def test_status_page_says_what_the_user_chose(qtbot) -> None:
    page = StatusPage("Opening t.db…")
    qtbot.addWidget(page)
    page.show()
    page.ask_password()
    assert page.password_form.isVisible()
    page.password_edit.setText("secret")
    with qtbot.waitSignal(page.passwordGiven) as given:
        qtbot.keyClick(page.password_edit, Qt.Key.Key_Return)
    assert given.args == ["secret"] and not page.password_form.isVisible()
    page.offer_retry("Reconnect")
    with qtbot.waitSignal(page.retryRequested):
        page.retry_open.click()
    page.reset()
    assert not page.retry_open.isVisible()


def test_views_follow_the_documents_signals(qtbot, tmp_path: Path) -> None:
    """The record form and the grid follow cellWritten / writeRefused: the commands call the
    document, never the views."""
    path = make_db(tmp_path / "t.db", rows=20)
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 20)
    wait_cell(qtbot, document, 2, 1)
    document.views.setCurrentWidget(document.record)
    document.grid.setCurrentIndex(document.model.index(2, 1))
    qtbot.waitUntil(lambda: document.record.values is not None and document.record.row == 2, timeout=10_000)
    with qtbot.waitSignal(document.cellWritten) as written:
        document.edits.edit_cell(2, 1, "renamed")
    assert written.args == [2, 1, "renamed"]
    assert document.record.field("na me").value == "renamed"
    with qtbot.waitSignal(document.writeRefused):
        document.edits.edit_cell(2, 1, None)  # NOT NULL: the database refuses it
    assert "NOT NULL" in document.record.field("na me").error_text()
    assert document.model.index(2, 1).data() == "renamed"
    close(document)


def test_writes_run_on_a_worker_while_the_gui_thread_keeps_going(qtbot, tmp_path: Path,
                                                                  monkeypatch) -> None:
    """A cell edit, its undo, an insert and a delete each write on a worker; the command completes
    when the worker answers, and the GUI thread's events run meanwhile."""
    import threading
    import time

    from PySide6.QtCore import QTimer

    from gui.sql import commands as sqlite_commands

    path = make_db(tmp_path / "t.db", rows=20)
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 20)
    wait_cell(qtbot, document, 3, 1)
    threads: list[str] = []
    ticks: list[int] = []

    def slow(write):
        def run(*args, **kwargs):
            threads.append(threading.current_thread().name)
            time.sleep(0.3)  # a slow server: the GUI thread must not wait in here
            return write(*args, **kwargs)
        return run

    for name in ("update_cell", "insert_row", "delete_row", "delete_rows", "restore_rows"):
        monkeypatch.setattr(sqlite_commands, name, slow(getattr(sqlite_commands, name)))
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    document.edits.edit_cell(3, 1, "slowly")
    assert document.model.index(3, 1).data() == "slowly"  # the command completed with the answer
    assert ticks, "the GUI thread waited for the write"
    document.undo_stack.undo()
    assert document.model.index(3, 1).data() == "name 4"
    document.edits.insert_row()
    wait_rows(qtbot, document, 21)
    document.undo_stack.undo()
    wait_rows(qtbot, document, 20)
    timer.stop()
    main = threading.main_thread().name
    assert len(threads) == 4 and main not in threads
    wait_cell(qtbot, document, 5, 1)  # the undone insert reloaded the page: the row is read again
    with document.writing():  # a change made while another is on its way: said, not written
        document.edits.edit_cell(5, 1, "meanwhile")
    assert "still being written" in document.message.text()
    assert document.model.index(5, 1).data() == "name 6" and len(threads) == 4
    with sqlite3.connect(path) as conn:
        assert conn.execute('SELECT "na me" FROM "order" WHERE id = 4').fetchone() == ("name 4",)
    close(document)


def test_the_session_opens_and_closes_without_widgets(qtbot, tmp_path: Path) -> None:
    from gui.sql.session import SqlSession

    path = make_db(tmp_path / "t.db", rows=5)
    owner = QObject()
    session = SqlSession(str(path), ServerConnection(None, None, None, None, owner), True, owner)
    with qtbot.waitSignal(session.opened, timeout=10_000):
        session.open()
    assert session.reader is not None and session.counter is not None and not session.is_server
    assert session.schema is not None and session.schema.find("order") is not None
    assert session.database is not None and session.database.read_only
    session.close()
    assert session.reader is None and session.counter is None
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database at all" * 10)
    broken = SqlSession(str(bad), ServerConnection(None, None, None, None, owner), True, owner)
    with qtbot.waitSignal(broken.openFailed, timeout=10_000) as failed:
        broken.open()
    assert "SQLite" in str(failed.args[0]) or "database" in str(failed.args[0])
    broken.close()
