"""How the SQL tab looks: grid columns sized to their content, actions that fit an empty table."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics

from gui.common.column_fit import MAXIMUM
from gui.sql.csv_dialog import EXPORT_FILTERS
from gui.sql.document import SqlDocument
from tests.conftest import corpus_dir
from tests.gui.sql.test_sql import close, open_document, wait_cell, wait_rows


def chinook(tmp_path: Path) -> Path:
    source = corpus_dir("chinook") / "Chinook_Sqlite.sqlite"
    if not source.is_file():
        pytest.skip("Chinook_Sqlite.sqlite is absent")
    path = tmp_path / "Chinook_Sqlite.sqlite"
    shutil.copy(source, path)
    return path


def show(qtbot, document: SqlDocument, table: str, rows: int) -> None:
    document.tree.setCurrentItem(document.tree.items[table])
    wait_rows(qtbot, document, rows)
    wait_cell(qtbot, document, 0, 0)
    qtbot.waitUntil(lambda: document.browse.fitter.is_fitted())


def titles(document: SqlDocument) -> list[str]:
    model = document.model
    return [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]


def text_width(document: SqlDocument, text: str) -> int:
    return QFontMetrics(document.grid.font()).horizontalAdvance(text)


def test_grid_columns_fit_titles_and_values_and_keep_what_the_user_dragged(qtbot, tmp_path: Path) -> None:
    document = open_document(qtbot, chinook(tmp_path))
    grid, header = document.grid, document.grid.horizontalHeader()
    show(qtbot, document, "Invoice", 412)
    names = titles(document)
    column = {name: i for i, name in enumerate(names)}
    for i in range(len(names)):  # every title is whole
        assert grid.columnWidth(i) >= header.sectionSizeHint(i)
    # a value is whole, and a short column leaves room for the long ones
    assert grid.columnWidth(column["InvoiceDate"]) > text_width(document, "2021-01-01 00:00:00")
    assert grid.columnWidth(column["BillingState"]) < grid.columnWidth(column["BillingAddress"])
    assert grid.columnWidth(column["InvoiceId"]) < 100

    show(qtbot, document, "Track", 3503)
    column = {name: i for i, name in enumerate(titles(document))}
    assert grid.columnWidth(column["Name"]) > text_width(document, "For Those About To Rock (We Salute You)")
    assert grid.columnWidth(column["Composer"]) == MAXIMUM  # long lists of names are capped
    assert grid.columnWidth(column["TrackId"]) < 100

    # a width the user dragged stays through a sort and a trip to another table
    header.resizeSection(column["Composer"], 180)
    document.browse.sort_by("Milliseconds")
    wait_rows(qtbot, document, 3503)
    wait_cell(qtbot, document, 0, 0)
    qtbot.waitUntil(lambda: document.browse.fitter.is_fitted())
    assert grid.columnWidth(column["Composer"]) == 180
    show(qtbot, document, "Invoice", 412)
    show(qtbot, document, "Track", 3503)
    assert grid.columnWidth(column["Composer"]) == 180
    assert grid.columnWidth(column["Name"]) > text_width(document, "For Those About To Rock (We Salute You)")
    document.grab().save(str(tmp_path / "track.png"))
    close(document)


def test_execute_sql_results_fit_their_columns(qtbot, tmp_path: Path) -> None:
    document = open_document(qtbot, chinook(tmp_path))
    panel = document.sql_panel
    document.editor.setPlainText("SELECT ArtistId AS a, Name AS a_long_column_title_here FROM Artist")
    document.execute("all")
    qtbot.waitUntil(lambda: panel.current_model is not None and panel.current_model.rowCount() > 0,
                    timeout=10_000)
    result = panel.results.widget(0)
    qtbot.waitUntil(lambda: result.grid.columnWidth(0) != 140)
    assert result.grid.columnWidth(0) < 100
    assert result.grid.columnWidth(1) >= text_width(document, "a_long_column_title_here")
    close(document)


def test_export_dialogs_start_beside_the_database_with_a_name(qtbot, tmp_path: Path, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    asked: list[tuple] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda parent, title, start, filters="", *rest: asked.append((title, start, filters))
                        or ("", ""))
    path = chinook(tmp_path)
    document = open_document(qtbot, path)
    show(qtbot, document, "Track", 3503)
    qtbot.mouseClick(document.browse.export_button, Qt.MouseButton.LeftButton)
    assert asked == [("Export Rows", str(tmp_path / "Track.csv"), EXPORT_FILTERS)]
    document.editor.setPlainText("SELECT Name FROM Artist")
    document.execute("all")
    panel = document.sql_panel
    qtbot.waitUntil(lambda: panel.current_model is not None and panel.export_button.isEnabled(),
                    timeout=10_000)
    qtbot.mouseClick(panel.export_button, Qt.MouseButton.LeftButton)
    assert asked[1][:2] == ("Export Result", str(tmp_path / "Chinook_Sqlite result.csv"))
    document.edits.save_value(document.model.index(0, 1))
    assert asked[2][:2] == ("Save Value to File", str(tmp_path / "Track Name.txt"))
    opened: list[str] = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda parent, title, start="", *rest: opened.append(start) or ("", ""))
    document.read_only_box.setChecked(False)
    qtbot.waitUntil(lambda: not document.read_only and document.reader is not None)
    document.transfer_panel.import_csv_file()
    assert opened == [str(tmp_path)]
    close(document)


def test_an_empty_table_disables_the_row_buttons(qtbot, tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "empty.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 0)
    row_buttons = (document.duplicate_button, document.delete_button, document.null_button)
    assert document.insert_button.isEnabled()
    assert not any(b.isEnabled() for b in row_buttons)
    document.grab().save(str(tmp_path / "empty.png"))
    qtbot.mouseClick(document.insert_button, Qt.MouseButton.LeftButton)
    wait_rows(qtbot, document, 1)
    assert all(b.isEnabled() for b in row_buttons)
    document.undo_stack.undo()
    wait_rows(qtbot, document, 0)
    assert not any(b.isEnabled() for b in row_buttons)
    document.read_only_box.setChecked(True)  # read-only: nothing to write with, rows or not
    qtbot.waitUntil(lambda: document.read_only and document.table is not None)
    assert not document.insert_button.isEnabled() and not any(b.isEnabled() for b in row_buttons)
    close(document)


def test_the_mode_line_reads_in_full_beside_the_buttons_at_950_px(qtbot, tmp_path: Path) -> None:
    """It used to share the button row and wrap into a tall, narrow column of five lines."""
    document = open_document(qtbot, chinook(tmp_path), read_only=False)
    document.resize(950, 600)
    qtbot.waitUntil(lambda: document.mode_label.text().startswith("Editing"))
    label = document.mode_label
    assert label.height() < 2 * label.fontMetrics().lineSpacing()
    assert not label.is_elided()
    assert label.toolTip() == label.text()
