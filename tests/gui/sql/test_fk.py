"""Foreign keys in the SQLite tab: choices from the referenced table, jump to the row and back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtCore import Qt

from gui.sql.document import SqlDocument
from gui.sql.fk_editor import FkChoicesModel, FkEditor
from storage.formats.sql.fk import choice_label, choices, foreign_keys, key_exists
from storage.formats.sql.sqlite_db import Reader
from tests.gui.sql.test_sql import open_document, wait_cell, wait_rows


def make_music(path: Path, artists: int = 300) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE artist (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE pair (x INTEGER, y INTEGER, label TEXT, PRIMARY KEY (x, y));
        CREATE TABLE album (id INTEGER PRIMARY KEY, title TEXT, artist_id INTEGER REFERENCES artist(id),
                            px INTEGER, py INTEGER, FOREIGN KEY (px, py) REFERENCES pair (x, y));
    """)
    conn.executemany("INSERT INTO artist VALUES (?, ?)",
                     [(i, f"Artist {i:04d}" if i != 77 else "Led Zeppelin") for i in range(1, artists + 1)])
    conn.execute("INSERT INTO pair VALUES (1, 2, 'one-two')")
    conn.executemany("INSERT INTO album VALUES (?, ?, ?, ?, ?)",
                     [(1, "IV", 77, 1, 2), (2, "Back in Black", 3, None, None),
                      (3, "Orphan", None, None, None)])
    conn.commit()
    conn.close()
    return path


def db_value(path: Path, sql: str):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def open_album(qtbot, path: Path) -> SqlDocument:
    document = open_document(qtbot, path, read_only=False)
    document.tree.setCurrentItem(document.tree.table_item("album"))
    wait_rows(qtbot, document, 3)
    qtbot.waitUntil(lambda: "album" in document.fks.cache, timeout=10_000)
    return document


def test_storage_lists_foreign_keys_and_searches_choices(tmp_path: Path) -> None:
    path = make_music(tmp_path / "m.db")
    reader = Reader(str(path))
    try:
        fks = reader.run(lambda c: foreign_keys(c, "sqlite", "album"))
        assert {(fk.columns, fk.ref_table, fk.ref_columns) for fk in fks} == {
            (("artist_id",), "artist", ("id",)), (("px", "py"), "pair", ("x", "y"))}
        first = reader.run(lambda c: choices(c, "sqlite", "artist", "id", "name", limit=5))
        assert [choice_label(*ch) for ch in first] == [f"{i} — Artist {i:04d}" for i in range(1, 6)]
        found = reader.run(lambda c: choices(c, "sqlite", "artist", "id", "name", "zeppelin"))
        assert found == [(77, "Led Zeppelin")]
        by_key = reader.run(lambda c: choices(c, "sqlite", "artist", "id", "name", "299"))
        assert [ch[0] for ch in by_key] == [299]
        percent = reader.run(lambda c: choices(c, "sqlite", "artist", "id", "name", "%"))
        assert percent == []  # a LIKE wildcard typed is searched as itself
        assert reader.run(lambda c: key_exists(c, "sqlite", "artist", "id", 5))
        assert not reader.run(lambda c: key_exists(c, "sqlite", "artist", "id", 5000))
    finally:
        reader.close()


def test_choices_model_passes_the_tester(qtmodeltester) -> None:
    model = FkChoicesModel()
    qtmodeltester.check(model, force_py=True)
    model.set_choices([(1, "a"), (2, None)])
    qtmodeltester.check(model, force_py=True)
    assert model.index(1, 0).data() == "2"


def test_choices_model_passes_the_tester_while_searches_arrive(qtbot, qtmodeltester, tmp_path: Path) -> None:
    document = open_album(qtbot, make_music(tmp_path / "m.db"))
    column = [c.name for c in document.table.columns].index("artist_id")
    editor = FkEditor(document, document.fks.fk_target(column), "INTEGER")
    qtbot.addWidget(editor)
    qtmodeltester.check(editor.choices_model, force_py=True)
    with qtbot.waitSignal(editor.searched, timeout=10_000):
        editor.set_stored(3)
    assert len(editor.choices_model.items) == 100
    editor.show()
    editor.setFocus()
    with qtbot.waitSignal(editor.searched, timeout=10_000):
        editor.clear()
        qtbot.keyClicks(editor, "Led")
    assert editor.choices_model.labels == ["77 — Led Zeppelin"]
    with qtbot.waitSignal(editor.searched, timeout=10_000):
        editor.show_choices()
    assert len(editor.choices_model.items) == 100
    document.close_document()


def test_choose_a_referenced_row_writes_its_key_and_undo_restores(qtbot, tmp_path: Path) -> None:
    path = make_music(tmp_path / "m.db")
    document = open_album(qtbot, path)
    column = [c.name for c in document.table.columns].index("artist_id")
    wait_cell(qtbot, document, 1, column)
    index = document.model.index(1, column)
    document.grid.setCurrentIndex(index)
    document.grid.edit(index)
    editor = document.grid.findChild(FkEditor)
    assert editor is not None and editor.text() == "3"
    qtbot.waitUntil(lambda: len(editor.choices_model.items) > 0, timeout=10_000)
    with qtbot.waitSignal(editor.searched, timeout=10_000):
        editor.clear()
        qtbot.keyClicks(editor, "zepp")
    assert editor.choices_model.labels == ["77 — Led Zeppelin"]
    editor.choose(0)
    assert editor.stored() == 77 and not editor.missing
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: db_value(path, "SELECT artist_id FROM album WHERE id = 2") == 77, timeout=5000)
    assert document.model.index(1, column).data() == "77"
    document.undo_stack.undo()
    assert db_value(path, "SELECT artist_id FROM album WHERE id = 2") == 3
    document.close_document()


def test_a_key_naming_no_row_is_flagged_and_refused(qtbot, tmp_path: Path) -> None:
    path = make_music(tmp_path / "m.db")
    document = open_album(qtbot, path)
    column = [c.name for c in document.table.columns].index("artist_id")
    wait_cell(qtbot, document, 0, column)
    index = document.model.index(0, column)
    document.grid.edit(index)
    editor = document.grid.findChild(FkEditor)
    qtbot.waitUntil(lambda: len(editor.choices_model.items) > 0, timeout=10_000)
    with qtbot.waitSignal(editor.searched, timeout=10_000):
        editor.clear()
        qtbot.keyClicks(editor, "9999")
    assert editor.missing and "No row of artist" in editor.toolTip()
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    # Datashelf writes with foreign keys enforced: SQLite refuses, and the message says so.
    qtbot.waitUntil(lambda: "FOREIGN KEY" in document.message.text(), timeout=5000)
    assert (0, column) not in document.model.failed_edits and not document.pending.edits
    assert db_value(path, "SELECT artist_id FROM album WHERE id = 1") == 77
    document.close_document()


def test_go_to_referenced_row_and_back(qtbot, tmp_path: Path) -> None:
    path = make_music(tmp_path / "m.db")
    document = open_album(qtbot, path)
    column = [c.name for c in document.table.columns].index("artist_id")
    wait_cell(qtbot, document, 0, column)
    document.grid.setCurrentIndex(document.model.index(2, 1))
    assert document.fks.go_to_referenced(document.model.index(0, column))
    qtbot.waitUntil(lambda: document.table.name == "artist" and document.model.rowCount() == 1,
                    timeout=10_000)
    qtbot.waitUntil(lambda: document.grid.currentIndex().row() == 0, timeout=10_000)
    assert wait_cell(qtbot, document, 0, 1) == "Led Zeppelin"
    assert document.grid.selectionModel().isSelected(document.grid.currentIndex())
    assert document.fks.back_button.isVisible()
    document.grid.setFocus()
    qtbot.keyClick(document.grid, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: document.table.name == "album" and document.model.rowCount() == 3, timeout=10_000)
    qtbot.waitUntil(lambda: document.grid.currentIndex().row() == 2, timeout=10_000)
    assert not document.fks.back_button.isVisible()
    document.close_document()


def test_composite_key_jumps_and_referencing_rows(qtbot, tmp_path: Path) -> None:
    path = make_music(tmp_path / "m.db")
    document = open_album(qtbot, path)
    names = [c.name for c in document.table.columns]
    wait_cell(qtbot, document, 0, 0)
    assert document.fks.foreign_key_of(names.index("py")).composite
    assert document.fks.fk_target(names.index("py")) is None  # shown, not edited with choices
    assert document.fks.go_to_referenced(document.model.index(0, names.index("px")))
    qtbot.waitUntil(lambda: document.table.name == "pair" and document.model.rowCount() == 1, timeout=10_000)
    document.fks.go_back()
    qtbot.waitUntil(lambda: document.table.name == "album" and document.model.rowCount() == 3, timeout=10_000)
    # From an artist, the albums pointing at it.
    document.tree.setCurrentItem(document.tree.table_item("artist"))
    wait_rows(qtbot, document, 300)
    wait_cell(qtbot, document, 76, 1)
    assert document.fks.referencing_columns() == [("album", "artist_id", "id")]
    assert document.fks.show_referencing(document.model.index(76, 0), "album", "artist_id", "id")
    qtbot.waitUntil(lambda: document.table.name == "album" and document.model.rowCount() == 1, timeout=10_000)
    assert wait_cell(qtbot, document, 0, 1) == "IV"
    document.close_document()


def test_the_arrow_in_a_foreign_key_cell_and_ctrl_click_jump(qtbot, tmp_path: Path) -> None:
    from PySide6.QtCore import QPoint

    from gui.sql.fk_delegate import FkCellDelegate

    path = make_music(tmp_path / "m.db")
    document = open_album(qtbot, path)
    names = [c.name for c in document.table.columns]
    column = names.index("artist_id")
    assert isinstance(document.grid.itemDelegateForColumn(column), FkCellDelegate)
    assert not isinstance(document.grid.itemDelegateForColumn(names.index("title")), FkCellDelegate)
    wait_cell(qtbot, document, 0, column)
    rect = document.grid.visualRect(document.model.index(0, column))
    qtbot.mouseClick(document.grid.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(rect.right() - 5, rect.center().y()))
    qtbot.waitUntil(lambda: document.table.name == "artist" and document.model.rowCount() == 1,
                    timeout=10_000)
    qtbot.mouseClick(document.fks.back_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: document.table.name == "album" and document.model.rowCount() == 3,
                    timeout=10_000)
    wait_cell(qtbot, document, 1, column)
    rect = document.grid.visualRect(document.model.index(1, column))
    qtbot.mouseClick(document.grid.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ControlModifier, QPoint(rect.left() + 5, rect.center().y()))
    qtbot.waitUntil(lambda: document.table.name == "artist" and document.model.rowCount() == 1,
                    timeout=10_000)
    assert wait_cell(qtbot, document, 0, 1) == "Artist 0003"
    document.close_document()


def test_record_view_chooses_a_referenced_row_and_jumps(qtbot, tmp_path: Path) -> None:
    path = make_music(tmp_path / "m.db")
    document = open_album(qtbot, path)
    wait_cell(qtbot, document, 1, 0)
    document.views.setCurrentWidget(document.record)
    document.grid.setCurrentIndex(document.model.index(1, 0))
    qtbot.waitUntil(lambda: document.record.values is not None, timeout=10_000)
    field = document.record.field("artist_id")
    assert not hasattr(document.record.field("title"), "pick_button")
    popup = document.record.pick_value([c.name for c in document.table.columns].index("artist_id"), field)
    editor = popup.editor
    qtbot.waitUntil(lambda: len(editor.choices_model.items) > 0, timeout=10_000)
    with qtbot.waitSignal(editor.searched, timeout=10_000):
        editor.clear()
        qtbot.keyClicks(editor, "Led")
    editor.choose(0)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: db_value(path, "SELECT artist_id FROM album WHERE id = 2") == 77, timeout=5000)
    assert not popup.isVisible()
    document.undo_stack.undo()
    assert db_value(path, "SELECT artist_id FROM album WHERE id = 2") == 3
    go = next(b for b in field.findChildren(type(field.pick_button)) if b.text() == "↗")
    qtbot.mouseClick(go, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: document.table.name == "artist" and document.model.rowCount() == 1,
                    timeout=10_000)
    assert document.views.currentIndex() == 0 and wait_cell(qtbot, document, 0, 1) == "Artist 0003"
    document.close_document()


def test_grid_menu_offers_the_foreign_key_actions(qtbot, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QMenu

    path = make_music(tmp_path / "m.db")
    document = open_album(qtbot, path)
    names = [c.name for c in document.table.columns]
    wait_cell(qtbot, document, 0, 0)
    menu = QMenu()
    document.fks.add_fk_actions(menu, document.model.index(0, names.index("title")))
    texts = {a.text(): a for a in menu.actions()}
    assert not texts["Go to Referenced Row"].isEnabled()
    assert not texts["Back"].isEnabled()
    menu = QMenu()
    document.fks.add_fk_actions(menu, document.model.index(0, names.index("artist_id")))
    texts = {a.text(): a for a in menu.actions()}
    texts["Go to Referenced Row (artist)"].trigger()
    qtbot.waitUntil(lambda: document.table.name == "artist" and document.model.rowCount() == 1,
                    timeout=10_000)
    wait_cell(qtbot, document, 0, 0)
    menu = QMenu()
    document.fks.add_fk_actions(menu, document.model.index(0, 0))
    sub = next(a.menu() for a in menu.actions() if a.text() == "Show Referencing Rows")
    assert [a.text() for a in sub.actions()] == ["album.artist_id"]
    sub.actions()[0].trigger()
    qtbot.waitUntil(lambda: document.table.name == "album" and document.model.rowCount() == 1,
                    timeout=10_000)
    assert wait_cell(qtbot, document, 0, 1) == "IV"
    assert len(document.fks.back) == 2
    document.close_document()


def test_broken_references_are_flagged_in_the_grid(qtbot, tmp_path: Path) -> None:
    path = make_music(tmp_path / "m.db")
    conn = sqlite3.connect(path)  # foreign keys off, as SQLite's default: another program's write
    conn.execute("UPDATE album SET artist_id = 999 WHERE id = 3")
    conn.commit()
    conn.close()
    document = open_album(qtbot, path)
    column = [c.name for c in document.table.columns].index("artist_id")
    for row in range(3):
        wait_cell(qtbot, document, row, column)
    for row in range(3):
        document.fks.fk_missing(document.model.index(row, column))  # what painting asks
    qtbot.waitUntil(lambda: (column, 999) in document.fks.missing_refs.known
                    and not document.fks.missing_refs.known[(column, 999)], timeout=10_000)
    assert document.fks.fk_missing(document.model.index(2, column))
    assert not document.fks.fk_missing(document.model.index(0, column))
    assert not document.fks.fk_missing(document.model.index(2, 1))  # not a foreign key
    document.grab()  # paints the flagged cell
    document.close_document()
