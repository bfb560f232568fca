"""The SQLite tab's record form and grid editors: typed fields, dates kept in their format, NULL,
BLOBs, constraint errors shown next to the field, every change undoable and checked in the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtCore import QBuffer, QDate, QDateTime, QIODevice, QTime, QTimeZone
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QStyleOptionViewItem

from gui.sql.fields import LineEdit, MomentEdit, NumberSpinBox
from gui.sql.record_field import BlobView
from tests.gui.sql.test_sql import close, make_db, open_document, wait_cell, wait_rows


def cell(path: Path, sql: str, *params):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchone()[0]
    finally:
        conn.close()


def show_record(qtbot, document, row: int) -> None:
    wait_cell(qtbot, document, row, 0)
    document.views.setCurrentWidget(document.record)
    document.grid.setCurrentIndex(document.model.index(row, 0))
    qtbot.waitUntil(lambda: document.record.values is not None and document.record.row == row,
                    timeout=10_000)


def finish(field) -> None:
    """What leaving the editor does: the field's editingFinished."""
    field.editor.editingFinished.emit()


def test_record_form_edits_each_field_with_its_editor(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=20)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE \"order\" SET \"na me\" = ? WHERE id = 3", ("long " * 200,))
    conn.commit()
    conn.close()
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 20)
    show_record(qtbot, document, 2)
    name = document.record.field("na me")
    assert name.editor.stored() == "long " * 200  # the whole value, not the grid's preview
    assert isinstance(document.record.field("n").editor, NumberSpinBox)
    assert isinstance(document.record.field("r").editor, NumberSpinBox)
    assert isinstance(document.record.field("b").editor, BlobView)
    created = document.record.field("created").editor
    assert isinstance(created, MomentEdit)
    assert created.dateTime().toString("yyyy-MM-dd HH:mm:ss") == "2023-11-14 22:13:23"

    number = document.record.field("n")
    number.editor.lineEdit().setText("9223372036854775807")  # beyond QSpinBox: 64-bit stays exact
    finish(number)
    assert cell(path, 'SELECT n FROM "order" WHERE id = 3') == 9223372036854775807
    number.editor.stepBy(-7)
    finish(number)
    assert cell(path, 'SELECT n FROM "order" WHERE id = 3') == 9223372036854775800
    number.editor.lineEdit().setText("9223372036854775808")
    finish(number)
    assert "not a whole number" in number.error_text()
    assert cell(path, 'SELECT n FROM "order" WHERE id = 3') == 9223372036854775800

    # A Unix-seconds column: shown as a date, written back as an integer.
    created.setDateTime(QDateTime(QDate(2024, 2, 29), QTime(12, 0, 5), QTimeZone.utc()))
    finish(document.record.field("created"))
    assert cell(path, 'SELECT created FROM "order" WHERE id = 3') == 1709208005
    assert document.model.index(2, 6).data() == "2024-02-29 12:00:05 UTC"

    name.editor.setPlainText("two\nlines")
    finish(name)
    assert cell(path, 'SELECT "na me" FROM "order" WHERE id = 3') == "two\nlines"
    document.record.field("ünï \"q\"").null_box.click()  # it was NULL: unticking stores ''
    assert cell(path, 'SELECT "ünï ""q""" FROM "order" WHERE id = 3') == ""
    document.record.field("r").null_box.click()
    assert cell(path, 'SELECT r FROM "order" WHERE id = 3') is None

    for _ in range(5):
        document.undo_stack.undo()
    assert cell(path, 'SELECT n FROM "order" WHERE id = 3') == 9223372036854775807
    assert cell(path, 'SELECT "na me" FROM "order" WHERE id = 3') == "long " * 200
    assert cell(path, 'SELECT created FROM "order" WHERE id = 3') == 1_700_000_003
    assert document.record.field("r").editor.stored() == 1.0  # the form follows undo
    assert not document.record.field("r").null_box.isChecked()

    document.record.next_button.click()
    qtbot.waitUntil(lambda: document.record.row == 3 and document.record.values is not None)
    assert document.record.field("na me").editor.stored() == "name 4"
    close(document)


def test_iso_dates_stay_iso_and_blobs_load_from_files(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE d (id INTEGER PRIMARY KEY, day DATE, at TIMESTAMP, data BLOB)")
    conn.execute("INSERT INTO d VALUES (1, '2020-01-02', '2020-01-02T03:04:05.250Z', x'0001ff')")
    conn.commit()
    conn.close()
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 1)
    show_record(qtbot, document, 0)
    day = document.record.field("day")
    day.editor.setDate(QDate(2021, 12, 31))
    finish(day)
    at = document.record.field("at")
    at.editor.setTime(QTime(23, 59, 58, 250))
    finish(at)
    assert cell(path, "SELECT day FROM d") == "2021-12-31"
    assert cell(path, "SELECT at FROM d") == "2020-01-02T23:59:58.250Z"
    blob = document.record.field("data").editor
    assert blob.size_label.text() == "BLOB, 3 bytes" and blob.hex_label.text() == "00 01 ff"
    source = tmp_path / "payload.bin"
    source.write_bytes(b"\x89PNG" + bytes(100))
    document.edits.load_value_from(str(source), 0, 3, old=document.record.values[3])
    qtbot.waitUntil(lambda: cell(path, "SELECT length(data) FROM d") == 104, timeout=10_000)
    assert blob.size_label.text() == "BLOB, 104 bytes"  # PNG magic but no image: no thumbnail
    assert not blob.image_label.isVisibleTo(blob)
    image = QImage(40, 20, QImage.Format.Format_RGB32)
    image.fill(QColor("teal"))
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    source.write_bytes(bytes(buffer.data()))
    document.edits.load_value_from(str(source), 0, 3, old=document.record.values[3])
    qtbot.waitUntil(lambda: "image 40 × 20" in blob.size_label.text(), timeout=10_000)
    assert blob.image_label.isVisibleTo(blob) and blob.image_label.pixmap().width() == 160
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert cell(path, "SELECT data FROM d") == b"\x00\x01\xff"
    close(document)


def test_constraint_errors_are_shown_next_to_the_field(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, must TEXT NOT NULL, code TEXT UNIQUE, "
                 "qty INTEGER CHECK (qty > 0), owner INTEGER REFERENCES parent(id))")
    conn.execute("INSERT INTO parent VALUES (1)")
    conn.execute("INSERT INTO c VALUES (1, 'a', 'A', 1, 1), (2, 'b', 'B', 2, 1)")
    conn.commit()
    conn.close()
    document = open_document(qtbot, path, read_only=False)
    document.tree.setCurrentItem(document.tree.items["c"])
    wait_rows(qtbot, document, 2)
    show_record(qtbot, document, 1)
    document.record.field("must").null_box.click()
    assert "NOT NULL" in document.record.field("must").error_text()
    code = document.record.field("code")
    code.editor.setText("A")
    finish(code)
    assert "UNIQUE" in code.error_text()
    qty = document.record.field("qty")
    qty.editor.lineEdit().setText("-5")
    finish(qty)
    assert "CHECK" in qty.error_text()
    owner = document.record.field("owner")
    owner.editor.lineEdit().setText("99")
    finish(owner)
    assert "FOREIGN KEY" in owner.error_text()
    assert document.record.field("must").error_text()  # each error stays by its own field
    assert not document.record.field("id").error_text()
    assert code.editor.stored() == "A"  # the failed value stays visible
    assert document.undo_stack.count() == 0
    assert cell(path, "SELECT must || code || qty || owner FROM c WHERE id = 2") == "bB21"
    owner.editor.lineEdit().setText("1")
    qty.editor.lineEdit().setText("7")
    finish(qty)
    assert not qty.error_text() and cell(path, "SELECT qty FROM c WHERE id = 2") == 7
    close(document)


def test_grid_opens_the_editor_of_the_column_type(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=20)
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 20)
    wait_cell(qtbot, document, 0, 0)
    delegate = document.grid.itemDelegate()
    option = QStyleOptionViewItem()

    def edit(column: int, setter) -> None:
        index = document.model.index(0, column)
        editor = delegate.createEditor(document.grid.viewport(), option, index)
        delegate.setEditorData(editor, index)
        setter(editor)
        delegate.setModelData(editor, document.model, index)
        editor.deleteLater()
        return editor

    spin = edit(2, lambda e: e.stepBy(3))
    assert isinstance(spin, NumberSpinBox)
    assert cell(path, 'SELECT n FROM "order" WHERE id = 1') == 4
    moment = edit(6, lambda e: e.setDate(QDate(2001, 9, 9)))
    assert isinstance(moment, MomentEdit)
    stored = cell(path, 'SELECT created FROM "order" WHERE id = 1')
    assert isinstance(stored, int) and document.model.index(0, 6).data().startswith("2001-09-09")
    text = edit(1, lambda e: e.setText("typed"))
    assert isinstance(text, LineEdit)
    assert cell(path, 'SELECT "na me" FROM "order" WHERE id = 1') == "typed"
    index = document.model.index(0, 4)  # a BLOB: edited in the Record tab
    assert delegate.createEditor(document.grid.viewport(), option, index) is None
    assert document.views.currentWidget() is document.record
    document.undo_stack.undo()
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert cell(path, 'SELECT n || created FROM "order" WHERE id = 1') == "11700000001"
    close(document)


def test_record_form_is_read_only_in_read_only_mode(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=5)
    document = open_document(qtbot, path, read_only=True)
    wait_rows(qtbot, document, 5)
    show_record(qtbot, document, 0)
    assert not document.record.field("n").editor.isEnabled()
    assert not document.record.field("n").null_box.isEnabled()
    assert "Unix" not in document.record.field("created").editor.text()
    document.record.grab().save(str(tmp_path / "record.png"))
    close(document)


def test_the_form_never_writes_to_a_row_the_grid_moved_away_from(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=30)
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 30)
    show_record(qtbot, document, 2)
    field = document.record.field("na me")
    document.browse.sort_by("id")
    document.browse.sort_by("id")  # descending: row 2 is another row now
    wait_rows(qtbot, document, 30)
    assert not field.editor.isEnabled()
    field._editable = True  # even if an edit got through, it must not land on the wrong row
    field.editor.setText("wrong row?")
    finish(field)
    assert cell(path, 'SELECT count(*) FROM "order" WHERE "na me" = \'wrong row?\'') == 0
    show_record(qtbot, document, 2)
    assert document.record.field("na me").editor.stored() == "name 28"
    close(document)


def test_a_value_saves_to_a_file(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=5)
    document = open_document(qtbot, path, read_only=True)
    wait_rows(qtbot, document, 5)
    wait_cell(qtbot, document, 1, 4)
    document.edits.save_value_to(str(tmp_path / "blob.bin"), 1, 4)
    qtbot.waitUntil(lambda: "Saved 3 bytes" in document.message.text(), timeout=10_000)
    assert (tmp_path / "blob.bin").read_bytes() == b"\x02\x02\x02"
    close(document)
