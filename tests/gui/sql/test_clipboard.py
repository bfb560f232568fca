"""Edit ▸ Copy and Paste in the SQL grid of the real window: a block of Chinook cells is copied
as TSV by keyboard, pasted into an editable database as one undoable change, and refused with a
message in a read-only one."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtWidgets import QApplication

from gui.sql.document import SqlDocument
from tests.conftest import corpus_dir
from tests.gui.sql.test_execute import run_sql, tabs
from tests.gui.sql.test_sql import open_document, wait_cell, wait_rows
from tests.support.gui_helpers import launch, wait_documents


def small_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, title TEXT, size INTEGER, kind TEXT)")
    conn.executemany("INSERT INTO note VALUES (?, ?, ?, ?)",
                     [(1, "a", 10, "x"), (2, "b", 20, "y"), (3, "c", 30, "z")])
    conn.commit()
    conn.close()
    return path


def stored(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT * FROM note ORDER BY id").fetchall()


def select(document: SqlDocument, top: int, left: int, bottom: int, right: int) -> None:
    model, grid = document.model, document.grid
    grid.setCurrentIndex(model.index(top, left))
    grid.selectionModel().select(QItemSelection(model.index(top, left), model.index(bottom, right)),
                                 QItemSelectionModel.SelectionFlag.ClearAndSelect)


def key(qtbot, window, widget, sequence: str) -> None:
    """Press a shortcut the way a user does: the window active, the widget focused."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus)
    letter = getattr(Qt.Key, f"Key_{sequence[-1]}")
    qtbot.keyClick(widget, letter, Qt.KeyboardModifier.ControlModifier)


@pytest.fixture
def chinook(tmp_path: Path) -> Path:
    source = corpus_dir("chinook") / "Chinook_Sqlite.sqlite"
    if not source.is_file():
        pytest.skip("Chinook_Sqlite.sqlite is absent")
    return Path(shutil.copy(source, tmp_path / "Chinook_Sqlite.sqlite"))


def test_copy_a_chinook_block_and_paste_it_as_one_undoable_change(qtbot, tmp_path: Path, chinook) -> None:
    notes = small_db(tmp_path / "notes.db")
    window = launch(qtbot, tmp_path / "settings", chinook)
    [source] = wait_documents(qtbot, window, 1)
    assert isinstance(source, SqlDocument)
    source.tree.setCurrentItem(source.tree.items["Track"])
    wait_rows(qtbot, source, 3503)
    wait_cell(qtbot, source, 2, 3)
    source.grid.selectAll()  # rows the grid has not loaded are read for the copy
    key(qtbot, window, source.grid, "C")
    lines = QApplication.clipboard().text().split("\n")
    assert len(lines) == 3503 and lines[-1].startswith("3503\t") and lines[1].startswith("2\tBalls to")
    assert source.model.cached_row(3502) is None  # the grid's own cache was left as it was
    # Track: TrackId, Name, AlbumId, MediaTypeId… rows 1-2, columns Name..MediaTypeId
    select(source, 0, 1, 1, 3)
    copy = window.actions.clipboard.copy
    key(qtbot, window, source.grid, "C")
    assert QApplication.clipboard().text() == (
        "For Those About To Rock (We Salute You)\t1\t1\nBalls to the Wall\t2\t2")
    assert copy.isEnabled()
    assert "Copied 2 × 3 cells" in window.statusBar().currentMessage()

    window.open_paths([str(notes)])
    [_, target] = wait_documents(qtbot, window, 2)
    assert isinstance(target, SqlDocument)
    target.read_only_box.setChecked(False)
    qtbot.waitUntil(lambda: bool(target.is_loaded and target.reader is not None and target.table))
    target.tree.setCurrentItem(target.tree.items["note"])
    wait_rows(qtbot, target, 3)
    wait_cell(qtbot, target, 2, 3)
    select(target, 1, 1, 1, 1)  # paste at row 2, column title
    key(qtbot, window, target.grid, "V")
    qtbot.waitUntil(lambda: target.undo_stack.count() == 1)
    assert stored(notes) == [(1, "a", 10, "x"), (2, "For Those About To Rock (We Salute You)", 1, "1"),
                             (3, "Balls to the Wall", 2, "2")]
    assert target.model.index(2, 1).data() == "Balls to the Wall"
    assert target.undo_stack.text(0) == "paste 6 cells"
    target.undo_stack.undo()  # one step takes back all six cells
    assert stored(notes) == [(1, "a", 10, "x"), (2, "b", 20, "y"), (3, "c", 30, "z")]
    target.undo_stack.redo()
    assert stored(notes)[2] == (3, "Balls to the Wall", 2, "2")
    select(target, 1, 1, 1, 1)
    key(qtbot, window, target.grid, "V")  # the same cells again: nothing changes, no empty step
    assert target.undo_stack.count() == 1 and target.undo_stack.index() == 1
    QApplication.clipboard().setText("one\ttwo\tthree\tfour\nfive")  # wider than the table
    select(target, 2, 2, 2, 2)
    key(qtbot, window, target.grid, "V")
    qtbot.waitUntil(lambda: target.undo_stack.count() == 2)
    assert "Pasted 2 cells; 3 beyond the table's edge left out" in window.statusBar().currentMessage()
    assert target.undo_stack.text(1) == "paste 2 cells"
    assert stored(notes)[2] == (3, "Balls to the Wall", "one", "two")  # SQLite keeps text typed in

    # one value fills the selected cells; Cut copies and empties them (NULL), each one step
    QApplication.clipboard().setText("same")
    select(target, 0, 3, 1, 3)
    key(qtbot, window, target.grid, "V")
    qtbot.waitUntil(lambda: target.undo_stack.count() == 3)
    assert [row[3] for row in stored(notes)] == ["same", "same", "two"]
    select(target, 0, 1, 1, 2)
    key(qtbot, window, target.grid, "X")
    qtbot.waitUntil(lambda: target.undo_stack.count() == 4)
    assert QApplication.clipboard().text() == "a\t10\nFor Those About To Rock (We Salute You)\t1"
    assert stored(notes)[:2] == [(1, None, None, "same"), (2, None, None, "same")]
    assert target.model.index(0, 1).data() == "NULL"
    target.undo_stack.undo()
    assert stored(notes)[1] == (2, "For Those About To Rock (We Salute You)", 1, "same")
    window.close_document(target)
    window.close_document(source)


def test_paste_into_a_read_only_database_is_refused_with_a_message(qtbot, tmp_path: Path) -> None:
    notes = small_db(tmp_path / "notes.db")
    window = launch(qtbot, tmp_path / "settings", notes)
    [document] = wait_documents(qtbot, window, 1)
    document.read_only_box.setChecked(True)
    qtbot.waitUntil(lambda: bool(document.is_loaded and document.reader is not None and document.table))
    document.tree.setCurrentItem(document.tree.items["note"])
    wait_rows(qtbot, document, 3)
    wait_cell(qtbot, document, 0, 1)
    QApplication.clipboard().setText("new\t99")
    select(document, 0, 1, 0, 1)
    key(qtbot, window, document.grid, "V")
    assert "Read-only: switch Read-only off to paste" in document.message.text()  # above the grid
    assert document.undo_stack.count() == 0
    assert stored(notes)[0] == (1, "a", 10, "x")
    key(qtbot, window, document.grid, "X")  # Cut is refused too: nothing copied, nothing emptied
    assert "Read-only: switch Read-only off to cut" in document.message.text()
    assert QApplication.clipboard().text() == "new\t99" and stored(notes)[0] == (1, "a", 10, "x")
    # NULL is copied as an empty cell, a ragged selection keeps its shape
    with sqlite3.connect(notes) as conn:
        conn.execute("UPDATE note SET kind = NULL WHERE id = 1")
    document.browse.reload_rows()
    qtbot.waitUntil(lambda: document.model.index(0, 3).data() == "NULL")
    select(document, 0, 2, 0, 3)
    document.grid.selectionModel().select(document.model.index(1, 2),
                                          QItemSelectionModel.SelectionFlag.Select)
    key(qtbot, window, document.grid, "C")
    assert QApplication.clipboard().text() == "10\t\n20\t"

    document.views.setCurrentIndex(2)  # Execute SQL: its result grid copies the same way
    run_sql(qtbot, document, "SELECT id, size / 4.0, kind FROM note WHERE id < 3")
    [result] = tabs(document)
    result.grid.selectAll()
    key(qtbot, window, result.grid, "C")
    assert QApplication.clipboard().text() == "1\t2.5\t\n2\t5.0\ty"
    window.close_document(document)


def test_a_paste_is_written_whole_or_not_at_all(qtbot, tmp_path: Path) -> None:
    """One transaction: a refused cell or one someone else changed leaves every cell as it was."""
    notes = tmp_path / "strict.db"
    with sqlite3.connect(notes) as conn:
        conn.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, title TEXT NOT NULL, size INTEGER, "
                     "kind TEXT)")
        conn.executemany("INSERT INTO note VALUES (?, ?, ?, ?)",
                         [(1, "a", 10, "x"), (2, "b", 20, "y"), (3, "c", 30, "z")])
    document = open_document(qtbot, notes, read_only=False)
    document.tree.setCurrentItem(document.tree.items["note"])
    wait_rows(qtbot, document, 3)
    wait_cell(qtbot, document, 2, 3)
    edits = document.edits
    edits.paste_cells(0, 1, [["new", "1"], ["", "2"]])  # title NOT NULL: the second row is refused
    assert "NOT NULL" in document.message.text() and "nothing was written" in document.message.text()
    assert stored(notes)[:2] == [(1, "a", 10, "x"), (2, "b", 20, "y")]
    assert document.undo_stack.count() == 0
    assert document.model.index(0, 1).data() == "a"

    with sqlite3.connect(notes) as conn:  # someone else writes a cell the grid still shows as 30
        conn.execute("UPDATE note SET size = 31 WHERE id = 3")
    edits.paste_cells(1, 2, [["21"], ["32"]])
    assert "someone else changed 'size'" in document.message.text()
    assert [row[2] for row in stored(notes)] == [10, 20, 31]
    assert document.model.index(2, 2).data() == "31"  # the grid shows their value now
    assert document.undo_stack.count() == 0

    edits.paste_cells(1, 2, [["21"], ["32"]])  # pasted again over what is stored now
    assert [row[2] for row in stored(notes)] == [10, 21, 32] and document.undo_stack.count() == 1
    with sqlite3.connect(notes) as conn:
        conn.execute("UPDATE note SET size = 33 WHERE id = 3")
    document.undo_stack.undo()  # the undo finds 33 where it wrote 32: it writes nothing either
    assert "Could not undo" in document.message.text()
    assert [row[2] for row in stored(notes)] == [10, 21, 33] and document.undo_stack.count() == 0
    document.close_document()


def test_set_null_on_a_selection_is_one_undoable_change(qtbot, tmp_path: Path) -> None:
    notes = small_db(tmp_path / "notes.db")
    document = open_document(qtbot, notes, read_only=False)
    document.tree.setCurrentItem(document.tree.items["note"])
    wait_rows(qtbot, document, 3)
    wait_cell(qtbot, document, 2, 3)
    select(document, 0, 2, 2, 3)  # size and kind of all three rows
    document.null_button.click()
    qtbot.waitUntil(lambda: stored(notes) == [(n, t, None, None) for n, t in ((1, "a"), (2, "b"), (3, "c"))])
    assert document.undo_stack.count() == 1 and "6 cells" in document.undo_stack.undoText()
    qtbot.waitUntil(lambda: document.model.index(2, 3).data() == "NULL")
    document.undo_stack.undo()
    qtbot.waitUntil(lambda: stored(notes) == [(1, "a", 10, "x"), (2, "b", 20, "y"), (3, "c", 30, "z")])
    select(document, 1, 1, 1, 1)  # one cell: the usual single edit
    document.null_button.click()
    qtbot.waitUntil(lambda: stored(notes)[1] == (2, None, 20, "y"))
    assert document.undo_stack.count() == 1
    document.close_document()
