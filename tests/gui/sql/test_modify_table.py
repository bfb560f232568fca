"""Modify Table… on an SQLite file: the whole column grid edited at once (type, rename, drop, reorder,
add, rename the table), one preview, one run, one undo command; data, rowids, indexes, triggers and
views survive; refusals leave the file byte-identical."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtCore import Qt

from gui.sql.table_dialog import DEFAULT, NAME, NOT_NULL, TYPE
from gui.sql.tasks import live_tasks
from tests.gui.sql.test_schema import action, columns, query, run_dialog, wait_pushed, wait_tree
from tests.gui.sql.test_sql import open_document


def finish(qtbot, document) -> None:
    """Close the document as the main window does when its tab closes (late counts are then
    ignored) and let its workers finish: pytest-qt deletes the widget before fixtures tear down,
    so a result arriving later would land on deleted widgets."""
    document.close_document()
    qtbot.waitUntil(lambda: not live_tasks(), timeout=20_000)


def make_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE people (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
                             age TEXT CHECK (age <> ''), note TEXT, boss INTEGER REFERENCES people(id));
        INSERT INTO people (name, age, note)
            VALUES ('Ann', '31', NULL), ('Bob', NULL, NULL), ('Cy', '7', NULL);
        DELETE FROM people WHERE name = 'Bob';
        CREATE TABLE pets (id INTEGER PRIMARY KEY, owner INTEGER REFERENCES people(id), name TEXT);
        INSERT INTO pets VALUES (1, 3, 'Rex');
        CREATE VIEW adults AS SELECT name, age FROM people WHERE age >= 18;
        CREATE INDEX people_age ON people(age);
        CREATE TRIGGER people_trim AFTER UPDATE OF name ON people BEGIN SELECT 1; END;
    """)
    conn.commit()
    conn.close()
    return path


def open_modify(qtbot, document, table: str = "people"):
    document.schema_edit.schema_dialog = None
    action(document.schema_edit.tree_menu(document.tree.items[table]), f"Modify Table {table}").trigger()
    qtbot.waitUntil(lambda: document.schema_edit.schema_dialog is not None, timeout=10_000)
    return document.schema_edit.schema_dialog


def row_of(dialog, name: str) -> int:
    return next(r for r in range(dialog.grid.rowCount()) if dialog.grid.item(r, NAME).text() == name)


def test_modify_table_in_one_go_with_undo_and_redo(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "a.db")
    document = open_document(qtbot, path, read_only=False)
    dialog = open_modify(qtbot, document)
    assert dialog.windowTitle() == "Modify Table people"
    assert [dialog.grid.item(r, NAME).text() for r in range(dialog.grid.rowCount())] == [
        "id", "name", "age", "note", "boss"]
    assert not dialog.run_button.isEnabled() and "Nothing to change" in dialog.error.text()
    dialog.set_cell(row_of(dialog, "age"), TYPE, "INTEGER")  # change a type
    dialog.set_cell(row_of(dialog, "name"), NAME, "full name")  # rename
    dialog.grid.setCurrentCell(row_of(dialog, "note"), NAME)
    qtbot.mouseClick(next(b for b in dialog.findChildren(type(dialog.up)) if b.text() == "Drop Column"),
                     Qt.MouseButton.LeftButton)  # drop
    dialog.grid.setCurrentCell(row_of(dialog, "age"), NAME)
    qtbot.mouseClick(dialog.up, Qt.MouseButton.LeftButton)  # reorder: age before "full name"
    row = dialog.add_column()
    dialog.set_cell(row, NAME, "email")
    dialog.set_cell(row, TYPE, "TEXT")
    dialog.set_cell(row, DEFAULT, "'?'")
    dialog.name.setText("persons")
    preview = dialog.preview.toPlainText()
    assert ('ALTER TABLE people RENAME COLUMN name TO "full name";\n'
            "ALTER TABLE people RENAME TO persons;") in preview
    assert "  age INTEGER CHECK (age <> '')," in preview and "  email TEXT DEFAULT '?'" in preview
    assert preview.index("  age INTEGER") < preview.index('  "full name" TEXT NOT NULL')
    assert "note" not in preview.split("CREATE TABLE", 1)[1]
    for part in ['CREATE INDEX people_age ON "persons"(age)', 'CREATE VIEW adults AS SELECT "full name"',
                 'CREATE TRIGGER people_trim AFTER UPDATE OF "full name" ON "persons"', "sqlite_sequence"]:
        assert part in preview
    assert "Cannot be undone" not in preview  # the dropped column is empty
    dialog.grab().save(str(tmp_path / "modify_table.png"))
    run_dialog(qtbot, document, dialog)
    wait_pushed(qtbot, document, "modify table people")
    assert document.undo_stack.count() == 1
    assert columns(path, "persons") == ["id", "age", "full name", "boss", "email"]
    assert query(path, 'SELECT rowid, id, age, typeof(age), "full name", email FROM persons ORDER BY id') == [
        (1, 1, 31, "integer", "Ann", "?"), (3, 3, 7, "integer", "Cy", "?")]
    assert query(path, "SELECT * FROM adults") == [("Ann", 31)]
    assert query(path, "SELECT seq FROM sqlite_sequence WHERE name = 'persons'") == [(3,)]
    names = {r[0] for r in query(path, "SELECT name FROM sqlite_master")}
    assert names >= {"adults", "people_age", "people_trim", "pets"}
    assert "REFERENCES \"persons\"" in query(path, "SELECT sql FROM sqlite_master WHERE name = 'pets'")[0][0]
    assert query(path, "PRAGMA foreign_key_check") == []

    document.undo_stack.undo()
    wait_tree(qtbot, document, present="people")
    assert columns(path, "people") == ["id", "name", "age", "note", "boss"]
    rows = query(path, "SELECT rowid, name, age FROM people ORDER BY id")
    assert rows == [(1, "Ann", "31"), (3, "Cy", "7")]  # TEXT again
    assert {r[0] for r in query(path, "SELECT name FROM sqlite_master")} >= {"adults", "people_age",
                                                                             "people_trim"}
    document.undo_stack.redo()
    wait_tree(qtbot, document, present="persons")
    assert columns(path, "persons") == ["id", "age", "full name", "boss", "email"]
    finish(qtbot, document)


def test_renames_and_plain_adds_use_native_alter(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "b.db")
    document = open_document(qtbot, path, read_only=False)
    document.schema_edit._fill_schema_menu()  # the Schema button's menu offers it for the current table
    entry = action(document.schema_edit.schema_menu, "Modify Table people")
    assert entry is not None and entry.isEnabled()
    entry.trigger()
    qtbot.waitUntil(lambda: document.schema_edit.schema_dialog is not None, timeout=10_000)
    dialog = document.schema_edit.schema_dialog
    dialog.set_cell(row_of(dialog, "note"), NAME, "remark")
    row = dialog.add_column()
    dialog.set_cell(row, NAME, "score")
    dialog.set_cell(row, TYPE, "REAL")
    assert dialog.preview.toPlainText() == (
        "BEGIN IMMEDIATE;\nALTER TABLE people RENAME COLUMN note TO remark;\n"
        "ALTER TABLE people ADD COLUMN score REAL;\nCOMMIT;")
    run_dialog(qtbot, document, dialog)
    wait_pushed(qtbot, document, "modify table people")
    assert columns(path, "people") == ["id", "name", "age", "remark", "boss", "score"]
    conn = sqlite3.connect(path)
    conn.execute("UPDATE people SET score = 1.5")
    conn.commit()
    conn.close()
    document.undo_stack.undo()  # the added column now holds data: undo refuses, nothing changes
    qtbot.waitUntil(lambda: "Cannot undo" in document.message.text(), timeout=10_000)
    assert columns(path, "people") == ["id", "name", "age", "remark", "boss", "score"]
    finish(qtbot, document)


def test_dropping_data_says_so_and_refusals_leave_the_file_alone(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "c.db")
    query(path, "SELECT 1")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE people SET note = 'n' WHERE id = 1")
    conn.commit()
    conn.close()
    document = open_document(qtbot, path, read_only=False)
    dialog = open_modify(qtbot, document)
    dialog.grid.selectRow(row_of(dialog, "age"))
    dialog._on_remove()
    assert "adults" in dialog.error.text() and not dialog.run_button.isEnabled()  # a view uses it
    dialog.reject()
    dialog = open_modify(qtbot, document)
    dialog.grid.selectRow(row_of(dialog, "note"))
    dialog._on_remove()
    assert "-- Cannot be undone: column 'note' holds data" in dialog.preview.toPlainText()
    assert dialog.run_button.isEnabled() and "cannot be undone" in dialog.notice.text().lower()
    dialog.reject()

    before = path.read_bytes()
    dialog = open_modify(qtbot, document)
    dialog.set_cell(row_of(dialog, "note"), NOT_NULL, True)  # NOT NULL on a column of NULLs: fails
    assert "PRAGMA foreign_keys = OFF" in dialog.preview.toPlainText()
    run_dialog(qtbot, document, dialog)
    qtbot.waitUntil(lambda: "Not changed" in document.message.text(), timeout=10_000)
    assert "NOT NULL" in document.message.text()
    wait_tree(qtbot, document, present="people")
    assert path.read_bytes() == before and document.undo_stack.count() == 0

    dialog = open_modify(qtbot, document)
    name, age = row_of(dialog, "name"), row_of(dialog, "age")
    dialog.set_cell(name, NAME, "age")
    assert "Two columns are named 'age'" in dialog.error.text()
    dialog.set_cell(age, NAME, "name")  # a swap in one go: SQLite would collide on the way
    assert "another column" in dialog.error.text() and not dialog.run_button.isEnabled()
    finish(qtbot, document)


def test_modify_table_is_not_offered_read_only(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "d.db")
    document = open_document(qtbot, path, read_only=True)
    entry = action(document.schema_edit.tree_menu(document.tree.items["people"]), "Modify Table people")
    assert entry is not None and not entry.isEnabled()
    document.schema_edit.modify_table_dialog("people")
    assert document.schema_edit.schema_dialog is None
    finish(qtbot, document)
