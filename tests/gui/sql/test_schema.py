"""Schema editing in the SQLite tab, driven through its dialogs: fill the grid, read the SQL preview,
Run, find the change in the schema tree and in the file; undo and redo; nothing in read-only mode."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu

from gui.sql.table_dialog import CHECK, DEFAULT, FK_COLUMN, FK_TABLE, NAME, NOT_NULL, ON_DELETE, TYPE, UNIQUE
from tests.gui.sql.test_sql import open_document

NEW = 'new "t"'


def make_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER, note TEXT);
        INSERT INTO people VALUES (1, 'Ann', 31, 'x'), (2, 'Bob', NULL, NULL);
        CREATE VIEW adults AS SELECT name FROM people WHERE age >= 18;
        CREATE INDEX people_age ON people(age);
        CREATE TRIGGER people_trim AFTER UPDATE OF name ON people BEGIN SELECT 1; END;
    """)
    conn.commit()
    conn.close()
    return path


def query(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def columns(path: Path, table: str) -> list[str]:
    return [r[0] for r in query(path, "SELECT name FROM pragma_table_info(?)", (table,))]


def action(menu: QMenu, text: str):
    for act in menu.actions():
        if act.text().startswith(text):
            return act
        if act.menu() is not None:
            found = action(act.menu(), text)
            if found is not None:
                return found
    return None


def column_of(document, table: str, column: str):
    item = document.tree.items[table]
    return next(item.child(i) for i in range(item.childCount()) if item.child(i).text(0) == column)


def run_dialog(qtbot, document, dialog) -> None:
    assert dialog.run_button.isEnabled(), dialog.error.text()
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)


def wait_pushed(qtbot, document, text: str) -> None:
    """The change ran, its command is on the stack, and the schema tree was reloaded."""
    qtbot.waitUntil(lambda: document.undo_stack.undoText() == text, timeout=10_000)
    wait_tree(qtbot, document)


def wait_tree(qtbot, document, present: str | None = None, absent: str | None = None) -> None:
    qtbot.waitUntil(lambda: document.is_loaded and document.stack.currentIndex() == 1
                    and (present is None or present in document.tree.items)
                    and (absent is None or absent not in document.tree.items), timeout=10_000)


def test_create_table_dialog_runs_previewed_sql_and_undoes(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "a.db")
    document = open_document(qtbot, path, read_only=False)
    document.schema_edit.create_table_dialog()
    dialog = document.schema_edit.schema_dialog
    assert not dialog.run_button.isEnabled() and "needs a name" in dialog.error.text()
    dialog.name.setText(NEW)
    row = dialog.add_column()
    dialog.set_cell(row, NAME, "owner id")
    dialog.set_cell(row, TYPE, "INTEGER")
    dialog.set_cell(row, NOT_NULL, True)
    dialog.set_cell(row, FK_TABLE, "people")
    dialog.set_cell(row, FK_COLUMN, "id")
    dialog.set_cell(row, ON_DELETE, "CASCADE")
    row = dialog.add_column()
    dialog.set_cell(row, NAME, "code")
    dialog.set_cell(row, TYPE, "TEXT")
    dialog.set_cell(row, UNIQUE, True)
    dialog.set_cell(row, DEFAULT, "'A1'")
    dialog.set_cell(row, CHECK, "length(code) = 2")
    dialog.checks.setPlainText('"owner id" > 0')
    preview = dialog.preview.toPlainText()
    assert preview.startswith("BEGIN IMMEDIATE;\nCREATE TABLE \"new \"\"t\"\"\" (")
    for part in ['"owner id" INTEGER NOT NULL', "code TEXT DEFAULT 'A1' CHECK (length(code) = 2)",
                 "PRIMARY KEY (id)", 'FOREIGN KEY("owner id") REFERENCES people (id) ON DELETE CASCADE',
                 'CHECK ("owner id" > 0)', "UNIQUE (code)"]:
        assert part in preview
    dialog.grab().save(str(tmp_path / "create_table.png"))
    run_dialog(qtbot, document, dialog)
    wait_pushed(qtbot, document, f"create table {NEW}")
    assert columns(path, NEW) == ["id", "owner id", "code"]
    created = query(path, "SELECT sql FROM sqlite_master WHERE name = ?", (NEW,))[0][0]
    assert created == preview.split("\n", 1)[1].rsplit(";\nCOMMIT;", 1)[0]  # exactly the previewed SQL
    assert document.undo_stack.undoText() == f"create table {NEW}"

    document.undo_stack.undo()
    wait_tree(qtbot, document, absent=NEW)
    assert query(path, "SELECT name FROM sqlite_master WHERE name = ?", (NEW,)) == []
    document.undo_stack.redo()
    wait_tree(qtbot, document, present=NEW)
    assert columns(path, NEW) == ["id", "owner id", "code"]


def test_column_menu_add_rename_drop_with_undo(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "b.db")
    document = open_document(qtbot, path, read_only=False)
    table_item = document.tree.items["people"]
    action(document.schema_edit.tree_menu(table_item), "Add Column…").trigger()
    dialog = document.schema_edit.schema_dialog
    dialog.name.setText("email")
    dialog.type.setCurrentText("TEXT")
    dialog.unique.setChecked(True)  # ADD COLUMN cannot add UNIQUE: the preview shows the rebuild
    preview = dialog.preview.toPlainText()
    assert "PRAGMA foreign_keys = OFF" in preview and "email TEXT UNIQUE" in preview
    assert "CREATE INDEX people_age" in preview and "CREATE VIEW adults" in preview
    assert "CREATE TRIGGER people_trim" in preview
    dialog.grab().save(str(tmp_path / "add_column.png"))
    run_dialog(qtbot, document, dialog)
    wait_pushed(qtbot, document, "add column email to people")
    assert query(path, "SELECT * FROM people ORDER BY id") == [(1, "Ann", 31, "x", None),
                                                               (2, "Bob", None, None, None)]
    names = {r[0] for r in query(path, "SELECT name FROM sqlite_master")}
    assert names >= {"adults", "people_age", "people_trim"}

    column_item = column_of(document, "people", "note")
    action(document.schema_edit.tree_menu(column_item), "Rename Column note").trigger()
    dialog = document.schema_edit.schema_dialog
    dialog.name.setText("remark")
    assert dialog.preview.toPlainText() == (
        "BEGIN IMMEDIATE;\nALTER TABLE people RENAME COLUMN note TO remark;\nCOMMIT;")
    run_dialog(qtbot, document, dialog)
    wait_pushed(qtbot, document, "rename column note to remark")
    document.undo_stack.undo()  # rename back
    wait_tree(qtbot, document, present="people")
    assert columns(path, "people") == ["id", "name", "age", "note", "email"]
    document.undo_stack.undo()  # drop the added (still empty) column: the rebuild restores the old table
    wait_tree(qtbot, document, present="people")
    assert columns(path, "people") == ["id", "name", "age", "note"]
    assert query(path, "SELECT * FROM people ORDER BY id") == [(1, "Ann", 31, "x"), (2, "Bob", None, None)]
    document.undo_stack.redo()
    wait_tree(qtbot, document, present="people")
    assert columns(path, "people") == ["id", "name", "age", "note", "email"]


def test_drop_column_with_data_says_it_cannot_be_undone(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "c.db")
    document = open_document(qtbot, path, read_only=False)
    document.undo_stack.push(_Marker())
    column_item = column_of(document, "people", "note")
    action(document.schema_edit.tree_menu(column_item), "Drop Column note").trigger()
    qtbot.waitUntil(lambda: document.schema_edit.schema_dialog is not None, timeout=10_000)
    dialog = document.schema_edit.schema_dialog
    preview = dialog.preview.toPlainText()
    assert "-- Cannot be undone: column 'note' holds data" in preview
    assert "ALTER TABLE people DROP COLUMN note" in preview
    dialog.grab().save(str(tmp_path / "drop_column.png"))
    run_dialog(qtbot, document, dialog)
    qtbot.waitUntil(lambda: "cannot be undone" in document.message.text(), timeout=10_000)
    wait_tree(qtbot, document, present="people")
    assert document.undo_stack.count() == 0  # the history was cleared, and the user is told
    assert "cannot be undone" in document.message.text()


def test_drop_column_used_by_a_view_is_refused_before_running(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "d.db")
    document = open_document(qtbot, path, read_only=False)
    document.schema_edit.drop_column("people", "age")
    qtbot.waitUntil(lambda: "adults" in document.message.text(), timeout=10_000)
    assert document.schema_edit.schema_dialog is None
    assert columns(path, "people") == ["id", "name", "age", "note"]


def test_create_and_drop_index_from_the_tree(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "e.db")
    document = open_document(qtbot, path, read_only=False)
    action(document.schema_edit.tree_menu(document.tree.items["people"]), "Create Index…").trigger()
    dialog = document.schema_edit.schema_dialog
    dialog.name.setText("people name age")
    dialog.unique.setChecked(True)
    for name in ("name", "age"):
        dialog.columns.findItems(name, Qt.MatchFlag.MatchExactly)[0].setCheckState(Qt.CheckState.Checked)
    assert 'CREATE UNIQUE INDEX "people name age" ON people (name, age)' in dialog.preview.toPlainText()
    dialog.grab().save(str(tmp_path / "create_index.png"))
    run_dialog(qtbot, document, dialog)
    wait_pushed(qtbot, document, "create index people name age")
    indexes = document.tree.topLevelItem(2)
    item = next(indexes.child(i) for i in range(indexes.childCount())
                if indexes.child(i).text(0) == "people_age")
    action(document.schema_edit.tree_menu(item), "Drop Index people_age").trigger()
    qtbot.waitUntil(lambda: document.schema_edit.schema_dialog is not None and "DROP INDEX" in
                    document.schema_edit.schema_dialog.preview.toPlainText(), timeout=10_000)
    run_dialog(qtbot, document, document.schema_edit.schema_dialog)
    wait_pushed(qtbot, document, "drop index people_age")
    document.undo_stack.undo()  # recreated from its saved SQL
    wait_tree(qtbot, document, present="people")
    assert query(path, "SELECT sql FROM sqlite_master WHERE name = 'people_age'") == [
        ("CREATE INDEX people_age ON people(age)",)]


def test_read_only_offers_no_schema_changes(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "f.db")
    document = open_document(qtbot, path, read_only=True)
    menu = document.schema_edit.tree_menu(document.tree.items["people"])
    for text in ("Create Table…", "Create Index…", "Drop Table people…"):
        assert not action(menu, text).isEnabled()
    document.schema_edit.create_table_dialog()
    assert document.schema_edit.schema_dialog is None


class _Marker:
    """An earlier edit on the stack (a plain QUndoCommand), to see the history cleared."""

    def __new__(cls):
        from PySide6.QtGui import QUndoCommand

        return QUndoCommand("earlier edit")


def test_failed_change_leaves_the_file_and_says_why(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "g.db")
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO people VALUES (3, 'Ann', 40, NULL)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    document = open_document(qtbot, path, read_only=False)
    action(document.schema_edit.tree_menu(document.tree.items["people"]), "Create Index…").trigger()
    dialog = document.schema_edit.schema_dialog
    dialog.unique.setChecked(True)
    dialog.columns.findItems("name", Qt.MatchFlag.MatchExactly)[0].setCheckState(Qt.CheckState.Checked)
    run_dialog(qtbot, document, dialog)
    qtbot.waitUntil(lambda: "Not changed" in document.message.text(), timeout=10_000)
    wait_tree(qtbot, document, present="people")
    assert "UNIQUE constraint failed" in document.message.text()
    assert path.read_bytes() == before and document.undo_stack.count() == 0


def test_undo_that_would_lose_new_data_is_refused(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "h.db")
    document = open_document(qtbot, path, read_only=False)
    document.schema_edit.add_column_dialog("people")
    dialog = document.schema_edit.schema_dialog
    dialog.name.setText("score")
    dialog.type.setCurrentText("REAL")
    assert dialog.preview.toPlainText() == (
        "BEGIN IMMEDIATE;\nALTER TABLE people ADD COLUMN score REAL;\nCOMMIT;")
    run_dialog(qtbot, document, dialog)
    wait_pushed(qtbot, document, "add column score to people")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE people SET score = 9.5 WHERE id = 1")  # written by another program
    conn.commit()
    conn.close()
    document.undo_stack.undo()
    wait_tree(qtbot, document, present="people")
    assert "now holds data" in document.message.text()
    assert columns(path, "people") == ["id", "name", "age", "note", "score"]
    assert document.undo_stack.count() == 0  # the command that could not be undone is gone


def test_drop_empty_table_from_the_schema_button_and_undo(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "i.db")
    conn = sqlite3.connect(path)
    conn.executescript("""CREATE TABLE empty_t (k TEXT PRIMARY KEY, v) WITHOUT ROWID;
        CREATE INDEX empty_v ON empty_t(v);
        CREATE TRIGGER empty_tr AFTER INSERT ON empty_t BEGIN SELECT 1; END;""")
    conn.close()
    before = query(path, "SELECT type, name, sql FROM sqlite_master ORDER BY name")
    document = open_document(qtbot, path, read_only=False)
    document.tree.setCurrentItem(document.tree.items["empty_t"])
    document.schema_edit._fill_schema_menu()  # what the Schema button shows for the current table
    action(document.schema_edit.schema_menu, "Drop Table empty_t").trigger()
    qtbot.waitUntil(lambda: document.schema_edit.schema_dialog is not None, timeout=10_000)
    dialog = document.schema_edit.schema_dialog
    assert dialog.preview.toPlainText() == "BEGIN IMMEDIATE;\nDROP TABLE empty_t;\nCOMMIT;"
    assert not dialog.notice.isVisibleTo(dialog)  # empty: undo can recreate it
    run_dialog(qtbot, document, dialog)
    wait_pushed(qtbot, document, "drop table empty_t")
    wait_tree(qtbot, document, absent="empty_t")
    document.undo_stack.undo()
    wait_tree(qtbot, document, present="empty_t")
    assert query(path, "SELECT type, name, sql FROM sqlite_master ORDER BY name") == before
