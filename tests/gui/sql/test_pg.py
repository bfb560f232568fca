"""The SQL tab on a real PostgreSQL server: open a URL, browse, sort, filter, edit with undo and
redo, Execute SQL with cancel and timeout, export; the grid model under the model tester."""

from __future__ import annotations

import csv
from pathlib import Path

from gui.sql.document import SqlDocument
from gui.sql.grid_model import SqlTableModel
from storage.formats.sql.pager import Pager
from storage.formats.sql.query import QuerySpec
from storage.formats.sql.url import open_database_url, redact
from tests.support import pg_server
from tests.support.gui_helpers import launch, wait_documents


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


def open_pg(qtbot, url: str) -> SqlDocument:
    document = SqlDocument(None, "sqlite", url=url)
    qtbot.addWidget(document)
    document.resize(1200, 700)
    document.show()
    qtbot.waitUntil(lambda: document.is_loaded, timeout=20_000)
    return document


def wait_total(qtbot, document: SqlDocument, rows: int) -> None:
    def done() -> None:
        assert document.model.pager is not None and document.model.pager.total == rows, (
            document.message.text(), document.model.pager and document.model.pager.total)
        assert document.model.rowCount() == rows

    qtbot.waitUntil(done, timeout=20_000)


def wait_cell(qtbot, document: SqlDocument, row: int, column: int) -> object:
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
    assert document.stack.currentIndex() == 1, document.status_page.status.text()
    assert document.table is not None and document.table.name == "Order Items"
    wait_total(qtbot, document, 1000)
    assert wait_cell(qtbot, document, 0, 1) == "name 1"
    names = [document.tree.topLevelItem(i).text(0) for i in range(document.tree.topLevelItemCount())]
    assert names == ["other", "public"]
    document.grab().save("/tmp/shots/pg_document.png")
    # the record view reads the whole row
    document.grid.setCurrentIndex(document.model.index(2, 0))
    document.views.setCurrentIndex(1)
    qtbot.waitUntil(lambda: document.record.key == {"id": 3}, timeout=20_000)
    document.views.setCurrentIndex(0)
    # sort descending by n, then filter
    document.browse.sort_by("n")
    document.browse.sort_by("n")
    wait_total(qtbot, document, 1000)
    assert wait_cell(qtbot, document, 0, 2) == "6"
    document.browse.set_filter("na me", "contains", "NAME 99")  # case-insensitive, like SQLite's LIKE
    wait_total(qtbot, document, 11)
    document.browse.set_filter("n", ">", "5")
    wait_total(qtbot, document, 143)
    document.browse._on_clear_filters()
    document.browse.sort = []
    document.browse.apply_query()
    wait_total(qtbot, document, 1000)
    # edit, undo, redo: checked in the database itself
    wait_cell(qtbot, document, 0, 1)
    document.edits.edit_cell(0, 1, "renamed ' \" x")
    assert scalar(pg_url, 'SELECT "na me" FROM "Order Items" WHERE id = 1') == "renamed ' \" x"
    wait_cell(qtbot, document, 0, 5)  # a refresh may be reading the page again (the edit would say so)
    document.edits.edit_cell(0, 5, "2030-02-03")
    assert str(scalar(pg_url, 'SELECT created FROM "Order Items" WHERE id = 1')) == "2030-02-03"
    document.undo_stack.undo()
    assert str(scalar(pg_url, 'SELECT created FROM "Order Items" WHERE id = 1')) == "2024-01-02"
    document.undo_stack.undo()
    assert scalar(pg_url, 'SELECT "na me" FROM "Order Items" WHERE id = 1') == "name 1"
    document.undo_stack.redo()
    assert scalar(pg_url, 'SELECT "na me" FROM "Order Items" WHERE id = 1') == "renamed ' \" x"
    # insert and delete with undo
    document.edits.insert_row()
    assert scalar(pg_url, 'SELECT count(*) FROM "Order Items"') == 1001
    document.undo_stack.undo()
    assert scalar(pg_url, 'SELECT count(*) FROM "Order Items"') == 1000
    # a table without a key: read-only with a note
    document.tree.setCurrentItem(document.tree.table_item("other.nokey"))
    wait_total(qtbot, document, 30)
    assert "no primary key" in document.browse.filters_label.text() \
        and "ctid" in document.browse.filters_label.text()
    assert str(wait_cell(qtbot, document, 0, 1)).startswith("b")  # rows do show, read-only
    assert not document.model.editable
    # export of a materialized view
    document.tree.setCurrentItem(document.tree.table_item("mv"))
    wait_total(qtbot, document, 7)
    document.transfer_panel.export_rows_to(str(tmp_path / "mv.csv"))
    qtbot.waitUntil(lambda: "Exported 7 rows" in document.message.text(), timeout=20_000)
    with open(tmp_path / "mv.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["n", "count"] and len(rows) == 8
    document.close_document()


def test_execute_with_cancel_and_timeout_on_postgres(qtbot, pg_url: str) -> None:
    fill(pg_url, 50)
    document = open_pg(qtbot, pg_url)
    document.views.setCurrentIndex(2)
    assert document.timeout.isVisible()
    document.editor.setPlainText("SELECT g, g * 2 AS twice FROM generate_series(1, 700) g WHERE '%' = '%'")
    document.execute("all")
    panel = document.sql_panel
    qtbot.waitUntil(lambda: panel.current_model is not None and panel.current_model.rowCount() == 700,
                    timeout=20_000)
    document.editor.setPlainText("SELECT pg_sleep(30)")
    document.execute("all")
    qtbot.waitUntil(lambda: document.sql_message.text() == "Running…")
    qtbot.wait(300)
    panel.cancel_button.click()
    def cancelled() -> None:
        assert "Cancelled" in document.sql_message.text(), document.sql_message.text()

    qtbot.waitUntil(cancelled, timeout=10_000)
    # a long write is cancelled on the server too, and rolled back
    document.editor.setPlainText("UPDATE \"Order Items\" SET n = 99 WHERE id = 1; "
                                 "DO $$ BEGIN PERFORM pg_sleep(30); END $$")
    document.execute("all")
    qtbot.waitUntil(lambda: "Running" not in document.sql_message.text() or panel.cancel_button.isEnabled())
    qtbot.wait(300)
    panel.cancel_button.click()
    qtbot.waitUntil(cancelled, timeout=10_000)
    document.editor.setPlainText("SELECT 41 + 1 AS answer")
    document.execute("all")
    qtbot.waitUntil(lambda: panel.current_model is not None and panel.current_model.rowCount() == 1
                    and panel.current_model.index(0, 0).data() == "42", timeout=20_000)
    assert scalar(pg_url, 'SELECT n FROM "Order Items" WHERE id = 1') == 99  # its own statement, committed
    document.timeout.spin.setValue(1)
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
    window = launch(qtbot, tmp_path / "settings", pg_url)  # python main.py postgresql+psycopg://…
    (first,) = wait_documents(qtbot, window, 1)
    qtbot.waitUntil(lambda: first.table is not None, timeout=20_000)
    assert first.title() == redact(pg_url).split("://", 1)[1].replace(":***", "")
    assert "***" not in first.title() and pg_server.PASSWORD not in first.title()
    window.activate_document(first)
    assert window.format_label.text() == "POSTGRESQL"
    assert window.path_label.text() == redact(pg_url) and pg_server.PASSWORD not in window.path_label.text()
    first.close_document()
    window.close()
    window = launch(qtbot, tmp_path / "settings2")
    document = window.open_database_url(pg_url, name="team db")
    qtbot.waitUntil(lambda: document.is_loaded, timeout=20_000)
    assert document.title() == "team db"
    assert window.open_database_url(pg_url, name="team db") is document
    assert wait_documents(qtbot, window, 1)[0] is document
    document.close_document()
    window.close()


def test_csv_import_into_new_and_existing_tables_on_postgres(qtbot, pg_url: str, tmp_path: Path) -> None:
    fill(pg_url, 10)
    source = tmp_path / "people.csv"
    source.write_text("name,age,score\nAnn,31,1.5\nBob,42,2\nCé,7,\n", encoding="utf-8")
    document = open_pg(qtbot, pg_url)
    dialog = document.transfer_panel.import_csv_file(str(source))
    qtbot.waitUntil(lambda: dialog.info.text() != "Reading…", timeout=20_000)
    dialog.table_name.setText("New People")
    dialog.import_button.click()
    qtbot.waitUntil(lambda: document.table is not None and document.table.name == "New People",
                    timeout=20_000)
    wait_total(qtbot, document, 3)
    db = open_database_url(pg_url)
    try:
        rows = db.write(lambda c: c.execute('SELECT name, age, score FROM "New People" ORDER BY name')
                        .fetchall())
        assert rows == [("Ann", 31, 1.5), ("Bob", 42, 2.0), ("Cé", 7, None)]
        numbers = tmp_path / "numbers.csv"
        numbers.write_text("a,b\n100,x\n101,y\n", encoding="utf-8")
        dialog = document.transfer_panel.import_csv_file(str(numbers))
        qtbot.waitUntil(lambda: dialog.info.text() != "Reading…", timeout=20_000)
        if not dialog.header.isChecked():  # "a,b" over "100,x": the sniffer cannot tell
            dialog.header.click()
            qtbot.waitUntil(lambda: dialog.info.text() != "Reading…", timeout=20_000)
        dialog.existing.click()
        dialog.existing_table.setCurrentText("other.nokey")
        qtbot.waitUntil(lambda: dialog.import_button.isEnabled() and "nokey" in dialog.info.text(),
                        timeout=20_000)
        dialog.import_button.click()
        qtbot.waitUntil(lambda: "Imported 2 rows" in document.message.text(), timeout=20_000)
        qtbot.waitUntil(lambda: document.table is not None and document.table.name == "nokey", timeout=20_000)
        assert db.write(lambda c: c.execute("SELECT count(*) FROM other.nokey").fetchone()[0]) == 32
    finally:
        db.close()
    document.close_document()


def test_a_big_schema_lists_columns_when_a_table_is_expanded(qtbot, pg_url: str) -> None:
    run(pg_url, "DO $$ BEGIN FOR i IN 1..320 LOOP EXECUTE format("
                "'CREATE TABLE %I (id int PRIMARY KEY, \"a b\" text, c date)', 'tbl_' || i); "
                "END LOOP; END $$")
    document = open_pg(qtbot, pg_url)
    item = document.tree.table_item("tbl_7")
    assert item is not None and item.childCount() == 0  # columns not built for 320 tables up front
    document.tree.expandItem(item)
    assert [item.child(i).text(0) for i in range(item.childCount())] == ["id", "a b", "c"]
    assert item.child(0).text(3) == "PK NOT NULL"
    document.close_document()


def test_arrays_json_and_other_types_show_and_edit_as_text(qtbot, pg_url: str) -> None:
    run(pg_url, "CREATE TABLE odd (id int PRIMARY KEY, nums int[], words text[], doc jsonb, "
                "flag boolean, at timestamptz, money numeric(12, 4), u uuid)")
    run(pg_url, "INSERT INTO odd VALUES (1, '{1,2,NULL}', '{\"a b\",c}', '{\"k\": [1, \"x\"]}', true, "
                "'2024-05-06 07:08:09+00', 12.3400, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')")
    document = open_pg(qtbot, pg_url)
    wait_total(qtbot, document, 1)
    shown = [wait_cell(qtbot, document, 0, c) for c in range(8)]
    assert shown[1:4] == ["{1,2,NULL}", '{"a b",c}', '{"k": [1, "x"]}']
    assert shown[4] == "true" and shown[6] == "12.3400" and shown[7].startswith("a0eebc99")
    document.edits.edit_cell(0, 1, "{5,6}")
    document.edits.edit_cell(0, 3, '{"k": 2}')
    document.edits.edit_cell(0, 6, "0.1000")
    document.edits.edit_cell(0, 4, "false")
    assert scalar(pg_url, "SELECT nums FROM odd") == [5, 6]
    assert scalar(pg_url, "SELECT doc FROM odd") == {"k": 2}
    assert str(scalar(pg_url, "SELECT money FROM odd")) == "0.1000"  # exact, not a float
    assert scalar(pg_url, "SELECT flag FROM odd") is False
    document.edits.edit_cell(0, 1, "not an array")  # refused by the server: said, not written, not pending
    assert "malformed array literal" in document.message.text() and not document.pending.edits
    assert document.model.index(0, 1).data() == "{5,6}"
    assert scalar(pg_url, "SELECT nums FROM odd") == [5, 6]
    document.close_document()
