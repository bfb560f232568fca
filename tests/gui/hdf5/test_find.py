"""Edit ▸ Find in the HDF5 tab, by keyboard: Ctrl+F, type, Enter / F3 / Shift+F3 walk the member
names and attributes that match (searched in a worker), into groups never expanded, and a found
attribute is selected in the Attributes table."""

from __future__ import annotations

import h5py
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from storage.formats.hdf5.find import find_in_file
from storage.formats.hdf5.io import H5File
from tests.support.hdf5_gui_helpers import open_h5


def _press(qtbot, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget(), key, modifier)


def _sample(path) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["title"] = "Ocean survey"
        run = f.create_group("runs/run1")
        run.attrs["site"] = "Deep trench"
        run.create_dataset("temperature", data=np.arange(4.0))
        f.create_group("runs/run2").create_dataset("depth", data=np.arange(3))
        f["runs/run2/depth"].attrs["units"] = "metres (ocean floor)"
        f.create_dataset("ocean_mask", data=np.zeros(2))


def _current(document) -> str:
    return document.tree_model.node(document.tree.currentIndex()).path


def test_find_walks_names_and_attributes(qtbot, tmp_path, _private_dirs) -> None:
    path = tmp_path / "survey.h5"
    _sample(path)
    window, document = open_h5(qtbot, _private_dirs, path)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    document.tree.setFocus()
    _press(qtbot, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    bar = document.find_bar
    assert bar.isVisible() and QApplication.focusWidget() is bar.edit
    qtbot.keyClicks(bar.edit, "ocean")
    with qtbot.waitSignal(document.finder.stepped, timeout=10_000):
        qtbot.keyClick(bar.edit, Qt.Key.Key_Return)
    # the root's attribute "title" first: the root is selected and the attribute row with it
    assert _current(document) == "/"
    attribute = document.attr_view.currentIndex
    qtbot.waitUntil(lambda: attribute().isValid() and attribute().data() == "title")
    assert bar.note.text() == "1 of 3"
    _press(qtbot, Qt.Key.Key_F3)  # members in the file's order: by name
    qtbot.waitUntil(lambda: _current(document) == "/ocean_mask")
    # the next one is inside groups never expanded: the tree is listed on the way to it
    _press(qtbot, Qt.Key.Key_F3)
    qtbot.waitUntil(lambda: _current(document) == "/runs/run2/depth", timeout=10_000)
    qtbot.waitUntil(lambda: attribute().isValid() and attribute().data() == "units")
    assert document.side_tabs.currentWidget() is document.attr_view
    assert bar.note.text() == "3 of 3"
    _press(qtbot, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: _current(document) == "/ocean_mask")
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: _current(document) == "/")
    _press(qtbot, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)  # wraps to the last
    qtbot.waitUntil(lambda: _current(document) == "/runs/run2/depth")
    bar.edit.setText("nothing like it")
    with qtbot.waitSignal(document.finder.searched, timeout=10_000):
        _press(qtbot, Qt.Key.Key_F3)
    assert bar.note.text() == "No matches"
    assert _current(document) == "/runs/run2/depth"


def test_find_in_file_stops_when_cancelled(tmp_path) -> None:
    path = tmp_path / "survey.h5"
    _sample(path)
    with H5File(str(path)) as h5:
        assert find_in_file(h5, "RUN", 10) == [("/runs", None), ("/runs/run1", None),
                                               ("/runs/run2", None)]
        assert find_in_file(h5, "trench", 10) == [("/runs/run1", "site")]
        assert find_in_file(h5, "run", 2) == [("/runs", None), ("/runs/run1", None)]
        assert find_in_file(h5, "run", 10, cancel=lambda: True) == []
