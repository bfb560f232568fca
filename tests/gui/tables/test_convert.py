"""Convert… in the Tables tab: a CSV becomes a table in an SQLite file, which opens in the SQL tab."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from gui.common.convert_dialog import ConvertDialog
from gui.sql.document import SqlDocument
from tests.gui.sql.test_sql import wait_cell, wait_rows
from tests.gui.tables.test_tables import open_table_doc
from tests.support.gui_helpers import wait_documents


def sales(path: Path) -> Path:
    pd.DataFrame({"id": [1, 2, 3], "day": ["2024-01-31", "2024-02-01", "2024-02-02"],
                  "amount": [9.5, 12.0, 3.25]}).to_csv(path, index=False)
    return path


def open_convert_dialog(qtbot, document) -> ConvertDialog:
    qtbot.mouseClick(document.convert_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget() or document.findChild(ConvertDialog),
                                       ConvertDialog))
    dialog = document.findChild(ConvertDialog)
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_a_csv_converted_to_a_new_sqlite_file_opens_in_the_sql_tab(qtbot, tmp_path, _private_dirs) -> None:
    csv_path = sales(tmp_path / "sales.csv")
    window, document = open_table_doc(qtbot, _private_dirs, csv_path)
    dialog = open_convert_dialog(qtbot, document)
    assert dialog.path.text() == str(tmp_path / "sales converted.csv")  # CSV first, never the source
    dialog.path.clear()
    qtbot.keyClicks(dialog.path, str(csv_path))
    assert not dialog.ok.isEnabled() and "being converted" in dialog.note.text()
    dialog.set_format("sqlite")
    assert dialog.path.text() == str(tmp_path / "sales.sqlite")
    assert dialog.table.text() == "sales" and dialog.table.isVisible()
    assert "new SQLite file" in dialog.note.text()
    dialog.grab().save("/tmp/convert-dialog.png")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: len(window.page("sqlite").all_documents()) == 1, timeout=10_000)
    [sql] = window.page("sqlite").all_documents()
    assert isinstance(sql, SqlDocument) and sql.path == str(tmp_path / "sales.sqlite")
    assert window.tabs.currentWidget() is window.page("sqlite")
    qtbot.waitUntil(lambda: sql.schema is not None and "sales" in sql.tree.items, timeout=10_000)
    sql.tree.setCurrentItem(sql.tree.items["sales"])
    wait_rows(qtbot, sql, 3)
    assert wait_cell(qtbot, sql, 0, 1) == "2024-01-31"
    conn = sqlite3.connect(tmp_path / "sales.sqlite")
    assert [(r[1], r[2]) for r in conn.execute("PRAGMA table_info(sales)")] == [
        ("id", "INTEGER"), ("day", "DATE"), ("amount", "REAL")]
    conn.close()
    assert "Converted 3 rows to table 'sales'" in document.message.text()
    assert len(wait_documents(qtbot, window, 2)) == 2  # the CSV stays open beside it


def test_the_dialog_appends_to_an_existing_table_and_refuses_a_clash(qtbot, tmp_path, _private_dirs) -> None:
    csv_path = sales(tmp_path / "sales.csv")
    records = tmp_path / "records.db"
    conn = sqlite3.connect(records)
    conn.execute("CREATE TABLE sales (id INTEGER, day DATE, amount REAL)")
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    _window, document = open_table_doc(qtbot, _private_dirs, csv_path)
    dialog = open_convert_dialog(qtbot, document)
    dialog.set_format("sqlite")
    dialog.path.clear()
    qtbot.keyClicks(dialog.path, str(records))  # typed: the dialog keeps this name from now on
    dialog.path.editingFinished.emit()
    assert dialog.append.isChecked()  # the file has the table: appending is offered
    assert "other tables (2)" in dialog.note.text()
    dialog.create.setChecked(True)
    assert not dialog.ok.isEnabled() and "already" in dialog.note.text()
    dialog.set_format("parquet")  # the chosen file's name, never Parquet written into the database
    assert dialog.path.text() == str(tmp_path / "records.parquet")
    dialog.set_format("sqlite")
    assert dialog.path.text() == str(tmp_path / "records.sqlite")
    dialog.path.setText(str(records))
    dialog.path.editingFinished.emit()
    dialog.append.setChecked(True)
    dialog.open_after.setChecked(False)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Converted 3 rows" in document.message.text(), timeout=10_000)
    conn = sqlite3.connect(records)
    assert conn.execute("SELECT count(*) FROM sales").fetchone() == (3,)
    conn.close()


def test_cancel_in_the_progress_dialog_leaves_no_file(qtbot, tmp_path, _private_dirs) -> None:
    import numpy as np

    from storage.core.convert import Target

    big = tmp_path / "big.parquet"
    pd.DataFrame({"v": np.random.default_rng(2).random(2_000_000)}).to_parquet(big)
    _window, document = open_table_doc(qtbot, _private_dirs, big)
    document.sort_by(0, descending=True)  # the conversion writes the sorted view: a long query
    qtbot.waitUntil(lambda: not document.is_busy(), timeout=20_000)
    run = document.convert_to(Target("csv", str(tmp_path / "big.csv")))
    assert run is not None
    run.progress.canceled.emit()  # what the progress dialog's Cancel button sends
    qtbot.waitUntil(lambda: "cancelled" in document.message.text(), timeout=20_000)
    assert "nothing was written" in document.message.text()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["big.parquet"]


def test_file_convert_opens_the_same_dialog(qtbot, tmp_path, _private_dirs) -> None:
    window, document = open_table_doc(qtbot, _private_dirs, sales(tmp_path / "sales.csv"))
    window.tabs.setCurrentWidget(window.page("tables"))
    assert window.current_document() is document and window.actions.convert.isEnabled()
    window.actions.convert.trigger()
    qtbot.waitUntil(lambda: document.findChild(ConvertDialog) is not None)
    dialog = document.findChild(ConvertDialog)
    assert dialog.isVisible() and dialog.path.text() == str(tmp_path / "sales converted.csv")
    dialog.reject()
