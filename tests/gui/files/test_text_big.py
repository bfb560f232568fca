"""The big-file text editor driven with keys and the mouse, and through the Files tab."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication, QUndoStack

from gui.files.text_big import BigTextEditor
from gui.files.text_big_edit import context_menu
from gui.files.text_find import FindBar
from storage.formats.text.lines import LineBuffer
from tests.gui.files.test_files import open_one

SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def editor(qtbot) -> BigTextEditor:
    widget = BigTextEditor(QUndoStack())
    qtbot.addWidget(widget)
    widget.resize(600, 300)
    widget.set_lines(LineBuffer.from_text("alpha beta\ngamma delta\nepsilon\n", chunk=8))
    widget.show()
    qtbot.waitExposed(widget)
    widget.setFocus()
    return widget


def test_typing_is_one_undo_step_and_redo_replays_it(qtbot, editor: BigTextEditor) -> None:
    qtbot.keyClick(editor, Qt.Key.Key_End)
    qtbot.keyClicks(editor, " zeta")
    assert editor.text().startswith("alpha beta zeta\n")
    assert editor.caret == (0, 15)
    assert editor.undo_stack.count() == 1  # the keystrokes merged
    qtbot.keyClick(editor, Qt.Key.Key_Z, CTRL)
    assert editor.text() == "alpha beta\ngamma delta\nepsilon\n"
    editor.undo_stack.redo()
    assert editor.text().startswith("alpha beta zeta\n")
    qtbot.keyClick(editor, Qt.Key.Key_Left)
    qtbot.keyClicks(editor, "!")  # typing somewhere else is a new step
    assert editor.undo_stack.count() == 2


def test_selection_with_shift_then_delete_backspace_enter_tab(qtbot, editor: BigTextEditor) -> None:
    for _ in range(6):
        qtbot.keyClick(editor, Qt.Key.Key_Right, SHIFT)
    assert editor.selected_text() == "alpha "
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    assert editor.text().startswith("beta\ngamma")
    qtbot.keyClick(editor, Qt.Key.Key_Down)
    qtbot.keyClick(editor, Qt.Key.Key_Home)
    qtbot.keyClick(editor, Qt.Key.Key_Backspace)  # joins with the line above
    assert editor.text().startswith("betagamma delta\n")
    assert editor.caret == (0, 4)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.text().startswith("beta\n\tgamma delta\n")
    qtbot.keyClick(editor, Qt.Key.Key_Right, CTRL)  # to the end of the word
    assert editor.caret == (1, 6)
    qtbot.keyClick(editor, Qt.Key.Key_Left, CTRL | SHIFT)
    assert editor.selected_text() == "gamma"
    qtbot.keyClick(editor, Qt.Key.Key_End, CTRL | SHIFT)  # the anchor stays where it was
    assert editor.selected_text() == " delta\nepsilon\n"
    while editor.undo_stack.canUndo():
        editor.undo_stack.undo()
    assert editor.text() == "alpha beta\ngamma delta\nepsilon\n"


def test_vertical_moves_keep_the_column_and_page_keys_move_a_screen(qtbot, editor) -> None:
    editor.set_lines(LineBuffer.from_text("\n".join(f"line {i:03d} text" for i in range(500))))
    qtbot.keyClick(editor, Qt.Key.Key_End)
    qtbot.keyClick(editor, Qt.Key.Key_Down)
    assert editor.caret == (1, 13)
    qtbot.keyClick(editor, Qt.Key.Key_PageDown)
    page = editor.page_lines()
    assert editor.caret == (1 + page, 13)
    assert editor.verticalScrollBar().value() > 0
    qtbot.keyClick(editor, Qt.Key.Key_End, CTRL)
    assert editor.caret == (499, 13)
    assert editor.verticalScrollBar().value() == editor.verticalScrollBar().maximum()
    qtbot.keyClick(editor, Qt.Key.Key_Home, CTRL)
    assert editor.caret == (0, 0) and editor.verticalScrollBar().value() == 0


def test_copy_cut_paste_and_select_all(qtbot, editor: BigTextEditor) -> None:
    qtbot.keyClick(editor, Qt.Key.Key_Right, CTRL | SHIFT)
    qtbot.keyClick(editor, Qt.Key.Key_C, CTRL)
    assert QGuiApplication.clipboard().text() == "alpha"
    qtbot.keyClick(editor, Qt.Key.Key_End, CTRL)
    qtbot.keyClick(editor, Qt.Key.Key_V, CTRL)
    assert editor.text().endswith("epsilon\nalpha")
    QGuiApplication.clipboard().setText("one\r\ntwo")
    qtbot.keyClick(editor, Qt.Key.Key_V, CTRL)
    assert editor.text().endswith("epsilon\nalphaone\ntwo")  # pasted line ends become lines
    qtbot.keyClick(editor, Qt.Key.Key_A, CTRL)
    qtbot.keyClick(editor, Qt.Key.Key_X, CTRL)
    assert editor.text() == "" and QGuiApplication.clipboard().text().startswith("alpha beta\n")
    editor.undo_stack.undo()
    assert editor.text().startswith("alpha beta\ngamma")


def test_mouse_click_drag_and_double_click(qtbot, editor: BigTextEditor) -> None:
    viewport = editor.viewport()
    height = editor.line_height()
    left = editor.gutter_width() + 4

    def at(line: int, col: int) -> QPoint:
        return QPoint(left + editor.x_of(line, col) + 1, line * height + height // 2)

    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=at(1, 6))
    assert editor.caret == (1, 6) and not editor.has_selection()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=at(0, 6))
    qtbot.mouseMove(viewport, at(1, 5))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=at(1, 5))
    assert editor.selected_text() == "beta\ngamma"
    qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=at(1, 8))
    assert editor.selected_text() == "delta"
    qtbot.keyClicks(editor, "DELTA")
    assert editor.text().startswith("alpha beta\ngamma DELTA\n")


def test_find_replace_regex_and_go_to_line_through_the_find_bar(qtbot, editor) -> None:
    editor.set_lines(LineBuffer.from_text("id=1 x\nid=22 y\nnone\nid=333 z\n", chunk=10))
    bar = FindBar(editor)
    qtbot.addWidget(bar)
    assert bar.line_box.maximum() == 5
    bar.regex.setChecked(True)
    bar.find_edit.setText(r"id=(\d+)")
    assert bar.find_next() and editor.selection() == ((0, 0), (0, 4))
    assert bar.find_next() and editor.selected_text() == "id=22"
    assert bar.find_previous() and editor.selected_text() == "id=1"
    assert bar.find_previous() and editor.selected_text() == "id=333"  # wrapped
    bar.replace_edit.setText(r"<\1>")
    bar.replace_one()
    assert editor.text().endswith("<333> z\n") and editor.selected_text() == "id=1"
    count = editor.undo_stack.count()
    assert bar.replace_all() == 2
    assert editor.text() == "<1> x\n<22> y\nnone\n<333> z\n"
    assert editor.undo_stack.count() == count + 1  # replace all is one step
    editor.undo_stack.undo()
    assert editor.text() == "id=1 x\nid=22 y\nnone\n<333> z\n"
    bar.find_edit.setText("(unclosed")
    assert not bar.find_next() and "Bad pattern" in bar.status.text()
    bar.regex.setChecked(False)
    bar.case.setChecked(True)
    bar.find_edit.setText("NONE")
    assert not bar.find_next() and bar.status.text() == "Not found"
    bar.line_box.setValue(3)
    bar.line_box.editingFinished.emit()
    assert editor.caret == (2, 0)


def test_read_only_refuses_edits_but_moves_and_copies(qtbot, editor: BigTextEditor) -> None:
    editor.setReadOnly(True)
    bar = FindBar(editor)
    qtbot.addWidget(bar)
    qtbot.keyClicks(editor, "xyz")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.keyClick(editor, Qt.Key.Key_Right, SHIFT)
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    qtbot.keyClick(editor, Qt.Key.Key_X, CTRL)
    qtbot.keyClick(editor, Qt.Key.Key_V, CTRL)
    bar.find_edit.setText("a")
    bar.replace_edit.setText("b")
    assert bar.replace_all() == 0
    assert editor.text() == "alpha beta\ngamma delta\nepsilon\n"
    assert editor.undo_stack.count() == 0
    assert editor.selected_text() == "a"
    qtbot.keyClick(editor, Qt.Key.Key_C, CTRL)
    assert QGuiApplication.clipboard().text() == "a"
    menu = context_menu(editor)
    enabled = {a.text(): a.isEnabled() for a in menu.actions() if a.text()}
    assert enabled == {"&Undo": False, "&Redo": False, "Cu&t": False, "&Copy": True,
                       "&Paste": False, "Select &All": True}
    menu.deleteLater()


def test_context_menu_edits_through_the_undo_stack(qtbot, editor: BigTextEditor) -> None:
    qtbot.keyClicks(editor, "new ")
    qtbot.keyClick(editor, Qt.Key.Key_Left, CTRL | SHIFT)
    menu = context_menu(editor)
    actions = {a.text(): a for a in menu.actions() if a.text()}
    actions["Cu&t"].trigger()
    assert editor.text().startswith("alpha") and QGuiApplication.clipboard().text() == "new "
    actions["&Undo"].trigger()
    assert editor.text().startswith("new alpha")
    actions["Select &All"].trigger()
    assert editor.selected_text() == editor.text()
    menu.deleteLater()


def test_big_crlf_file_edit_anyway_edit_undo_and_save(qtbot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("gui.files.text_page.LARGE_TEXT", 1000)
    path = tmp_path / "big.log"
    original = b"".join(b"entry %05d caf\xc3\xa9\r\n" % i for i in range(500))
    path.write_bytes(original)
    window, document = open_one(qtbot, tmp_path, path)
    page = document.pages["text"]
    assert page.paged_view.shown()[0] == (0, "entry 00000 café")
    page.edit_anyway.click()
    qtbot.waitUntil(lambda: page.content is not None)
    editor = page.editor
    assert isinstance(editor, BigTextEditor) and editor.isVisible()
    assert not page.code_editor.isVisible()
    assert "CRLF" in page.facts.text() and "501 lines" in page.facts.text()
    assert page.find_bar.line_box.maximum() == 501
    page.find_bar.line_box.setValue(300)
    page.find_bar.line_box.editingFinished.emit()
    assert editor.caret == (299, 0) and editor.hasFocus()
    qtbot.keyClick(editor, Qt.Key.Key_End)
    qtbot.keyClicks(editor, " edited")
    qtbot.keyClick(editor, Qt.Key.Key_Tab)  # types a tab: focus stays in the editor
    assert editor.hasFocus() and editor.buffer.line(299).endswith(" edited\t")
    assert document.is_modified() and window.isWindowModified()
    window.actions.undo.trigger()
    assert not document.is_modified() and editor.buffer.line(299) == "entry 00299 café"
    window.actions.redo.trigger()
    assert window.save_current()
    expected = original.replace(b"entry 00299 caf\xc3\xa9\r\n",
                                b"entry 00299 caf\xc3\xa9 edited\t\r\n")
    assert path.read_bytes() == expected
    assert not document.is_modified()
    qtbot.keyClicks(editor, "!")  # after a save, the next keystroke is a new change
    assert document.is_modified()
    window.actions.undo.trigger()
    assert not document.is_modified() and path.read_bytes() == expected


def test_big_file_with_bad_bytes_is_read_only_and_reopens_in_another_encoding(
        qtbot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("gui.files.text_page.LARGE_TEXT", 1000)
    path = tmp_path / "legacy.txt"
    original = b"".join(b"ligne %03d caf\xc3\xa9\n" % i for i in range(200)) + b"bad \xff byte\n"
    path.write_bytes(original)
    _window, document = open_one(qtbot, tmp_path, path)
    page = document.pages["text"]
    page.edit_anyway.click()
    qtbot.waitUntil(lambda: page.content is not None)  # a guessed legacy encoding
    page.reopen_with("utf-8")
    qtbot.waitUntil(lambda: page.content.encoding == "utf-8")
    editor = page.editor
    assert isinstance(editor, BigTextEditor) and editor.isReadOnly()
    assert page.problem.isVisible() and "Read-only" in page.problem.text()
    assert editor.buffer.line(200) == "bad \\xff byte"
    assert not page.find_bar.replace_button.isEnabled() and not document.can_save()
    qtbot.keyClicks(editor, "typed")
    assert editor.buffer.line(0) == "ligne 000 café"
    page.reopen_with("latin-1")
    qtbot.waitUntil(lambda: page.content is not None and page.content.encoding == "iso8859-1")
    assert not editor.isReadOnly() and editor.buffer.line(0) == "ligne 000 cafÃ©"
    assert editor.buffer.line(200) == "bad \xff byte" and document.can_save()
    assert path.read_bytes() == original

