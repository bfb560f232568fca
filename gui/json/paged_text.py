"""A read-only text view of any size: paints only the visible lines of a :class:`TextImage`.

``QPlainTextEdit`` lays out every block it holds; with a 100 MB document that takes minutes and
gigabytes. This viewport keeps the UTF-8 buffer and its line starts (``storage.formats.json.text_index``)
and, on each paint, decodes and highlights the few dozen lines on screen. A node's span can be
highlighted and scrolled to.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QGuiApplication, QKeyEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from storage.formats.json.text_index import Span, TextImage

TOKEN = re.compile(r'("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(true|false|null)')
COLOURS = {"key": "#7a3e9d", "string": "#067d17", "number": "#1750eb", "literal": "#871094",
           "plain": "#1f1f1f", "gutter": "#8a8a8a"}
COPY_LIMIT = 64 * 1024 * 1024  # bytes put on the clipboard at most


class PagedTextView(QAbstractScrollArea):
    """Lines of a :class:`TextImage`, highlighted; the scroll bars count lines and columns."""

    spanShown = Signal()  # a span was highlighted and scrolled to (tests wait on it)
    offsetClicked = Signal(int)  # byte offset of a click in the text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setAutoFillBackground(True)
        self.image: TextImage | None = None
        self.note = ""
        self.span: Span | None = None
        self._span_lines: tuple[int, int, int, int] | None = None  # first, col, last, end col
        self._colours = {k: QColor(v) for k, v in COLOURS.items()}
        self._span_colour = QColor("#fff1a8")

    # -- content ---------------------------------------------------------------------------
    def set_image(self, image: TextImage | None, note: str = "") -> None:
        self.image, self.note = image, note
        self.span, self._span_lines = None, None
        self._update_scroll_bars()
        self.verticalScrollBar().setValue(0)
        self.horizontalScrollBar().setValue(0)
        self.viewport().update()

    def first_visible_line(self) -> int:
        return self.verticalScrollBar().value()

    def visible_line_count(self) -> int:
        return max(1, self.viewport().height() // self._line_height())

    def show_span(self, span: Span | None, colour: str = "#fff1a8") -> None:
        """Highlight ``span`` (byte offsets) and scroll so its first line is near the top."""
        self.span = span
        self._span_colour = QColor(colour)
        self._span_lines = None
        if span is not None and self.image is not None:
            image = self.image
            first, last = image.line_of(span[0]), image.line_of(max(span[0], span[1] - 1))
            self._span_lines = (first, image.column_of(span[0]), last, image.column_of(span[1]))
            if not first <= self.first_visible_line() + 2 < first + self.visible_line_count() - 2:
                self.verticalScrollBar().setValue(max(0, first - 3))
            column = self._span_lines[1]
            columns = max(1, self.viewport().width() // self._char_width() - self._gutter_chars())
            bar = self.horizontalScrollBar()
            if not bar.value() <= column < bar.value() + columns:
                bar.setValue(max(0, column - 4))
        self.viewport().update()
        if span is not None:
            self.spanShown.emit()

    def span_text(self) -> str:
        if self.span is None or self.image is None:
            return ""
        start, end = self.span
        return self.image.data[start:min(end, start + COPY_LIMIT)].decode("utf-8", "replace")

    # -- geometry --------------------------------------------------------------------------
    def _line_height(self) -> int:
        return max(1, self.fontMetrics().lineSpacing())

    def _char_width(self) -> int:
        return max(1, self.fontMetrics().horizontalAdvance("0"))

    def _gutter_chars(self) -> int:
        return len(str(self.image.line_count)) + 2 if self.image is not None else 0

    def _update_scroll_bars(self) -> None:
        lines = self.image.line_count if self.image is not None else 0
        page = self.visible_line_count()
        bar = self.verticalScrollBar()
        bar.setRange(0, max(0, lines - page))
        bar.setPageStep(page)
        bar.setSingleStep(1)
        columns = self.image.longest_line() if self.image is not None else 0
        visible = max(1, self.viewport().width() // self._char_width() - self._gutter_chars())
        hbar = self.horizontalScrollBar()
        hbar.setRange(0, max(0, columns - visible + 2))
        hbar.setPageStep(visible)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_scroll_bars()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().update()

    # -- painting --------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self.viewport())
        painter.setFont(self.font())
        rect = self.viewport().rect()
        if self.image is None:
            painter.setPen(self._colours["gutter"])
            painter.drawText(rect.adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, self.note)
            return
        height, width = self._line_height(), self._char_width()
        ascent = self.fontMetrics().ascent()
        gutter = self._gutter_chars()
        first = self.first_visible_line()
        left = self.horizontalScrollBar().value()
        columns = rect.width() // width + 2
        painter.fillRect(QRect(0, 0, gutter * width - width // 2, rect.height()), QColor("#f3f3f3"))
        for i in range(self.visible_line_count() + 1):
            number = first + i
            if number >= self.image.line_count:
                break
            y = i * height
            painter.setPen(self._colours["gutter"])
            painter.drawText(0, y + ascent, f"{number + 1:>{gutter - 1}}")
            text = self.image.line(number, limit=(left + columns) * 4)
            self._paint_span(painter, number, len(text), y, gutter, left, width, height)
            self._paint_line(painter, text, y + ascent, gutter, left, columns, width)

    def _paint_span(self, painter: QPainter, number: int, length: int, y: int, gutter: int,
                    left: int, width: int, height: int) -> None:
        if self._span_lines is None:
            return
        first, start_col, last, end_col = self._span_lines
        if not first <= number <= last:
            return
        start = start_col  # a block from the node's column: its inner lines are indented deeper
        end = end_col if number == last else length
        x = (gutter + start - left) * width
        painter.fillRect(QRect(x, y, max(width, (end - start) * width), height), self._span_colour)

    def _paint_line(self, painter: QPainter, text: str, baseline: int, gutter: int, left: int,
                    columns: int, width: int) -> None:
        visible = text[left:left + columns]
        if not visible:
            return
        origin = (gutter - left) * width
        position = 0
        for match in TOKEN.finditer(text, 0, left + columns):
            if match.end() <= left:
                continue
            string, colon, number, _literal = match.groups()
            kind = ("key" if colon else "string") if string is not None else (
                "number" if number is not None else "literal")
            end = match.end(1) if string is not None else match.end()
            self._draw(painter, text, position, match.start(), "plain", origin, baseline, width, left,
                       columns)
            self._draw(painter, text, match.start(), end, kind, origin, baseline, width, left, columns)
            position = end
        self._draw(painter, text, position, len(text), "plain", origin, baseline, width, left, columns)

    def _draw(self, painter: QPainter, text: str, start: int, end: int, kind: str, origin: int,
              baseline: int, width: int, left: int, columns: int) -> None:
        start, end = max(start, left), min(end, left + columns)
        if start >= end:
            return
        painter.setPen(self._colours[kind])
        painter.drawText(origin + start * width, baseline, text[start:end])

    def offset_at(self, x: int, y: int) -> int | None:
        """Byte offset of the character at viewport position (x, y)."""
        if self.image is None:
            return None
        line = self.first_visible_line() + y // self._line_height()
        if line >= self.image.line_count:
            return None
        column = max(0, self.horizontalScrollBar().value() + x // self._char_width()
                     - self._gutter_chars())
        text = self.image.line(line, limit=(column + 1) * 4)
        return int(self.image.line_starts[line]) + len(text[:column].encode("utf-8", "surrogatepass"))

    def mousePressEvent(self, event) -> None:
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            offset = self.offset_at(int(event.position().x()), int(event.position().y()))
            if offset is not None:
                self.offsetClicked.emit(offset)

    # -- keys -------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        bar = self.verticalScrollBar()
        key, control = event.key(), bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if control and key == Qt.Key.Key_C:
            QGuiApplication.clipboard().setText(self.span_text())
        elif control and key == Qt.Key.Key_Home:
            bar.setValue(0)
        elif control and key == Qt.Key.Key_End:
            bar.setValue(bar.maximum())
        elif key == Qt.Key.Key_PageDown:
            bar.setValue(bar.value() + bar.pageStep())
        elif key == Qt.Key.Key_PageUp:
            bar.setValue(bar.value() - bar.pageStep())
        elif key == Qt.Key.Key_Down:
            bar.setValue(bar.value() + 1)
        elif key == Qt.Key.Key_Up:
            bar.setValue(bar.value() - 1)
        else:
            super().keyPressEvent(event)
