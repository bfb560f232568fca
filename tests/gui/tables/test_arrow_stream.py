"""An Arrow IPC stream in the real window: a read-only grid in the Tables tab, sort, search,
record view, nested and dictionary columns, and a stream cut short that says so."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
from PySide6.QtCore import QPoint, Qt

from gui.tables.document import TableDocument
from tests.support.gui_helpers import launch, wait_documents

CITIES = ["Oslo", "Lima", "Kyoto"]


def stream_table(n: int = 600) -> pa.Table:
    return pa.table({
        "id": pa.array(range(n), pa.int64()),
        "city": pa.array([CITIES[i % 3] for i in range(n)]).dictionary_encode(),
        "price": pa.array([round(100 + (i * 37 % 101) / 4, 2) for i in range(n)]),
        "tags": pa.array([[f"t{i}", "x"] if i % 4 else None for i in range(n)]),
        "point": pa.array([{"x": i, "y": f"p{i}"} for i in range(n)]),
    })


def write_stream(path: Path, table: pa.Table, batch_rows: int = 100) -> Path:
    with ipc.new_stream(path, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=batch_rows):
            writer.write_batch(batch)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cells(document: TableDocument, col: int, rows: int) -> list[str | None]:
    model = document.model
    for r in range(rows):
        model.data(model.index(r, col))  # what painting does: a tile not cached is asked for
    return [model.cached(r, col) for r in range(rows)]


def test_a_stream_opens_as_a_read_only_grid(qtbot, qtmodeltester, tmp_path: Path, _private_dirs) -> None:
    path = write_stream(tmp_path / "events.arrows", stream_table())
    before = digest(path)
    window = launch(qtbot, _private_dirs, path)
    (document,) = wait_documents(qtbot, window, 1)
    assert isinstance(document, TableDocument) and document.format == "arrow"
    assert window.tabs.currentWidget() is window.page("tables")
    model = document.model
    qtbot.waitUntil(lambda: model.cached(0, 0) not in (None, "…"))
    assert (model.rowCount(), model.columnCount()) == (600, 5)
    assert model.headers == ["id", "city", "price", "tags", "point"]
    assert "<b>Read-only</b> · Arrow IPC stream · 600 rows · 5 columns" in document.mode.text()
    assert not document.dialect_bar.isVisible()
    assert "nested column(s) shown as JSON text" in document.message.text()
    qtbot.waitUntil(lambda: cells(document, 1, 4) == ["Oslo", "Lima", "Kyoto", "Oslo"])
    assert cells(document, 3, 2) == ["", '["t1", "x"]']
    assert cells(document, 4, 1) == ['{"x": 0, "y": "p0"}']
    qtbot.waitUntil(lambda: cells(document, 0, 600)[599] == "599")  # the last batch, read as it scrolls
    qtmodeltester.check(model, force_py=True)

    # typing into a cell says why it cannot be edited
    document.select_cell(2, 2)
    qtbot.keyClick(document.grid, Qt.Key.Key_F2)
    assert "Arrow IPC stream files are read-only" in document.message.text()
    assert not document.can_save()

    # sort by a click on the header: the whole stream, descending on the second click
    header = document.grid.horizontalHeader()
    x = header.sectionViewportPosition(2) + header.sectionSize(2) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    qtbot.waitUntil(lambda: document.view.order == ((2, False),) and not document.is_busy())
    prices = sorted(stream_table().column("price").to_pylist())
    qtbot.waitUntil(lambda: cells(document, 2, 3) == [repr(v) for v in prices[:3]])

    # search every column (the dictionary-encoded one included)
    assert document.start_find()
    qtbot.keyClicks(document.search, "kyoto")
    qtbot.keyClick(document.search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: model.rowCount() == 200 and not document.is_busy())
    assert "200 matching rows of 600" in document.mode.text()

    # the record view shows the current row as a form
    document.select_cell(0, 0)
    record = document.record.model
    qtbot.waitUntil(lambda: cells(document, 0, 1)[0] not in (None, "…"))
    first = cells(document, 0, 1)[0]
    qtbot.waitUntil(lambda: record.rowCount() == 5 and record.data(record.index(0, 2)) == first)
    assert [record.data(record.index(r, 0)) for r in range(5)] == ["id", "city", "price", "tags", "point"]
    assert record.data(record.index(1, 2)) == "Kyoto"
    qtmodeltester.check(record, force_py=True)

    # the Column panel of a struct column (an integer field inside): its common values, no error
    align = Qt.ItemDataRole.TextAlignmentRole
    assert model.data(model.index(0, 4), align) is None and model.data(model.index(0, 2), align) is not None
    document.select_cell(0, 4)
    stats = document.stats
    qtbot.waitUntil(lambda: stats.fields["rows"].text() == "200" and stats.title.text() == "point")
    assert stats.status.text() == "Most common values" and len(stats.histogram.bars) == 20
    document.grab().save(str(tmp_path / "stream.png"))
    assert digest(path) == before


def test_a_stream_cut_short_shows_what_it_has_and_says_so(qtbot, tmp_path: Path, _private_dirs) -> None:
    whole = write_stream(tmp_path / "whole.arrows", stream_table())
    cut = tmp_path / "cut.arrows"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    before = digest(cut)
    window = launch(qtbot, _private_dirs, cut)
    (document,) = wait_documents(qtbot, window, 1)
    assert isinstance(document, TableDocument)
    qtbot.waitUntil(lambda: document.model.cached(0, 0) == "0")
    rows = document.model.rowCount()
    assert 0 < rows < 600 and rows % 100 == 0
    assert f"the {rows:,} rows before that point are shown" in document.message.text()
    assert "#fff4d6" in document.message.styleSheet()  # a warning's colours, not an info's
    window.grab().save(str(tmp_path / "cut.png"))
    assert digest(cut) == before


def test_execute_sql_joins_a_stream_with_a_csv(qtbot, qtmodeltester, tmp_path: Path) -> None:
    from tests.gui.tables.test_sql_panel import cells as result_cells
    from tests.gui.tables.test_sql_panel import open_panel, run_sql

    events = write_stream(tmp_path / "events.arrows", stream_table(30), batch_rows=7)
    countries = tmp_path / "countries.csv"
    countries.write_text("city,country\nOslo,NO\nLima,PE\nKyoto,JP\n")
    _window, _document, panel = open_panel(qtbot, tmp_path, events, countries)
    qtbot.waitUntil(lambda: set(panel.table_names()) == {"events", "countries"}, timeout=20_000)
    run_sql(qtbot, panel, "SELECT c.country, count(*) AS n, max(e.id) AS last\n"
                          "FROM events e JOIN countries c USING (city) GROUP BY c.country ORDER BY c.country")
    assert panel.model.rowCount() == 3
    qtbot.waitUntil(lambda: all(v not in (None, "…") for row in result_cells(panel, 3, 3) for v in row))
    assert result_cells(panel, 3, 3) == [["JP", "10", "29"], ["NO", "10", "27"], ["PE", "10", "28"]]
    qtmodeltester.check(panel.model, force_py=True)
