"""Helpers for the HDF5 tab's window tests: open a file, select a node, wait for a cell."""

from __future__ import annotations

from gui.arrays.table import LOADING
from gui.hdf5.document import Hdf5Document
from tests.support.gui_helpers import launch, wait_documents


def open_h5(qtbot, settings_dir, path) -> tuple[object, Hdf5Document]:
    window = launch(qtbot, settings_dir, path)
    (document,) = wait_documents(qtbot, window, 1)
    assert isinstance(document, Hdf5Document)
    assert window.tabs.currentWidget() is window.page("hdf5")
    qtbot.waitUntil(lambda: document.tree_model.rowCount(document.tree_model.index(0, 0)) > 0)
    return window, document


def plot_text(document: Hdf5Document) -> str:
    low, high = document.plot.value_range()
    return f"colour {low:.4g} … {high:.4g}"


def select(qtbot, document: Hdf5Document, path: str) -> None:
    index = document.tree_model.index_for_path(path)
    assert index.isValid(), path
    document.tree.setCurrentIndex(index)
    if document.tree_model.node(index).kind == "dataset":
        qtbot.waitUntil(lambda: document.info is not None and document.info.path == path)


def cell(qtbot, document: Hdf5Document, row: int, col: int) -> str:
    model = document.table_model
    index = model.index(row, col)
    model.data(index)  # asks for the tile, as painting does
    qtbot.waitUntil(lambda: model.data(index) != LOADING)
    return model.data(index)
