"""Edit ▸ Find in the SQL grid on the public Chinook database, by keyboard: Ctrl+F, type, Enter,
F3 and Shift+F3 select each cell holding the text in the grid's order, searched in SQL over the
whole table (rows far past the loaded pages), then say there are no more and start again."""

from __future__ import annotations

import itertools
import shutil
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from gui.sql.document import SqlDocument
from tests.conftest import corpus_dir
from tests.gui.sql.test_sql import make_db, open_document, wait_rows
from tests.support.gui_helpers import launch, wait_documents


def _press(qtbot, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget(), key, modifier)


def _matches(path: Path, text: str, order: str) -> list[tuple[int, int]]:
    """(row, column) of every cell holding ``text``, in the grid's order (the test's own reading)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute(f"SELECT * FROM Track ORDER BY {order}").fetchall()
    return [(r, c) for r, row in enumerate(rows) for c, value in enumerate(row)
            if value is not None and text in str(value).lower()]


def _step(qtbot, document: SqlDocument, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> bool:
    with qtbot.waitSignal(document.browse.finder.finished, timeout=20_000) as blocker:
        _press(qtbot, key, modifier)
    return blocker.args[0]


def _cell(document: SqlDocument) -> tuple[int, int]:
    index = document.grid.currentIndex()
    return index.row(), index.column()


def test_find_in_the_whole_chinook_table(qtbot, tmp_path: Path) -> None:
    source = corpus_dir("chinook") / "Chinook_Sqlite.sqlite"
    if not source.is_file():
        pytest.skip("Chinook_Sqlite.sqlite is absent")
    path = tmp_path / "Chinook_Sqlite.sqlite"
    shutil.copy(source, path)
    window = launch(qtbot, tmp_path / "settings", path)
    [document] = wait_documents(qtbot, window, 1)
    assert isinstance(document, SqlDocument)
    document.tree.setCurrentItem(document.tree.items["Track"])
    wait_rows(qtbot, document, 3503)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    document.grid.setFocus()
    bar = document.browse.finder.bar
    _press(qtbot, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert bar.isVisible() and QApplication.focusWidget() is bar.edit
    qtbot.keyClicks(bar.edit, "Santana")
    expected = _matches(path, "santana", "TrackId")
    assert len(expected) == 12 and expected[0][0] > 256  # past the first page the grid loaded
    assert any(a[0] == b[0] for a, b in itertools.pairwise(expected))  # two in one row
    with qtbot.waitSignal(document.browse.finder.finished, timeout=20_000):
        qtbot.keyClick(bar.edit, Qt.Key.Key_Return)
    assert _cell(document) == expected[0]
    assert document.grid.selectionModel().isSelected(document.grid.currentIndex())
    composer = document.model.headerData(expected[0][1], Qt.Orientation.Horizontal)
    assert bar.note.text() == f"Row {expected[0][0] + 1:,}, {composer}"
    for cell in expected[1:]:
        assert _step(qtbot, document, Qt.Key.Key_F3)
        assert _cell(document) == cell
    qtbot.waitUntil(lambda: "santana" in str(document.model.index(*expected[-1]).data()).lower())
    # past the last one: "no more", then the next F3 starts from the top
    assert not _step(qtbot, document, Qt.Key.Key_F3)
    assert bar.note.text().startswith("No more matches below")
    assert _cell(document) == expected[-1]
    assert _step(qtbot, document, Qt.Key.Key_F3)
    assert _cell(document) == expected[0] and bar.note.text().endswith("(from the top)")
    # Shift+F3 goes back, and past the first one says so too
    assert _step(qtbot, document, Qt.Key.Key_F3)
    assert _step(qtbot, document, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert _cell(document) == expected[0]
    assert not _step(qtbot, document, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert bar.note.text().startswith("No more matches above")
    assert _step(qtbot, document, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert _cell(document) == expected[-1]

    # the grid's own order: sorted by name, the matches come in that order
    document.browse.sort_by("Name")
    wait_rows(qtbot, document, 3503)
    document.grid.setCurrentIndex(document.model.index(0, 0))
    bar.edit.setFocus()
    bar.edit.setText("dylan")
    sorted_expected = _matches(path, "dylan", "Name, TrackId")
    for cell in sorted_expected:
        assert _step(qtbot, document, Qt.Key.Key_F3)
        assert _cell(document) == cell
    qtbot.waitUntil(lambda: "dylan" in str(document.model.index(*sorted_expected[-1]).data()).lower())

    bar.edit.setText("no such text anywhere")
    assert not _step(qtbot, document, Qt.Key.Key_Return)
    assert bar.note.text() == "No matches in this table"
    document.grab().save(str(tmp_path / "sql-find.png"))
    window.close_document(document)


def test_find_in_a_view_without_row_key(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "v.db", rows=600)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE VIEW odd AS SELECT * FROM \"order\" WHERE id % 2 = 1")
    document = open_document(qtbot, path)
    document.tree.setCurrentItem(document.tree.items["odd"])
    qtbot.waitUntil(lambda: document.model.rowCount() == 300, timeout=10_000)
    finder = document.browse.finder
    finder.bar.edit.setText("name 599")
    with qtbot.waitSignal(finder.finished, timeout=10_000) as blocker:
        document.find_next()
    assert blocker.args[0]
    index = document.grid.currentIndex()
    assert index.row() == 299
    qtbot.waitUntil(lambda: document.model.cached_row(299) is not None, timeout=10_000)
    assert "599" in str(index.data())
    with qtbot.waitSignal(finder.finished, timeout=10_000) as blocker:
        document.find_next(backward=True)
    assert not blocker.args[0] and finder.bar.note.text().startswith("No more matches above")
    document.close_document()
