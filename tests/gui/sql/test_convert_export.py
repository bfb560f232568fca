"""The SQL tab's Export Rows and Execute SQL's export reach the Convert targets: JSON Lines,
Parquet, and a table in an SQLite file (asked for in a small dialog)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from gui.common.convert_dialog import ConvertDialog
from storage.core.convert import Target
from tests.gui.sql.test_sql import close, open_document, wait_rows


def dated_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE visits (id INTEGER PRIMARY KEY, day DATE, cost REAL, who TEXT)")
    conn.executemany("INSERT INTO visits VALUES (?, ?, ?, ?)",
                     [(i, f"2024-03-{i:02d}", i * 1.5, f"p{i}") for i in range(1, 11)])
    conn.commit()
    conn.close()
    return path


def test_export_rows_to_parquet_keeps_the_declared_dates(qtbot, tmp_path: Path) -> None:
    document = open_document(qtbot, dated_db(tmp_path / "v.db"))
    wait_rows(qtbot, document, 10)
    out = tmp_path / "visits.parquet"
    document.transfer_panel.export_rows_to(target=Target("parquet", str(out)))
    qtbot.waitUntil(lambda: "Exported 10 rows" in document.message.text(), timeout=10_000)
    table = pq.read_table(out)
    assert table.schema.field("day").type == pa.date32()
    assert table.schema.field("id").type == pa.int64()
    assert str(table.column("day")[0]) == "2024-03-01"
    close(document)


def test_export_rows_chosen_as_sqlite_asks_for_the_table(qtbot, tmp_path: Path, monkeypatch) -> None:
    document = open_document(qtbot, dated_db(tmp_path / "v.db"))
    wait_rows(qtbot, document, 10)
    out = tmp_path / "records.sqlite"
    chosen = (str(tmp_path / "records"), "SQLite table (*.sqlite *.sqlite3 *.db)")  # no extension typed
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: chosen)
    qtbot.mouseClick(document.browse.export_button, Qt.MouseButton.LeftButton)
    dialog = document.findChild(ConvertDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.path.text() == str(out) and dialog.table.text() == "visits"
    assert dialog.format.count() == 1  # only SQLite: the file is chosen
    dialog.open_after.setChecked(False)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Exported 10 rows" in document.message.text(), timeout=10_000)
    conn = sqlite3.connect(out)
    first = conn.execute("SELECT typeof(id), day FROM visits WHERE id = 1").fetchone()
    assert first == ("integer", "2024-03-01")
    assert [r[2] for r in conn.execute("PRAGMA table_info(visits)")] == ["INTEGER", "DATE", "REAL", "TEXT"]
    conn.close()
    close(document)


def test_execute_result_to_json_lines(qtbot, tmp_path: Path) -> None:
    document = open_document(qtbot, dated_db(tmp_path / "v.db"), read_only=True)
    document.editor.setPlainText("SELECT id, day, cost FROM visits WHERE id <= 3 ORDER BY id")
    document.execute("all")
    qtbot.waitUntil(lambda: document.sql_panel.export_button.isEnabled(), timeout=10_000)
    out = tmp_path / "r.jsonl"
    document.sql_panel.export_result(str(out))
    qtbot.waitUntil(lambda: "Exported 3 rows" in document.message.text(), timeout=10_000)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {"id": 1, "day": "2024-03-01", "cost": 1.5}
    close(document)
