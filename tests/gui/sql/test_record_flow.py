"""The record-keeping flow by keyboard, from nothing to a relaunch: File ▸ New (the filter's
extension added), New Record, typing, Tab, Enter and Ctrl+Enter, constraint errors by their
field, edit, delete, undo, the tree's counts following, and the database reopening editable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QApplication, QFileDialog

from gui.sql.document import SqlDocument
from gui.sql.fields import BoolBox, LineEdit, MomentEdit, NumberSpinBox
from tests.support.gui_helpers import close_window, launch, wait_documents

TABLE = ("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '', "
         "age INTEGER CHECK (age >= 0), born DATE, member BOOLEAN, notes TEXT)")


def rows(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT * FROM people ORDER BY id").fetchall()
    finally:
        conn.close()


def focused_field(document: SqlDocument) -> str | None:
    for field in document.record._fields:
        if field.has_focus():
            return field.column.name
    return None


def tree_count(document: SqlDocument) -> str:
    return document.tree.items["people"].text(1)


def new_record(qtbot, document: SqlDocument, count: int) -> None:
    """Alt+N in the Record tab: the new row, ready to type in, its first typed field focused."""
    qtbot.keyClick(document.record, Qt.Key.Key_N, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: document.record.row == count - 1 and document.record.values is not None
                    and focused_field(document) == "name", timeout=10_000)
    assert "loading" not in document.record.label.text()


def type_into(qtbot, text: str) -> None:
    qtbot.keyClicks(QApplication.focusWidget(), text)


def key(qtbot, which: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget(), which, modifier)


def open_people(qtbot, settings: Path, path: Path):
    window = launch(qtbot, settings)
    [document] = wait_documents(qtbot, window, 1)
    assert isinstance(document, SqlDocument) and document.path == str(path)
    qtbot.waitUntil(lambda: document.table is not None and document.table.name == "people", timeout=10_000)
    return window, document


def test_the_record_flow_by_keyboard_from_nothing_to_a_relaunch(qtbot, tmp_path: Path, monkeypatch) -> None:
    settings = tmp_path / "settings"
    typed = tmp_path / "people"  # no extension typed: the filter's is added
    path = tmp_path / "people.db"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *_a, **_k: (str(typed), "SQLite database (*.db)"))
    window = launch(qtbot, settings)
    window.new_file()
    [document] = wait_documents(qtbot, window, 1)
    assert document.path == str(path) and path.exists() and not typed.exists()
    assert not document.read_only  # created here: editable
    close_window(qtbot, window)

    conn = sqlite3.connect(path)  # the table, made elsewhere; the file was created in Datashelf
    conn.execute(TABLE)
    conn.commit()
    conn.close()
    window, document = open_people(qtbot, settings, path)
    assert not document.read_only and not document.open_choice.isVisible()  # reopens editable
    assert tree_count(document) in ("", "0")
    document.views.setCurrentWidget(document.record)
    record = document.record

    # New Record, type, Tab (past an untouched date: it stays NULL), Space ticks, Enter commits.
    new_record(qtbot, document, 1)
    assert isinstance(record.field("name").editor, LineEdit)
    assert isinstance(record.field("age").editor, NumberSpinBox)
    assert isinstance(record.field("born").editor, MomentEdit)
    assert isinstance(record.field("member").editor, BoolBox)
    assert all(f.editor.isEnabled() for f in record._fields)  # NULL or not, typeable
    type_into(qtbot, "Ada")
    key(qtbot, Qt.Key.Key_Tab)
    assert focused_field(document) == "age"
    type_into(qtbot, "36")
    key(qtbot, Qt.Key.Key_Tab)
    assert focused_field(document) == "born"
    key(qtbot, Qt.Key.Key_Tab)
    assert focused_field(document) == "member"
    key(qtbot, Qt.Key.Key_Space)
    key(qtbot, Qt.Key.Key_Tab)
    assert focused_field(document) == "notes"
    type_into(qtbot, "first")
    key(qtbot, Qt.Key.Key_Return)  # the last field: written, and the focus stays
    assert focused_field(document) == "notes"
    assert rows(path) == [(1, "Ada", 36, None, 1, "first")]
    key(qtbot, Qt.Key.Key_Backtab)
    assert focused_field(document) == "member"
    qtbot.waitUntil(lambda: tree_count(document) == "1", timeout=10_000)

    # Repeat; a value the CHECK refuses is marked by its field; Ctrl+Enter writes the fix.
    new_record(qtbot, document, 2)
    type_into(qtbot, "Grace")
    key(qtbot, Qt.Key.Key_Return)  # not the last field: written, and on to the next
    assert focused_field(document) == "age"
    type_into(qtbot, "-1")
    key(qtbot, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert "CHECK" in record.field("age").error_text()
    assert rows(path)[1][2] is None
    key(qtbot, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    type_into(qtbot, "45")
    key(qtbot, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert not record.field("age").error_text()
    assert rows(path)[1] == (2, "Grace", 45, None, None, None)
    qtbot.waitUntil(lambda: tree_count(document) == "2", timeout=10_000)

    # Edit the first record (Alt+P), then delete the second in the grid, and undo.
    qtbot.keyClick(record, Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: record.row == 0 and record.values is not None, timeout=10_000)
    record.focus_field(1)
    key(qtbot, Qt.Key.Key_End)
    type_into(qtbot, " L.")
    key(qtbot, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert rows(path)[0][1] == "Ada L."
    document.views.setCurrentWidget(document.browse)
    flags = QItemSelectionModel.SelectionFlag
    document.grid.selectionModel().setCurrentIndex(document.model.index(1, 0),
                                                   flags.ClearAndSelect | flags.Rows)
    document.delete_button.click()
    qtbot.waitUntil(lambda: tree_count(document) == "1", timeout=10_000)
    assert [r[1] for r in rows(path)] == ["Ada L."]
    window.actions.undo.trigger()
    qtbot.waitUntil(lambda: tree_count(document) == "2", timeout=10_000)
    assert [r[1] for r in rows(path)] == ["Ada L.", "Grace"]
    close_window(qtbot, window)

    # Relaunch: the same rows, editable, counted.
    window, document = open_people(qtbot, settings, path)
    assert not document.read_only and not document.open_choice.isVisible()
    qtbot.waitUntil(lambda: tree_count(document) == "2", timeout=10_000)
    assert rows(path) == [(1, "Ada L.", 36, None, 1, "first"), (2, "Grace", 45, None, None, None)]
    close_window(qtbot, window)
