"""The SQL tab on a real PostgreSQL server: open a URL, browse, sort, filter, edit with undo and
redo, Execute SQL with cancel and timeout, export; the grid model under the model tester."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gui.sqlite_document import SqliteDocument
from gui.sqlite_model import SqlTableModel
from storage.sql_query import Pager, QuerySpec
from storage.sql_url import open_database_url
from tests.gui_helpers import launch, wait_documents


def fill(url: str, rows: int = 1000) -> None:
    run(url, 'CREATE TABLE "Order Items" (id serial PRIMARY KEY, "na me" text NOT NULL '
                             "DEFAULT 'x', n integer, price numeric(10,2), \"select\" text, "
                             "created date, data bytea)")
    run(url, 'INSERT INTO "Order Items" ("na me", n, price, "select", created, data) '
                             "SELECT 'name ' || g, g % 7, g / 3.0, CASE WHEN g % 5 = 0 THEN NULL ELSE "
                             "'s' || g END, date '2024-01-01' + g, decode('00ff', 'hex') "
                             f"FROM generate_series(1, {rows}) g")
    run(url, "CREATE SCHEMA other")
    run(url, "CREATE TABLE other.nokey (a int, b text)")
    run(url, "INSERT INTO other.nokey SELECT g, 'b' || g FROM generate_series(1, 30) g")
    run(url, 'CREATE VIEW sevens AS SELECT id, n FROM "Order Items" WHERE n = 0')
    run(url, 'CREATE MATERIALIZED VIEW mv AS SELECT n, count(*) FROM "Order Items" GROUP BY n')
    run(url, 'CREATE INDEX order_n ON "Order Items"(n)')


def run(url: str, sql: str) -> None:
    db = open_database_url(url)
    try:
        db.write(lambda conn: conn.execute(sql))
    finally:
        db.close()


def open_pg(qtbot, url: str) -> SqliteDocument:
    document = SqliteDocument(None, "sqlite", url=url)
    qtbot.addWidget(document)
    document.resize(1200, 700)
    document.show()
    qtbot.waitUntil(lambda: document.is_loaded, timeout=20_000)
    return document


def wait_total(qtbot, document: SqliteDocument, rows: int) -> None:
    def done() -> None:
        assert document.model.pager is not None and document.model.pager.total == rows, (
            document.message.text(), document.model.pager and document.model.pager.total)
        assert document.model.rowCount() == rows

    qtbot.waitUntil(done, timeout=20_000)


def wait_cell(qtbot, document: SqliteDocument, row: int, column: int) -> object:
    model = document.model
    model.index(row, column).data()
    qtbot.waitUntil(lambda: model.cached_row(row) is not None, timeout=20_000)
    return model.index(row, column).data()


def scalar(url: str, sql: str):
    db = open_database_url(url)
    try:
        return db.write(lambda conn: conn.execute(sql).fetchone()[0])
    finally:
        db.close()


def test_browse_sort_filter_edit_undo_redo_on_postgres(qtbot, pg_url: str, tmp_path: Path) -> None:
    fill(pg_url)
    document = open_pg(qtbot, pg_url)
    assert document.stack.currentIndex() == 1, document.status.text()
    assert document.table is not None and document.table.name == "Order Items"
    wait_total(qtbot, document, 1000)
    assert wait_cell(qtbot, document, 0, 1) == "name 1"
    names = [document.tree.topLevelItem(i).text(0) for i in range(document.tree.topLevelItemCount())]
    assert names == ["other", "public"]
    document.grab().save("/tmp/shots/pg_document.png")
    # sort descending by n, then filter
    document.sort_by("n")
    document.sort_by("n")
    wait_total(qtbot, document, 1000)
    assert wait_cell(qtbot, document, 0, 2) == "6"
    document.set_filter("na me", "contains", "NAME 99")  # case-insensitive, like SQLite's LIKE
    wait_total(qtbot, document, 11)
    document.set_filter("n", ">", "5")
    wait_total(qtbot, document, 143)
    document._on_clear_filters()
    document.sort = []
    document._apply_query()
    wait_total(qtbot, document, 1000)
    # edit, undo, redo: checked in the database itself
    wait_cell(qtbot, document, 0, 1)
    document.edit_cell(0, 1, "renamed ' \" x")
    assert scalar(pg_url, 'SELECT "na me" FROM "Order Items" WHERE id = 1') == "renamed ' \" x"
    document.edit_cell(0, 5, "2030-02-03")
    assert str(scalar(pg_url, 'SELECT created FROM "Order Items" WHERE id = 1')) == "2030-02-03"
    document.undo_stack.undo()
    assert str(scalar(pg_url, 'SELECT created FROM "Order Items" WHERE id = 1')) == "2024-01-02"
    document.undo_stack.undo()
    assert scalar(pg_url, 'SELECT "na me" FROM "Order Items" WHERE id = 1') == "name 1"
    document.undo_stack.redo()
    assert scalar(pg_url, 'SELECT "na me" FROM "Order Items" WHERE id = 1') == "renamed ' \" x"
    # insert and delete with undo
    document.insert_row()
    assert scalar(pg_url, 'SELECT count(*) FROM "Order Items"') == 1001
    document.undo_stack.undo()
    assert scalar(pg_url, 'SELECT count(*) FROM "Order Items"') == 1000
    # a table without a key: read-only with a note
    document.tree.setCurrentItem(document._table_item("other.nokey"))
    wait_total(qtbot, document, 30)
    assert "no primary key" in document.filters_label.text()
    assert not document.model.editable
    # export of a materialized view
    document.tree.setCurrentItem(document._table_item("mv"))
    wait_total(qtbot, document, 7)
    document.export_rows_to(str(tmp_path / "mv.csv"))
    qtbot.waitUntil(lambda: "Exported 7 rows" in document.message.text(), timeout=20_000)
    with open(tmp_path / "mv.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["n", "count"] and len(rows) == 8
    document.close_document()


def test_execute_with_cancel_and_timeout_on_postgres(qtbot, pg_url: str) -> None:
    fill(pg_url, 50)
    document = open_pg(qtbot, pg_url)
    document.views.setCurrentIndex(2)
    assert document.timeout_widget.isVisible()
    document.editor.setPlainText("SELECT g, g * 2 AS twice FROM generate_series(1, 700) g WHERE '%' = '%'")
    document.execute("all")
    results = document.result_model
    qtbot.waitUntil(lambda: results.pager is not None and results.pager.total == 700, timeout=20_000)
    document.editor.setPlainText("SELECT pg_sleep(30)")
    document.execute("all")
    qtbot.waitUntil(lambda: document.sql_message.text() == "Running…")
    qtbot.wait(300)
    document.sql_cancel.click()
    def cancelled() -> None:
        assert "Cancelled" in document.sql_message.text(), document.sql_message.text()

    qtbot.waitUntil(cancelled, timeout=10_000)
    document.timeout_box.setValue(1)
    document.editor.setPlainText("SELECT pg_sleep(30)")
    document.execute("all")
    qtbot.waitUntil(lambda: "timeout" in document.sql_message.text(), timeout=10_000)
    document.editor.setPlainText('UPDATE "Order Items" SET n = 100 WHERE id <= 3')
    document.execute("all")
    qtbot.waitUntil(lambda: "3 row(s) affected" in document.sql_message.text(), timeout=10_000)
    document.editor.setPlainText("SELEC 1")
    document.execute("all")
    qtbot.waitUntil(lambda: "Error at line 1, column 1" in document.sql_message.text(), timeout=10_000)
    document.close_document()


def test_grid_model_passes_the_tester_with_postgres_rows(qtbot, qtmodeltester, pg_url: str) -> None:
    fill(pg_url, 600)
    db = open_database_url(pg_url)
    schema = db.load_schema()
    table = schema.find("Order Items")
    reader = db.reader()
    model = SqlTableModel()
    spec = QuerySpec(table.name, tuple(c.name for c in table.columns), tuple(table.key_columns),
                     schema=table.schema, types=tuple(c.decl_type for c in table.columns))
    model.set_query(reader, Pager(spec, page_size=100, dialect=db.dialect), list(spec.columns),
                    [c.decl_type for c in table.columns])
    model.set_exact_total(600)
    qtmodeltester.check(model, force_py=True)
    for row in (0, 150, 599):
        model.index(row, 1).data()
    qtbot.waitUntil(lambda: model.cached_pages() >= 3, timeout=20_000)
    qtmodeltester.check(model, force_py=True)
    assert model.index(599, 1).data() == "name 600"
    model.stop()
    reader.close()
    db.close()


def test_main_window_opens_a_url(qtbot, pg_url: str, tmp_path: Path) -> None:
    fill(pg_url, 10)
    window = launch(qtbot, tmp_path / "settings")
    document = window.open_database_url(pg_url, name="team db")
    qtbot.waitUntil(lambda: document.is_loaded, timeout=20_000)
    assert document.title() == "team db"
    assert window.open_database_url(pg_url, name="team db") is document
    assert wait_documents(qtbot, window, 1)[0] is document
    document.close_document()
    window.close()


@pytest.fixture
def pg_plain_url(pg_url: str) -> str:
    return pg_url
