"""Edit ▸ Find in the Files tab, by keyboard: Ctrl+F focuses the text editor's find field (the
window's Find action, which every tab answers), F3 and Shift+F3 step through the matches."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.gui.files.test_files import open_one


def _press(qtbot, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget(), key, modifier)


def test_find_keys_in_the_text_editor(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("one apple\ntwo pears\nthree apples\n")
    window, document = open_one(qtbot, tmp_path, path)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    page = document.pages["text"]
    page.editor.setFocus()
    _press(qtbot, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is page.find_bar.find_edit
    qtbot.keyClicks(page.find_bar.find_edit, "apple")
    qtbot.keyClick(page.find_bar.find_edit, Qt.Key.Key_Return)
    assert page.editor.textCursor().blockNumber() == 0
    _press(qtbot, Qt.Key.Key_F3)
    cursor = page.editor.textCursor()
    assert (cursor.blockNumber(), cursor.selectedText()) == (2, "apple")
    _press(qtbot, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    cursor = page.editor.textCursor()
    assert (cursor.blockNumber(), cursor.selectedText()) == (0, "apple")
