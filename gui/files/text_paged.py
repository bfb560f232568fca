"""A read-only view of a huge text file that decodes only the lines on screen.

The vertical scroll bar runs over byte offsets (scaled down so any size fits an int); the top
line is always a line start found by :class:`storage.formats.text.pages.TextPager`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QColor, QFontDatabase, QKeyEvent, QPainter, QPaintEvent, QWheelEvent
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from storage.formats.text.pages import TextPager

_SCALE_LIMIT = 1 << 30


class PagedTextView(QAbstractScrollArea):
    """Paints ``pager``'s lines from ``top`` (a byte offset); wheel and keys move by lines."""

    def __init__(self, pager: TextPager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pager = pager
        self.top = pager.start
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._scale = max(1, pager.size // _SCALE_LIMIT + 1)
        bar = self.verticalScrollBar()
        bar.setRange(0, max(0, pager.size // self._scale))
        bar.valueChanged.connect(self._on_scrolled)
        self._lines: list[tuple[int, str]] = []
        self._next = self.top
        self._refill()

    def visible_lines(self) -> int:
        return max(1, self.viewport().height() // max(1, self.fontMetrics().height()) + 1)

    def shown(self) -> list[tuple[int, str]]:
        """The (offset, text) lines currently on screen."""
        return list(self._lines)

    def _refill(self) -> None:
        self._lines, self._next = self.pager.lines(self.top, self.visible_lines())
        self.viewport().update()

    def scroll_to_offset(self, offset: int) -> None:
        self.top = self.pager.line_start(offset)
        bar = self.verticalScrollBar()
        bar.blockSignals(True)
        bar.setValue(self.top // self._scale)
        bar.blockSignals(False)
        self._refill()

    @Slot(int)
    def _on_scrolled(self, value: int) -> None:
        self.top = self.pager.line_start(value * self._scale)
        self._refill()

    def scroll_lines(self, count: int) -> None:
        if count > 0:
            lines, _ = self.pager.lines(self.top, count + 1)
            if len(lines) > count:
                self.scroll_to_offset(lines[count][0])
        elif count < 0:
            self.scroll_to_offset(self.pager.previous_start(self.top, -count))

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() // 40
        if steps:
            self.scroll_lines(-steps)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        page = max(1, self.visible_lines() - 2)
        moves = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: page,
                 Qt.Key.Key_PageUp: -page}
        if key in moves:
            self.scroll_lines(moves[key])
        elif key == Qt.Key.Key_Home:
            self.scroll_to_offset(0)
        elif key == Qt.Key.Key_End:
            self.scroll_to_offset(self.pager.previous_start(self.pager.size, page))
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._refill()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self.viewport())
        painter.fillRect(event.rect(), self.palette().base())
        metrics = self.fontMetrics()
        height = metrics.height()
        gutter = metrics.horizontalAdvance("0") * 12 + 10
        painter.fillRect(0, 0, gutter - 4, self.viewport().height(), self.palette().alternateBase())
        y = 0
        for offset, text in self._lines:
            painter.setPen(QColor("#8a8f98"))
            painter.drawText(4, y, gutter - 12, height, Qt.AlignmentFlag.AlignRight, f"{offset:,}")
            painter.setPen(self.palette().text().color())
            painter.drawText(gutter, y + metrics.ascent(), text)
            y += height
        painter.end()
