"""The Tools menu of the SQLite tab: checks, VACUUM, pragmas with undo, ANALYZE and the plan view."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from PySide6.QtCore import Qt

from gui.sql.pragmas import PragmasDialog
from gui.sql.tool_dialog import PlanModel
from storage.formats.sql.explain import PlanNode
from tests.gui.sql.test_sql import open_document, wait_cell, wait_rows
from tests.storage.formats.sql.test_tools import damage_index, make_indexed


def finished(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: dialog.finished_ok, timeout=20_000)


def test_integrity_check_on_a_good_and_a_damaged_database(qtbot, tmp_path: Path) -> None:
    good = open_document(qtbot, make_indexed(tmp_path / "good.db"))
    dialog = good.tools.check_integrity()
    finished(qtbot, dialog)
    assert "ok — no problems found" in dialog.status.text() and dialog.rows() == []
    good.close_document()
    bad_path = make_indexed(tmp_path / "bad.db")
    damage_index(bad_path)
    bad = open_document(qtbot, bad_path)
    dialog = bad.tools.check_integrity()
    finished(qtbot, dialog)
    assert "problem(s) found" in dialog.status.text()
    assert any("missing from index t_name" in row[0] for row in dialog.rows())
    quick = bad.tools.check_integrity(quick=True)
    assert bad.tools.tool_dialog is quick and not dialog.isVisible()
    finished(qtbot, quick)
    bad.close_document()


def test_foreign_key_check_lists_the_violation(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "fk.db"
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (id INTEGER PRIMARY KEY, "
                       "p_id INTEGER REFERENCES p(id)); INSERT INTO c VALUES (7, 3);")
    conn.close()
    document = open_document(qtbot, path)
    dialog = document.tools.check_foreign_keys()
    finished(qtbot, dialog)
    assert dialog.rows() == [["c", "7", "p", "0"]]
    item = dialog.results.topLevelItem(0)
    dialog.results.itemDoubleClicked.emit(item, 0)
    qtbot.waitUntil(lambda: document.table.name == "c" and document.model.rowCount() == 1, timeout=10_000)
    assert wait_cell(qtbot, document, 0, 0) == "7" and document.fks.back_button.isVisible()
    document.close_document()


def test_vacuum_shrinks_the_file_and_the_document_keeps_working(qtbot, tmp_path: Path) -> None:
    path = make_indexed(tmp_path / "v.db", rows=20_000)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM t WHERE id >= 100")
    conn.commit()
    conn.close()
    before = os.path.getsize(path)
    document = open_document(qtbot, path, read_only=True)
    assert document.tools.vacuum_database(ask=False) is None  # read-only: nothing is written
    document.tools.menu().aboutToShow.emit()
    assert not document.tools.tool_actions["vacuum"].isEnabled()
    document.read_only_box.setChecked(False)
    qtbot.waitUntil(lambda: document.reader is not None and not document.read_only
                    and document.table is not None, timeout=10_000)
    wait_rows(qtbot, document, 100)
    dialog = document.tools.vacuum_database(ask=False)
    finished(qtbot, dialog)
    assert "VACUUM done" in dialog.status.text()
    assert os.path.getsize(path) < before // 4
    qtbot.waitUntil(lambda: document.reader is not None and document.table is not None
                    and document.table.name == "t", timeout=10_000)
    wait_rows(qtbot, document, 100)
    assert wait_cell(qtbot, document, 99, 1) == "name 00099"
    document.close_document()


def test_pragma_set_and_undo(qtbot, tmp_path: Path) -> None:
    path = make_indexed(tmp_path / "p.db", rows=10)
    document = open_document(qtbot, path, read_only=False)
    dialog = document.tools.show_pragmas()
    assert isinstance(dialog, PragmasDialog)
    qtbot.waitUntil(lambda: bool(dialog.values), timeout=10_000)
    assert dialog.labels["page_size"].text() == "<b>4096</b>"
    dialog.editors["user_version"].setText("12")
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        qtbot.mouseClick(dialog.set_buttons["user_version"], Qt.MouseButton.LeftButton)

    def version() -> int:
        conn = sqlite3.connect(path)
        try:
            return conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()

    assert version() == 12 and dialog.labels["user_version"].text() == "<b>12</b>"
    assert document.undo_stack.undoText() == "set user_version = 12"
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        document.undo_stack.undo()
    assert version() == 0 and dialog.labels["user_version"].text() == "<b>0</b>"
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        document.undo_stack.redo()
    assert version() == 12
    dialog.editors["journal_mode"].setCurrentText("wal")
    dialog.apply("journal_mode")
    qtbot.waitUntil(lambda: dialog.values["journal_mode"] == "wal", timeout=10_000)
    assert (tmp_path / "p.db").read_bytes()[18:20] == b"\x02\x02"
    document.undo_stack.undo()
    qtbot.waitUntil(lambda: dialog.values["journal_mode"] == "delete", timeout=10_000)
    dialog.editors["user_version"].setText("not a number")
    dialog.apply("user_version")
    assert "whole number" in document.message.text() and version() == 12
    document.close_document()


def test_pragmas_are_read_only_in_read_only_mode(qtbot, tmp_path: Path) -> None:
    document = open_document(qtbot, make_indexed(tmp_path / "r.db", rows=5), read_only=True)
    dialog = document.tools.show_pragmas()
    qtbot.waitUntil(lambda: bool(dialog.values), timeout=10_000)
    assert not dialog.set_buttons["user_version"].isEnabled()
    document.close_document()


def test_analyze_table_and_database(qtbot, tmp_path: Path) -> None:
    path = make_indexed(tmp_path / "a.db")
    document = open_document(qtbot, path, read_only=False)
    dialog = document.tools.analyze(table_only=True)
    finished(qtbot, dialog)
    assert "ANALYZE t: statistics updated" in dialog.status.text()
    finished(qtbot, document.tools.analyze(table_only=False))
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 't'").fetchone()[0] >= 1
    conn.close()
    document.close_document()


def test_explain_shows_the_plan_tree(qtbot, qtmodeltester, tmp_path: Path) -> None:
    document = open_document(qtbot, make_indexed(tmp_path / "e.db"))
    document.views.setCurrentIndex(2)
    document.editor.setPlainText("SELECT 1;\nSELECT * FROM t WHERE name = 'x' ORDER BY id;")
    cursor = document.editor.textCursor()
    cursor.setPosition(len(document.editor.toPlainText()) - 3)
    document.editor.setTextCursor(cursor)
    qtbot.mouseClick(document.tools.explain_button, Qt.MouseButton.LeftButton)
    dialog = document.tools.tool_dialog
    finished(qtbot, dialog)
    model = dialog.plan_model
    qtmodeltester.check(model, force_py=True)
    steps = [model.index(r, 0).data() for r in range(model.rowCount())]
    assert any("t_name" in s for s in steps), steps
    assert "EXPLAIN: SELECT * FROM t WHERE name" in dialog.status.text()
    bad = document.tools.explain_query(sql="SELECT * FROM missing")
    qtbot.waitUntil(lambda: bad.finished_ok, timeout=10_000)
    assert "no such table" in bad.status.text()
    document.close_document()


def test_plan_model_passes_the_tester_with_nested_nodes(qtmodeltester) -> None:
    root = PlanNode("plan")
    top = root.add(PlanNode("Hash Join", cost="1..2"))
    top.add(PlanNode("Seq Scan", "a")).add(PlanNode("inner"))
    top.add(PlanNode("Index Scan", "b"))
    model = PlanModel()
    qtmodeltester.check(model, force_py=True)
    model.set_plan(root)
    qtmodeltester.check(model, force_py=True)
    child = model.index(1, 1, model.index(0, 0))
    assert child.data() == "b" and model.parent(child) == model.index(0, 0)


def test_cancel_stops_a_running_check(qtbot, tmp_path: Path, monkeypatch) -> None:
    import time

    import storage.formats.sql.tools
    from storage.formats.sql.sqlite_db import Interrupted

    def slow_check(conn, quick=False, cancel=None, **_kw):
        while not cancel():  # a check that only ends when cancelled
            time.sleep(0.01)
        raise Interrupted("Cancelled.")

    monkeypatch.setattr(storage.formats.sql.tools, "integrity_check", slow_check)
    document = open_document(qtbot, make_indexed(tmp_path / "c.db", rows=10))
    dialog = document.tools.check_integrity()
    assert dialog.cancel_button.isVisible() and dialog.bar.isVisible()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    finished(qtbot, dialog)
    assert "Cancelled." in dialog.status.text()
    document.close_document()
