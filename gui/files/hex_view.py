"""Offset, hex and ASCII columns over a file of any size; typing overwrites bytes with undo.

Only the rows on screen are read (through :class:`storage.formats.text.hex.HexBuffer`'s page cache), so
opening a 10 GB file costs one read. In the hex column two hex digits overwrite a byte (the
two nibbles of one byte merge into one undo step); in the ASCII column a printable character
does. Overwrites are commands on the document's undo stack.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QFontDatabase,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QUndoCommand,
    QUndoStack,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from storage.formats.text.hex import HexBuffer

WIDTH = 16
_MAX_BAR = 1 << 30
_EDITED = QColor("#b42318")


class HexEditCommand(QUndoCommand):
    """Overwrite one byte; the second nibble typed into the same byte merges into it."""

    ID = 0x4845

    def __init__(self, view: HexView, offset: int, new: int) -> None:
        super().__init__(f"Overwrite byte at {offset:#x}")
        self.view, self.offset, self.new = view, offset, new
        self.old = view.buffer.overlay.get(offset)

    def id(self) -> int:
        return self.ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if isinstance(other, HexEditCommand) and other.offset == self.offset and other.view is self.view:
            self.new = other.new
            return True
        return False

    def redo(self) -> None:
        self.view.buffer.set_byte(self.offset, self.new)
        self.view.changed_at(self.offset)

    def undo(self) -> None:
        self.view.buffer.set_byte(self.offset, self.old)
        self.view.changed_at(self.offset)


class HexView(QAbstractScrollArea):
    """Paints the rows on screen; ``cursor`` is the byte offset with the caret."""

    cursorMoved = Signal(int)

    def __init__(self, buffer: HexBuffer, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buffer = buffer
        self.undo_stack = undo_stack
        self.cursor = 0
        self.low_nibble = False  # the next hex digit goes into the low half
        self.in_ascii = False
        self.read_only = False
        self.top_row = 0
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self._update_bar()

    # -- geometry --------------------------------------------------------------------------------
    @property
    def rows(self) -> int:
        return (self.buffer.size + WIDTH - 1) // WIDTH

    def _scale(self) -> int:
        return max(1, self.rows // _MAX_BAR + 1)

    def visible_rows(self) -> int:
        return max(1, self.viewport().height() // self._row_height())

    def _row_height(self) -> int:
        return self.fontMetrics().height() + 2

    def _char(self) -> int:
        return self.fontMetrics().horizontalAdvance("0")

    def _columns(self) -> tuple[int, int, int]:
        """x of the offset, hex and ASCII columns."""
        c = self._char()
        hex_x = c * 13
        ascii_x = hex_x + c * (WIDTH * 3 + 2)
        return c, hex_x, ascii_x

    def _update_bar(self) -> None:
        bar = self.verticalScrollBar()
        bar.setRange(0, max(0, (self.rows - self.visible_rows() + 1) // self._scale()))
        bar.setPageStep(max(1, self.visible_rows() // self._scale()))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_bar()

    @Slot(int)
    def _on_scrolled(self, value: int) -> None:
        self.top_row = value * self._scale()
        self.viewport().update()

    def scroll_to_row(self, row: int) -> None:
        row = max(0, min(row, max(0, self.rows - self.visible_rows() + 1)))
        self.top_row = row
        bar = self.verticalScrollBar()
        bar.blockSignals(True)
        bar.setValue(row // self._scale())
        bar.blockSignals(False)
        self.viewport().update()

    # -- cursor ----------------------------------------------------------------------------------
    def go_to(self, offset: int, length: int = 0) -> None:
        """Put the caret on ``offset`` (clamped) and scroll it into view."""
        self.cursor = max(0, min(offset, max(0, self.buffer.size - 1)))
        self.selection_length = length
        self.low_nibble = False
        row = self.cursor // WIDTH
        if not self.top_row <= row < self.top_row + self.visible_rows():
            self.scroll_to_row(row - self.visible_rows() // 3)
        self.viewport().update()
        self.cursorMoved.emit(self.cursor)

    selection_length = 0

    def changed_at(self, offset: int) -> None:
        self.viewport().update()

    # -- input -----------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        moves = {Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1, Qt.Key.Key_Up: -WIDTH,
                 Qt.Key.Key_Down: WIDTH, Qt.Key.Key_PageUp: -WIDTH * self.visible_rows(),
                 Qt.Key.Key_PageDown: WIDTH * self.visible_rows()}
        if key in moves:
            self.go_to(self.cursor + moves[key])
            return
        if key == Qt.Key.Key_Home:
            self.go_to(0 if event.modifiers() & Qt.KeyboardModifier.ControlModifier
                       else self.cursor - self.cursor % WIDTH)
            return
        if key == Qt.Key.Key_End:
            self.go_to(self.buffer.size - 1 if event.modifiers() & Qt.KeyboardModifier.ControlModifier
                       else self.cursor - self.cursor % WIDTH + WIDTH - 1)
            return
        if key == Qt.Key.Key_Tab:
            self.in_ascii = not self.in_ascii
            self.low_nibble = False
            self.viewport().update()
            return
        text = event.text()
        if text and not self.read_only and self.buffer.size and self.type_text(text):
            return
        super().keyPressEvent(event)

    def type_text(self, text: str) -> bool:
        """Overwrite at the caret as if ``text`` was typed; False when nothing applies."""
        done = False
        for ch in text:
            if self.cursor >= self.buffer.size:
                break
            current = self.buffer.read(self.cursor, 1)[0]
            if self.in_ascii:
                if not 32 <= ord(ch) < 127:
                    continue
                self.undo_stack.push(HexEditCommand(self, self.cursor, ord(ch)))
                self.go_to(self.cursor + 1)
            else:
                if ch.lower() not in "0123456789abcdef":
                    continue
                digit = int(ch, 16)
                value = (current & 0xF0) | digit if self.low_nibble else (digit << 4) | (current & 0x0F)
                self.undo_stack.push(HexEditCommand(self, self.cursor, value))
                if self.low_nibble:
                    self.go_to(self.cursor + 1)  # resets to the high nibble
                else:
                    self.low_nibble = True
            done = True
        return done

    def mousePressEvent(self, event: QMouseEvent) -> None:
        c, hex_x, ascii_x = self._columns()
        row = self.top_row + int(event.position().y()) // self._row_height()
        x = int(event.position().x())
        if x >= ascii_x:
            column, self.in_ascii = (x - ascii_x) // c, True
        else:
            column, self.in_ascii = (x - hex_x) // (3 * c), False
        column = max(0, min(WIDTH - 1, column))
        self.go_to(row * WIDTH + column)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() // 40
        self.scroll_to_row(self.top_row - steps)
        event.accept()

    # -- painting --------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self.viewport())
        palette = self.palette()
        painter.fillRect(event.rect(), palette.base())
        c, hex_x, ascii_x = self._columns()
        height = self._row_height()
        ascent = self.fontMetrics().ascent() + 1
        painter.fillRect(0, 0, hex_x - c, self.viewport().height(), palette.alternateBase())
        first = self.top_row * WIDTH
        data = self.buffer.read(first, (self.visible_rows() + 1) * WIDTH)
        overlay = self.buffer.overlay
        text_colour = palette.text().color()
        selected = range(self.cursor, self.cursor + max(1, self.selection_length))
        for r in range(0, (len(data) + WIDTH - 1) // WIDTH):
            y = r * height
            offset = first + r * WIDTH
            painter.setPen(QColor("#8a8f98"))
            painter.drawText(c // 2, y + ascent, f"{offset:010x}")
            for i, byte in enumerate(data[r * WIDTH:(r + 1) * WIDTH]):
                at = offset + i
                hx = hex_x + i * 3 * c + (c if i >= WIDTH // 2 else 0)
                ax = ascii_x + i * c
                if at in selected:
                    colour = palette.highlight().color() if at == self.cursor else QColor("#fde68a")
                    painter.fillRect(QRect(hx - 1, y, 2 * c + 2, height),
                                     colour if not self.in_ascii else QColor("#e5e7eb"))
                    painter.fillRect(QRect(ax, y, c, height),
                                     colour if self.in_ascii else QColor("#e5e7eb"))
                painter.setPen(_EDITED if at in overlay else text_colour)
                painter.drawText(hx, y + ascent, f"{byte:02x}")
                painter.drawText(ax, y + ascent, chr(byte) if 32 <= byte < 127 else "·")
        painter.end()
