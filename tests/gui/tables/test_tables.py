"""The Tables tab in the real window: CSV, Parquet and Feather grids, sort, filter, search, dialect."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLineEdit, QStyleOptionViewItem

from gui.tables.document import TableDocument
from tests.support.gui_helpers import launch, wait_documents


def frame(n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({"id": np.arange(n), "city": rng.choice(["Oslo", "Lima", "Kyoto"], n),
                         "price": np.round(rng.normal(100, 10, n), 2),
                         "note": [f"a\nb {i}" if i % 9 == 0 else f"n{i}" for i in range(n)]})


def open_table_doc(qtbot, settings: Path, path: Path) -> tuple[object, TableDocument]:
    window = launch(qtbot, settings, path)
    (document,) = wait_documents(qtbot, window, 1)
    assert isinstance(document, TableDocument)
    assert window.tabs.currentWidget() is window.page("tables")
    qtbot.waitUntil(lambda: document.model.cached(0, 0) not in (None, "…"))
    return window, document


def column(document: TableDocument, col: int, rows: int) -> list[str | None]:
    """The first ``rows`` cells of ``col`` as cached (None: not read yet; asking reads them)."""
    model = document.model
    for r in range(rows):
        model.data(model.index(r, col))  # what painting does: a tile not cached is asked for
    return [model.cached(r, col) for r in range(rows)]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "sales.csv"
    frame().to_csv(path, index=False)
    return path


def test_csv_opens_as_a_read_only_grid(qtbot, qtmodeltester, csv_file, _private_dirs) -> None:
    before = digest(csv_file)
    _window, document = open_table_doc(qtbot, _private_dirs, csv_file)
    df = frame()
    model = document.model
    assert (model.rowCount(), model.columnCount()) == (500, 4)
    assert [model.headerData(i, Qt.Orientation.Horizontal) for i in range(4)] == list(df.columns)
    qtbot.waitUntil(lambda: column(document, 1, 5) == list(df.city[:5]))
    assert column(document, 3, 1) == ["a⏎b 0"]  # a quoted newline stays in its cell
    assert "500 rows" in document.mode.text()  # "Read-only", then "Editable" once the rows are scanned
    assert document.dialect_bar.isVisible()
    qtmodeltester.check(model, force_py=True)
    qtmodeltester.check(document.filters.filter_model, force_py=True)
    assert digest(csv_file) == before


def test_sort_by_clicking_the_header(qtbot, csv_file, _private_dirs) -> None:
    _window, document = open_table_doc(qtbot, _private_dirs, csv_file)
    header = document.grid.horizontalHeader()
    x = header.sectionViewportPosition(2) + header.sectionSize(2) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    qtbot.waitUntil(lambda: document.view.order == ((2, False),) and not document.is_busy())
    expected = [repr(float(v)) for v in sorted(frame().price)[:5]]
    qtbot.waitUntil(lambda: column(document, 2, 5) == expected)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    qtbot.waitUntil(lambda: document.view.order == ((2, True),) and not document.is_busy())
    expected = [repr(float(v)) for v in sorted(frame().price, reverse=True)[:3]]
    qtbot.waitUntil(lambda: column(document, 2, 3) == expected)
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder


def test_filter_row_and_search(qtbot, csv_file, _private_dirs) -> None:
    df = frame()
    _window, document = open_table_doc(qtbot, _private_dirs, csv_file)
    filters = document.filters
    index = filters.filter_model.index(0, 1)
    filters.setCurrentIndex(index)  # the filter row edits as soon as a cell is current
    qtbot.waitUntil(lambda: filters.findChild(QLineEdit) is not None)
    editor = filters.findChild(QLineEdit)
    qtbot.keyClicks(editor, "oslo")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    oslo = int((df.city == "Oslo").sum())
    qtbot.waitUntil(lambda: document.model.rowCount() == oslo and not document.is_busy())
    qtbot.waitUntil(lambda: set(column(document, 1, 5)) == {"Oslo"})
    assert f"{oslo:,} matching rows of 500" in document.mode.text()

    # search the whole file (Ctrl+F is the search field), within the filter
    assert document.start_find() and document.search.hasFocus()
    qtbot.keyClicks(document.search, "n1")
    qtbot.keyClick(document.search, Qt.Key.Key_Return)
    wanted = int(((df.city == "Oslo") & df.note.str.contains("n1")).sum())
    qtbot.waitUntil(lambda: document.model.rowCount() == wanted and not document.is_busy())
    qtbot.mouseClick(document.clear_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: document.model.rowCount() == 500)
    assert document.filters.filter_model.filters() == ()


def test_empty_filter_cells_say_filter_in_grey(qtbot, csv_file, _private_dirs) -> None:
    """The row-number column is too narrow for a word (it read "Fi"): each empty cell says "Filter"
    in the placeholder colour, as DB4S's filter row does, and a typed filter replaces it."""
    _window, document = open_table_doc(qtbot, _private_dirs, csv_file)
    filters = document.filters
    model = filters.filter_model
    assert model.headerData(0, Qt.Orientation.Vertical) is None

    def drawn(column: int) -> QStyleOptionViewItem:
        option = QStyleOptionViewItem()
        filters.itemDelegate().initStyleOption(option, model.index(0, column))
        return option

    placeholder = filters.palette().color(QPalette.ColorRole.PlaceholderText)
    assert drawn(1).text == "Filter"
    assert drawn(1).palette.color(QPalette.ColorRole.Text) == placeholder
    model.setData(model.index(0, 1), ">10")
    assert drawn(1).text == ">10" and drawn(1).palette.color(QPalette.ColorRole.Text) != placeholder
    assert model.data(model.index(0, 2)) == ""  # the model's text stays empty: only the drawing says it


def test_stats_histogram_and_record(qtbot, qtmodeltester, tmp_path, _private_dirs) -> None:
    path = tmp_path / "prices.parquet"
    frame().to_parquet(path)
    _window, document = open_table_doc(qtbot, _private_dirs, path)
    assert not document.dialect_bar.isVisible()
    document.select_cell(4, 2)
    qtbot.waitUntil(lambda: document.stats.fields["rows"].text() == "500")
    assert document.stats.fields["type"].text() == "DOUBLE"
    assert float(document.stats.fields["max"].text()) == frame().price.max()
    assert sum(n for _l, n in document.stats.histogram.bars) == 500
    qtbot.waitUntil(lambda: document.record.model.rowCount() == 4)
    record = document.record.model
    assert [record.data(record.index(r, 0)) for r in range(4)] == ["id", "city", "price", "note"]
    assert record.data(record.index(0, 2)) == "4"
    qtmodeltester.check(record, force_py=True)


def test_dialect_override_reads_again(qtbot, tmp_path, _private_dirs) -> None:
    path = tmp_path / "semi.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerows([["a", "b"], *[[i, f"x{i}"] for i in range(30)]])
    _window, document = open_table_doc(qtbot, _private_dirs, path)
    assert document.model.headers == ["a", "b"]
    bar = document.dialect_bar
    assert bar.delimiter.currentData() == ";" and not bar.apply.isEnabled()
    bar.delimiter.setCurrentIndex(bar.delimiter.findData("|"))
    assert bar.apply.isEnabled()
    qtbot.mouseClick(bar.apply, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: document.source is not None and document.source.dialect.delimiter == "|"
                    and document.model.headers == ["a;b"])
    assert "pipe-separated" in document.mode.text()
    bar.header.setChecked(False)
    qtbot.mouseClick(bar.apply, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: document.source is not None and not document.source.dialect.header)
    qtbot.waitUntil(lambda: column(document, 0, 1) == ["a;b"])


def test_bad_files_say_why(qtbot, tmp_path, _private_dirs) -> None:
    table = pa.table({"a": np.arange(1000)})
    good = tmp_path / "good.parquet"
    pq.write_table(table, good)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:200])
    before = digest(cut)
    window = launch(qtbot, _private_dirs, cut)
    (document,) = wait_documents(qtbot, window, 1)
    assert isinstance(document, TableDocument)
    assert "not a complete Parquet file" in document.message.text()
    assert document.model.rowCount() == 0
    assert digest(cut) == before


def test_feather_and_nested_parquet(qtbot, tmp_path, _private_dirs) -> None:
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"tags": [["x", "y"], None], "n": [1, 2]}), path)
    feather = tmp_path / "t.feather"
    frame(10).to_feather(feather)
    window = launch(qtbot, _private_dirs, path, feather)
    documents = wait_documents(qtbot, window, 2)
    nested = next(d for d in documents if d.format == "parquet")
    qtbot.waitUntil(lambda: nested.model.cached(0, 0) == '["x", "y"]')
    assert "JSON" in nested.message.text()
    arrow = next(d for d in documents if d.format == "arrow")
    qtbot.waitUntil(lambda: arrow.model.cached(9, 0) == "9")


def test_cancel_a_long_sort(qtbot, csv_file, _private_dirs, monkeypatch) -> None:
    """A sort that takes long shows progress and Cancel; Cancel stops it and keeps the grid."""
    import time

    import gui.tables.document as document_module
    from storage.formats.table.source import CancelledError

    started = []

    def slow_prepare(source, view, call):
        started.append(view)
        while not call.cancelled:  # DuckDB's interrupt() ends the real query the same way
            time.sleep(0.01)
        raise CancelledError("Stopped.")

    _window, document = open_table_doc(qtbot, _private_dirs, csv_file)
    monkeypatch.setattr(document_module, "prepare_view", slow_prepare)
    header = document.grid.horizontalHeader()
    x = header.sectionViewportPosition(0) + header.sectionSize(0) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    qtbot.waitUntil(lambda: bool(started) and document.cancel_button.isVisible())
    assert document.progress.isVisible()
    qtbot.mouseClick(document.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not document.is_busy() and not document.cancel_button.isVisible())
    assert document.model.rowCount() == 500 and document.view.order == ()
    assert not header.isSortIndicatorShown() and "Stopped" in document.message.text()
    qtbot.waitUntil(lambda: column(document, 0, 2) == ["0", "1"])


def test_ten_thousand_columns_in_the_grid(qtbot, tmp_path, _private_dirs) -> None:
    path = tmp_path / "wide.parquet"
    pq.write_table(pa.table({f"c{i}": [i, -i] for i in range(10_000)}), path)
    _window, document = open_table_doc(qtbot, _private_dirs, path)
    model = document.model
    assert (model.rowCount(), model.columnCount()) == (2, 10_000)
    assert document.filters.filter_model.columnCount() == 10_000
    document.grid.scrollTo(model.index(1, 9_999))
    qtbot.waitUntil(lambda: column(document, 9_999, 2) == ["9999", "-9999"])
    document.select_cell(1, 9_998)
    qtbot.waitUntil(lambda: document.record.model.rowCount() == 10_000)
    assert document.record.model.data(document.record.model.index(9_999, 2)) == "-9999"


def test_a_big_csv_shows_an_estimate_then_the_count(qtbot, tmp_path, _private_dirs, monkeypatch) -> None:
    import gui.tables.document as document_module

    monkeypatch.setattr(document_module, "COUNT_DELAY_MS", 300)
    path = tmp_path / "big.csv"
    frame(30_000).to_csv(path, index=False)
    window = launch(qtbot, _private_dirs, path)
    (document,) = wait_documents(qtbot, window, 1)
    qtbot.waitUntil(lambda: document.model.rows_exact and document.model.rowCount() == 30_000)
    assert "30,000 rows" in document.mode.text() and "about" not in document.mode.text()
    document.grid.scrollToBottom()
    last = document.model.index(29_999, 0)
    qtbot.waitUntil(lambda: document.model.data(last) == "29999")
