"""Edit ▸ Find in the JSON tab, by keyboard: Ctrl+F, type, Enter, F3 and Shift+F3 walk the
matches of keys and values in the tree, and in the Text view the match's span is selected."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.gui.json.test_json import open_json, write_sample

VALUE = {"people": [{"name": "Ada", "city": "London"}, {"name": "Grace", "city": "New York"},
                    {"name": "Linus", "city": "Helsinki"}], "london_office": True}


def _keys(qtbot, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget(), key, modifier)


def test_find_walks_keys_and_values_in_tree_and_text(qtbot, tmp_path, _private_dirs) -> None:
    document = open_json(qtbot, _private_dirs, write_sample(tmp_path, value=VALUE))
    window = document.window()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    document.tree.setFocus()
    _keys(qtbot, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    search = document.toolbar.search_edit
    assert QApplication.focusWidget() is search
    qtbot.keyClicks(search, "london")
    with qtbot.waitSignal(document.toolbar.searchFinished, timeout=10_000):
        qtbot.keyClick(search, Qt.Key.Key_Return)
    # a value ("London") and a key ("london_office"), in document order, case-insensitive
    assert document.current_path() == ["people", 0, "city"]
    _keys(qtbot, Qt.Key.Key_F3)
    assert document.current_path() == ["london_office"]
    _keys(qtbot, Qt.Key.Key_F3)  # wraps around
    assert document.current_path() == ["people", 0, "city"]
    _keys(qtbot, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert document.current_path() == ["london_office"]
    assert document.toolbar.hit_label.text() == "2 of 2"
    qtbot.keyClick(search, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert document.current_path() == ["people", 0, "city"]

    # the Text view: the match's span is selected there
    document.set_mode("text")
    search.setText("helsinki")
    with qtbot.waitSignal(document.toolbar.searchFinished, timeout=10_000):
        _keys(qtbot, Qt.Key.Key_F3)
    assert document.current_path() == ["people", 2, "city"]
    assert document.mode() == "text"
    editor = document.text_view.editor

    def highlighted() -> str:
        return "".join(s.cursor.selectedText() for s in editor.extraSelections())

    qtbot.waitUntil(lambda: highlighted() == '"city": "Helsinki"', timeout=10_000)
