"""Undo commands, key tables and caret motions for :class:`gui.files.text_big.BigTextEditor`.

Each command calls the :class:`storage.formats.text.lines.LineBuffer` edit methods and keeps only what
the inverse edit needs (the removed and inserted text), so undo costs no copy of the file.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from PySide6.QtGui import QKeySequence, QUndoCommand
from PySide6.QtWidgets import QMenu

from storage.formats.text.lines import LineBuffer, Position, end_of

if TYPE_CHECKING:
    from gui.files.text_big import BigTextEditor

Keys = QKeySequence.StandardKey
MOTIONS: dict[QKeySequence.StandardKey, tuple[str, bool]] = {
    Keys.MoveToNextChar: ("right", False), Keys.SelectNextChar: ("right", True),
    Keys.MoveToPreviousChar: ("left", False), Keys.SelectPreviousChar: ("left", True),
    Keys.MoveToNextWord: ("word_right", False), Keys.SelectNextWord: ("word_right", True),
    Keys.MoveToPreviousWord: ("word_left", False), Keys.SelectPreviousWord: ("word_left", True),
    Keys.MoveToNextLine: ("down", False), Keys.SelectNextLine: ("down", True),
    Keys.MoveToPreviousLine: ("up", False), Keys.SelectPreviousLine: ("up", True),
    Keys.MoveToNextPage: ("page_down", False), Keys.SelectNextPage: ("page_down", True),
    Keys.MoveToPreviousPage: ("page_up", False), Keys.SelectPreviousPage: ("page_up", True),
    Keys.MoveToStartOfLine: ("home", False), Keys.SelectStartOfLine: ("home", True),
    Keys.MoveToStartOfBlock: ("home", False), Keys.SelectStartOfBlock: ("home", True),
    Keys.MoveToEndOfLine: ("end", False), Keys.SelectEndOfLine: ("end", True),
    Keys.MoveToEndOfBlock: ("end", False), Keys.SelectEndOfBlock: ("end", True),
    Keys.MoveToStartOfDocument: ("top", False), Keys.SelectStartOfDocument: ("top", True),
    Keys.MoveToEndOfDocument: ("bottom", False), Keys.SelectEndOfDocument: ("bottom", True),
}
COMMANDS = (Keys.Undo, Keys.Redo, Keys.Copy, Keys.Cut, Keys.Paste, Keys.SelectAll,
            Keys.Delete, Keys.DeleteStartOfWord, Keys.DeleteEndOfWord)

_TYPING_ID = 0x7E47
_WORD = re.compile(r"\w+")


class ReplaceRangeCommand(QUndoCommand):
    """Replace the text from ``start`` (``removed``) by ``inserted``: typing, deleting, pasting."""

    def __init__(self, editor: BigTextEditor, start: Position, removed: str, inserted: str,
                 typing: bool = False, label: str = "Edit text") -> None:
        super().__init__(label)
        self.editor = editor
        self.start, self.removed, self.inserted, self.typing = start, removed, inserted, typing
        self.before = (editor.caret, editor.anchor)

    def redo(self) -> None:
        buffer = self.editor.buffer
        if self.removed:
            buffer.delete_range(*self.start, *end_of(*self.start, self.removed))
        end = buffer.insert_text(*self.start, self.inserted) if self.inserted else self.start
        self.editor.edited(end, end)

    def undo(self) -> None:
        buffer = self.editor.buffer
        if self.inserted:
            buffer.delete_range(*self.start, *end_of(*self.start, self.inserted))
        if self.removed:
            buffer.insert_text(*self.start, self.removed)
        caret, anchor = self.before
        self.editor.edited(caret, anchor)

    def id(self) -> int:
        return _TYPING_ID if self.typing else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        """Consecutive keystrokes on one line are one undo step."""
        if not (isinstance(other, ReplaceRangeCommand) and other.typing and self.typing):
            return False
        if other.removed or "\n" in self.inserted or "\n" in other.inserted:
            return False
        if other.start != end_of(*self.start, self.inserted):
            return False
        self.inserted += other.inserted
        return True


class ReplaceLinesCommand(QUndoCommand):
    """Replace whole lines at once (Replace all): one undo step however many lines change."""

    def __init__(self, editor: BigTextEditor, changes: dict[int, str], count: int) -> None:
        super().__init__(f"Replace all ({count})")
        self.editor = editor
        self.new = changes
        self.old: dict[int, str] = {}

    def redo(self) -> None:
        self.old = self.editor.buffer.set_lines(self.new)
        self.editor.edited(self.editor.caret, self.editor.anchor)

    def undo(self) -> None:
        self.editor.buffer.set_lines(self.old)
        self.editor.edited(self.editor.caret, self.editor.anchor)


# -- caret motions: (buffer, position) -> new position -------------------------------------------
def char_left(buffer: LineBuffer, pos: Position) -> Position:
    line, col = pos
    if col > 0:
        return line, col - 1
    return (line - 1, len(buffer.line(line - 1))) if line > 0 else pos


def char_right(buffer: LineBuffer, pos: Position) -> Position:
    line, col = pos
    if col < len(buffer.line(line)):
        return line, col + 1
    return (line + 1, 0) if line + 1 < len(buffer) else pos


def word_left(buffer: LineBuffer, pos: Position) -> Position:
    """The start of the word before the caret (the previous line's end at a line start)."""
    line, col = pos
    if col == 0:
        return char_left(buffer, pos)
    starts = [m.start() for m in _WORD.finditer(buffer.line(line), 0, col)]
    return line, starts[-1] if starts else 0


def word_right(buffer: LineBuffer, pos: Position) -> Position:
    """The end of the next word after the caret (the next line's start at a line end)."""
    line, col = pos
    text = buffer.line(line)
    if col >= len(text):
        return char_right(buffer, pos)
    match = _WORD.search(text, col)
    return line, match.end() if match else len(text)


def word_at(buffer: LineBuffer, pos: Position) -> tuple[int, int]:
    """The columns of the word under (or just before) the caret, for a double click."""
    line, col = pos
    for match in _WORD.finditer(buffer.line(line)):
        if match.start() <= col <= match.end():
            return match.start(), match.end()
    return col, col


def move_caret(editor: BigTextEditor, motion: str, keep_anchor: bool) -> None:
    """Move the caret; up and down keep the x where vertical moves started (``goal_x``)."""
    if not keep_anchor and editor.has_selection() and motion in ("left", "right"):
        start, end = editor.selection()
        editor.set_caret(start if motion == "left" else end)
        return
    buffer, (line, col) = editor.buffer, editor.caret
    vertical = {"up": -1, "down": 1, "page_up": -editor.page_lines(),
                "page_down": editor.page_lines()}
    if motion in vertical:
        if editor.goal_x is None:
            editor.goal_x = editor.x_of(line, col)
        target = min(max(0, line + vertical[motion]), len(buffer) - 1)
        if motion.startswith("page"):
            bar = editor.verticalScrollBar()
            bar.setValue(bar.value() + vertical[motion])
        goal = editor.goal_x
        editor.set_caret((target, editor.col_at(target, goal)), keep_anchor)
        editor.goal_x = goal
        return
    moves = {"left": char_left, "right": char_right, "word_left": word_left,
             "word_right": word_right}
    if motion in moves:
        pos = moves[motion](buffer, editor.caret)
    elif motion == "home":
        indent = len(buffer.line(line)) - len(buffer.line(line).lstrip())
        pos = (line, 0 if col == indent else indent)  # smart Home: indent first, then 0
    elif motion == "end":
        pos = (line, len(buffer.line(line)))
    else:
        pos = (0, 0) if motion == "top" else buffer.end()
    editor.goal_x = None
    editor.set_caret(pos, keep_anchor)


def context_menu(editor: BigTextEditor) -> QMenu:
    """Undo, Redo (through the undo stack), Cut, Copy, Paste and Select All."""
    menu = QMenu(editor)
    writable = not editor.isReadOnly()
    stack = editor.undo_stack
    for label, slot, enabled, key in (
            ("&Undo", stack.undo, writable and stack.canUndo(), Keys.Undo),
            ("&Redo", stack.redo, writable and stack.canRedo(), Keys.Redo),
            (None, None, False, None),
            ("Cu&t", editor.cut, writable and editor.has_selection(), Keys.Cut),
            ("&Copy", editor.copy, editor.has_selection(), Keys.Copy),
            ("&Paste", editor.paste, writable, Keys.Paste),
            (None, None, False, None),
            ("Select &All", editor.select_all, True, Keys.SelectAll)):
        if label is None:
            menu.addSeparator()
            continue
        action = menu.addAction(label)
        action.setShortcut(QKeySequence(key))
        action.setEnabled(enabled)
        action.triggered.connect(slot)
    return menu
