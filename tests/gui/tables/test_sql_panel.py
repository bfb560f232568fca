"""Execute SQL in the Tables tab, in the real window: a CSV joined with a Parquet file and an
SQLite table open in the SQL tab, the result in the grid, errors pointed at, Cancel."""

from __future__ import annotations

import gc
import hashlib
import os
import sqlite3
import weakref
from pathlib import Path

import pandas as pd
from PySide6.QtCore import QCoreApplication, QEvent, Qt, QThreadPool

from gui.tables.document import TableDocument
from tests.support.gui_helpers import launch, wait_documents


def write_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    orders = tmp_path / "orders.csv"
    pd.DataFrame({"order_id": [1, 2, 3], "customer_id": [10, 20, 10],
                  "product": ["pen", "ink", "cup"]}).to_csv(orders, index=False)
    prices = tmp_path / "prices.parquet"
    pd.DataFrame({"product": ["pen", "ink", "cup"], "price": [1.5, 7.25, 4.0]}).to_parquet(prices)
    shop = tmp_path / "shop.db"
    with sqlite3.connect(shop) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO customers VALUES (?, ?)", [(10, "Ada"), (20, "Grace")])
    conn.close()
    return orders, prices, shop


def cells(panel, rows: int, cols: int) -> list[list[str]]:
    model = panel.model
    for r in range(rows):
        for c in range(cols):
            model.data(model.index(r, c))
    return [[model.cached(r, c) for c in range(cols)] for r in range(rows)]


def table_docs(window) -> list[TableDocument]:
    return [d for d in window.all_documents() if isinstance(d, TableDocument)]


def run_sql(qtbot, panel, sql: str) -> None:
    panel.editor.setPlainText(sql)
    panel.editor.setFocus()
    with qtbot.waitSignal(panel.executed, timeout=20_000):
        qtbot.keyClick(panel.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def open_panel(qtbot, tmp_path: Path, first: Path, *others: Path):
    """The real window with ``first`` and ``others`` open, and ``first``'s Execute SQL panel shown."""
    window = launch(qtbot, tmp_path / "settings", first, *others)
    wait_documents(qtbot, window, 1 + len(others))
    docs = table_docs(window)
    qtbot.waitUntil(lambda: all(d.source is not None for d in docs))
    document = next(d for d in docs if d.path == str(first))
    window.activate_document(document)
    qtbot.mouseClick(document.sql_button, Qt.MouseButton.LeftButton)
    return window, document, document.sql_panel


def test_join_csv_parquet_and_sqlite_in_the_panel(qtbot, qtmodeltester, tmp_path: Path) -> None:
    orders, prices, shop = write_files(tmp_path)
    before = (hashlib.sha256(shop.read_bytes()).hexdigest(), os.stat(shop).st_mtime_ns)
    _window, _document, panel = open_panel(qtbot, tmp_path, orders, prices, shop)
    assert panel.isVisible()
    qtbot.waitUntil(lambda: set(panel.table_names()) == {"orders", "prices", "customers"}, timeout=20_000)

    run_sql(qtbot, panel, "SELECT o.order_id, c.name, p.price\nFROM orders o JOIN prices p USING (product)\n"
                          "JOIN customers c ON c.id = o.customer_id ORDER BY o.order_id")
    assert panel.model.rowCount() == 3 and panel.model.columnCount() == 3
    header = [panel.model.headerData(c, Qt.Orientation.Horizontal) for c in range(3)]
    assert header == ["order_id", "name", "price"]
    qtbot.waitUntil(lambda: all(v not in (None, "…") for row in cells(panel, 3, 3) for v in row))
    assert cells(panel, 3, 3) == [["1", "Ada", "1.5"], ["2", "Grace", "7.25"], ["3", "Ada", "4.0"]]
    assert panel.status.text().startswith("3 rows")
    qtmodeltester.check(panel.model)

    # a mistake is shown with DuckDB's words, and the editor's cursor goes to it
    run_sql(qtbot, panel, "SELECT order_id,\n  nope FROM orders")
    assert panel.message.isVisible() and "nope" in panel.message.text()
    assert "line 2" in panel.message.text()
    assert panel.editor.textCursor().selectedText() == "nope"

    after = (hashlib.sha256(shop.read_bytes()).hexdigest(), os.stat(shop).st_mtime_ns)
    assert after == before


def test_cancel_stops_a_long_query(qtbot, tmp_path: Path) -> None:
    orders, _prices, _shop = write_files(tmp_path)
    window = launch(qtbot, tmp_path / "settings", orders)
    (document,) = wait_documents(qtbot, window, 1)
    qtbot.waitUntil(lambda: document.source is not None)
    document.show_sql(True)
    panel = document.sql_panel
    panel.editor.setPlainText("SELECT count(*) FROM range(100000000000) a, orders")
    with qtbot.waitSignal(panel.executed, timeout=20_000):
        qtbot.keyClick(panel.editor, Qt.Key.Key_F5)
        qtbot.waitUntil(lambda: panel.status.text().startswith("Running…"))
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert "cancelled" in panel.message.text()
    assert panel.run_button.isEnabled()


def test_rows_arrive_as_the_grid_scrolls_down(qtbot, qtmodeltester, tmp_path: Path) -> None:
    numbers = tmp_path / "numbers.csv"
    pd.DataFrame({"n": range(2500), "square": [i * i for i in range(2500)]}).to_csv(numbers, index=False)
    window = launch(qtbot, tmp_path / "settings", numbers)
    (document,) = wait_documents(qtbot, window, 1)
    qtbot.waitUntil(lambda: document.source is not None)
    document.show_sql(True)
    panel = document.sql_panel
    run_sql(qtbot, panel, "SELECT * FROM numbers ORDER BY n DESC")
    assert panel.model.rowCount() == 1000
    assert "more as you scroll" in panel.status.text()
    panel.grid.setFocus()
    panel.grid.setCurrentIndex(panel.model.index(0, 0))
    for expected in (2000, 2500):
        qtbot.keyClick(panel.grid, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda expected=expected: panel.model.rowCount() == expected)
        qtmodeltester.check(panel.model)
    assert panel.status.text().startswith("2,500 rows")
    panel.model.data(panel.model.index(2499, 1))  # the last row's tile is read from the kept rows
    qtbot.waitUntil(lambda: panel.model.cached(2499, 1) == "0")


def test_closing_the_document_frees_it_with_its_result(qtbot, tmp_path: Path) -> None:
    orders, _prices, _shop = write_files(tmp_path)
    window = launch(qtbot, tmp_path / "settings", orders)
    (document,) = wait_documents(qtbot, window, 1)
    qtbot.waitUntil(lambda doc=document: doc.source is not None)
    document.show_sql(True)
    run_sql(qtbot, document.sql_panel, "SELECT * FROM orders")
    result = weakref.ref(document.sql_panel.result)
    closed = weakref.ref(document)
    page = window.page("tables")
    page.documents.tabCloseRequested.emit(page.documents.indexOf(document))  # the tab's ×
    del document, page
    pool = QThreadPool.globalInstance()
    for _ in range(4):
        assert pool.waitForDone(10_000)
        QCoreApplication.processEvents()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    assert closed() is None and result() is None


def test_the_session_keeps_the_sql_text_and_the_open_panel(qtbot, tmp_path: Path) -> None:
    orders, prices, _shop = write_files(tmp_path)
    window = launch(qtbot, tmp_path / "settings", orders, prices)
    first, second = wait_documents(qtbot, window, 2)
    first.show_sql(True)
    with qtbot.waitSignal(first.viewStateChanged, timeout=20_000):
        run_sql(qtbot, first.sql_panel, "SELECT 42 AS answer")
    state = first.view_state()
    assert state["sql"] == "SELECT 42 AS answer" and state["sql_shown"] is True
    assert "sql" not in second.view_state()
    second.restore_view_state(state)
    assert second.sql_button.isChecked() and second.sql_panel.isVisible()
    assert second.sql_panel.editor.toPlainText() == "SELECT 42 AS answer"


def test_a_join_converted_into_a_sqlite_file_of_records(qtbot, tmp_path: Path) -> None:
    """The issue's flow: join a CSV with a Parquet file, then keep the result as records."""
    from PySide6.QtWidgets import QApplication

    from gui.common.convert_dialog import ConvertDialog
    from gui.sql.document import SqlDocument

    orders, prices, _shop = write_files(tmp_path)
    window, _document, panel = open_panel(qtbot, tmp_path, orders, prices)
    assert not panel.export_button.isEnabled()  # nothing to convert yet
    run_sql(qtbot, panel, "SELECT o.order_id, o.product, p.price FROM orders o JOIN prices p USING (product) "
                          "ORDER BY o.order_id")
    assert panel.export_button.isEnabled()
    qtbot.mouseClick(panel.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(panel.findChild(ConvertDialog), ConvertDialog)
                    and panel.findChild(ConvertDialog).isVisible())
    dialog = panel.findChild(ConvertDialog)
    dialog.set_format("sqlite")
    target = tmp_path / "records.sqlite"
    dialog.path.setText(str(target))
    dialog.table.setText("priced_orders")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(isinstance(d, SqlDocument) for d in window.all_documents()), timeout=20_000)
    with sqlite3.connect(target) as conn:
        rows = conn.execute("SELECT * FROM priced_orders ORDER BY order_id").fetchall()
        kinds = [(r[1], r[2]) for r in conn.execute("PRAGMA table_info(priced_orders)")]
    conn.close()
    assert rows == [(1, "pen", 1.5), (2, "ink", 7.25), (3, "cup", 4.0)]
    assert kinds == [("order_id", "INTEGER"), ("product", "TEXT"), ("price", "REAL")]
    assert QApplication.activeModalWidget() is None
