"""Edit ▸ Find in the Objects tab, by keyboard: Ctrl+F opens the find bar under the value tree,
Enter / F3 / Shift+F3 walk the keys and values that match (in a worker), an edit makes the
matches stale, and "No matches" says when there is none."""

from __future__ import annotations

import pickle
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.gui.objects.test_objects import open_one

VALUE = {"people": [{"name": "Ada", "town": "London"}, ("Grace", "New York")],
         "tags": {"london", "paris"}, "londoner": 3, "count": 1}


def _press(qtbot, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget(), key, modifier)


def test_find_walks_keys_and_values_of_the_tree(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "people.pkl"
    path.write_bytes(pickle.dumps(VALUE, protocol=4))
    window, document = open_one(qtbot, tmp_path, path)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    view = document.view
    view.tree.setFocus()
    bar = view.find_bar
    assert not bar.isVisible()
    _press(qtbot, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert bar.isVisible() and QApplication.focusWidget() is bar.edit
    qtbot.keyClicks(bar.edit, "LONDON")
    with qtbot.waitSignal(view.finder.stepped, timeout=10_000):
        qtbot.keyClick(bar.edit, Qt.Key.Key_Return)
    # a dict's value, an item of a set, a key; in the tree's order, case-insensitive (the
    # top row is the file's value itself, labelled with its name: path [0])
    assert view.current_path() == [0, "people", 0, "town"]
    assert bar.note.text() == "1 of 3"
    tag_row = next(i for i, v in enumerate(VALUE["tags"]) if v == "london")
    _press(qtbot, Qt.Key.Key_F3)
    assert view.current_path() == [0, "tags", tag_row]
    _press(qtbot, Qt.Key.Key_F3)
    assert view.current_path() == [0, "londoner"]
    assert document.view.tree.currentIndex().data() == "londoner"
    _press(qtbot, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert view.current_path() == [0, "tags", tag_row]
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert view.current_path() == [0, "people", 0, "town"]
    # inside a tuple too; Shift+F3 from a new text lands on the last match
    bar.edit.setText("york")
    with qtbot.waitSignal(view.finder.stepped, timeout=10_000):
        _press(qtbot, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert view.current_path() == [0, "people", 1, 1]
    # an edit makes the matches stale: the next F3 searches again and finds the new value
    document.view.model.setData(index_of_value(document, [0, "count"]), "7")
    bar.edit.setText("7")
    with qtbot.waitSignal(view.finder.stepped, timeout=10_000):
        _press(qtbot, Qt.Key.Key_F3)
    assert view.current_path() == [0, "count"]
    bar.edit.setText("no such thing")
    with qtbot.waitSignal(view.finder.searched, timeout=10_000):
        _press(qtbot, Qt.Key.Key_F3)
    assert bar.note.text() == "No matches"
    assert view.current_path() == [0, "count"]
    bar.grab().save(str(tmp_path / "find-bar.png"))
    _press(qtbot, Qt.Key.Key_Escape)
    assert not bar.isVisible()


def index_of_value(document, path: list):
    index = document.view.model.index_for_path(path)
    assert index.isValid(), path
    return index.siblingAtColumn(1)
