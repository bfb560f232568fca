"""The HDF5 tab in the real window: lazy tree, panels, tiled table, plot, bad input, session."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import Qt

from gui.arrays.plot import MAX_POINTS, ArrayPlot
from gui.arrays.table import TILE_COLS, TILE_ROWS, ArrayTableModel
from gui.hdf5.document import Hdf5Document
from gui.hdf5.plot import PLOT_CELLS
from tests.support.gui_helpers import close_window, launch, wait_documents
from tests.support.hdf5_gui_helpers import cell, open_h5, select
from tests.support.hdf5_samples import (
    h5py,
    make_huge,
    make_netcdf_like,
    make_plugin_filtered,
    make_sample,
    make_wide_group,
    stamp,
)


@pytest.fixture
def sample(tmp_path):
    return make_sample(tmp_path / "sample.h5")


def test_tree_panels_table_and_plot(qtbot, qtmodeltester, sample, _private_dirs) -> None:
    before = stamp(sample)
    window, document = open_h5(qtbot, _private_dirs, sample)
    tree = document.tree_model
    root = tree.index(0, 0)
    assert tree.data(root) == "sample.h5"
    names = [tree.data(tree.index(r, 0, root)) for r in range(tree.rowCount(root))]
    assert names[:3] == ["cube", "dangling", "group"] and "zipped" in names
    group = tree.index_for_path("/group")
    assert tree.rowCount(group) == 0 and tree.hasChildren(group)  # read only when expanded
    document.tree.expand(group)
    qtbot.waitUntil(lambda: tree.rowCount(group) == 1)
    assert tree.data(tree.index(0, 1, group)) == "5"
    qtmodeltester.check(tree, force_py=True)

    # the root's attributes, then a group's
    qtbot.waitUntil(lambda: document.attr_model.rowCount() == 3)
    select(qtbot, document, "/group")
    qtbot.waitUntil(lambda: document.attr_model.rowCount() == 2)
    values = {document.attr_model.attributes[r].name: document.attr_model.attributes[r].value
              for r in range(2)}
    assert values == {"scale": "[0.0, 1.0, 2.0]", "units": "[m, s]"}
    qtmodeltester.check(document.attr_model, force_py=True)

    # a gzip-chunked 2-D dataset: info panel, table cells, image plot
    select(qtbot, document, "/zipped")
    info = document.info_text.toPlainText()
    assert "chunked 50 × 10" in info and "gzip" in info and "shuffle" in info
    assert (document.table_model.rowCount(), document.table_model.columnCount()) == (200, 10)
    assert cell(qtbot, document, 199, 9) == "1999.0"
    qtmodeltester.check(document.table_model, force_py=True)
    qtbot.waitUntil(lambda: document.plot.kind == "image")

    # compound fields are columns; strings decoded
    document.tree.expand(tree.index_for_path("/tables"))
    qtbot.waitUntil(lambda: tree.index_for_path("/tables/readout").isValid())
    select(qtbot, document, "/tables/readout")
    headers = [document.table_model.headerData(c, Qt.Orientation.Horizontal) for c in range(3)]
    assert headers == ["id", "x", "tag"]
    assert [cell(qtbot, document, 2, c) for c in range(3)] == ["3", "2.5", "\\xff"]
    assert "PyTables class:  TABLE" in document.info_text.toPlainText()
    qtbot.waitUntil(lambda: "Only numbers" in document.plot.message or "numeric" in document.plot.message)

    select(qtbot, document, "/names")
    assert [cell(qtbot, document, r, 0) for r in range(3)] == ["alpha", "βeta", ""]
    select(qtbot, document, "/refs")
    assert cell(qtbot, document, 0, 0) == "→ /cube"
    select(qtbot, document, "/scalar")
    assert cell(qtbot, document, 0, 0) == "2.5"

    # 1-D numbers: a line plot
    select(qtbot, document, "/line")
    qtbot.waitUntil(lambda: document.plot.kind == "line")
    assert document.plot.drawn_size()[0] <= MAX_POINTS

    # a committed datatype is described, not read
    select(qtbot, document, "/named_type")
    assert "datatype" in document.info_text.toPlainText()

    # a missing external link says so and never crashes
    select(qtbot, document, "/missing_ext")
    assert "does not exist" in document.info_text.toPlainText()
    assert "does not exist" in tree.data(tree.index_for_path("/missing_ext"), Qt.ItemDataRole.ToolTipRole)
    document.grab()  # paints every panel once
    close_window(qtbot, window)
    assert stamp(sample) == before  # opening, browsing and closing changed nothing


def test_axis_pickers_slice_3d(qtbot, sample, _private_dirs) -> None:
    _window, document = open_h5(qtbot, _private_dirs, sample)
    select(qtbot, document, "/cube")
    assert document.axes.isVisible() and document.axes.axes() == (1, 2)
    assert cell(qtbot, document, 2, 3) == "11"
    document.axes.spins[0].setValue(1)
    assert cell(qtbot, document, 2, 3) == "23"
    document.axes.rows.setCurrentIndex(2)  # rows = dim 2; columns move to another dimension
    rows_axis, cols_axis = document.axes.axes()
    assert rows_axis == 2 and cols_axis in (0, 1)
    assert document.table_model.rowCount() == 4
    expected = np.arange(24).reshape(2, 3, 4)
    index = list(document.axes.index())
    index[rows_axis], index[cols_axis] = 3, 1
    assert cell(qtbot, document, 3, 1) == str(expected[tuple(index)])


def test_huge_dataset_reads_only_the_visible_window(qtbot, tmp_path, _private_dirs) -> None:
    path = make_huge(tmp_path / "huge.h5")
    window, document = open_h5(qtbot, _private_dirs, path)
    window.resize(1200, 800)
    select(qtbot, document, "/big")
    model, table = document.table_model, document.table
    assert model.rowCount() == 100_000 and model.columnCount() == 100_000
    qtbot.waitUntil(lambda: table.viewport().isVisible())
    table.viewport().repaint()
    qtbot.waitUntil(lambda: model.cached_tiles() >= 1 and not model.is_busy())
    assert cell(qtbot, document, 1, 2) == "6.0"
    visible_rows = table.rowAt(table.viewport().height() - 1) - table.rowAt(0) + 1
    visible_cols = table.columnAt(table.viewport().width() - 1) - table.columnAt(0) + 1
    first = model.cells_read
    assert first <= (visible_rows + TILE_ROWS) * (visible_cols + TILE_COLS)
    for step in range(1, 4):  # page down three times: each reads the new rows plus one tile
        before_rows, before_cells = model.rows_read, model.cells_read
        table.verticalScrollBar().setValue(step * visible_rows)
        table.viewport().repaint()
        qtbot.waitUntil(lambda: not model.is_busy())
        assert model.cells_read - before_cells <= (visible_rows + TILE_ROWS) * (visible_cols + TILE_COLS)
        assert model.rows_read - before_rows <= visible_rows + TILE_ROWS
    table.verticalScrollBar().setValue(60_000)
    table.viewport().repaint()
    qtbot.waitUntil(lambda: not model.is_busy())
    # the whole 10^10 elements were never read: the table's tiles plus the plot's bounded slice
    qtbot.waitUntil(lambda: document.plot.kind == "image")
    assert document.h5.cells_read <= model.cells_read + 2 * PLOT_CELLS
    assert document.h5.cells_read < 10_000_000


def test_bad_files_show_a_message(qtbot, tmp_path, _private_dirs, sample) -> None:
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 300)
    before = stamp(broken)
    window = launch(qtbot, _private_dirs, broken)
    (document,) = wait_documents(qtbot, window, 1)
    assert isinstance(document, Hdf5Document)
    assert "Cannot open broken.h5" in document.message.text()
    assert stamp(broken) == before


def test_file_locked_by_another_writer(qtbot, sample, _private_dirs) -> None:
    code = ("import h5py, sys\nf = h5py.File(sys.argv[1], 'a')\nprint('open', flush=True)\n"
            "sys.stdin.readline()\n")
    writer = subprocess.Popen([sys.executable, "-c", code, str(sample)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "open"
        window, document = open_h5(qtbot, _private_dirs, sample)
        assert "another program" in document.message.text()
        assert not document.editor.writable_box.isEnabled()
        close_window(qtbot, window)
    finally:
        writer.communicate("\n", timeout=30)


def test_view_state_comes_back(qtbot, sample, tmp_path, _private_dirs) -> None:
    settings_dir = tmp_path / "settings"
    window, document = open_h5(qtbot, settings_dir, sample)
    document.tree.expand(document.tree_model.index_for_path("/group"))
    qtbot.waitUntil(lambda: document.tree_model.index_for_path("/group/inner").isValid())
    select(qtbot, document, "/group/inner")
    document.splitter.setSizes([300, 700])
    sizes = document.splitter.sizes()
    close_window(qtbot, window)
    again = launch(qtbot, settings_dir)
    (restored,) = wait_documents(qtbot, again, 1)
    qtbot.waitUntil(lambda: restored.current_path == "/group/inner")
    assert restored.splitter.sizes()[0] == sizes[0]
    qtbot.waitUntil(lambda: restored.info is not None)
    assert cell(qtbot, restored, 4, 0) == "4"


def test_generic_array_widgets(qtbot, qtmodeltester, tmp_path) -> None:
    data = np.arange(300.0).reshape(100, 3)
    model = ArrayTableModel(data)
    qtmodeltester.check(model, force_py=True)
    qtbot.waitUntil(lambda: model.data(model.index(99, 2)) == "299.0")
    memmap = np.lib.format.open_memmap(tmp_path / "m.npy", mode="w+", dtype="i4", shape=(1000,))
    memmap[:] = np.arange(1000)
    model.set_array(memmap)
    assert (model.rowCount(), model.columnCount()) == (1000, 1)
    model.data(model.index(999, 0))
    qtbot.waitUntil(lambda: model.data(model.index(999, 0)) == "999")
    records = np.array([(1, 2.5, b"x"), (2, 3.5, b"y")], dtype=[("id", "i4"), ("v", "f8"), ("s", "S2")])
    model.set_array(records)
    assert model.headerData(1, Qt.Orientation.Horizontal) == "v" and model.columnCount() == 3
    model.data(model.index(1, 2))
    qtbot.waitUntil(lambda: model.data(model.index(1, 2)) == "b'y'")
    assert [model.data(model.index(1, c)) for c in range(2)] == ["2", "3.5"]
    qtmodeltester.check(model, force_py=True)
    model.stop()
    plot = ArrayPlot()
    qtbot.addWidget(plot)
    plot.resize(400, 200)
    plot.set_array(np.random.default_rng(1).normal(size=1_000_000), "noise")
    assert plot.kind == "line" and plot.drawn_size()[0] <= MAX_POINTS
    plot.grab()
    plot.set_array(np.arange(4_000_000, dtype="f4").reshape(2000, 2000))
    assert plot.kind == "image" and max(plot.drawn_size()) <= 1024
    plot.grab()
    plot.set_array(np.array(["a", "b"]))
    assert plot.kind == "" and "Only numbers" in plot.message
    plot.set_array(np.full((3, 3), np.nan))
    plot.grab()


def test_netcdf_and_wide_groups(qtbot, qtmodeltester, tmp_path, _private_dirs) -> None:
    nc = make_netcdf_like(tmp_path / "climate.nc")
    wide = make_wide_group(tmp_path / "wide.h5", 1200)
    window = launch(qtbot, _private_dirs, nc, wide)
    documents = wait_documents(qtbot, window, 2)
    assert all(isinstance(d, Hdf5Document) for d in documents)
    assert set(window.page("hdf5").all_documents()) == set(documents)
    climate = window.find_document(str(nc))
    qtbot.waitUntil(lambda: climate.tree_model.index_for_path("/temp").isValid())
    select(qtbot, climate, "/temp")
    assert "(dimension)" in climate.tree_model.data(
        climate.tree_model.index_for_path("/time").siblingAtColumn(2))
    qtbot.waitUntil(lambda: any(a.name == "DIMENSION_LIST" for a in climate.attr_model.attributes))

    document = window.find_document(str(wide))
    tree = document.tree_model
    qtbot.waitUntil(lambda: tree.index_for_path("/many").isValid())
    many = tree.index_for_path("/many")
    document.tree.expand(many)
    qtbot.waitUntil(lambda: tree.rowCount(many) >= 500)
    seen = set()
    while tree.rowCount(many) < 1200:  # batches of 500, asked for by the view or by us
        seen.add(tree.rowCount(many))
        if tree.canFetchMore(many):
            tree.fetchMore(many)
        qtbot.waitUntil(lambda: not tree.item(many).loading)
    assert seen <= {500, 1000} and not tree.canFetchMore(many)
    qtmodeltester.check(tree, force_py=True)
    assert tree.rowCount(many) == 1200 and tree.data(tree.index(1199, 0, many)) == "d01199"


def test_damaged_chunk_shows_why(qtbot, tmp_path, _private_dirs) -> None:
    path = tmp_path / "damaged.h5"
    with h5py.File(path, "w") as f:
        data = f.create_dataset("data", data=np.arange(4000.0).reshape(400, 10), chunks=(100, 10),
                                compression="gzip")
        offset = data.id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as handle:  # garbage over the first compressed chunk
        handle.seek(offset)
        handle.write(b"\xff" * 64)
    _window, document = open_h5(qtbot, _private_dirs, path)
    select(qtbot, document, "/data")
    text = cell(qtbot, document, 0, 0)
    assert text.startswith("<") and "cannot be read" in text
    qtbot.waitUntil(lambda: not document.table_model.is_busy())
    reads = document.table_model.tile_reads
    document.table.viewport().repaint()  # painting again does not ask again
    assert not document.table_model.is_busy() and document.table_model.tile_reads == reads
    assert cell(qtbot, document, 150, 0) == "1500.0"  # the other chunks still read
    qtbot.waitUntil(lambda: "cannot be read" in document.plot.message)
    assert "cannot be read" in document.message.text()


def test_a_chunk_that_unpacks_past_the_budget_is_not_read(qtbot, tmp_path, _private_dirs) -> None:
    """One gzip chunk of 1 GB of zeros in a 1 MB file: reading any cell would unpack all of it."""
    path = tmp_path / "bomb.h5"
    with h5py.File(path, "w") as f:
        bomb = f.create_dataset("bomb", shape=(2**27,), dtype="f8", chunks=(2**27,), compression="gzip",
                                compression_opts=9)
        bomb[:2**20] = 0.0
        f.create_dataset("fine", data=np.arange(1000.0), chunks=(100,), compression="gzip")
    assert path.stat().st_size < 2 * 2**20
    _window, document = open_h5(qtbot, _private_dirs, path)
    select(qtbot, document, "/bomb")
    qtbot.waitUntil(lambda: "decompression bomb" in document.message.text())
    assert "unpacks to 1 GB, from 1,019" in document.message.text()
    text = cell(qtbot, document, 0, 0)
    assert text.startswith("<") and "unpacks to 1 GB" in text
    select(qtbot, document, "/fine")
    assert cell(qtbot, document, 5, 0) == "5.0"


def test_plot_follows_the_table_through_a_long_dataset(qtbot, tmp_path, _private_dirs) -> None:
    path = tmp_path / "long.h5"
    with h5py.File(path, "w") as f:
        f["signal"] = np.arange(3_000_000, dtype="f4")
    _window, document = open_h5(qtbot, _private_dirs, path)
    select(qtbot, document, "/signal")
    qtbot.waitUntil(lambda: document.plot.kind == "line")
    assert document.plot.x_offset == 0 and "rows 0–999,999 of 3,000,000" in document.plot.caption
    document.table.scrollTo(document.table_model.index(2_500_000, 0))
    qtbot.waitUntil(lambda: document.plot.x_offset >= 1_999_999, timeout=10_000)
    assert "of 3,000,000" in document.plot.caption
    assert document.h5.cells_read < 2 * PLOT_CELLS + 10_000  # two plots and a few tiles


def test_missing_filter_warning_belongs_to_its_dataset(qtbot, tmp_path, _private_dirs) -> None:
    path = make_plugin_filtered(tmp_path / "plugin.h5")
    _window, document = open_h5(qtbot, _private_dirs, path)
    select(qtbot, document, "/plug")
    qtbot.waitUntil(lambda: document.message.isVisible())
    assert "32123" in document.message.text() and "plugin" in document.message.text()
    assert "WARNING" in document.info_text.toPlainText()
    select(qtbot, document, "/plain")
    assert not document.message.isVisible()
