"""Edit ▸ Copy and Copy Path on the Objects tree: the value in Python's notation and code that
reaches it from the loaded object, by keyboard in the real window and from the context menu."""

from __future__ import annotations

import pickle
import shelve
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.gui.common.test_clipboard import press
from tests.gui.objects.test_objects import index_of, open_one

COPY_PATH = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier


def test_copy_value_and_path_from_the_objects_tree(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps({"x": [7, "4"], (1, 2): {"deep": 1.5}}))
    window, document = open_one(qtbot, tmp_path, path)
    view = document.view
    assert view.select_path([0, "x", 1])  # the root is the labelled pickle
    press(qtbot, window, view.tree, Qt.Key.Key_C)
    assert QApplication.clipboard().text() == "4"
    press(qtbot, window, view.tree, Qt.Key.Key_C, COPY_PATH)
    assert QApplication.clipboard().text() == 'obj["x"][1]'
    assert view.select_path([0, (1, 2), "deep"])
    press(qtbot, window, view.tree, Qt.Key.Key_C, COPY_PATH)
    assert QApplication.clipboard().text() == 'obj[(1, 2)]["deep"]'
    press(qtbot, window, view.tree, Qt.Key.Key_C)
    assert QApplication.clipboard().text() == "1.5"
    menu = view.build_menu(index_of(document, [0, "x"]))
    next(a for a in menu.actions() if a.text() == "Copy Path").trigger()
    assert QApplication.clipboard().text() == 'obj["x"]'
    next(a for a in menu.actions() if a.text() == "Copy value").trigger()
    assert QApplication.clipboard().text() == "[7, '4']"


def test_copy_path_in_a_shelf_starts_at_its_key(qtbot, tmp_path: Path) -> None:
    base = tmp_path / "prefs"
    with shelve.open(str(base), protocol=2) as shelf:
        shelf["sizes"] = [1, 2, 3]
    window, document = open_one(qtbot, tmp_path, Path(str(base) + ".dat"))
    assert document.shelf_panel.select_key("sizes")
    qtbot.waitUntil(lambda: document.view.select_path([0, 1]))  # the value is read on a worker
    press(qtbot, window, document.view.tree, Qt.Key.Key_C, COPY_PATH)
    assert QApplication.clipboard().text() == 'shelf["sizes"][1]'
