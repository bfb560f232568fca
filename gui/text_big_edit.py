"""Undo commands and caret motions for :class:`gui.text_big.BigTextEditor`.

Each command calls the :class:`storage.textlines.LineBuffer` edit methods and keeps only what
the inverse edit needs (the removed and inserted text), so undo costs no copy of the file.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

from storage.textlines import LineBuffer, Position, end_of

if TYPE_CHECKING:
    from .text_big import BigTextEditor

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
