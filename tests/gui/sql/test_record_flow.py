"""The record-keeping flow by keyboard, from nothing to a relaunch: File ▸ New (the filter's
extension added), New Record, typing, Tab, Enter and Ctrl+Enter, constraint errors by their
field, edit, delete, undo, the tree's counts following, and the database reopening editable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QStyleOptionViewItem

from gui.sql.document import SqlDocument
from gui.sql.fields import BoolBox, LineEdit, MomentEdit, NumberSpinBox, TextEdit
from storage.formats.newfile import create_empty
from tests.gui.sql.test_record import cell
from tests.gui.sql.test_sql import open_document, wait_rows
from tests.support.gui_helpers import close_window, launch, wait_documents

TABLE = ("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
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
    document.views.setCurrentWidget(document.sql_panel)  # the table, made in Execute SQL
    document.editor.setPlainText(TABLE)
    qtbot.keyClick(document.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: document.table is not None and document.table.name == "people",
                    timeout=10_000)
    qtbot.waitUntil(lambda: tree_count(document) == "0", timeout=10_000)
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

    # Repeat; a date typed section by section; a value the CHECK refuses is marked by its field,
    # and Ctrl+Enter writes the fix.
    new_record(qtbot, document, 2)
    record.focus_field(3)
    type_into(qtbot, "19061209")
    key(qtbot, Qt.Key.Key_Tab)
    assert rows(path)[1][3] == "1906-12-09" and focused_field(document) == "member"
    record.focus_field(1)
    type_into(qtbot, "Grace")
    key(qtbot, Qt.Key.Key_Return)  # not the last field: written, and on to the next
    assert focused_field(document) == "age"
    type_into(qtbot, "-1")
    key(qtbot, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert "CHECK" in record.field("age").error_text()
    document.grab().save(str(tmp_path / "new-record.png"))
    assert rows(path)[1][2] is None
    key(qtbot, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    type_into(qtbot, "45")
    key(qtbot, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert not record.field("age").error_text()
    assert rows(path)[1] == (2, "Grace", 45, "1906-12-09", None, None)
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
    assert rows(path) == [(1, "Ada L.", 36, None, 1, "first"), (2, "Grace", 45, "1906-12-09", None, None)]
    close_window(qtbot, window)


def make_table(path: Path, sql: str, *inserts: str) -> Path:
    conn = sqlite3.connect(path)
    conn.execute(sql)
    for insert in inserts:
        conn.execute(insert)
    conn.commit()
    conn.close()
    return path


def show_form(qtbot, document: SqlDocument, row: int = 0) -> None:
    document.views.setCurrentWidget(document.record)
    document.grid.setCurrentIndex(document.model.index(row, 0))
    qtbot.waitUntil(lambda: document.record.row == row and document.record.values is not None,
                    timeout=10_000)


def test_new_record_fills_not_null_columns_without_a_default(qtbot, tmp_path: Path) -> None:
    path = make_table(tmp_path / "n.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                      "qty INTEGER NOT NULL, note TEXT)", "INSERT INTO t VALUES (1, 'a', 1, NULL)")
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 1)
    document.views.setCurrentWidget(document.record)
    document.record.new_button.click()
    qtbot.waitUntil(lambda: document.record.row == 1 and document.record.values is not None,
                    timeout=10_000)
    assert document.record.values == (2, "", 0, None)
    assert focused_field(document) == "name"
    assert document.record.field("note").null_box.isChecked()
    document.close_document()


def test_typed_editors_and_refusals_by_their_field(qtbot, tmp_path: Path) -> None:
    path = make_table(
        tmp_path / "e.db",
        "CREATE TABLE e (id INTEGER PRIMARY KEY, day TEXT, flag BOOLEAN, price REAL, "
        "short TEXT, long TEXT, n INTEGER CHECK (n < 100), due DATE)",
        f"INSERT INTO e VALUES (1, '2024-05-06', 1, 2.5, 'hi', '{'words ' * 30}', 3, NULL)")
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 1)
    show_form(qtbot, document)
    record = document.record
    day = record.field("day").editor
    assert isinstance(day, MomentEdit) and day.date().toString("yyyy-MM-dd") == "2024-05-06"
    flag = record.field("flag").editor
    assert isinstance(flag, BoolBox) and flag.isChecked()
    assert isinstance(record.field("price").editor, NumberSpinBox)
    assert isinstance(record.field("short").editor, LineEdit)
    assert isinstance(record.field("long").editor, TextEdit)
    record.grab().save(str(tmp_path / "typed.png"))

    flag.click()  # a click writes 0
    assert cell(path, "SELECT flag FROM e") == 0
    record.focus_field(1)
    qtbot.keyClick(day, Qt.Key.Key_Up)  # the year section steps
    record.commit()
    assert cell(path, "SELECT day FROM e") == "2025-05-06"  # still ISO text
    n = record.field("n")
    n.editor.lineEdit().setText("1x")
    n.commit()
    assert "not a whole number" in n.error_text()  # the type: refused before the database
    n.editor.lineEdit().setText("120")
    n.commit()
    assert "CHECK constraint failed" in n.error_text()  # the database's own message
    n.editor.lineEdit().setText("12")
    n.commit()
    assert cell(path, "SELECT n FROM e") == 12 and not n.error_text()
    short = record.field("short")
    short.editor.setText("fine")
    short.commit()
    assert cell(path, "SELECT short FROM e") == "fine"
    record.focus_field(5)  # several lines: Enter is a new line, Ctrl+Enter writes
    qtbot.keyClick(record.field("long").editor, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(record.field("long").editor, Qt.Key.Key_Return)
    qtbot.keyClicks(record.field("long").editor, "end")
    qtbot.keyClick(record.field("long").editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert cell(path, "SELECT long FROM e") == "words " * 30 + "\nend"
    due = record.field("due")  # NULL: left alone it stays NULL; today typed in is written
    record.focus_field(7)
    record.commit()
    assert cell(path, "SELECT due FROM e") is None
    today = due.editor.date().toString("yyyy-MM-dd")
    qtbot.keyClicks(due.editor, today.replace("-", ""))
    record.commit()
    assert cell(path, "SELECT due FROM e") == today and not due.null_box.isChecked()
    document.close_document()


def test_a_notice_coming_and_going_never_moves_the_form(qtbot, tmp_path: Path) -> None:
    path = make_table(tmp_path / "m.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
                      "INSERT INTO t VALUES (1, 'a')")
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 1)
    show_form(qtbot, document)

    def top() -> int:
        document.layout().activate()
        return document.record.form.mapTo(document, QPoint(0, 0)).y()

    before = top()
    document.show_message("Not written: something went wrong", "error")
    assert document.message.isVisible() and top() == before
    document.show_message("")
    assert not document.message.isVisible() and top() == before
    document.close_document()


def test_tree_counts_follow_execute_sql(qtbot, tmp_path: Path) -> None:
    path = make_table(tmp_path / "x.db", "CREATE TABLE t (id INTEGER PRIMARY KEY)",
                      "INSERT INTO t VALUES (1)")
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 1)
    qtbot.waitUntil(lambda: document.tree.items["t"].text(1) == "1", timeout=10_000)
    document.editor.setPlainText("INSERT INTO t VALUES (2); INSERT INTO t VALUES (3);")
    document.execute("all")
    qtbot.waitUntil(lambda: document.tree.items["t"].text(1) == "3", timeout=10_000)
    document.close_document()


def test_tab_from_the_buttons_enters_the_form_and_escape_drops_what_was_typed(qtbot, tmp_path: Path
                                                                             ) -> None:
    path = make_table(tmp_path / "k.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, ok BOOLEAN)",
                      "INSERT INTO t VALUES (1, 'a', 0)", "INSERT INTO t VALUES (2, 'b', 1)")
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 2)
    show_form(qtbot, document)
    record = document.record
    record.next_button.setFocus()
    qtbot.keyClick(record.next_button, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is record.new_button
    qtbot.keyClick(record.new_button, Qt.Key.Key_Tab)
    assert focused_field(document) == "id"
    key(qtbot, Qt.Key.Key_Tab)
    type_into(qtbot, "typed")
    key(qtbot, Qt.Key.Key_Escape)
    assert record.field("v").editor.stored() == "a" and focused_field(document) == "v"
    key(qtbot, Qt.Key.Key_Tab)
    assert cell(path, "SELECT v FROM t WHERE id = 1") == "a"  # nothing written on leaving
    record.focus_field(1)
    type_into(qtbot, "kept")
    key(qtbot, Qt.Key.Key_X, Qt.KeyboardModifier.AltModifier)  # Next, from inside a field
    qtbot.waitUntil(lambda: record.row == 1 and record.values is not None, timeout=10_000)
    assert cell(path, "SELECT v FROM t WHERE id = 1") == "kept"  # written before moving on
    qtbot.waitUntil(lambda: focused_field(document) == "v", timeout=10_000)  # the same field

    # The grid edits a BOOLEAN cell with the same check box.
    delegate = document.grid.itemDelegate()
    index = document.model.index(1, 2)
    editor = delegate.createEditor(document.grid.viewport(), QStyleOptionViewItem(), index)
    assert isinstance(editor, BoolBox)
    delegate.setEditorData(editor, index)
    assert editor.isChecked()
    editor.setChecked(False)
    delegate.setModelData(editor, document.model, index)
    editor.deleteLater()
    assert cell(path, "SELECT ok FROM t WHERE id = 2") == 0
    document.close_document()


def test_a_table_made_in_execute_sql_shows_in_the_tree(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    create_empty(path, "sqlite")
    document = open_document(qtbot, path)
    document.views.setCurrentWidget(document.sql_panel)
    document.editor.setPlainText("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT);")
    document.execute("all")
    qtbot.waitUntil(lambda: "people" in document.tree.items and document.table is not None, timeout=10_000)
    assert document.table.name == "people" and not document.read_only
    assert document.views.currentWidget() is document.sql_panel  # where the user was
    assert "CREATE TABLE people" in document.editor.toPlainText()
    document.close_document()
