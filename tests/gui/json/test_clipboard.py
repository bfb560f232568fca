"""Edit ▸ Copy and Copy Path on the JSON tree: the value (JSON text for containers) and code
that reaches the node, by keyboard in the real window and from the context menu."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.gui.common.test_clipboard import press
from tests.gui.json.test_json import open_json, write_sample

DATA = {"users": [{"name": "Ann", "tags": ["a", "b"]}, {"name": "Bo \"the\" best", "age": 4}]}
COPY_PATH = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier


def test_copy_value_and_path_from_the_json_tree(qtbot, tmp_path, _private_dirs) -> None:
    document = open_json(qtbot, _private_dirs, write_sample(tmp_path, value=DATA))
    window, tree = document.window(), document.tree
    clipboard = window.actions.clipboard
    document.select_path(["users", 0, "name"])
    press(qtbot, window, tree, Qt.Key.Key_C)
    assert QApplication.clipboard().text() == "Ann"  # a string as it is, not quoted
    press(qtbot, window, tree, Qt.Key.Key_C, COPY_PATH)
    assert QApplication.clipboard().text() == 'data["users"][0]["name"]'
    document.select_path(["users", 0, "tags"])
    press(qtbot, window, tree, Qt.Key.Key_C)
    assert json.loads(QApplication.clipboard().text()) == ["a", "b"]  # a container as JSON text
    document.select_path(["users", 1, "name"])
    assert clipboard.copy_path.isEnabled() and not clipboard.paste.isEnabled()
    menu = tree.build_context_menu()
    next(a for a in menu.actions() if a.text() == "Copy Path").trigger()
    assert QApplication.clipboard().text() == 'data["users"][1]["name"]'
    press(qtbot, window, tree, Qt.Key.Key_C)
    assert QApplication.clipboard().text() == 'Bo "the" best'
    window.menuBar().setFocus()  # the actions follow the focus: nothing to copy a path of there
    qtbot.waitUntil(lambda: not clipboard.copy_path.isEnabled())


def test_copy_cells_of_the_json_table_as_tsv(qtbot, tmp_path, _private_dirs) -> None:
    records = [{"id": 1, "name": "Ann", "tags": ["a"], "ok": True}, {"id": 2, "name": "Bo", "ok": None}]
    document = open_json(qtbot, _private_dirs, write_sample(tmp_path, value=records))
    document.set_mode("table")
    table = document.table_panel.table
    table.selectAll()
    press(qtbot, document.window(), table, Qt.Key.Key_C)
    assert QApplication.clipboard().text() == '1\tAnn\t["a"]\ttrue\n2\tBo\t\t'
