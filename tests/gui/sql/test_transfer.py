"""CSV import through the preview dialog, and exporting a query's result, driven through the widgets."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from gui.sql.csv_dialog import CsvPreviewModel
from storage.core.errors import ParseError
from storage.formats.sql.csv_import import CsvOptions, preview_csv
from storage.formats.sql.transfer import Cancelled, import_csv
from tests.gui.sql.test_sql import close, make_db, open_document, wait_rows


def column_names(dialog) -> list[str]:
    from PySide6.QtCore import Qt

    model = dialog.model
    return [model.headerData(i, Qt.Orientation.Horizontal).split("\n")[0] for i in range(model.columnCount())]


def wait_preview(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: dialog.info.text() != "Reading…", timeout=10_000)


def test_csv_preview_header_override_delimiter_and_new_table(qtbot, qtmodeltester, tmp_path: Path) -> None:
    source = tmp_path / "people.csv"
    source.write_text("name;age;score\nAnn;31;1.5\nBob;42;2\nCé;7;\n", encoding="utf-8")
    path = make_db(tmp_path / "t.db", rows=10)
    document = open_document(qtbot, path, read_only=False)
    dialog = document.transfer_panel.import_csv_file(str(source))
    wait_preview(qtbot, dialog)
    model = CsvPreviewModel()  # the dialog's own model goes with the dialog; this one outlives it
    model.set_preview(dialog.preview)
    qtmodeltester.check(model, force_py=True)
    assert column_names(dialog) == ["name", "age", "score"]
    assert dialog.preview.types == ["TEXT", "INTEGER", "REAL"]
    assert dialog.header.isChecked() and dialog.model.rowCount() == 3
    assert "Semicolon" in dialog.info.text()

    dialog.header.click()  # the first row is data after all
    wait_preview(qtbot, dialog)
    assert column_names(dialog) == ["c1", "c2", "c3"] and dialog.model.rowCount() == 4
    assert dialog.preview.types[1] == "TEXT"  # "age" is now a value of that column
    dialog.header.click()
    wait_preview(qtbot, dialog)
    dialog.delimiter.setCurrentIndex(dialog.delimiter.findData(","))
    wait_preview(qtbot, dialog)
    assert column_names(dialog) == ["name;age;score"]
    dialog.delimiter.setCurrentIndex(0)  # Detect
    wait_preview(qtbot, dialog)
    model.set_preview(dialog.preview)
    model.set_preview(None)

    dialog.table_name.setText("order")  # exists: refused, with a reason
    assert not dialog.import_button.isEnabled() and "exists" in dialog.info.text()
    dialog.table_name.setText("people")
    dialog.grab().save(str(tmp_path / "csv_dialog.png"))
    dialog.grab().save("/tmp/csv_dialog.png")
    dialog.import_button.click()
    qtbot.waitUntil(lambda: document.table is not None and document.table.name == "people", timeout=10_000)
    wait_rows(qtbot, document, 3)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name, age, score FROM people ORDER BY rowid").fetchall() == [
        ("Ann", 31, 1.5), ("Bob", 42, 2.0), ("Cé", 7, None)]
    assert [r[2] for r in conn.execute("PRAGMA table_info(people)")] == ["TEXT", "INTEGER", "REAL"]
    conn.close()
    close(document)


def test_csv_into_an_existing_table_and_other_encodings(qtbot, tmp_path: Path) -> None:
    source = tmp_path / "more.csv"
    source.write_bytes("k,v\nzé,5\nzz,6\n".encode("cp1252"))
    path = make_db(tmp_path / "t.db", rows=10)
    document = open_document(qtbot, path, read_only=False)
    dialog = document.transfer_panel.import_csv_file(str(source))
    wait_preview(qtbot, dialog)
    dialog.encoding.setCurrentIndex(dialog.encoding.findData("latin-1"))
    wait_preview(qtbot, dialog)
    assert dialog.model.index(0, 0).data() == "zé"
    dialog.existing.click()
    dialog.existing_table.setCurrentText("w")
    assert dialog.import_button.isEnabled(), dialog.info.text()
    dialog.import_button.click()
    qtbot.waitUntil(lambda: "Imported 2 rows" in document.message.text(), timeout=10_000)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT v FROM w WHERE k = 'zé'").fetchone() == (5,)
    conn.close()
    close(document)


def test_import_is_one_transaction(tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=5)
    source = tmp_path / "big.csv"
    source.write_text("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(20_000)) + "1,2,3\n")
    with pytest.raises(ParseError, match="has 3 fields"):
        import_csv(str(path), str(source), "big", True)
    with pytest.raises(Cancelled):
        import_csv(str(path), str(source), "big", True, cancel=lambda: True)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'big'").fetchone()[0] == 0
    conn.close()
    seen = []
    assert import_csv(str(path), str(source), "big", True, progress=seen.append,
                      options=CsvOptions(header=True), columns=["a", "b", "c"]) == 20_001
    assert seen[-1] == 1.0 and len(seen) > 1
    assert preview_csv(str(source)).options.delimiter == ","


def test_export_the_query_result(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=100)
    document = open_document(qtbot, path, read_only=True)
    document._settings = lambda: None
    assert not document.sql_panel.export_button.isEnabled()
    document.editor.setPlainText('SELECT id, "na me" AS name, b FROM "order" WHERE n = 3 ORDER BY id DESC')
    document.execute("all")
    qtbot.waitUntil(lambda: document.sql_panel.export_button.isEnabled(), timeout=10_000)
    document.sql_panel.export_result(str(tmp_path / "result.csv"))
    qtbot.waitUntil(lambda: "Exported 14 rows" in document.message.text(), timeout=10_000)
    rows = list(csv.reader((tmp_path / "result.csv").open(encoding="utf-8", newline="")))
    assert rows[0] == ["id", "name", "b"] and rows[1] == ["94", "name 94", "5e5e5e"]
    assert len(rows) == 15
    document.sql_panel.export_result(str(tmp_path / "result.json"))
    qtbot.waitUntil(lambda: "result.json" in document.message.text(), timeout=10_000)
    data = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert data[-1] == {"id": 3, "name": "name 3", "b": {"$base64": "AwMD"}}
    close(document)


def test_cancelling_an_import_leaves_the_database_unchanged(qtbot, tmp_path: Path) -> None:
    from gui.sql.csv_dialog import ImportPlan

    source = tmp_path / "many.csv"
    source.write_text("a,b\n" + "".join(f"{i},x{i}\n" for i in range(200_000)))
    path = make_db(tmp_path / "t.db", rows=5)
    document = open_document(qtbot, path, read_only=False)
    plan = ImportPlan(str(source), CsvOptions(), "many", True, ["a", "b"], ["INTEGER", "TEXT"])
    document.transfer_panel.start_import(plan)
    assert document.transfer_panel.isVisible()
    document.transfer_panel.cancel_button.click()
    qtbot.waitUntil(lambda: "cancelled" in document.message.text(), timeout=20_000)
    assert not document.transfer_panel.isVisible()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'many'").fetchone()[0] == 0
    conn.close()
    close(document)
