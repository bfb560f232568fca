"""Layout and painting of :class:`gui.files.text_big.BigTextEditor`: only the lines on screen are drawn."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRect
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent

if TYPE_CHECKING:
    from gui.files.text_big import BigTextEditor

TAB = 4  # tab stops every 4 columns
LONG = 4096  # longer lines are laid out as strictly fixed pitch and drawn in visible slices
PAD = 4  # pixels between the gutter and the text


def display_text(text: str) -> str:
    """A line as drawn: tabs expanded to the next tab stop."""
    return text.expandtabs(TAB) if "\t" in text else text


def vcol_of(text: str, col: int) -> int:
    """The on-screen column of ``col`` (tabs reach the next tab stop)."""
    return len(text[:col].expandtabs(TAB)) if "\t" in text[:col] else col


def col_of_vcol(text: str, vcol: int) -> int:
    """The column whose on-screen column is nearest ``vcol`` (tabs are wider than one)."""
    if "\t" not in text:
        return min(max(0, vcol), len(text))
    acc = 0
    for i, ch in enumerate(text):
        width = TAB - acc % TAB if ch == "\t" else 1
        if vcol < acc + width:
            return i if vcol - acc <= acc + width - vcol else i + 1
        acc += width
    return len(text)



def x_of(text: str, col: int, metrics: QFontMetrics, char_width: float) -> int:
    """Pixels from the start of the line ``text`` to column ``col``."""
    shown = display_text(text)
    vcol = vcol_of(text, col)
    if len(shown) > LONG:
        return round(vcol * char_width)
    return metrics.horizontalAdvance(shown[:vcol])


def col_at(text: str, x: int, metrics: QFontMetrics, char_width: float) -> int:
    """The column of the line ``text`` nearest ``x`` pixels from its start."""
    shown = display_text(text)
    if len(shown) > LONG:
        return col_of_vcol(text, round(x / char_width))
    advance = metrics.horizontalAdvance
    lo, hi = 0, len(shown)
    while lo < hi:  # the last on-screen column that starts at or before x
        mid = (lo + hi + 1) // 2
        if advance(shown[:mid]) <= x:
            lo = mid
        else:
            hi = mid - 1
    if lo < len(shown) and advance(shown[:lo + 1]) - x < x - advance(shown[:lo]):
        lo += 1
    return col_of_vcol(text, lo)


def paint_editor(editor: BigTextEditor, event: QPaintEvent) -> None:
    """Gutter, current line, selection, text and caret of the visible lines."""
    viewport = editor.viewport()
    buffer, palette = editor.buffer, editor.palette()
    painter = QPainter(viewport)
    painter.setFont(editor.font())
    area = viewport.rect()
    painter.fillRect(event.rect(), palette.base())
    height, ascent = editor.line_height(), editor.fontMetrics().ascent()
    cw, gutter = editor.char_width(), editor.gutter_width()
    top, scroll_x = editor.verticalScrollBar().value(), editor.horizontalScrollBar().value()
    last = min(len(buffer), top + area.height() // height + 2)
    origin = gutter + PAD - scroll_x
    (s_line, s_col), (e_line, e_col) = editor.selection()
    selecting = editor.has_selection()
    caret_line, caret_col = editor.caret
    text_color, chosen_color = palette.text().color(), palette.highlightedText().color()
    current = QColor(palette.highlight().color())
    current.setAlpha(28)

    painter.setClipRect(QRect(gutter, 0, area.width() - gutter, area.height()))
    for row in range(top, last):
        y = (row - top) * height
        text = buffer.line(row)
        shown = display_text(text)
        if row == caret_line and not selecting:
            painter.fillRect(gutter, y, area.width() - gutter, height, current)
        if len(shown) > LONG:
            first = max(0, int(scroll_x / cw) - 1)
            shown_x, shown = origin + first * cw, shown[first:first + int(area.width() / cw) + 3]
        else:
            shown_x = origin
        painter.setPen(text_color)
        painter.drawText(QPointF(shown_x, y + ascent), shown)
        if selecting and s_line <= row <= e_line:
            x0 = editor.x_of(row, s_col) if row == s_line else 0
            x1 = editor.x_of(row, e_col) if row == e_line else editor.x_of(row, len(text)) + round(cw / 2)
            band = QRect(origin + x0, y, max(x1 - x0, 0), height)
            painter.fillRect(band, palette.highlight())
            painter.save()
            painter.setClipRect(band.intersected(QRect(gutter, 0, area.width() - gutter,
                                                       area.height())))
            painter.setPen(chosen_color)
            painter.drawText(QPointF(shown_x, y + ascent), shown)
            painter.restore()
    if top <= caret_line < last and not editor.isReadOnly():
        x = origin + editor.x_of(caret_line, caret_col)
        color = text_color if editor.hasFocus() else QColor("#9aa0a6")
        painter.fillRect(x, (caret_line - top) * height, 2, height, color)

    painter.setClipping(False)
    painter.fillRect(0, 0, gutter, area.height(), palette.alternateBase())
    number_color = QColor("#8a8f98")
    for row in range(top, last):
        painter.setPen(text_color if row == caret_line else number_color)
        painter.drawText(QRect(0, (row - top) * height, gutter - 6, height),
                         0x0082, str(row + 1))  # AlignRight | AlignVCenter
    painter.end()
