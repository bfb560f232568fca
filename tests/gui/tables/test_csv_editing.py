"""Editing a CSV file in the real window: keyboard cell edit, insert and delete rows, undo, save."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QApplication, QLineEdit

from gui.tables.document import TableDocument
from tests.support.gui_helpers import launch, wait_documents

RAW = b'id;name;note\r\n1;Oslo;"a\r\nb"\r\n2;Lima;x\r\n3;Kyoto;y\r\n'


def open_doc(qtbot, settings: Path, path: Path) -> tuple[object, TableDocument]:
    window = launch(qtbot, settings, path)
    (document,) = wait_documents(qtbot, window, 1)
    assert isinstance(document, TableDocument)
    qtbot.waitUntil(lambda: document.model.cached(0, 0) not in (None, "…"))
    return window, document


def type_into_cell(qtbot, document: TableDocument, row: int, column: int, text: str, key=None) -> None:
    document.select_cell(row, column)
    document.grid.setFocus()
    if key is not None:
        qtbot.keyClick(document.grid, key)
        editor = QApplication.focusWidget()
        assert isinstance(editor, QLineEdit)
        editor.selectAll()
        qtbot.keyClicks(editor, text)
    else:  # typing starts the edit
        qtbot.keyClicks(document.grid, text[0])
        editor = QApplication.focusWidget()
        assert isinstance(editor, QLineEdit)
        qtbot.keyClicks(editor, text[1:])
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    # the delegate commits on a queued call
    qtbot.waitUntil(lambda: document.grid.state() != QAbstractItemView.State.EditingState)


def test_edit_insert_delete_undo_save(qtbot, qtmodeltester, tmp_path: Path, _private_dirs) -> None:
    path = tmp_path / "cities.csv"
    path.write_bytes(RAW)
    window, document = open_doc(qtbot, _private_dirs, path)
    qtbot.waitUntil(document.editor.can_edit)
    assert "Editable" in document.mode.text()
    assert document.editor.insert_button.isEnabled()
    assert not window.isWindowModified()

    type_into_cell(qtbot, document, 1, 1, "Bergen", Qt.Key.Key_F2)  # F2 edits a cell
    assert document.model.cached(1, 1) == "Bergen"
    assert document.is_modified() and window.isWindowModified()

    document.select_cell(2, 0)
    document.grid.setFocus()
    qtbot.keyClick(document.grid, Qt.Key.Key_Insert)  # a row below the current one
    assert document.model.rowCount() == 4
    qtbot.waitUntil(lambda: document.model.cached(3, 0) == "")
    type_into_cell(qtbot, document, 3, 0, "4")  # typing starts an edit too
    qtbot.waitUntil(lambda: document.model.cached(3, 0) == "4")
    qtbot.waitUntil(lambda: document.model.cached(2, 1) == "Kyoto")

    document.select_cell(0, 0)
    document.grid.setFocus()
    qtbot.keyClick(document.grid, Qt.Key.Key_Delete, Qt.KeyboardModifier.ControlModifier)
    assert document.model.rowCount() == 3
    qtbot.waitUntil(lambda: document.model.cached(0, 1) == "Bergen")
    record = document.record.model  # the Record panel shows the row as the grid does
    qtbot.waitUntil(lambda: record.rowCount() == 3 and record.data(record.index(1, 2)) == "Bergen")
    qtmodeltester.check(document.model, force_py=True)

    window.undo_group.undo()  # the delete comes back
    assert document.model.rowCount() == 4
    qtbot.waitUntil(lambda: document.model.cached(0, 1) == "Oslo")
    assert document.model.cached(1, 1) == "Bergen"
    assert path.read_bytes() == RAW  # nothing written before Save

    assert window.save_current()
    assert path.read_bytes() == b'id;name;note\r\n1;Oslo;"a\r\nb"\r\n2;Bergen;x\r\n3;Kyoto;y\r\n4;;\r\n'
    assert not document.is_modified()
    qtbot.waitUntil(document.editor.can_edit)  # read again: the next edit goes over the new file
    assert document.model.rowCount() == 4


def test_saving_without_edits_keeps_every_byte(qtbot, tmp_path: Path, _private_dirs) -> None:
    path = tmp_path / "q.csv"
    raw = '\ufeff"a","b"\r"é, x","1"\r"z","2"'.encode()
    path.write_bytes(raw)
    window, document = open_doc(qtbot, _private_dirs, path)
    qtbot.waitUntil(document.editor.can_edit)
    type_into_cell(qtbot, document, 1, 0, "w", Qt.Key.Key_F2)
    window.undo_group.undo()
    assert not document.is_modified()
    assert document.save()
    assert path.read_bytes() == raw
    qtbot.waitUntil(document.editor.can_edit)
    type_into_cell(qtbot, document, 0, 1, "9", Qt.Key.Key_F2)
    assert document.save()
    assert path.read_bytes() == '\ufeff"a","b"\r"é, x","9"\r"z","2"'.encode()  # all-quoted, CR kept


def test_sorted_grid_is_read_only_and_says_so(qtbot, tmp_path: Path, _private_dirs) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(b"n,v\n3,c\n1,a\n2,b\n")
    _window, document = open_doc(qtbot, _private_dirs, path)
    qtbot.waitUntil(document.editor.can_edit)
    type_into_cell(qtbot, document, 0, 1, "cc", Qt.Key.Key_F2)
    document.sort_by(0)
    qtbot.waitUntil(lambda: document.model.cached(0, 0) == "1")
    assert "save to include your edits" in document.message.text()
    assert not document.editor.can_edit() and not document.editor.insert_button.isEnabled()
    document.select_cell(0, 1)
    document.grid.setFocus()
    qtbot.keyClick(document.grid, Qt.Key.Key_F2)
    assert "clear sort and filters to edit" in document.message.text()
    document.clear_view()
    qtbot.waitUntil(lambda: document.model.cached(0, 1) == "cc")
    assert document.editor.can_edit()


def test_parquet_refuses_edits_with_its_message(qtbot, tmp_path: Path, _private_dirs) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_parquet(path)
    before = path.read_bytes()
    window, document = open_doc(qtbot, _private_dirs, path)
    assert "Read-only" in document.mode.text()
    assert not document.editor.insert_button.isVisible()
    document.select_cell(0, 1)
    document.grid.setFocus()
    qtbot.keyClick(document.grid, Qt.Key.Key_F2)
    assert "Parquet files are read-only" in document.message.text()
    assert not isinstance(QApplication.focusWidget(), QLineEdit)
    assert not document.can_save() and not window.actions.save.isEnabled()
    assert path.read_bytes() == before


def test_journal_edits_come_back_as_one_undo_step(qtbot, tmp_path: Path, _private_dirs) -> None:
    path = tmp_path / "j.csv"
    path.write_bytes(RAW)
    _window, document = open_doc(qtbot, _private_dirs, path)
    qtbot.waitUntil(document.editor.can_edit)
    assert document.journal_payload() is None
    type_into_cell(qtbot, document, 2, 2, "zz", Qt.Key.Key_F2)
    document.select_cell(0, 0)
    document.grid.setFocus()
    qtbot.keyClick(document.grid, Qt.Key.Key_Delete, Qt.KeyboardModifier.ControlModifier)
    payload = document.journal_payload()
    assert payload is not None
    document.reload()  # what a crash loses; the rows are read again
    document.restore_from_journal(payload)  # before the rows are read: applied once they are
    qtbot.waitUntil(lambda: document.model.rowCount() == 2 and document.model.cached(1, 2) == "zz")
    assert document.undo_stack.count() == 1 and document.is_modified()
    assert document.save()
    assert path.read_bytes() == b"id;name;note\r\n2;Lima;x\r\n3;Kyoto;zz\r\n"


def test_changed_on_disk_is_guarded(qtbot, tmp_path: Path, _private_dirs) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(RAW)
    _window, document = open_doc(qtbot, _private_dirs, path)
    qtbot.waitUntil(document.editor.can_edit)
    type_into_cell(qtbot, document, 2, 2, "mine", Qt.Key.Key_F2)
    other = RAW.replace(b"Kyoto", b"Tokyo")
    path.write_bytes(other)
    assert document.disk.check_now() and document.disk.is_showing()  # the bar: Reload / Keep mine
    assert not document.save()  # row spans of the old file never copy bytes of the new one
    assert "changed on disk" in document.message.text()
    assert path.read_bytes() == other


def test_dialect_change_never_drops_edits(qtbot, tmp_path: Path, _private_dirs) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(RAW)
    _window, document = open_doc(qtbot, _private_dirs, path)
    qtbot.waitUntil(document.editor.can_edit)
    type_into_cell(qtbot, document, 0, 1, "Bergen", Qt.Key.Key_F2)
    bar = document.dialect_bar
    bar.delimiter.setCurrentIndex(bar.delimiter.findData("|"))
    qtbot.mouseClick(bar.apply, Qt.MouseButton.LeftButton)
    assert "Save or undo your edits" in document.message.text()
    assert document.is_modified() and document.model.cached(0, 1) == "Bergen"
    assert bar.delimiter.currentData() == ";"


def test_cp1252_file_keeps_its_encoding(qtbot, tmp_path: Path, _private_dirs) -> None:
    path = tmp_path / "w.csv"
    raw = "name,city\r\nJosé,Málaga\r\nZoë,Köln\r\n".encode("cp1252")
    path.write_bytes(raw)
    _window, document = open_doc(qtbot, _private_dirs, path)
    qtbot.waitUntil(document.editor.can_edit)
    assert document.model.cached(0, 1) == "Málaga"
    type_into_cell(qtbot, document, 1, 1, "Koln", Qt.Key.Key_F2)
    assert document.save()
    assert path.read_bytes() == "name,city\r\nJosé,Málaga\r\nZoë,Koln\r\n".encode("cp1252")


def test_big_file_is_read_only_with_a_message(qtbot, tmp_path: Path, _private_dirs, monkeypatch) -> None:
    from storage.formats.table import csv_edit

    monkeypatch.setattr(csv_edit, "EDIT_LIMIT", 16)
    path = tmp_path / "big.csv"
    path.write_bytes(RAW)
    _window, document = open_doc(qtbot, _private_dirs, path)
    assert "Read-only" in document.mode.text() and not document.editor.insert_button.isEnabled()
    document.select_cell(0, 1)
    document.grid.setFocus()
    qtbot.keyClick(document.grid, Qt.Key.Key_F2)
    assert "over 0 MB are shown read-only" in document.message.text()
    assert not isinstance(QApplication.focusWidget(), QLineEdit)
