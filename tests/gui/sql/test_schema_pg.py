"""Schema editing on a real PostgreSQL server through the same dialogs: one transaction per change,
schema-qualified names, undo and redo, and the honest 'cannot be undone' for dropped data."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from gui.sql.table_dialog import CHECK, FK_COLUMN, FK_TABLE, NAME, NOT_NULL, TYPE
from storage.formats.sql.url import open_database_url
from tests.gui.sql.test_pg import open_pg, run
from tests.gui.sql.test_schema import action, column_of, run_dialog, wait_pushed, wait_tree


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    db = open_database_url(url)
    try:
        return db.write(lambda conn: conn.execute(sql, params).fetchall())
    finally:
        db.close()


def columns(url: str, schema: str, table: str) -> list[str]:
    return [r[0] for r in query(url, "SELECT column_name FROM information_schema.columns WHERE "
                                     "table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                                (schema, table))]


def fill(url: str) -> None:
    run(url, "CREATE TABLE people (id integer PRIMARY KEY, name text NOT NULL, note text)")
    run(url, "INSERT INTO people VALUES (1, 'Ann', 'x'), (2, 'Bob', NULL)")
    run(url, "CREATE SCHEMA other")
    run(url, 'CREATE TABLE other."my items" (id integer PRIMARY KEY, label text)')
    run(url, 'CREATE INDEX items_label ON other."my items"(label)')


def test_create_table_on_postgresql_with_undo(qtbot, pg_url: str, tmp_path: Path) -> None:
    fill(pg_url)
    document = open_pg(qtbot, pg_url)
    document.schema_edit.create_table_dialog()
    dialog = document.schema_edit.schema_dialog
    dialog.name.setText('new "t"')
    assert [dialog.grid.cellWidget(0, TYPE).itemText(i) for i in range(3)] == ["integer", "bigint", "serial"]
    row = dialog.add_column()
    for column, value in ((NAME, "owner"), (TYPE, "integer"), (NOT_NULL, True), (FK_TABLE, "people"),
                          (FK_COLUMN, "id"), (CHECK, "owner > 0")):
        dialog.set_cell(row, column, value)
    preview = dialog.preview.toPlainText()
    assert preview.startswith('BEGIN;\nCREATE TABLE public."new ""t""" (') and preview.endswith("COMMIT;")
    assert "FOREIGN KEY(owner) REFERENCES public.people (id)" in preview
    dialog.grab().save(str(tmp_path / "pg_create_table.png"))
    document.grab().save(str(tmp_path / "pg_document.png"))
    run_dialog(qtbot, document, dialog)
    wait_pushed(qtbot, document, 'create table new "t"')
    wait_tree(qtbot, document, present='new "t"')
    assert columns(pg_url, "public", 'new "t"') == ["id", "owner"]
    document.undo_stack.undo()
    wait_tree(qtbot, document, absent='new "t"')
    assert columns(pg_url, "public", 'new "t"') == []
    document.undo_stack.redo()
    wait_tree(qtbot, document, present='new "t"')
    assert columns(pg_url, "public", 'new "t"') == ["id", "owner"]


def test_columns_and_indexes_in_another_schema(qtbot, pg_url: str) -> None:
    fill(pg_url)
    document = open_pg(qtbot, pg_url)
    wait_tree(qtbot, document, present="other.my items")
    action(document.schema_edit.tree_menu(document.tree.items["other.my items"]), "Add Column…").trigger()
    dialog = document.schema_edit.schema_dialog
    dialog.name.setText("qty")
    dialog.type.setCurrentText("integer")
    dialog.default.setText("0")
    dialog.not_null.setChecked(True)
    assert dialog.preview.toPlainText() == (
        'BEGIN;\nALTER TABLE other."my items" ADD COLUMN qty integer DEFAULT 0 NOT NULL;\nCOMMIT;')
    run_dialog(qtbot, document, dialog)
    wait_pushed(qtbot, document, "add column qty to my items")
    assert columns(pg_url, "other", "my items") == ["id", "label", "qty"]

    action(document.schema_edit.tree_menu(document.tree.items["other.my items"]), "Create Index…").trigger()
    dialog = document.schema_edit.schema_dialog
    dialog.name.setText("items label qty")
    for name in ("qty", "label"):
        dialog.columns.findItems(name, Qt.MatchFlag.MatchExactly)[0].setCheckState(Qt.CheckState.Checked)
    assert 'CREATE INDEX "items label qty" ON other."my items" (qty, label)' in dialog.preview.toPlainText()
    run_dialog(qtbot, document, dialog)
    wait_pushed(qtbot, document, "create index items label qty")
    assert query(pg_url, "SELECT indexname FROM pg_indexes WHERE schemaname = 'other' ORDER BY 1") == [
        ("items label qty",), ("items_label",), ("my items_pkey",)]

    document.undo_stack.undo()  # the index
    wait_tree(qtbot, document, present="other.my items")
    document.undo_stack.undo()  # the column (it holds only its default)
    wait_tree(qtbot, document, present="other.my items")
    assert columns(pg_url, "other", "my items") == ["id", "label"]
    assert query(pg_url, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'other'") == [(2,)]


def test_drop_column_with_data_on_postgresql_cannot_be_undone(qtbot, pg_url: str) -> None:
    fill(pg_url)
    document = open_pg(qtbot, pg_url)
    wait_tree(qtbot, document, present="people")
    menu = document.schema_edit.tree_menu(column_of(document, "people", "note"))
    action(menu, "Drop Column note").trigger()
    qtbot.waitUntil(lambda: document.schema_edit.schema_dialog is not None, timeout=20_000)
    dialog = document.schema_edit.schema_dialog
    assert "Cannot be undone: column 'note' holds data" in dialog.preview.toPlainText()
    assert dialog.notice.isVisibleTo(dialog)
    assert "ALTER TABLE public.people DROP COLUMN note" in dialog.preview.toPlainText()
    run_dialog(qtbot, document, dialog)
    qtbot.waitUntil(lambda: "cannot be undone" in document.message.text(), timeout=20_000)
    wait_tree(qtbot, document, present="people")
    assert columns(pg_url, "public", "people") == ["id", "name"]
    assert document.undo_stack.count() == 0
