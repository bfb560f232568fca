"""How the HDF5 tab looks: table columns fit their values, the panel above the plot is never blank."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QFontMetrics

from tests.support.gui_helpers import close_window
from tests.support.hdf5_gui_helpers import cell, open_h5, select
from tests.support.hdf5_samples import h5py


def test_table_columns_fit_whole_floats(qtbot, tmp_path, _private_dirs) -> None:
    path = tmp_path / "floats.h5"
    with h5py.File(path, "w") as f:
        f["thirds"] = np.arange(1, 61, dtype=np.float64).reshape(20, 3) / 3 * 1e5
        f["single"] = (np.arange(1, 21, dtype=np.float32) / 3).reshape(20, 1)
        f["wide"] = np.arange(40 * 30).reshape(40, 30)
    window, document = open_h5(qtbot, _private_dirs, path)
    table = document.table
    metrics = QFontMetrics(table.font())

    select(qtbot, document, "/thirds")
    text = cell(qtbot, document, 0, 0)
    assert text == repr(1 / 3 * 1e5)  # the shortest text that reads back as the same float
    qtbot.waitUntil(lambda: table.columnWidth(0) > metrics.horizontalAdvance(text))
    assert table.columnWidth(2) > metrics.horizontalAdvance(cell(qtbot, document, 19, 2))
    table.grab().save(str(tmp_path / "thirds.png"))

    table.horizontalHeader().resizeSection(1, 77)  # the user's width, kept for this dataset

    select(qtbot, document, "/single")
    assert cell(qtbot, document, 0, 0) == "0.33333334"  # float32: numpy's shortest form
    qtbot.waitUntil(lambda: table.columnWidth(0) < 120)
    select(qtbot, document, "/thirds")
    cell(qtbot, document, 0, 0)
    qtbot.waitUntil(lambda: document.table_fitter.is_fitted())
    assert table.columnWidth(1) == 77 and table.columnWidth(0) > metrics.horizontalAdvance(text)

    # small integers: narrow columns, so many fit on screen
    select(qtbot, document, "/wide")
    cell(qtbot, document, 0, 0)
    qtbot.waitUntil(lambda: table.columnWidth(0) < 60)
    assert table.columnWidth(29) == 96  # off screen: not measured (nor read) yet
    table.scrollTo(document.table_model.index(0, 29))  # scrolled into view: measured then
    qtbot.waitUntil(lambda: table.columnWidth(29) < 60)
    close_window(qtbot, window)


def test_no_blank_table_above_select_a_dataset(qtbot, tmp_path, _private_dirs) -> None:
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f.create_group("grp")
        f["values"] = np.arange(10.0)
    window, document = open_h5(qtbot, _private_dirs, path)
    select(qtbot, document, "/grp")
    assert document.table.isHidden()  # the message has the right side to itself
    assert "Select a dataset" in document.plot.message
    right = document.view_state()["right"]
    assert len(right) == 2 and all(right)  # the table's share is remembered, not saved as 0
    select(qtbot, document, "/values")
    assert not document.table.isHidden()
    assert cell(qtbot, document, 3, 0) == "3.0"
    assert all(document.right_split.sizes())
    select(qtbot, document, "/grp")
    assert document.table.isHidden()
    close_window(qtbot, window)


def test_array_pane_fits_its_columns(qtbot) -> None:
    from gui.arrays.pane import ArrayPane

    pane = ArrayPane()
    qtbot.addWidget(pane)
    pane.resize(700, 400)
    pane.show()
    pane.show_array(np.array([[1 / 3, 2.0], [1e-300, 7.0]]))
    table = pane.table
    qtbot.waitUntil(lambda: pane.model.cached(0, 0) is not None and pane.fitter.is_fitted())
    metrics = QFontMetrics(table.font())
    assert table.columnWidth(0) > metrics.horizontalAdvance("0.3333333333333333")
    assert table.columnWidth(1) < 60
    pane.stop()


def test_export_slice_starts_beside_the_file_with_the_datasets_name(qtbot, tmp_path, _private_dirs,
                                                                    monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    path = tmp_path / "runs.h5"
    with h5py.File(path, "w") as f:
        f["group/values"] = np.arange(6.0)
    window, document = open_h5(qtbot, _private_dirs, path)
    document.tree.expand(document.tree_model.index_for_path("/group"))
    qtbot.waitUntil(lambda: document.tree_model.index_for_path("/group/values").isValid())
    select(qtbot, document, "/group/values")
    asked: list[tuple] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda _parent, _title, start, filters, *_rest: asked.append((start, filters))
                        or ("", ""))
    document.editor.export_dialog("csv")
    assert asked == [(str(tmp_path / "group_values.csv"), "CSV (*.csv)")]
    close_window(qtbot, window)
