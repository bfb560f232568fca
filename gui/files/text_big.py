"""An editor for text files too big for QPlainTextEdit: a Python list of lines, painted by hand.

QTextDocument needs microseconds per line to fill, so a 100 MB file takes seconds. This widget
keeps the text in a :class:`storage.formats.text.lines.LineBuffer` and paints only the visible lines in a
fixed-pitch font, with a line-number gutter and horizontal scrolling. Every edit is a
QUndoCommand on the document's undo stack (see :mod:`gui.files.text_big_edit`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import QEvent, QPoint, QRect, Qt, Signal, Slot
from PySide6.QtGui import (
    QContextMenuEvent,
    QFontDatabase,
    QFontMetricsF,
    QGuiApplication,
    QInputMethodEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPaintEvent,
    QUndoStack,
)
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from gui.files import text_big_edit as edit
from gui.files import text_big_paint as layout
from gui.files.text_big_edit import COMMANDS, MOTIONS
from gui.files.text_big_paint import PAD, paint_editor
from storage.formats.text.lines import LineBuffer, Position

Keys = QKeySequence.StandardKey


class BigTextEditor(QAbstractScrollArea):
    """Edits a :class:`LineBuffer`; the caret and anchor are (line, column) pairs."""

    lineCountChanged = Signal(int)
    textEdited = Signal()

    def __init__(self, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = undo_stack
        self.buffer = LineBuffer()
        self.caret: Position = (0, 0)
        self.anchor: Position = (0, 0)
        self.goal_x: int | None = None  # the x kept while moving up and down
        self._read_only = False
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, True)
        self.viewport().setCursor(Qt.CursorShape.IBeamCursor)
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.horizontalScrollBar().valueChanged.connect(self.viewport().update)

    # -- content ---------------------------------------------------------------------------------
    def set_lines(self, buffer: LineBuffer) -> None:
        """Show ``buffer`` (read on a worker) from its first line; no undo step."""
        self.buffer = buffer
        self.caret = self.anchor = (0, 0)
        self.goal_x = None
        self.verticalScrollBar().setValue(0)
        self.horizontalScrollBar().setValue(0)
        self._update_scroll_ranges()
        self.viewport().update()
        self.lineCountChanged.emit(len(buffer))

    adopt = set_lines

    def text(self) -> str:
        return self.buffer.text()

    def line_count(self) -> int:
        return len(self.buffer)

    def isReadOnly(self) -> bool:  # QPlainTextEdit's name, which FindBar uses
        return self._read_only

    def setReadOnly(self, read_only: bool) -> None:
        self._read_only = read_only
        self.viewport().update()

    # -- geometry --------------------------------------------------------------------------------
    def line_height(self) -> int:
        return self.fontMetrics().lineSpacing()

    def char_width(self) -> float:
        """The advance of one character; fractional, or long lines drift from the caret."""
        return max(1.0, QFontMetricsF(self.font()).horizontalAdvance("0"))

    def gutter_width(self) -> int:
        return round(self.char_width() * max(3, len(str(len(self.buffer))))) + 12

    def page_lines(self) -> int:
        """How many whole lines fit on screen."""
        return max(1, self.viewport().height() // self.line_height())

    def _text_width(self) -> int:
        return max(1, self.viewport().width() - self.gutter_width() - PAD)

    @Slot()
    def _on_scrolled(self) -> None:
        self._update_scroll_ranges()
        self.viewport().update()

    def _update_scroll_ranges(self) -> None:
        """Scroll ranges for the line count and the longest line seen (split what is shown)."""
        vbar, hbar = self.verticalScrollBar(), self.horizontalScrollBar()
        top = vbar.value()
        self.buffer.line(min(top, len(self.buffer) - 1))
        self.buffer.line(min(top + self.page_lines(), len(self.buffer) - 1))
        vbar.setRange(0, max(0, len(self.buffer) - self.page_lines()))
        vbar.setPageStep(self.page_lines())
        width = round((self.buffer.longest + 2) * self.char_width())
        hbar.setRange(0, max(0, width - self._text_width()))
        hbar.setPageStep(self._text_width())
        hbar.setSingleStep(round(self.char_width()))

    def x_of(self, line: int, col: int) -> int:
        """Pixels from the start of ``line`` to column ``col``."""
        return layout.x_of(self.buffer.line(line), col, self.fontMetrics(), self.char_width())

    def col_at(self, line: int, x: int) -> int:
        """The column nearest ``x`` pixels from the start of ``line``."""
        return layout.col_at(self.buffer.line(line), x, self.fontMetrics(), self.char_width())

    def position_at(self, point: QPoint) -> Position:
        top = self.verticalScrollBar().value()
        line = min(len(self.buffer) - 1, max(0, top + point.y() // self.line_height()))
        x = point.x() - self.gutter_width() - PAD + self.horizontalScrollBar().value()
        return line, self.col_at(line, max(0, x))

    # -- caret and selection ---------------------------------------------------------------------
    def has_selection(self) -> bool:
        return self.caret != self.anchor

    def selection(self) -> tuple[Position, Position]:
        return min(self.caret, self.anchor), max(self.caret, self.anchor)

    def selected_text(self) -> str:
        start, end = self.selection()
        return self.buffer.text_range(*start, *end)

    def set_caret(self, pos: Position, keep_anchor: bool = False, center: bool = False) -> None:
        self.caret = self.buffer.clamp(*pos)
        if not keep_anchor:
            self.anchor = self.caret
        self.ensure_caret_visible(center)
        self.viewport().update()

    def select(self, start: Position, end: Position, center: bool = False) -> None:
        """Select from ``start`` to ``end`` (the caret ends at ``end``)."""
        self.anchor = self.buffer.clamp(*start)
        self.set_caret(end, keep_anchor=True, center=center)

    def select_all(self) -> None:
        self.select((0, 0), self.buffer.end())

    def go_to_line(self, line: int) -> None:
        """Put the caret at the start of line ``line`` (from 1), centred on screen."""
        self.set_caret((line - 1, 0), center=True)
        self.setFocus()

    def ensure_caret_visible(self, center: bool = False) -> None:
        self._update_scroll_ranges()
        line, col = self.caret
        vbar, hbar = self.verticalScrollBar(), self.horizontalScrollBar()
        page = self.page_lines()
        if center and not vbar.value() <= line < vbar.value() + page:
            vbar.setValue(line - page // 2)
        elif line < vbar.value():
            vbar.setValue(line)
        elif line >= vbar.value() + page:
            vbar.setValue(line - page + 1)
        x, width = self.x_of(line, col), self._text_width()
        if x < hbar.value():
            hbar.setValue(max(0, x - width // 3))
        elif x > hbar.value() + width - self.char_width():
            hbar.setValue(round(x - width + 3 * self.char_width()))

    def move(self, motion: str, keep_anchor: bool) -> None:
        """Move the caret by a named motion ("left", "word_right", "page_down", "top", ...)."""
        edit.move_caret(self, motion, keep_anchor)

    # -- edits -----------------------------------------------------------------------------------
    def replace_selection(self, text: str, typing: bool = False, label: str = "Edit text") -> bool:
        """Put ``text`` in place of the selection (or at the caret) as one undo step."""
        if self._read_only:
            return False
        start, end = self.selection()
        removed = self.buffer.text_range(*start, *end)
        if not removed and not text:
            return False
        self.undo_stack.push(edit.ReplaceRangeCommand(self, start, removed, text, typing, label))
        return True

    def delete_or(self, motion: Callable[[LineBuffer, Position], Position]) -> None:
        """Delete the selection, or from the caret to where ``motion`` moves it."""
        if self._read_only:
            return
        if not self.has_selection():
            self.anchor = motion(self.buffer, self.caret)
        self.replace_selection("", label="Delete")

    def edited(self, caret: Position, anchor: Position) -> None:
        """Called by the undo commands after they change the buffer."""
        count = len(self.buffer)
        self.caret, self.anchor = self.buffer.clamp(*caret), self.buffer.clamp(*anchor)
        self.goal_x = None
        self.ensure_caret_visible()
        self.viewport().update()
        self.lineCountChanged.emit(count)
        self.textEdited.emit()

    def copy(self) -> None:
        if self.has_selection():
            QGuiApplication.clipboard().setText(self.selected_text())

    def cut(self) -> None:
        if self.has_selection() and not self._read_only:
            self.copy()
            self.replace_selection("", label="Cut")

    def paste(self) -> None:
        text = QGuiApplication.clipboard().text()
        if text:
            self.replace_selection(text.replace("\r\n", "\n").replace("\r", "\n"), label="Paste")

    # -- find and replace (FindBar talks to these) -----------------------------------------------
    def find_pattern(self, pattern: re.Pattern[str], backward: bool = False) -> bool:
        """Select the next (or previous) match, wrapping around; False when there is none."""
        start, end = self.selection()
        line, col = start if backward else end
        found = self.buffer.find(pattern, line, col, backward)
        if found is None:
            return False
        row, c0, c1, _match = found
        self.select((row, c0), (row, c1), center=True)
        return True

    def replace_all_matches(self, pattern: re.Pattern[str],
                            replacement: str | Callable[[re.Match[str]], str]) -> int:
        """Replace every match (literal text or a function of the match) as one undo step."""
        if self._read_only:
            return 0
        changes, count = self.buffer.replace_all(pattern, replacement)
        if changes:
            self.undo_stack.push(edit.ReplaceLinesCommand(self, changes, count))
        return count

    # -- events ----------------------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride:
            key_event: QKeyEvent = event  # type: ignore[assignment]
            if (any(key_event.matches(k) for k in COMMANDS)
                    or any(key_event.matches(k) for k in MOTIONS) or self._typed(key_event)):
                event.accept()
                return True
        return super().event(event)

    @staticmethod
    def _typed(event: QKeyEvent) -> str:
        text = event.text()
        mods = event.modifiers() & (Qt.KeyboardModifier.ControlModifier
                                    | Qt.KeyboardModifier.MetaModifier)
        if mods or not text or not text.isprintable():
            return ""
        return text

    def keyPressEvent(self, event: QKeyEvent) -> None:
        for key, (motion, keep) in MOTIONS.items():
            if event.matches(key):
                self.move(motion, keep)
                return
        key = event.key()
        actions = {Keys.Undo: self.undo_stack.undo, Keys.Redo: self.undo_stack.redo,
                   Keys.Copy: self.copy, Keys.Cut: self.cut, Keys.Paste: self.paste,
                   Keys.SelectAll: self.select_all,
                   Keys.Delete: lambda: self.delete_or(edit.char_right),
                   Keys.DeleteStartOfWord: lambda: self.delete_or(edit.word_left),
                   Keys.DeleteEndOfWord: lambda: self.delete_or(edit.word_right)}
        for standard, action in actions.items():
            if event.matches(standard):
                action()
                return
        if key == Qt.Key.Key_Backspace:
            self.delete_or(edit.char_left)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.replace_selection("\n", label="New line")
        elif key == Qt.Key.Key_Tab and not event.modifiers():
            self.replace_selection("\t", typing=True, label="Typing")
        elif text := self._typed(event):
            self.replace_selection(text, typing=True, label="Typing")
        else:
            super().keyPressEvent(event)

    def focusNextPrevChild(self, next_child: bool) -> bool:
        """Tab types a tab (as in QPlainTextEdit) unless the text is read-only."""
        return False if not self._read_only else super().focusNextPrevChild(next_child)

    def inputMethodQuery(self, query: Qt.InputMethodQuery):
        if query == Qt.InputMethodQuery.ImCursorRectangle:
            line, col = self.caret
            x = self.gutter_width() + PAD - self.horizontalScrollBar().value() + self.x_of(line, col)
            y = (line - self.verticalScrollBar().value()) * self.line_height()
            return QRect(x, y, 2, self.line_height())
        return super().inputMethodQuery(query)

    def inputMethodEvent(self, event: QInputMethodEvent) -> None:
        if event.commitString():
            self.replace_selection(event.commitString(), typing=True, label="Typing")
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.goal_x = None
            self.set_caret(self.position_at(event.position().toPoint()), keep_anchor=shift)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            point = event.position().toPoint()
            self.set_caret(self.position_at(point), keep_anchor=True)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = edit.context_menu(self)
        menu.exec(event.globalPos())
        menu.deleteLater()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        line, col = self.position_at(event.position().toPoint())
        c0, c1 = edit.word_at(self.buffer, (line, col))
        self.select((line, c0), (line, c1))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_scroll_ranges()

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.viewport().update()

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:
        paint_editor(self, event)
