"""Opening an SQLite file in the real window paints its first page before SQLAlchemy, the SQL
tab's dialogs, the parts of the document not on the first screen and the pickle scanner are
imported (issue 16: SQLAlchemy alone was a third of a second of the launch; the rest another
tenth); SQLAlchemy follows in idle time, for the first edit.

The window runs in a fresh interpreter (what was imported before is what a launch imports); it
reports the modules loaded when the grid first paints rows, then opens the Record tab and
Execute SQL, which are built on first use and must work as before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.sqlite_files import sqlite_file

ROOT = Path(__file__).resolve().parents[3]

# Not needed for the first page; each is imported when its dialog, tab or bar is first opened, at
# the first edit, export or foreign-key column, or (the pickle scanner) once the first screen is idle.
DEFERRED = ("sqlalchemy", "gui.sql.execute", "gui.sql.editor", "gui.sql.csv_dialog", "gui.sql.result_model",
            "gui.sql.modify_dialog", "gui.sql.table_dialog", "gui.sql.schema_dialogs", "gui.sql.pragmas",
            "gui.sql.tool_dialog", "gui.sql.fk_editor", "storage.formats.sql.query",
            "storage.formats.sql.ddl", "storage.formats.sql.execute", "storage.formats.sql.transfer",
            "gui.sql.record", "gui.sql.record_field", "gui.sql.commands", "gui.sql.fields",
            "gui.sql.transfer", "gui.sql.fk_delegate", "gui.sql.fk_check",
            "gui.common.convert_dialog", "storage.core.convert", "decimal", "storage.formats.sql.edit",
            "storage.formats.sql.explain", "storage.formats.sql.tools", "storage.formats.objects.file",
            "pickletools", "gui.sql.grid_find", "storage.formats.sql.find")

SCRIPT = textwrap.dedent("""
    import json, sys
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QLineEdit
    import main

    app, window = main.build(["--new-window", "--settings-dir", sys.argv[2], sys.argv[1]])
    window.show()
    report = {}

    class FirstRows(QObject):  # the grid's first paint with rows: what is imported by then
        def eventFilter(self, watched, event):
            model = window.all_documents()[0].browse.model
            if (event.type() == QEvent.Type.Paint and "loaded" not in report and model.rowCount()
                    and model.cached_row(0) is not None):
                page, offset = model.cached_row(0)
                report["first_row"] = list(page.values[offset])
                report["loaded"] = sorted(m for m in sys.modules if m in %(deferred)r)
                QTimer.singleShot(0, show_record)
            return False

    first_rows = FirstRows()

    def poll():
        documents = window.all_documents()
        document = documents[0] if documents else None
        if document is None or not hasattr(document, "browse"):
            QTimer.singleShot(1, poll)
            return
        document.grid.viewport().installEventFilter(first_rows)

    def show_record():  # built when first shown: it follows the grid's current row as before
        document = window.all_documents()[0]
        document.grid.setCurrentIndex(document.model.index(2, 1))
        document.views.setCurrentIndex(1)
        wait_record()

    def wait_record():
        document = window.all_documents()[0]
        texts = [w.text() for w in document.record.findChildren(QLineEdit)]
        if "row 2" not in texts or "loading" in document.record.label.text():
            QTimer.singleShot(5, wait_record)
            return
        report["record"] = [document.views.tabText(1), document.record.label.text()]
        document.views.setCurrentIndex(0)
        wait_preload()

    def wait_preload():  # SQLAlchemy comes in idle time after the first page, for the first edit
        if "storage.formats.sql.query" not in sys.modules:
            QTimer.singleShot(5, wait_preload)
            return
        document = window.all_documents()[0]
        document.views.setCurrentIndex(2)  # Execute SQL: built now
        document.editor.setPlainText("SELECT count(*) FROM \\"we \\"\\"t\\"\\"\\"")
        document.execute("all")
        wait_result()

    def wait_result():
        document = window.all_documents()[0]
        results = document.sql_panel.results
        tab = results.widget(0) if results.count() else None
        if tab is None or tab.model is None or tab.model.rowCount() == 0:
            QTimer.singleShot(5, wait_result)
            return
        report["execute"] = tab.model.index(0, 0).data()
        report["tab"] = document.views.tabText(document.views.currentIndex())
        print("REPORT " + json.dumps(report), flush=True)
        window.close()
        app.quit()

    QTimer.singleShot(0, poll)
    QTimer.singleShot(60_000, app.quit)
    app.exec()
""") % {"deferred": DEFERRED}


def test_the_first_page_of_an_sqlite_file_shows_before_sqlalchemy_is_imported(tmp_path: Path) -> None:
    path = tmp_path / "first.db"
    sqlite_file(path, 'CREATE TABLE "we ""t""" (id INTEGER PRIMARY KEY, "na me" TEXT)',
                'INSERT INTO "we ""t""" ("na me") VALUES (?)', [(f"row {i}",) for i in range(1000)])
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    environment.pop("DATASHELF_EXIT_WHEN_SHOWN", None)
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(path), str(tmp_path / "settings")], cwd=ROOT,
                         env=environment, capture_output=True, text=True, timeout=120)
    lines = [line for line in run.stdout.splitlines() if line.startswith("REPORT ")]
    assert lines, run.stderr[-3000:]
    report = json.loads(lines[0][len("REPORT "):])
    assert report["first_row"] == [1, "row 0"]
    assert report["loaded"] == []  # none of DEFERRED was imported before the first page
    assert report["record"] == ["Record", "Row 3 of 1,000"]  # built when first shown, on the grid's row
    assert report["execute"] == "1000"  # Execute SQL, built on first use, runs as before
    assert report["tab"].startswith("Execute SQL")


def test_counting_waits_for_the_first_page(qtbot, tmp_path: Path, monkeypatch) -> None:
    """The grid's exact count and the schema tree's counts start only once the first page is in:
    beside a count of millions of rows, the first page waited a second longer (issue 16)."""
    import gui.sql.browse
    import gui.sql.schema_tree
    from gui.sql.document import SqlDocument
    from storage.formats.sql.sqlite_db import COUNT_CAP

    path = tmp_path / "big.db"
    sqlite_file(path, "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT); "
                      "CREATE TABLE z (id INTEGER PRIMARY KEY)",
                "INSERT INTO a (v) VALUES (?)", [(f"v{i}",) for i in range(2 * COUNT_CAP)])
    events: list[str] = []
    grid_count, tree_count = gui.sql.browse.count_query, gui.sql.schema_tree.count_tables

    def shown() -> str:  # read on the counting worker: is the first page in the grid already?
        return "after the first page" if document.model.cached_row(0) is not None else "before it"

    def counting_grid(counter, pager, cap):
        events.append(f"grid count {cap} {shown()}")
        return grid_count(counter, pager, cap)

    def counting_tree(path, immutable, names, cap, cancel):
        events.append(f"tree count {cap} {shown()}")
        return tree_count(path, immutable, names, cap, cancel)

    monkeypatch.setattr(gui.sql.browse, "count_query", counting_grid)
    monkeypatch.setattr(gui.sql.schema_tree, "count_tables", counting_tree)
    document = SqlDocument(str(path), "sqlite")
    qtbot.addWidget(document)
    document.resize(900, 500)
    document.show()
    qtbot.waitUntil(lambda: document.model.pager is not None and document.model.pager.total == 2 * COUNT_CAP,
                    timeout=10_000)
    qtbot.waitUntil(lambda: document.tree.table_item("a").text(1) == f"{2 * COUNT_CAP:,}", timeout=10_000)
    # Only the capped count (it tells the grid how many rows to draw) runs beside the first page.
    assert sorted(e for e in events if not e.startswith(f"grid count {COUNT_CAP} ")) == [
        "grid count None after the first page", f"tree count {COUNT_CAP} after the first page",
        "tree count None after the first page"]
    document.close_document()


def test_the_first_page_is_read_while_the_rows_are_counted(qtbot, tmp_path: Path, monkeypatch) -> None:
    """Page 0 is asked for beside the capped count, not after it: when the count comes, the rows
    are there to draw (one round trip fewer before the first rows show)."""
    import threading

    import gui.sql.browse
    from gui.sql.document import SqlDocument

    path = tmp_path / "t.db"
    sqlite_file(path, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO t (v) VALUES (?)",
                [(f"v{i}",) for i in range(500)])
    seen: list[bool] = []
    count = gui.sql.browse.count_query
    document: SqlDocument | None = None

    def counting(counter, pager, cap):
        # The count waits (on its worker) for page 0; without the prefetch nobody asks for it
        # before the count is in, so it gives up after a while and says so.
        page_in = threading.Event()
        for _ in range(200):
            if document is not None and document.model.cached_row(0) is not None:
                page_in.set()
                break
            page_in.wait(0.025)
        seen.append(page_in.is_set())
        return count(counter, pager, cap)

    monkeypatch.setattr(gui.sql.browse, "count_query", counting)
    document = SqlDocument(str(path), "sqlite")
    qtbot.addWidget(document)
    document.show()
    qtbot.waitUntil(lambda: document.model.pager is not None and document.model.pager.total == 500,
                    timeout=15_000)
    assert seen == [True]
    assert document.model.index(0, 1).data() == "v0"
    document.close_document()
