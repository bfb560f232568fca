"""The SQLite tab: lazy grid model, edits with undo/redo checked in the file, bad input, real window."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from gui.sql.document import SqlDocument
from gui.sql.grid_model import SqlTableModel, describe_time, format_value
from storage.formats.sql.pager import Pager
from storage.formats.sql.query import QuerySpec
from storage.formats.sql.sqlite_db import Reader
from tests.conftest import corpus_dir
from tests.support.gui_helpers import edit_while_locked, launch, wait_documents


def make_db(path: Path, rows: int = 1000, wal: bool = False) -> Path:
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode=wal")
    conn.execute('CREATE TABLE "order" (id INTEGER PRIMARY KEY, "na me" TEXT NOT NULL DEFAULT \'x\', '
                 'n INTEGER, r REAL, b BLOB, "ünï ""q""" TEXT, created DATETIME)')
    conn.executemany('INSERT INTO "order" VALUES (?, ?, ?, ?, ?, ?, ?)',
                     [(i, f"name {i}", i % 7, i / 3, bytes([i % 256]) * 3, None if i % 5 else "five",
                       1_700_000_000 + i) for i in range(1, rows + 1)])
    conn.execute("CREATE VIEW v AS SELECT id, n FROM \"order\" WHERE n = 1")
    conn.execute("CREATE INDEX order_n ON \"order\"(n)")
    conn.execute("CREATE TABLE w (k TEXT PRIMARY KEY, v) WITHOUT ROWID")
    conn.execute("INSERT INTO w VALUES ('a', 1), ('b', 2)")
    conn.commit()
    conn.close()
    return path


def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns


def open_document(qtbot, path: Path, read_only: bool | None = None) -> SqlDocument:
    document = SqlDocument(str(path), "sqlite")
    qtbot.addWidget(document)
    document.resize(1000, 600)
    document.show()
    qtbot.waitUntil(lambda: document.is_loaded, timeout=10_000)
    if read_only is not None and document.read_only != read_only:
        document.read_only_box.setChecked(read_only)
        qtbot.waitUntil(lambda: bool(document.is_loaded and document.reader is not None and document.table))
    return document


def wait_rows(qtbot, document: SqlDocument, rows: int) -> None:
    qtbot.waitUntil(lambda: document.model.rowCount() == rows and document.model.pager is not None
                    and document.model.pager.total == rows, timeout=10_000)


def wait_cell(qtbot, document: SqlDocument, row: int, column: int) -> object:
    model = document.model
    model.index(row, column).data()
    qtbot.waitUntil(lambda: model.cached_row(row) is not None, timeout=10_000)
    return model.index(row, column).data()


def close(document: SqlDocument) -> None:
    document.close_document()


def test_model_passes_the_tester_while_pages_arrive(qtbot, qtmodeltester, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=2000)
    reader = Reader(str(path))
    model = SqlTableModel()
    qtmodeltester.check(model, force_py=True)
    spec = QuerySpec("order", ("id", "na me", "n"), ("rowid",))
    model.set_query(reader, Pager(spec, page_size=100), list(spec.columns), ["INTEGER", "TEXT", "INTEGER"])
    model.set_row_count(500)
    model.set_exact_total(2000)
    for row in (0, 150, 1999, 999):
        assert model.index(row, 1).data() == "…"  # loading: data() never waits
    qtmodeltester.check(model, force_py=True)
    qtbot.waitUntil(lambda: model.index(1999, 1).data() == "name 2000"
                    and model.index(150, 0).data() == "151", timeout=10_000)
    qtbot.waitUntil(lambda: not model.is_busy(), timeout=10_000)
    qtmodeltester.check(model, force_py=True)
    model.stop()
    reader.close()


def test_browse_sort_filter_and_last_page(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=3000)
    before = fingerprint(path)
    document = open_document(qtbot, path, read_only=True)
    assert document.table is not None and document.table.name == "order"
    wait_rows(qtbot, document, 3000)
    assert wait_cell(qtbot, document, 2999, 1) == "name 3000"
    assert document.model.fetch_count <= 2  # the last page came without the ones before
    assert wait_cell(qtbot, document, 0, 6) == "2023-11-14 22:13:21 UTC"  # Unix seconds, shown readably
    assert "1700000001" in document.model.index(0, 6).data(3)  # the stored value in the tooltip
    document.browse.sort_by("n")
    document.browse.sort_by("na me", add=True)
    wait_rows(qtbot, document, 3000)
    conn = sqlite3.connect(path)
    expected = [r[0] for r in conn.execute('SELECT id FROM "order" ORDER BY n, "na me", rowid')]
    for row in (0, 255, 256, 1500, 2999):
        assert wait_cell(qtbot, document, row, 0) == str(expected[row])
    document.browse.set_filter("ünï \"q\"", "is null")
    wait_rows(qtbot, document, 2400)
    document.browse.set_filter("na me", "contains", "'; DROP TABLE \"order\"; --")
    wait_rows(qtbot, document, 0)
    document.browse.set_filter("n", "between", "2", "3")
    wait_rows(qtbot, document, conn.execute('SELECT count(*) FROM "order" WHERE n BETWEEN 2 AND 3')
              .fetchone()[0])
    conn.close()
    close(document)
    assert fingerprint(path) == before


@pytest.mark.parametrize("wal", [False, True])
def test_inspecting_leaves_bytes_and_mtime_untouched(qtbot, tmp_path: Path, wal: bool) -> None:
    path = make_db(tmp_path / "t.db", rows=500, wal=wal)
    before = fingerprint(path)
    listing = sorted(os.listdir(tmp_path))
    document = open_document(qtbot, path, read_only=True)
    wait_rows(qtbot, document, 500)
    wait_cell(qtbot, document, 499, 0)
    document.browse.sort_by("r")
    wait_cell(qtbot, document, 10, 0)
    close(document)
    assert fingerprint(path) == before
    assert sorted(os.listdir(tmp_path)) == listing  # no -shm, -wal or -journal left behind


def test_edits_undo_and_redo_are_in_the_file(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=300)
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 300)
    wait_cell(qtbot, document, 4, 0)

    def cell(row_id: int, column: str):
        conn = sqlite3.connect(path)
        try:
            return conn.execute(f'SELECT "{column}" FROM "order" WHERE id = ?', (row_id,)).fetchone()[0]
        finally:
            conn.close()

    document.edits.edit_cell(4, 1, "renamed")
    document.edits.edit_cell(4, 2, "42")
    document.edits.edit_cell(4, 1, "again")
    assert (cell(5, "na me"), cell(5, "n")) == ("again", 42)
    assert document.model.index(4, 1).data() == "again"
    assert not document.is_modified()  # written at once: nothing unsaved
    document.undo_stack.undo()
    assert cell(5, "na me") == "renamed"
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert (cell(5, "na me"), cell(5, "n")) == ("name 5", 5)
    document.undo_stack.redo()
    document.undo_stack.redo()
    assert (cell(5, "na me"), cell(5, "n")) == ("renamed", 42)
    document.grid.setCurrentIndex(document.model.index(4, 3))
    document.edits.set_null()
    assert cell(5, "r") is None
    document.undo_stack.undo()
    assert cell(5, "r") == 5 / 3

    document.edits.edit_cell(4, 4, b"\x00\xffpayload")  # a BLOB loaded from a file goes in as bytes
    assert cell(5, "b") == b"\x00\xffpayload"
    assert document.model.index(4, 4).data() == "BLOB 9 bytes: 00 ff 70 61 79 6c 6f 61 64"
    document.undo_stack.undo()
    assert cell(5, "b") == bytes([5]) * 3
    document.edits.edit_cell(4, 1, "")  # the empty string is not NULL
    assert cell(5, "na me") == ""

    document.edits.delete_rows()
    qtbot.waitUntil(lambda: document.model.rowCount() == 299)
    document.undo_stack.undo()
    qtbot.waitUntil(lambda: document.model.rowCount() == 300)
    assert cell(5, "na me") == ""
    document.edits.insert_row()
    qtbot.waitUntil(lambda: document.model.rowCount() == 301)
    document.undo_stack.undo()
    qtbot.waitUntil(lambda: document.model.rowCount() == 300)
    close(document)


def test_a_failed_write_stays_visible_and_says_why(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=50)
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 50)
    wait_cell(qtbot, document, 0, 0)
    edit_while_locked(document, path, 0, 1, "blocked")
    assert document.model.index(0, 1).data() == "blocked"
    assert "Not written" in document.model.index(0, 1).data(3)  # ToolTipRole
    assert "locked" in document.message.text()
    assert document.undo_stack.count() == 0  # the stack claims no edit that is not in the file
    close(document)


def test_views_are_read_only_and_without_rowid_tables_page(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=100)
    document = open_document(qtbot, path, read_only=False)
    document.tree.setCurrentItem(document.tree.items["v"])
    wait_rows(qtbot, document, 15)
    assert not document.model.editable
    document.tree.setCurrentItem(document.tree.items["w"])
    wait_rows(qtbot, document, 2)
    assert wait_cell(qtbot, document, 1, 0) == "b" and document.model.editable
    close(document)


@pytest.mark.parametrize("content", [
    b"",  # empty: a valid, empty database
    b"SQLite format 3\x00" + b"\x10\x00",  # truncated header
    b"not a database at all, just text\n" * 10,
    os.urandom(4096),  # what an encrypted (SQLCipher) database looks like
    b"SQLite format 3\x00" + b"\x10\x00\x01\x01\x00\x40\x20\x20" + b"\xff" * 4000,  # damaged
])
def test_bad_files_give_a_message_not_a_crash(qtbot, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(content)
    before = fingerprint(path)
    document = open_document(qtbot, path)
    assert document.report is not None
    if content:
        assert document.report["ok"] is False or document.message.isVisible() or not document.schema.tables
    close(document)
    assert fingerprint(path) == before


def test_wide_tables_blobs_and_odd_identifiers(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "wide.db"
    conn = sqlite3.connect(path)
    columns = ", ".join(f'"c {i} ""x"" select"' for i in range(2000))
    conn.execute(f'CREATE TABLE "wide table" ({columns})')
    conn.execute(f'INSERT INTO "wide table" VALUES ({", ".join("?" * 2000)})', list(range(2000)))
    conn.execute("CREATE TABLE blobs (b)")
    conn.execute("INSERT INTO blobs VALUES (zeroblob(100 * 1024 * 1024))")
    conn.commit()
    conn.close()
    document = open_document(qtbot, path, read_only=True)
    document.tree.setCurrentItem(document.tree.items["wide table"])
    wait_rows(qtbot, document, 1)
    assert wait_cell(qtbot, document, 0, 1500) == "1500"
    assert "first 1,990" in document.browse.filters_label.text()
    document.tree.setCurrentItem(document.tree.items["blobs"])
    wait_rows(qtbot, document, 1)
    assert wait_cell(qtbot, document, 0, 0).startswith("BLOB 104,857,600 bytes")
    close(document)


def test_a_file_deleted_while_open_is_reported(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=10)
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 10)
    path.unlink()
    qtbot.waitUntil(lambda: "deleted" in document.message.text(), timeout=10_000)
    close(document)


def test_live_refresh_keeps_the_position(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=1000)
    document = open_document(qtbot, path, read_only=True)
    wait_rows(qtbot, document, 1000)
    document.grid.scrollTo(document.model.index(700, 0))
    wait_cell(qtbot, document, 700, 1)
    position = document.grid.verticalScrollBar().value()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE \"order\" SET \"na me\" = 'changed' WHERE id = 701")
    conn.commit()
    conn.close()
    qtbot.waitUntil(lambda: document.model.index(700, 1).data() == "changed", timeout=10_000)
    assert document.grid.verticalScrollBar().value() == position
    close(document)


def test_formatting_helpers() -> None:
    assert format_value(None) == "NULL"
    assert format_value(b"\x00\x01") == "BLOB 2 bytes: 00 01"
    assert format_value("a\nb") == "a⏎b"
    assert "Unix seconds" in describe_time(1_700_000_000, "DATETIME")
    assert "Unix ms" in describe_time(1_700_000_000_000, "TIMESTAMP")
    assert "Julian" in describe_time(2460000.5, "DATE")
    assert describe_time(5, "INTEGER") is None


def test_chinook_in_the_real_window(qtbot, tmp_path: Path) -> None:
    source = corpus_dir("chinook") / "Chinook_Sqlite.sqlite"
    if not source.is_file():
        pytest.skip("Chinook_Sqlite.sqlite is absent")
    path = tmp_path / "Chinook_Sqlite.sqlite"
    shutil.copy(source, path)
    before = fingerprint(path)
    window = launch(qtbot, tmp_path / "settings", path)
    [document] = wait_documents(qtbot, window, 1)
    assert isinstance(document, SqlDocument)
    assert {t.name for t in document.schema.tables} >= {"Album", "Artist", "Track", "Invoice"}
    document.tree.setCurrentItem(document.tree.items["Track"])
    wait_rows(qtbot, document, 3503)
    document.browse.sort_by("Milliseconds")
    wait_rows(qtbot, document, 3503)
    document.grid.scrollToBottom()
    qtbot.waitUntil(lambda: document.model.cached_row(3502) is not None, timeout=10_000)
    assert document.model.index(3502, 1).data() == "Occupation / Precipice"
    document.tree.setCurrentItem(document.tree.items["Invoice"])
    wait_rows(qtbot, document, 412)
    window.grab().save(str(tmp_path / "chinook.png"))
    window.close_document(document)
    assert fingerprint(path) == before


def test_execute_sql_pages_results_counts_changes_and_keeps_history(qtbot, tmp_path: Path) -> None:
    from storage.settings.store import Settings

    path = make_db(tmp_path / "t.db", rows=1000)
    document = open_document(qtbot, path, read_only=False)
    qtbot.waitUntil(lambda: document.tree.items["order"].text(1) == "1,000", timeout=10_000)
    settings = Settings(tmp_path / "settings")
    document._settings = lambda: settings  # no window around this document
    document.editor.setPlainText('SELECT id, "na me" FROM "order" WHERE n = 2;\nUPDATE "order" SET n = 0 '
                                 "WHERE id < 11;\nSELEC oops;")
    document.execute("current")  # the cursor is at the start: the first statement
    qtbot.waitUntil(lambda: document.sql_panel.current_model is not None
                    and document.sql_panel.current_model.rowCount() == 143, timeout=10_000)
    assert document.sql_panel.current_model.index(142, 1).data() == "name 996"
    document.execute("all")
    qtbot.waitUntil(lambda: "Error" in document.sql_message.text(), timeout=10_000)
    assert "10 row(s) affected" in document.sql_message.text()
    assert "line 3" in document.sql_message.text()
    conn = sqlite3.connect(path)
    assert conn.execute('SELECT count(*) FROM "order" WHERE n = 0').fetchone()[0] == 142 + 10 - 1
    conn.close()
    assert settings["sql.history"][0] == "SELEC oops;"
    assert document.sql_panel.history.count() == 3  # the same statement is remembered once
    close(document)


def test_execute_sql_refuses_changes_in_read_only_mode(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=10)
    before = fingerprint(path)
    document = open_document(qtbot, path, read_only=True)
    document._settings = lambda: None
    document.editor.setPlainText('DELETE FROM "order"')
    document.execute("all")
    qtbot.waitUntil(lambda: "Read-only" in document.sql_message.text(), timeout=10_000)
    close(document)
    assert fingerprint(path) == before


def test_export_the_filtered_rows_and_import_a_csv(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=500)
    document = open_document(qtbot, path, read_only=False)
    document.browse.set_filter("n", "=", "3")
    wait_rows(qtbot, document, 72)
    document.transfer_panel.export_rows_to(str(tmp_path / "threes.csv"))
    qtbot.waitUntil(lambda: "Exported 72 rows" in document.message.text(), timeout=10_000)
    dialog = document.transfer_panel.import_csv_file(str(tmp_path / "threes.csv"))
    qtbot.waitUntil(lambda: dialog.import_button.isEnabled(), timeout=10_000)
    dialog.import_button.click()
    qtbot.waitUntil(lambda: document.table is not None and document.table.name == "threes", timeout=10_000)
    wait_rows(qtbot, document, 72)
    close(document)
